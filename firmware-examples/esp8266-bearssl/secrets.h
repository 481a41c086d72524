// secrets.h: your Wi-Fi, your Perch gateway and this device. Fill it in.
// Once it holds real credentials, keep it out of version control.
#pragma once

// Wi-Fi. The ESP8266 has a 2.4 GHz radio only.
#define WIFI_SSID "your-wifi-name"
#define WIFI_PASSWORD "your-wifi-password"

// The gateway: its host name (`perch device add` prints it: <hostname>.local)
// and its MQTT over TLS port. BearSSL checks host names only, not IP
// addresses: use the name.
#define PERCH_HOST "perch.local"
#define PERCH_PORT 8883

// The MQTT login, with Thinger.io's parameters: user name = the gateway's
// account id (`perch status` shows it; "admin" unless you set `account`),
// client id = the device id, password = the device's credentials, which
// `perch device add` printed once.
#define PERCH_ACCOUNT "admin"
#define DEVICE_ID "balcony-1"
#define DEVICE_CREDENTIALS "paste-the-device-credentials-here"

// BearSSL checks the certificates' dates, so the board needs the time. On
// a LAN without internet, name an NTP server there (many routers are one);
// if none answers, the sketch uses the time it was compiled.
#define NTP_SERVER "pool.ntp.org"
