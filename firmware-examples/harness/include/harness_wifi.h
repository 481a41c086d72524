// The Wi-Fi station of the harness, shared by WiFi.h (ESP32) and
// ESP8266WiFi.h: it "joins" a network at once when given the SSID and
// password the harness expects (HARNESS_WIFI_SSID, HARNESS_WIFI_PASSWORD),
// and every host name is then reached on the loopback address (see
// ../README.md, "Network").
#pragma once

#include <Arduino.h>

typedef enum {
  WL_NO_SHIELD = 255,
  WL_IDLE_STATUS = 0,
  WL_NO_SSID_AVAIL = 1,
  WL_SCAN_COMPLETED = 2,
  WL_CONNECTED = 3,
  WL_CONNECT_FAILED = 4,
  WL_CONNECTION_LOST = 5,
  WL_DISCONNECTED = 6,
} wl_status_t;

typedef enum { WIFI_OFF = 0, WIFI_STA = 1, WIFI_AP = 2, WIFI_AP_STA = 3 } wifi_mode_t;
#if defined(ARDUINO_ARCH_ESP8266)
typedef wifi_mode_t WiFiMode_t;
#endif

class WiFiClass {
public:
  bool mode(wifi_mode_t m);
  wl_status_t begin(const char *ssid, const char *passphrase = nullptr);
  wl_status_t status();
  bool isConnected() { return status() == WL_CONNECTED; }
  bool disconnect(bool wifiOff = false);
  bool reconnect();
  bool setAutoReconnect(bool) { return true; }
  bool setHostname(const char *name);
  bool hostname(const char *name) { return setHostname(name); } // ESP8266
  IPAddress localIP();
  int8_t RSSI();
  String SSID();
  String macAddress();
};

extern WiFiClass WiFi;

// WiFiClient: plain TCP over Wi-Fi.
class WiFiClient : public Client {
public:
  harness::Transport transport() const override;
};
