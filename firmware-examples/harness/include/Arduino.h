// Arduino.h of the host harness: the subset of the Arduino core (AVR,
// ESP8266 and ESP32 flavours) that the example sketches use, so that a
// sketch compiles unchanged with g++ and runs on Linux. See ../README.md.
//
// The board is chosen with -DARDUINO_ARCH_ESP32, -DARDUINO_ARCH_ESP8266 or
// -DARDUINO_ARCH_AVR, as the Arduino build does.
#pragma once

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <functional>
#include <string>

typedef bool boolean;
typedef uint8_t byte;

#define HIGH 0x1
#define LOW 0x0
#define INPUT 0x0
#define OUTPUT 0x1
#define INPUT_PULLUP 0x2

#define DEC 10
#define HEX 16

#if defined(ARDUINO_ARCH_ESP32)
#define LED_BUILTIN 2
#define A0 36
#elif defined(ARDUINO_ARCH_ESP8266)
#define LED_BUILTIN 2
#define A0 17
#else // an Uno
#define LED_BUILTIN 13
#define A0 14
#define A1 15
#endif

// Flash strings: on the host, ordinary strings.
#define PROGMEM
class __FlashStringHelper;
#define F(s) (reinterpret_cast<const __FlashStringHelper *>(s))
#define PSTR(s) (s)

unsigned long millis();
unsigned long micros();
void delay(unsigned long ms);
void delayMicroseconds(unsigned int us);
void yield();

void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t val);
int digitalRead(uint8_t pin);
int analogRead(uint8_t pin);

long random(long max);
long random(long min, long max);
void randomSeed(unsigned long seed);

// avr-libc's float formatting (printf has no %f on AVR).
char *dtostrf(double val, signed char width, unsigned char prec, char *buf);

class String {
public:
  String() {}
  String(const char *s) : s_(s ? s : "") {}
  String(const std::string &s) : s_(s) {}
  String(const __FlashStringHelper *s) : s_(reinterpret_cast<const char *>(s)) {}
  explicit String(char c) : s_(1, c) {}
  explicit String(int v, unsigned char base = 10);
  explicit String(unsigned int v, unsigned char base = 10);
  explicit String(long v, unsigned char base = 10);
  explicit String(unsigned long v, unsigned char base = 10);
  explicit String(float v, unsigned char decimals = 2);
  explicit String(double v, unsigned char decimals = 2);

  const char *c_str() const { return s_.c_str(); }
  unsigned int length() const { return s_.size(); }
  bool isEmpty() const { return s_.empty(); }
  bool reserve(unsigned int n) { s_.reserve(n); return true; }
  char charAt(unsigned int i) const { return i < s_.size() ? s_[i] : 0; }
  char operator[](unsigned int i) const { return charAt(i); }

  String &operator+=(const String &o) { s_ += o.s_; return *this; }
  String &operator+=(const char *o) { s_ += o ? o : ""; return *this; }
  String &operator+=(char c) { s_ += c; return *this; }
  bool concat(const String &o) { s_ += o.s_; return true; }
  bool concat(const char *o) { s_ += o ? o : ""; return true; }

  bool equals(const String &o) const { return s_ == o.s_; }
  bool equalsIgnoreCase(const String &o) const;
  bool operator==(const String &o) const { return s_ == o.s_; }
  bool operator==(const char *o) const { return s_ == (o ? o : ""); }
  bool operator!=(const String &o) const { return s_ != o.s_; }
  bool operator!=(const char *o) const { return !(*this == o); }
  bool startsWith(const String &p) const { return s_.compare(0, p.s_.size(), p.s_) == 0; }
  bool endsWith(const String &p) const;
  int indexOf(char c, unsigned int from = 0) const;
  int indexOf(const String &s, unsigned int from = 0) const;
  String substring(unsigned int from) const;
  String substring(unsigned int from, unsigned int to) const;
  void trim();
  void toLowerCase();
  void toUpperCase();
  long toInt() const { return strtol(s_.c_str(), nullptr, 10); }
  float toFloat() const { return strtof(s_.c_str(), nullptr); }

  friend String operator+(const String &a, const String &b) { return String(a.s_ + b.s_); }
  friend String operator+(const String &a, const char *b) { return String(a.s_ + (b ? b : "")); }
  friend String operator+(const char *a, const String &b) { return String((a ? a : "") + b.s_); }
  friend String operator+(const String &a, char b) { return String(a.s_ + b); }

private:
  std::string s_;
};

class Print;

class Printable {
public:
  virtual ~Printable() {}
  virtual size_t printTo(Print &p) const = 0;
};

