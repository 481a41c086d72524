// WiFiClientSecure.h (ESP32 Arduino core, mbedTLS) of the host harness: the
// CA given to setCACert is what the TLS connection is verified against.
#pragma once
#include "harness_wifi.h"

class WiFiClientSecure : public WiFiClient {
public:
  void setCACert(const char *rootCA) { ca_ = rootCA ? rootCA : ""; }
  void setInsecure() { insecure_ = true; }
  void setHandshakeTimeout(unsigned long) {}
  void setTimeout(uint32_t) {}
  harness::Transport transport() const override;

private:
  std::string ca_;
  bool insecure_ = false;
};
