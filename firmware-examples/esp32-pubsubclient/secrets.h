// secrets.h: your Wi-Fi, your Perch gateway and this device. Fill it in.
// Once it holds real credentials, keep it out of version control.
#pragma once

// Wi-Fi. The ESP32 has a 2.4 GHz radio only.
#define WIFI_SSID "your-wifi-name"
#define WIFI_PASSWORD "your-wifi-password"

// The gateway: its host name (`perch device add` prints it: <hostname>.local)
// and its MQTT over TLS port. Use the name, not the IP address: the ESP32's
// TLS library ignores IP addresses in certificates.
#define PERCH_HOST "perch.local"
#define PERCH_PORT 8883

// 1: first look for the gateway on the LAN with mDNS (_secure-mqtt._tcp)
// and take the one whose CA is the one in perch_ca.h; PERCH_HOST is the
// fallback. 0: always PERCH_HOST.
#define PERCH_USE_MDNS 1

// The MQTT login, with Thinger.io's parameters: user name = the gateway's
// account id (`perch status` shows it; "admin" unless you set `account`),
// client id = the device id, password = the device's credentials, which
// `perch device add` printed once.
#define PERCH_ACCOUNT "admin"
#define DEVICE_ID "greenhouse-1"
#define DEVICE_CREDENTIALS "paste-the-device-credentials-here"
