/*
  Perch example: an ESP32 with a DHT22 and an LED, talking to a Perch
  gateway over MQTT with TLS.

  Every PUBLISH_INTERVAL_MS it publishes its readings as JSON to
      sensors/<device id>/env    e.g. {"temp":21.4,"hum":48.2,"rssi":-61,"led":0}
  which the bucket `perch bucket add env --topic 'sensors/+/env'` records,
  and it switches its LED as told on
      cmd/<device id>/led        "on" or "off" (the console's switch widget),
                                 "1" or "0", "true" or "false"
  publishing a reading at once so that a dashboard shows the new state.
  Both topics are the device's own, inside the ACL of
      perch device add <device id> --publish 'sensors/%c/#' --subscribe 'cmd/%c/#'

  Board: "ESP32 Dev Module" (Arduino-ESP32 core). Libraries, wiring and
  set-up: README.md next to this file. Your settings go in secrets.h; the
  gateway's CA in perch_ca.h (perch ca export --format c > perch_ca.h).
*/
#include <WiFi.h>
#include <WiFiClientSecure.h>
#include <ESPmDNS.h>
#include <PubSubClient.h>
#include <DHT.h>

#include "secrets.h"   // Wi-Fi, gateway and device: fill it in
#include "perch_ca.h"  // the gateway's CA: perch ca export --format c > perch_ca.h

// ---- Settings; each may also be #defined in secrets.h ----
#ifndef PUBLISH_INTERVAL_MS
#define PUBLISH_INTERVAL_MS 30000UL  // a reading every 30 s
#endif
#ifndef LED_PIN
#define LED_PIN 2                    // the blue LED of most ESP32 DevKit boards
#endif
#ifndef LED_ACTIVE_LOW
#define LED_ACTIVE_LOW 0             // 1 if your LED lights when the pin is LOW
#endif
#ifndef DHT_PIN
#define DHT_PIN 4
#endif
#ifndef DHT_TYPE
#define DHT_TYPE DHT22
#endif
#ifndef PERCH_USE_MDNS
#define PERCH_USE_MDNS 0
#endif

const unsigned long RETRY_MIN_MS = 1000;   // after a failed connect, wait 1 s,
const unsigned long RETRY_MAX_MS = 60000;  // then twice as long each time, up to a minute

WiFiClientSecure net;
PubSubClient mqtt(net);
DHT dht(DHT_PIN, DHT_TYPE);

char topicEnv[80];                  // sensors/<device id>/env
char topicLed[80];                  // cmd/<device id>/led
char gatewayHost[80] = PERCH_HOST;  // setServer keeps a pointer to it
uint16_t gatewayPort = PERCH_PORT;

bool ledOn = false;
bool online = false;            // connected at the last loop()
bool reportNow = true;          // publish at the next loop(): after connecting, after a command
unsigned long lastReport = 0;
unsigned long lastAttempt = 0;
unsigned long retryMs = 0;      // the current backoff step; 0 after a success
unsigned long waitMs = 0;       // until the next attempt: the step plus some jitter
int failures = 0;

void setLed(bool on) {
  ledOn = on;
  digitalWrite(LED_PIN, (on ^ LED_ACTIVE_LOW) ? HIGH : LOW);
}

