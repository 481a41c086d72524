/*
  Perch example: an Arduino Uno with an Ethernet shield (W5100/W5500), a
  TMP36 temperature sensor and an LED, talking to a Perch gateway over
  plain MQTT on port 1883.

  No TLS: an Uno has neither the memory nor the speed for it. Plain MQTT is
  off on a gateway by default; turn it on (perch serve --mqtt-tcp-enabled)
  only on a LAN you trust, since the device's password and data cross it
  unencrypted. For anything else, use a board with TLS (the ESP32 and
  ESP8266 examples).

  Every PUBLISH_INTERVAL_MS it publishes its reading as JSON to
      sensors/<device id>/env    e.g. {"temp":21.5,"led":0}
  which the bucket `perch bucket add env --topic 'sensors/+/env'` records,
  and it switches its LED as told on
      cmd/<device id>/led        "on" or "off" (the console's switch widget),
                                 "1" or "0", "true" or "false"
  publishing a reading at once so that a dashboard shows the new state.
  Both topics are the device's own, inside the ACL of
      perch device add <device id> --publish 'sensors/%c/#' --subscribe 'cmd/%c/#'

  Board: "Arduino Uno". Libraries, wiring and set-up: README.md next to
  this file. Your settings go in secrets.h.
*/
#include <SPI.h>
#include <Ethernet.h>
#include <PubSubClient.h>

#include "secrets.h"  // network, gateway and device: fill it in

// ---- Settings; each may also be #defined in secrets.h ----
#ifndef PUBLISH_INTERVAL_MS
#define PUBLISH_INTERVAL_MS 30000UL  // a reading every 30 s
#endif
#ifndef LED_PIN
#define LED_PIN 7                    // not 13: the shield's SPI uses pins 10 to 13
#endif
#ifndef TMP36_PIN
#define TMP36_PIN A0
#endif

const unsigned long RETRY_MIN_MS = 1000;   // after a failed connect, wait 1 s,
const unsigned long RETRY_MAX_MS = 60000;  // then twice as long each time, up to a minute

byte mac[] = {DEVICE_MAC};
IPAddress perchAddress(PERCH_IP);
EthernetClient net;
PubSubClient mqtt(net);

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
  digitalWrite(LED_PIN, on ? HIGH : LOW);
}

// parseSwitch reads a command: on/off (what the console's switch widget
// sends unless told otherwise), 1/0 or true/false, in any case, quoted or
// not. The payload is not a C string: only length bytes are ours.
bool parseSwitch(const byte *payload, unsigned int length, bool *on) {
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

void onMessage(char *topic, byte *payload, unsigned int length) {
  bool on;
  if (strcmp(topic, topicLed) != 0 || !parseSwitch(payload, length, &on)) {
    Serial.print(F("Ignored a message on "));
    Serial.println(topic);
    return;
  }
  setLed(on);
  Serial.println(on ? F("LED on") : F("LED off"));
  reportNow = true;  // publish from loop(), not from inside the callback
}

void startEthernet() {
  Serial.print(F("Ethernet: asking DHCP for an address... "));
  while (Ethernet.begin(mac) == 0) {
    if (Ethernet.hardwareStatus() == EthernetNoHardware) {
      Serial.println(F("no shield found: is it seated?"));
    } else if (Ethernet.linkStatus() == LinkOFF) {
      Serial.println(F("no link: is the cable in?"));
    } else {
      Serial.println(F("no answer"));
    }
    delay(5000);
  }
  Serial.println(Ethernet.localIP());
}

// readTemperature reads a TMP36: 10 mV per degree, 500 mV at 0 °C, with
// the ADC's 1024 steps spanning 5 V.
float readTemperature() {
  int raw = analogRead(TMP36_PIN);
  return (raw * 5.0 / 1024.0 - 0.5) * 100.0;
}

void printState(int state) {
  switch (state) {
    case MQTT_CONNECT_FAILED: Serial.println(F("no TCP connection: check PERCH_IP, PERCH_PORT and that plain MQTT is enabled")); break;
    case MQTT_CONNECTION_TIMEOUT: Serial.println(F("the gateway did not answer")); break;
    case MQTT_CONNECT_BAD_CREDENTIALS: Serial.println(F("bad user name or password: check PERCH_ACCOUNT, DEVICE_ID, DEVICE_CREDENTIALS")); break;
    case MQTT_CONNECT_UNAUTHORIZED: Serial.println(F("not authorized: is the device disabled?")); break;
    default: Serial.println(F("refused"));
  }
}

bool connectMqtt() {
  Serial.print(F("MQTT: connecting to "));
  Serial.print(perchAddress);
  Serial.print(F(" as "));
  Serial.println(F(DEVICE_ID));
  if (!mqtt.connect(DEVICE_ID, PERCH_ACCOUNT, DEVICE_CREDENTIALS)) {
    Serial.print(F("MQTT: connect failed, rc="));
    Serial.print(mqtt.state());
    Serial.print(F(": "));
    printState(mqtt.state());
    return false;
  }
  Serial.println(F("MQTT: connected"));
  // QoS 1, and the switch's messages are retained: after a restart the LED
  // comes back as the dashboard shows it.
  mqtt.subscribe(topicLed, 1);
  reportNow = true;
  return true;
}

void publishReading() {
  reportNow = false;
  lastReport = millis();
  char temp[8];
  dtostrf(readTemperature(), 1, 1, temp);  // the AVR's printf has no %f
  char payload[40];
  snprintf(payload, sizeof payload, "{\"temp\":%s,\"led\":%d}", temp, ledOn ? 1 : 0);
  if (mqtt.publish(topicEnv, payload)) {
    Serial.print(F("Published "));
    Serial.println(payload);
  } else {
    Serial.println(F("Publish failed"));
  }
}

void setup() {
  Serial.begin(115200);
  pinMode(LED_PIN, OUTPUT);
  setLed(false);
  snprintf(topicEnv, sizeof topicEnv, "sensors/%s/env", DEVICE_ID);
  snprintf(topicLed, sizeof topicLed, "cmd/%s/led", DEVICE_ID);
  Serial.print(F("\nPerch example: publishing to "));
  Serial.print(topicEnv);
  Serial.print(F(", listening on "));
  Serial.println(topicLed);
  startEthernet();
  randomSeed(analogRead(A1) ^ micros());  // jitter that differs from board to board
  mqtt.setServer(perchAddress, PERCH_PORT);
  mqtt.setCallback(onMessage);
}

void loop() {
  Ethernet.maintain();  // renews the DHCP lease
  if (!mqtt.connected()) {
    if (online) {
      online = false;
      Serial.print(F("MQTT: connection lost, rc="));
      Serial.println(mqtt.state());
    }
    if (millis() - lastAttempt < waitMs) return;  // backing off
    lastAttempt = millis();
    if (!connectMqtt()) {
      // Exponential backoff with jitter, so that a room full of boards
      // does not come back all at once after the gateway restarts.
      retryMs = retryMs == 0 ? RETRY_MIN_MS : (retryMs * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retryMs * 2);
      waitMs = retryMs + random(retryMs / 4 + 1);
      Serial.print(F("MQTT: next try in "));
      Serial.print(waitMs);
      Serial.println(F(" ms"));
      return;
    }
    retryMs = waitMs = 0;
    online = true;
  }
  mqtt.loop();
  if (reportNow || millis() - lastReport >= PUBLISH_INTERVAL_MS) publishReading();
}
