// secrets.h: your network, your Perch gateway and this device. Fill it in.
// Once it holds real credentials, keep it out of version control.
#pragma once

// The shield's MAC address: any, as long as it is unique on your LAN (a
// sticker on newer shields gives one).
#define DEVICE_MAC 0xDE, 0xAD, 0xBE, 0xEF, 0xFE, 0x01

// The gateway's IP address (`perch status` lists its listeners; give it a
// fixed address in your router) and its plain MQTT port. The Ethernet
// library cannot resolve <hostname>.local names, hence the address. Plain
// MQTT is off by default: enable it on the gateway with
//   perch serve --mqtt-tcp-enabled    (or mqtt: tcp: enabled: true)
// and only on a LAN you trust: the password crosses it unencrypted.
#define PERCH_IP 192, 168, 1, 10
#define PERCH_PORT 1883

// The MQTT login, with Thinger.io's parameters: user name = the gateway's
// account id (`perch status` shows it; "admin" unless you set `account`),
// client id = the device id, password = the device's credentials, which
// `perch device add` printed once.
#define PERCH_ACCOUNT "admin"
#define DEVICE_ID "cellar-1"
#define DEVICE_CREDENTIALS "paste-the-device-credentials-here"
