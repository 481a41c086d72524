// DHT.h (Adafruit "DHT sensor library" 1.4) of the host harness: a DHT22
// that reads NaN once, as a real one does right after power-up, then
// temperature and humidity that drift slowly.
#pragma once
#include <Arduino.h>

#define DHT11 11
#define DHT12 12
#define DHT21 21
#define DHT22 22
#define AM2301 21

class DHT {
public:
  DHT(uint8_t pin, uint8_t type, uint8_t count = 6) : pin_(pin), type_(type) { (void)count; }
  void begin(uint8_t usec = 55) { (void)usec; }
  float readTemperature(bool fahrenheit = false, bool force = false);
  float readHumidity(bool force = false);

private:
  uint8_t pin_, type_;
  int reads_ = 0;
  float t_ = 21.0f, h_ = 45.0f;
};
