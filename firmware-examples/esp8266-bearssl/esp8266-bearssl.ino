/*
  Perch example: an ESP8266 (Wemos D1 mini, NodeMCU) with a DHT22, talking
  to a Perch gateway over MQTT with TLS, BearSSL trusting the gateway's CA.

  Every PUBLISH_INTERVAL_MS it publishes its readings as JSON to
      sensors/<device id>/env    e.g. {"temp":21.4,"hum":48.2,"rssi":-61,"led":0}
  which the bucket `perch bucket add env --topic 'sensors/+/env'` records,
  and it switches the on-board LED as told on
      cmd/<device id>/led        "on" or "off" (the console's switch widget),
                                 "1" or "0", "true" or "false"
  publishing a reading at once so that a dashboard shows the new state.
  Both topics are the device's own, inside the ACL of
      perch device add <device id> --publish 'sensors/%c/#' --subscribe 'cmd/%c/#'

  Board: "LOLIN(WEMOS) D1 R2 & mini" or "NodeMCU 1.0" (ESP8266 core).
  Libraries, wiring and set-up: README.md next to this file. Your settings
  go in secrets.h; the gateway's CA in perch_ca.h
  (perch ca export --format c > perch_ca.h).
*/
#include <ESP8266WiFi.h>
#include <PubSubClient.h>
#include <DHT.h>
#include <time.h>

#include "secrets.h"   // Wi-Fi, gateway and device: fill it in
#include "perch_ca.h"  // the gateway's CA: perch ca export --format c > perch_ca.h

// ---- Settings; each may also be #defined in secrets.h ----
#ifndef PUBLISH_INTERVAL_MS
#define PUBLISH_INTERVAL_MS 30000UL  // a reading every 30 s
#endif
#ifndef LED_PIN
#define LED_PIN 2                    // GPIO2 (D4): the on-board LED
#endif
#ifndef LED_ACTIVE_LOW
#define LED_ACTIVE_LOW 1             // the on-board LED lights when the pin is LOW
#endif
#ifndef DHT_PIN
#define DHT_PIN 14                   // GPIO14 (D5)
#endif
#ifndef DHT_TYPE
#define DHT_TYPE DHT22
#endif
#ifndef NTP_SERVER
#define NTP_SERVER "pool.ntp.org"
#endif

const unsigned long RETRY_MIN_MS = 1000;   // after a failed connect, wait 1 s,
const unsigned long RETRY_MAX_MS = 60000;  // then twice as long each time, up to a minute

BearSSL::WiFiClientSecure net;
BearSSL::X509List trustAnchors(PERCH_CA_CERT);  // the gateway's CA, and only it
PubSubClient mqtt(net);
DHT dht(DHT_PIN, DHT_TYPE);

char topicEnv[80];  // sensors/<device id>/env
char topicLed[80];  // cmd/<device id>/led

bool ledOn = false;
bool online = false;            // connected at the last loop()
bool reportNow = true;          // publish at the next loop(): after connecting, after a command
unsigned long lastReport = 0;
unsigned long lastAttempt = 0;
unsigned long retryMs = 0;      // the current backoff step; 0 after a success
unsigned long waitMs = 0;       // until the next attempt: the step plus some jitter

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

// buildTime is when this sketch was compiled (__DATE__ "Mmm dd yyyy",
// __TIME__ "hh:mm:ss", taken as UTC): later than the CA you exported
// before compiling, so good enough for BearSSL's date checks when no NTP
// server answers.
time_t buildTime() {
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  char month[4] = {__DATE__[0], __DATE__[1], __DATE__[2], '\0'};
  struct tm t = {};
  t.tm_mon = (int)(strstr(months, month) - months) / 3;
  t.tm_mday = atoi(__DATE__ + 4);
  t.tm_year = atoi(__DATE__ + 7) - 1900;
  t.tm_hour = atoi(__TIME__);
  t.tm_min = atoi(__TIME__ + 3);
  t.tm_sec = atoi(__TIME__ + 6);
  return mktime(&t);  // the ESP8266's time zone is UTC unless a sketch sets one
}

void setClock() {
  const time_t year2023 = 1672531200;
  configTime(0, 0, NTP_SERVER);
  Serial.printf("NTP: asking %s", NTP_SERVER);
  unsigned long start = millis();
  while (time(nullptr) < year2023 && millis() - start < 10000) {
    delay(250);
    Serial.print('.');
  }
  time_t now = time(nullptr);
  if (now < year2023) {
    now = buildTime();
    net.setX509Time(now);  // otherwise BearSSL asks time()
    Serial.print(" no answer; checking certificates as of the build time, ");
  } else {
    Serial.print(" ");
  }
  Serial.printf("%lu\n", (unsigned long)now);
}

const char *stateText(int state) {
  switch (state) {
    case MQTT_CONNECT_FAILED: return "no TLS connection: check PERCH_HOST, PERCH_PORT, the time, and that perch_ca.h is this gateway's CA";
    case MQTT_CONNECTION_TIMEOUT: return "the gateway did not answer";
    case MQTT_CONNECT_BAD_CREDENTIALS: return "bad user name or password: check PERCH_ACCOUNT, DEVICE_ID, DEVICE_CREDENTIALS";
    case MQTT_CONNECT_UNAUTHORIZED: return "not authorized: is the device disabled?";
    case MQTT_CONNECT_BAD_CLIENT_ID: return "client id refused";
    default: return "refused";
  }
}

bool connectMqtt() {
  Serial.printf("MQTT: connecting to %s:%u as %s\n", PERCH_HOST, PERCH_PORT, DEVICE_ID);
  if (!mqtt.connect(DEVICE_ID, PERCH_ACCOUNT, DEVICE_CREDENTIALS)) {
    char err[80];
    int ssl = net.getLastSSLError(err, sizeof err);
    Serial.printf("MQTT: connect failed, rc=%d: %s\n", mqtt.state(), stateText(mqtt.state()));
    if (ssl) Serial.printf("TLS: error %d: %s\n", ssl, err);
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
  setClock();
  net.setTrustAnchors(&trustAnchors);
  mqtt.setServer(PERCH_HOST, PERCH_PORT);
  mqtt.setCallback(onMessage);
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
    if (!connectMqtt()) {
      // Exponential backoff with jitter, so that a room full of boards
      // does not come back all at once after the gateway restarts.
      retryMs = retryMs == 0 ? RETRY_MIN_MS : (retryMs * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retryMs * 2);
      waitMs = retryMs + random(retryMs / 4 + 1);
      Serial.printf("MQTT: next try in %lu ms\n", waitMs);
      return;
    }
    retryMs = waitMs = 0;
    online = true;
  }
  mqtt.loop();
  if (reportNow || millis() - lastReport >= PUBLISH_INTERVAL_MS) publishReading();
}
