// ESP8266WiFi.h (ESP8266 Arduino core) of the host harness, with its BearSSL
// classes: the trust anchors given to setTrustAnchors are what the TLS
// connection is verified against.
#pragma once
#include "harness_wifi.h"

typedef WiFiClass ESP8266WiFiClass;

namespace BearSSL {

// X509List holds trust anchors; the harness keeps them as PEM.
class X509List {
public:
  X509List() {}
  explicit X509List(const char *pemCert) { append(pemCert); }
  bool append(const char *pemCert);
  size_t getCount() const { return count_; }
  const std::string &pem() const { return pem_; }

private:
  std::string pem_;
  size_t count_ = 0;
};

class WiFiClientSecure : public WiFiClient {
public:
  void setTrustAnchors(const X509List *ta) { ta_ = ta; }
  void setInsecure() { insecure_ = true; }
  void setX509Time(time_t now) { now_ = now; }
  void setBufferSizes(int recv, int xmit) { (void)recv; (void)xmit; }
  void setTimeout(unsigned long) {}
  int getLastSSLError(char *dest = nullptr, size_t len = 0);
  harness::Transport transport() const override;

private:
  const X509List *ta_ = nullptr;
  bool insecure_ = false;
  time_t now_ = 0;
};

} // namespace BearSSL