// parseSwitch reads a command: on/off (what the console's switch widget
// sends unless told otherwise), 1/0 or true/false, in any case, quoted or
// not. The payload is not a C string: only length bytes are ours.
bool parseSwitch(const uint8_t *payload, unsigned int length, bool *on) {
  char word[8];
  unsigned int n = 0;
  for (unsigned int i = 0; i < length; i++) {
    char c = (char)payload[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"') continue;
    if (n == sizeof word - 1) return false;
    word[n++] = (char)tolower((unsigned char)c);
  }
  word[n] = '\0';
  if (!strcmp(word, "on") || !strcmp(word, "1") || !strcmp(word, "true")) {
    *on = true;
    return true;
  }
  if (!strcmp(word, "off") || !strcmp(word, "0") || !strcmp(word, "false")) {
    *on = false;
    return true;
  }
  return false;
}

void onMessage(char *topic, uint8_t *payload, unsigned int length) {
  bool on;
  if (strcmp(topic, topicLed) != 0 || !parseSwitch(payload, length, &on)) {
    Serial.printf("Ignored a message on %s (%u bytes)\n", topic, length);
    return;
  }
  setLed(on);
  Serial.printf("LED %s\n", on ? "on" : "off");
  reportNow = true;  // publish from loop(), not from inside the callback
}

void connectWiFi() {
  if (WiFi.status() == WL_CONNECTED) return;
  Serial.printf("Wi-Fi: joining %s", WIFI_SSID);
  WiFi.mode(WIFI_STA);
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  unsigned long start = millis();
  while (WiFi.status() != WL_CONNECTED) {
    if (millis() - start > 30000) {
      Serial.println(" no connection after 30 s, restarting");
      ESP.restart();
    }
    delay(250);
    Serial.print('.');
  }
  Serial.print(" connected, IP ");
  Serial.println(WiFi.localIP());
}

#if PERCH_USE_MDNS
// findGateway asks the LAN for MQTT over TLS services (mDNS,
// _secure-mqtt._tcp) and takes the first whose TXT record "fingerprint" is
// the SHA-256 of the CA in perch_ca.h: with several gateways around, the
// one this board trusts. Otherwise it keeps PERCH_HOST.
bool findGateway() {
  static bool started = false;
  if (!started) started = MDNS.begin(DEVICE_ID);
  int n = MDNS.queryService("secure-mqtt", "tcp");
  for (int i = 0; i < n; i++) {
    String host = MDNS.hostname(i) + ".local";
    if (!MDNS.txt(i, "fingerprint").equalsIgnoreCase(PERCH_CA_FINGERPRINT)) {
      Serial.printf("mDNS: skipping %s: its CA is not the one in perch_ca.h\n", host.c_str());
      continue;
    }
    if (MDNS.txt(i, "account") != PERCH_ACCOUNT) {
      Serial.printf("mDNS: %s's account is \"%s\", secrets.h says \"%s\"\n", host.c_str(),
                    MDNS.txt(i, "account").c_str(), PERCH_ACCOUNT);
    }
    snprintf(gatewayHost, sizeof gatewayHost, "%s", host.c_str());
    gatewayPort = MDNS.port(i);
    Serial.printf("mDNS: found %s port %u, its CA fingerprint matches\n", gatewayHost, gatewayPort);
    return true;
  }
  snprintf(gatewayHost, sizeof gatewayHost, "%s", PERCH_HOST);
  gatewayPort = PERCH_PORT;
  Serial.printf("mDNS: no gateway with our CA answered; trying %s\n", gatewayHost);
  return false;
}
#endif

const char *stateText(int state) {
  switch (state) {
    case MQTT_CONNECT_FAILED: return "no TLS connection: check PERCH_HOST, PERCH_PORT and that perch_ca.h is this gateway's CA";
    case MQTT_CONNECTION_TIMEOUT: return "the gateway did not answer";
    case MQTT_CONNECT_BAD_CREDENTIALS: return "bad user name or password: check PERCH_ACCOUNT, DEVICE_ID, DEVICE_CREDENTIALS";
    case MQTT_CONNECT_UNAUTHORIZED: return "not authorized: is the device disabled?";
    case MQTT_CONNECT_BAD_CLIENT_ID: return "client id refused";
    default: return "refused";
  }
}

bool connectMqtt() {
  Serial.printf("MQTT: connecting to %s:%u as %s\n", gatewayHost, gatewayPort, DEVICE_ID);
  mqtt.setServer(gatewayHost, gatewayPort);
  if (!mqtt.connect(DEVICE_ID, PERCH_ACCOUNT, DEVICE_CREDENTIALS)) {
    Serial.printf("MQTT: connect failed, rc=%d: %s\n", mqtt.state(), stateText(mqtt.state()));
    return false;
  }
  Serial.println("MQTT: connected");
  // QoS 1, and the switch's messages are retained: after a restart the LED
  // comes back as the dashboard shows it.
  mqtt.subscribe(topicLed, 1);
  reportNow = true;
  return true;
}

void publishReading() {
  reportNow = false;
  lastReport = millis();
  float t = dht.readTemperature();
  float h = dht.readHumidity();
  // A failed reading is NaN, which JSON cannot carry: leave it out.
  char payload[128];
  int n = snprintf(payload, sizeof payload, "{");
  if (!isnan(t)) n += snprintf(payload + n, sizeof payload - n, "\"temp\":%.1f,", t);
  if (!isnan(h)) n += snprintf(payload + n, sizeof payload - n, "\"hum\":%.1f,", h);
  snprintf(payload + n, sizeof payload - n, "\"rssi\":%d,\"led\":%d}", WiFi.RSSI(), ledOn ? 1 : 0);
  if (isnan(t) || isnan(h)) Serial.println("DHT: no reading (wiring? pull-up?); publishing the rest");
  if (mqtt.publish(topicEnv, payload)) {
    Serial.printf("Published %s\n", payload);
  } else {
    Serial.println("Publish failed");
  }
}

void setup() {
  Serial.begin(115200);
  pinMode(LED_PIN, OUTPUT);
  setLed(false);
  dht.begin();
  snprintf(topicEnv, sizeof topicEnv, "sensors/%s/env", DEVICE_ID);
  snprintf(topicLed, sizeof topicLed, "cmd/%s/led", DEVICE_ID);
  Serial.printf("\nPerch example: %s publishes to %s and listens on %s\n", DEVICE_ID, topicEnv, topicLed);
  connectWiFi();
  net.setCACert(PERCH_CA_CERT);  // trust the gateway's CA, and only it
  mqtt.setCallback(onMessage);
#if PERCH_USE_MDNS
  findGateway();
#endif
}

void loop() {
  if (WiFi.status() != WL_CONNECTED) connectWiFi();
  if (!mqtt.connected()) {
    if (online) {
      online = false;
      Serial.printf("MQTT: connection lost, rc=%d\n", mqtt.state());
    }
    if (millis() - lastAttempt < waitMs) return;  // backing off
    lastAttempt = millis();
#if PERCH_USE_MDNS
    if (failures > 0 && failures % 3 == 0) findGateway();  // it may have moved
#endif
    if (!connectMqtt()) {
      failures++;
      // Exponential backoff with jitter, so that a room full of boards
      // does not come back all at once after the gateway restarts.
      retryMs = retryMs == 0 ? RETRY_MIN_MS : (retryMs * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retryMs * 2);
      waitMs = retryMs + random(retryMs / 4 + 1);
      Serial.printf("MQTT: next try in %lu ms\n", waitMs);
      return;
    }
    failures = 0;
    retryMs = waitMs = 0;
    online = true;
  }
  mqtt.loop();
  if (reportNow || millis() - lastReport >= PUBLISH_INTERVAL_MS) publishReading();
}