class Print {
public:
  virtual ~Print() {}
  virtual size_t write(uint8_t c) = 0;
  virtual size_t write(const uint8_t *buf, size_t n);
  size_t write(const char *s) { return s ? write(reinterpret_cast<const uint8_t *>(s), strlen(s)) : 0; }

  size_t print(const char *s) { return write(s); }
  size_t print(const __FlashStringHelper *s) { return write(reinterpret_cast<const char *>(s)); }
  size_t print(const String &s) { return write(s.c_str()); }
  size_t print(char c) { return write(static_cast<uint8_t>(c)); }
  size_t print(int v, int base = DEC) { return print(static_cast<long>(v), base); }
  size_t print(unsigned int v, int base = DEC) { return print(static_cast<unsigned long>(v), base); }
  size_t print(long v, int base = DEC);
  size_t print(unsigned long v, int base = DEC);
  size_t print(double v, int digits = 2);
  size_t print(const Printable &p) { return p.printTo(*this); }

  size_t println() { return write("\r\n"); }
  template <typename T> size_t println(const T &v) { size_t n = print(v); return n + println(); }
  template <typename T> size_t println(const T &v, int mod) { size_t n = print(v, mod); return n + println(); }

  // ESP8266 and ESP32 have printf on Print; AVR does not.
  size_t printf(const char *format, ...) __attribute__((format(printf, 2, 3)));
};

class Stream : public Print {
public:
  virtual int available() { return 0; }
  virtual int read() { return -1; }
  virtual int peek() { return -1; }
  virtual void flush() {}
};

class HardwareSerial : public Stream {
public:
  void begin(unsigned long baud);
  void end() {}
  void setDebugOutput(bool) {}
  size_t write(uint8_t c) override;
  size_t write(const uint8_t *buf, size_t n) override;
  using Print::write;
  explicit operator bool() const { return true; }
};

extern HardwareSerial Serial;

class IPAddress : public Printable {
public:
  IPAddress() : b_{0, 0, 0, 0} {}
  IPAddress(uint8_t a, uint8_t b, uint8_t c, uint8_t d) : b_{a, b, c, d} {}
  explicit IPAddress(const uint8_t *a) : b_{a[0], a[1], a[2], a[3]} {}
  uint8_t operator[](int i) const { return b_[i]; }
  uint8_t &operator[](int i) { return b_[i]; }
  bool operator==(const IPAddress &o) const { return memcmp(b_, o.b_, 4) == 0; }
  bool operator!=(const IPAddress &o) const { return !(*this == o); }
  String toString() const;
  size_t printTo(Print &p) const override;

private:
  uint8_t b_[4];
};

namespace harness {
// Transport is how a network client connects: plain TCP, or TLS verified
// against a CA (PEM). PubSubClient asks its Client for it.
struct Transport {
  bool tls = false;
  std::string caPEM;   // trusted CA certificates; empty: none set
  bool insecure = false; // setInsecure(): no verification
  const char *kind = "TCP";
};
} // namespace harness

// Client is Arduino's network client interface. In the harness the MQTT
// connection itself is made by PubSubClient through libmosquitto, with the
// Transport its Client describes; the byte-level methods are not used by
// the sketches and only say so.
class Client : public Stream {
public:
  virtual int connect(IPAddress ip, uint16_t port);
  virtual int connect(const char *host, uint16_t port);
  size_t write(uint8_t c) override;
  size_t write(const uint8_t *buf, size_t n) override;
  using Print::write;
  virtual int read(uint8_t *buf, size_t n);
  using Stream::read;
  virtual void stop() {}
  virtual uint8_t connected() { return 0; }
  explicit operator bool() { return connected(); }
  virtual harness::Transport transport() const { return harness::Transport{}; }
};

// ESP8266 and ESP32 extras.
// (harness.cpp, compiled once for every board, sees them all.)
#if defined(ARDUINO_ARCH_ESP32) || defined(ARDUINO_ARCH_ESP8266) || defined(HARNESS_ALL_BOARDS)
void configTime(long gmtOffsetSec, int daylightOffsetSec, const char *server1,
                const char *server2 = nullptr, const char *server3 = nullptr);

class EspClass {
public:
  uint32_t getFreeHeap();
  void restart();
#if defined(ARDUINO_ARCH_ESP8266) || defined(HARNESS_ALL_BOARDS)
  uint32_t getChipId();
#endif
#if defined(ARDUINO_ARCH_ESP32) || defined(HARNESS_ALL_BOARDS)
  uint64_t getEfuseMac();
#endif
};
extern EspClass ESP;
#endif
#if defined(ARDUINO_ARCH_ESP32) || defined(HARNESS_ALL_BOARDS)
uint32_t esp_random();
#endif
