// Ethernet.h (Arduino Ethernet library 2.x, W5100/W5200/W5500) of the host
// harness: the shield is always there, its link up, DHCP answers at once;
// every address is reached on loopback (see ../README.md, "Network").
#pragma once
#include <Arduino.h>

enum EthernetLinkStatus { Unknown, LinkON, LinkOFF };
enum EthernetHardwareStatus { EthernetNoHardware, EthernetW5100, EthernetW5200, EthernetW5500 };

class EthernetClass {
public:
  void init(uint8_t sspin = 10) { (void)sspin; }
  int begin(uint8_t *mac, unsigned long timeout = 60000, unsigned long responseTimeout = 4000);
  void begin(uint8_t *mac, IPAddress ip);
  int maintain() { return 0; }
  EthernetLinkStatus linkStatus() { return LinkON; }
  EthernetHardwareStatus hardwareStatus() { return EthernetW5100; }
  IPAddress localIP();
};
extern EthernetClass Ethernet;

class EthernetClient : public Client {
public:
  harness::Transport transport() const override { return harness::Transport{}; }
};
