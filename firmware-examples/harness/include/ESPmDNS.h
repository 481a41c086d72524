// ESPmDNS.h (ESP32 Arduino core) of the host harness: queryService answers
// with the services listed in HARNESS_MDNS (see ../README.md), instantly,
// without any multicast.
#pragma once
#include <Arduino.h>

#include <vector>

class MDNSResponder {
public:
  bool begin(const char *hostName);
  void end() {}
  int queryService(const char *service, const char *proto);
  String hostname(int idx);
  IPAddress IP(int idx);
  uint16_t port(int idx);
  int numTxt(int idx);
  bool hasTxt(int idx, const char *key);
  String txt(int idx, const char *key);

private:
  struct Result {
    std::string host;
    uint16_t port = 0;
    std::vector<std::pair<std::string, std::string>> txt;
  };
  std::vector<Result> results_;
  const Result *at(int idx) const;
};

extern MDNSResponder MDNS;
