// The host harness's implementation of the Arduino, Wi-Fi, Ethernet, mDNS,
// DHT and PubSubClient APIs declared in ../include. See ../README.md.
#include <Arduino.h>
#include <DHT.h>
#include <ESP8266WiFi.h>
#include <ESPmDNS.h>
#include <Ethernet.h>
#include <PubSubClient.h>
#include <SPI.h>
#include <WiFiClientSecure.h>

#include <dlfcn.h>
#include <errno.h>
#include <mosquitto.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "harness.h"

// ---------------------------------------------------------------------------
// Output, exit conditions and time.

namespace {

using Clock = std::chrono::steady_clock;
const Clock::time_point started = Clock::now();
volatile sig_atomic_t stopSignal = 0;
bool atLineStart = true;
std::string currentLine;
std::string exitOn;        // HARNESS_EXIT_ON
unsigned long timeoutMs;   // HARNESS_TIMEOUT_MS
std::string wifiSSID, wifiPassword;
std::string netAddr = "127.0.0.1"; // HARNESS_NET_ADDR
std::mt19937 rng(1);
// Never destroyed: a sketch's global PubSubClient may outlive it at exit.
std::set<PubSubClient *> &liveClients = *new std::set<PubSubClient *>;

const char *env(const char *name, const char *def) {
  const char *v = getenv(name);
  return v && *v ? v : def;
}

// emit writes what the sketch or the harness prints to stdout, line by
// line, and ends the run when a line holds HARNESS_EXIT_ON.
void emit(const char *data, size_t n) {
  fwrite(data, 1, n, stdout);
  for (size_t i = 0; i < n; i++) {
    char c = data[i];
    if (c == '\n') {
      atLineStart = true;
      bool hit = !exitOn.empty() && currentLine.find(exitOn) != std::string::npos;
      currentLine.clear();
      if (hit) {
        fflush(stdout);
        fprintf(stdout, "harness: exit: a line held \"%s\"\n", exitOn.c_str());
        exit(0);
      }
    } else {
      atLineStart = false;
      if (c != '\r') currentLine += c;
    }
  }
  fflush(stdout);
}

void check() {
  if (stopSignal) {
    harness::note("stopped by signal %d", static_cast<int>(stopSignal));
    exit(0);
  }
  if (timeoutMs > 0 && millis() > timeoutMs) {
    harness::note("timeout: still running after %lu ms (HARNESS_TIMEOUT_MS)", timeoutMs);
    exit(124);
  }
}

void onSignal(int sig) { stopSignal = sig; }

bool isLoopback(const std::string &a) { return a == "127.0.0.1" || a == "::1"; }

} // namespace

namespace harness {

void note(const char *format, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, format);
  vsnprintf(buf, sizeof buf, format, ap);
  va_end(ap);
  std::string line = atLineStart ? "" : "\n";
  line += "harness: ";
  line += buf;
  line += "\n";
  emit(line.data(), line.size());
}

} // namespace harness

// Name resolution: the harness is the board's network, in which every host
// name and address is the gateway on the loopback address. libmosquitto
// resolves through getaddrinfo, which this executable defines (it is
// linked with -rdynamic, so the definition takes precedence over libc's for
// libmosquitto too; run checks that it does).
extern "C" int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                           struct addrinfo **res) {
  using Fn = int (*)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "getaddrinfo"));
  if (!real) return EAI_SYSTEM;
  if (node) {
    static std::set<std::string> told;
    if (told.insert(node).second) harness::note("network: %s is %s", node, netAddr.c_str());
    node = netAddr.c_str();
  }
  return real(node, service, hints, res);
}

int harness_main(const char *board, void (*setup)(), void (*loop)()) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  exitOn = env("HARNESS_EXIT_ON", "");
  timeoutMs = strtoul(env("HARNESS_TIMEOUT_MS", "120000"), nullptr, 10);
  wifiSSID = env("HARNESS_WIFI_SSID", "");
  wifiPassword = env("HARNESS_WIFI_PASSWORD", "");
  netAddr = env("HARNESS_NET_ADDR", "127.0.0.1");
  rng.seed(strtoul(env("HARNESS_SEED", "1"), nullptr, 10));
  if (!isLoopback(netAddr)) {
    fprintf(stderr, "harness: HARNESS_NET_ADDR must be 127.0.0.1 or ::1, not %s\n", netAddr.c_str());
    return 2;
  }
  // No packet may leave the machine: make sure name resolution is ours.
  if (dlsym(RTLD_DEFAULT, "getaddrinfo") != reinterpret_cast<void *>(&getaddrinfo)) {
    fprintf(stderr, "harness: getaddrinfo is not the harness's (link with -rdynamic)\n");
    return 2;
  }
  struct sigaction sa = {};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  mosquitto_lib_init();

  harness::note("board %s, sketch starting", board);
  setup();
  for (;;) {
    check();
    loop();
    // A board spins through loop(); the harness waits a little between
    // calls (until an MQTT socket has data, at most 5 ms), to spare the CPU.
    harnessPollClients(5);
  }
}

unsigned long millis() {
  return static_cast<unsigned long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
}

unsigned long micros() {
  return static_cast<unsigned long>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count());
}

void delay(unsigned long ms) {
  // In slices, so that a signal or the timeout ends a long delay.
  auto end = Clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    check();
    auto now = Clock::now();
    if (now >= end) return;
    std::this_thread::sleep_for(std::min<Clock::duration>(end - now, std::chrono::milliseconds(20)));
  }
}

void delayMicroseconds(unsigned int us) { std::this_thread::sleep_for(std::chrono::microseconds(us)); }

void yield() { check(); }

// ---------------------------------------------------------------------------
// GPIO: outputs are printed, so that a test sees what the board would do.

namespace {
uint8_t pinModes[256];
uint8_t pinLevels[256];
} // namespace

void pinMode(uint8_t pin, uint8_t mode) { pinModes[pin] = mode; }

void digitalWrite(uint8_t pin, uint8_t val) {
  pinLevels[pin] = val ? HIGH : LOW;
  if (pinModes[pin] != OUTPUT) harness::note("digitalWrite to pin %u, which is not an OUTPUT", pin);
  char line[64];
  int n = snprintf(line, sizeof line, "%sdigitalWrite(%u, %s)\n", atLineStart ? "" : "\n", pin, val ? "HIGH" : "LOW");
  emit(line, static_cast<size_t>(n));
}

int digitalRead(uint8_t pin) { return pinLevels[pin]; }

int analogRead(uint8_t pin) {
  (void)pin;
  // HARNESS_ANALOG, plus a little noise: 150 of 1023 is 23 °C from a TMP36
  // at 5 V.
  long base = strtol(env("HARNESS_ANALOG", "150"), nullptr, 10);
  return static_cast<int>(base + static_cast<long>(rng() % 3) - 1);
}

long random(long max) { return max <= 0 ? 0 : static_cast<long>(rng() % static_cast<unsigned long>(max)); }
long random(long min, long max) { return max <= min ? min : min + random(max - min); }
void randomSeed(unsigned long seed) { rng.seed(static_cast<std::mt19937::result_type>(seed)); }

char *dtostrf(double val, signed char width, unsigned char prec, char *buf) {
  sprintf(buf, "%*.*f", width, prec, val);
  return buf;
}

void configTime(long gmtOffsetSec, int daylightOffsetSec, const char *server1, const char *server2,
                const char *server3) {
  (void)gmtOffsetSec, (void)daylightOffsetSec, (void)server2, (void)server3;
  harness::note("configTime(%s): no NTP here; time() is the host's clock", server1 ? server1 : "");
}

uint32_t EspClass::getFreeHeap() { return 200000; }
void EspClass::restart() {
  harness::note("ESP.restart()");
  exit(3);
}
uint32_t EspClass::getChipId() { return 0xC0FFEE; }
uint64_t EspClass::getEfuseMac() { return 0x0000A1B2C3D4E5F6ULL; }
EspClass ESP;
uint32_t esp_random() { return static_cast<uint32_t>(rng()); }

// ---------------------------------------------------------------------------
// String, Print, Serial, IPAddress.

namespace {
std::string numberString(unsigned long v, int base) {
  if (base < 2 || base > 36) base = 10;
  char buf[72];
  int i = sizeof buf - 1;
  buf[i] = 0;
  do {
    int d = static_cast<int>(v % static_cast<unsigned long>(base));
    buf[--i] = static_cast<char>(d < 10 ? '0' + d : 'A' + d - 10);
    v /= static_cast<unsigned long>(base);
  } while (v && i > 0);
  return std::string(buf + i);
}

std::string signedString(long v, int base) {
  if (v < 0 && base == 10) return "-" + numberString(static_cast<unsigned long>(-(v + 1)) + 1, base);
  return numberString(static_cast<unsigned long>(v), base);
}

std::string floatString(double v, int decimals) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
} // namespace

String::String(int v, unsigned char base) : s_(signedString(v, base)) {}
String::String(unsigned int v, unsigned char base) : s_(numberString(v, base)) {}
String::String(long v, unsigned char base) : s_(signedString(v, base)) {}
String::String(unsigned long v, unsigned char base) : s_(numberString(v, base)) {}
String::String(float v, unsigned char decimals) : s_(floatString(v, decimals)) {}
String::String(double v, unsigned char decimals) : s_(floatString(v, decimals)) {}

bool String::equalsIgnoreCase(const String &o) const {
  return s_.size() == o.s_.size() && strcasecmp(s_.c_str(), o.s_.c_str()) == 0;
}
bool String::endsWith(const String &p) const {
  return s_.size() >= p.s_.size() && s_.compare(s_.size() - p.s_.size(), p.s_.size(), p.s_) == 0;
}
int String::indexOf(char c, unsigned int from) const {
  size_t i = s_.find(c, from);
  return i == std::string::npos ? -1 : static_cast<int>(i);
}
int String::indexOf(const String &s, unsigned int from) const {
  size_t i = s_.find(s.s_, from);
  return i == std::string::npos ? -1 : static_cast<int>(i);
}
String String::substring(unsigned int from) const { return from >= s_.size() ? String() : String(s_.substr(from)); }
String String::substring(unsigned int from, unsigned int to) const {
  if (from > to) std::swap(from, to);
  if (from >= s_.size()) return String();
  return String(s_.substr(from, std::min<size_t>(to, s_.size()) - from));
}
void String::trim() {
  size_t a = s_.find_first_not_of(" \t\r\n\v\f");
  if (a == std::string::npos) {
    s_.clear();
    return;
  }
  size_t b = s_.find_last_not_of(" \t\r\n\v\f");
  s_ = s_.substr(a, b - a + 1);
}
void String::toLowerCase() {
  for (char &c : s_) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
}
void String::toUpperCase() {
  for (char &c : s_) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
}

size_t Print::write(const uint8_t *buf, size_t n) {
  size_t done = 0;
  while (n--) done += write(*buf++);
  return done;
}
size_t Print::print(long v, int base) { return write(signedString(v, base).c_str()); }
size_t Print::print(unsigned long v, int base) { return write(numberString(v, base).c_str()); }
size_t Print::print(double v, int digits) {
  if (isnan(v)) return write("nan");
  if (isinf(v)) return write("inf");
  return write(floatString(v, digits).c_str());
}
size_t Print::printf(const char *format, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(buf, sizeof buf, format, ap);
  va_end(ap);
  if (n < 0) return 0;
  return write(reinterpret_cast<const uint8_t *>(buf), std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

HardwareSerial Serial;
void HardwareSerial::begin(unsigned long baud) { (void)baud; }
size_t HardwareSerial::write(uint8_t c) {
  char ch = static_cast<char>(c);
  emit(&ch, 1);
  return 1;
}
size_t HardwareSerial::write(const uint8_t *buf, size_t n) {
  emit(reinterpret_cast<const char *>(buf), n);
  return n;
}

String IPAddress::toString() const {
  char buf[16];
  snprintf(buf, sizeof buf, "%u.%u.%u.%u", b_[0], b_[1], b_[2], b_[3]);
  return String(buf);
}
size_t IPAddress::printTo(Print &p) const { return p.print(toString()); }

int Client::connect(IPAddress, uint16_t) {
  harness::note("Client::connect is not emulated: the harness connects only through PubSubClient");
  return 0;
}
int Client::connect(const char *host, uint16_t port) {
  (void)host;
  return connect(IPAddress(), port);
}
size_t Client::write(uint8_t) { return 0; }
size_t Client::write(const uint8_t *, size_t) { return 0; }
int Client::read(uint8_t *, size_t) { return -1; }

// ---------------------------------------------------------------------------
// Wi-Fi, Ethernet, TLS clients, mDNS, DHT.

namespace {
wl_status_t wifiStatus = WL_IDLE_STATUS;
Clock::time_point wifiJoinAt;
} // namespace

WiFiClass WiFi;

bool WiFiClass::mode(wifi_mode_t) { return true; }

wl_status_t WiFiClass::begin(const char *ssid, const char *passphrase) {
  std::string s = ssid ? ssid : "", p = passphrase ? passphrase : "";
  if (!wifiSSID.empty() && s != wifiSSID) {
    harness::note("WiFi.begin: no network \"%s\" here (HARNESS_WIFI_SSID is \"%s\")", s.c_str(), wifiSSID.c_str());
    wifiStatus = WL_NO_SSID_AVAIL;
    return wifiStatus;
  }
  if (!wifiSSID.empty() && p != wifiPassword) {
    harness::note("WiFi.begin: wrong password for \"%s\"", s.c_str());
    wifiStatus = WL_CONNECT_FAILED;
    return wifiStatus;
  }
  // Joining takes a moment, as on a board.
  wifiStatus = WL_DISCONNECTED;
  wifiJoinAt = Clock::now() + std::chrono::milliseconds(300);
  return wifiStatus;
}

wl_status_t WiFiClass::status() {
  if (wifiStatus == WL_DISCONNECTED && wifiJoinAt != Clock::time_point() && Clock::now() >= wifiJoinAt) {
    wifiStatus = WL_CONNECTED;
  }
  return wifiStatus;
}

bool WiFiClass::disconnect(bool) {
  wifiStatus = WL_DISCONNECTED;
  wifiJoinAt = Clock::time_point();
  return true;
}
bool WiFiClass::reconnect() {
  wifiJoinAt = Clock::now();
  return true;
}
bool WiFiClass::setHostname(const char *) { return true; }
IPAddress WiFiClass::localIP() { return status() == WL_CONNECTED ? IPAddress(127, 0, 0, 1) : IPAddress(); }
int8_t WiFiClass::RSSI() { return static_cast<int8_t>(-55 - static_cast<int>(rng() % 10)); }
String WiFiClass::SSID() { return String(wifiSSID.c_str()); }
String WiFiClass::macAddress() { return String("24:6F:28:00:00:01"); }

harness::Transport WiFiClient::transport() const {
  harness::Transport t;
  t.kind = "TCP (WiFiClient)";
  return t;
}

harness::Transport WiFiClientSecure::transport() const {
  harness::Transport t;
  t.tls = true;
  t.caPEM = ca_;
  t.insecure = insecure_;
  t.kind = "TLS (ESP32 WiFiClientSecure, setCACert)";
  return t;
}

bool BearSSL::X509List::append(const char *pemCert) {
  if (!pemCert) return false;
  std::string p = pemCert;
  size_t n = 0;
  for (size_t i = p.find("-----BEGIN CERTIFICATE-----"); i != std::string::npos;
       i = p.find("-----BEGIN CERTIFICATE-----", i + 1)) {
    n++;
  }
  if (n == 0) {
    harness::note("X509List: no PEM certificate in what it was given");
    return false;
  }
  pem_ += p;
  if (!pem_.empty() && pem_.back() != '\n') pem_ += '\n';
  count_ += n;
  return true;
}

int BearSSL::WiFiClientSecure::getLastSSLError(char *dest, size_t len) {
  if (dest && len) dest[0] = 0;
  return 0;
}

harness::Transport BearSSL::WiFiClientSecure::transport() const {
  harness::Transport t;
  t.tls = true;
  t.caPEM = ta_ ? ta_->pem() : "";
  t.insecure = insecure_;
  t.kind = "TLS (ESP8266 BearSSL::WiFiClientSecure, setTrustAnchors)";
  return t;
}

EthernetClass Ethernet;
SPIClass SPI;

int EthernetClass::begin(uint8_t *mac, unsigned long, unsigned long) {
  harness::note("Ethernet.begin: MAC %02X:%02X:%02X:%02X:%02X:%02X, DHCP answered", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return 1;
}
void EthernetClass::begin(uint8_t *mac, IPAddress ip) {
  harness::note("Ethernet.begin: MAC %02X:..., static address %s", mac[0], ip.toString().c_str());
}
IPAddress EthernetClass::localIP() { return IPAddress(127, 0, 0, 1); }

MDNSResponder MDNS;

bool MDNSResponder::begin(const char *hostName) {
  harness::note("MDNS.begin(\"%s\")", hostName ? hostName : "");
  return true;
}

// HARNESS_MDNS lists the services that answer a query for _secure-mqtt._tcp:
// "host|port|key=value,key=value;host|port|..." (see ../README.md).
int MDNSResponder::queryService(const char *service, const char *proto) {
  results_.clear();
  std::string s = service ? service : "", p = proto ? proto : "";
  if (!s.empty() && s[0] == '_') s.erase(0, 1);
  if (!p.empty() && p[0] == '_') p.erase(0, 1);
  if (s != "secure-mqtt" || p != "tcp") {
    harness::note("MDNS.queryService(\"%s\", \"%s\"): nothing answers that here", s.c_str(), p.c_str());
    return 0;
  }
  std::string all = env("HARNESS_MDNS", "");
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find(';', start);
    if (end == std::string::npos) end = all.size();
    std::string item = all.substr(start, end - start);
    start = end + 1;
    size_t a = item.find('|');
    size_t b = a == std::string::npos ? a : item.find('|', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    Result r;
    r.host = item.substr(0, a);
    r.port = static_cast<uint16_t>(strtoul(item.substr(a + 1, b - a - 1).c_str(), nullptr, 10));
    std::string txt = item.substr(b + 1);
    size_t t = 0;
    while (t < txt.size()) {
      size_t e = txt.find(',', t);
      if (e == std::string::npos) e = txt.size();
      std::string kv = txt.substr(t, e - t);
      size_t eq = kv.find('=');
      if (eq != std::string::npos) r.txt.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
      t = e + 1;
    }
    results_.push_back(r);
  }
  harness::note("MDNS.queryService(\"%s\", \"%s\"): %zu answers", s.c_str(), p.c_str(), results_.size());
  return static_cast<int>(results_.size());
}

const MDNSResponder::Result *MDNSResponder::at(int idx) const {
  return idx >= 0 && static_cast<size_t>(idx) < results_.size() ? &results_[static_cast<size_t>(idx)] : nullptr;
}
String MDNSResponder::hostname(int idx) { return at(idx) ? String(at(idx)->host.c_str()) : String(); }
IPAddress MDNSResponder::IP(int idx) { return at(idx) ? IPAddress(127, 0, 0, 1) : IPAddress(); }
uint16_t MDNSResponder::port(int idx) { return at(idx) ? at(idx)->port : 0; }
int MDNSResponder::numTxt(int idx) { return at(idx) ? static_cast<int>(at(idx)->txt.size()) : 0; }
bool MDNSResponder::hasTxt(int idx, const char *key) {
  if (!at(idx)) return false;
  for (auto &kv : at(idx)->txt) {
    if (kv.first == key) return true;
  }
  return false;
}
String MDNSResponder::txt(int idx, const char *key) {
  if (!at(idx)) return String();
  for (auto &kv : at(idx)->txt) {
    if (kv.first == key) return String(kv.second.c_str());
  }
  return String();
}

float DHT::readTemperature(bool fahrenheit, bool force) {
  (void)force;
  if (reads_++ == 0) return NAN; // the first read after power-up fails
  t_ += static_cast<float>(static_cast<int>(rng() % 21) - 10) / 100.0f;
  return fahrenheit ? t_ * 1.8f + 32 : t_;
}

float DHT::readHumidity(bool force) {
  (void)force;
  if (reads_ <= 1) return NAN;
  h_ += static_cast<float>(static_cast<int>(rng() % 21) - 10) / 50.0f;
  return h_;
}

// ---------------------------------------------------------------------------
// PubSubClient on libmosquitto.

namespace {

// Cipher suites that mbedTLS on the ESP32 and BearSSL on the ESP8266 offer
// for an ECDSA certificate such as Perch's (and an RSA one), in TLS 1.2,
// the newest version both speak.
const char *chipCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";

PubSubClient *self(void *obj) { return static_cast<PubSubClient *>(obj); }

} // namespace

// tlsSetup gives m the TLS context of a chip's TLS client: TLS 1.2, the
// chips' cipher suites, the CA it was given as the only trust anchor, and
// the host name checked against the certificate's DNS names only (mbedTLS
// and BearSSL ignore IP addresses in certificates, so connecting by IP
// address fails here as it does there). It returns what went wrong, or "".
static std::string tlsSetup(mosquitto *m, const harness::Transport &tr, const std::string &host) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return "SSL_CTX_new failed";
  struct Free {
    SSL_CTX *c;
    ~Free() { SSL_CTX_free(c); } // libmosquitto holds its own reference
  } owner{ctx};
  if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) || !SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) ||
      !SSL_CTX_set_cipher_list(ctx, chipCiphers)) {
    return "cannot restrict TLS to version 1.2 and the chips' cipher suites";
  }
  if (tr.insecure) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    if (tr.caPEM.empty()) return "no CA certificate set, so no server can be trusted";
    BIO *bio = BIO_new_mem_buf(tr.caPEM.data(), static_cast<int>(tr.caPEM.size()));
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int n = 0;
    while (X509 *cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      if (X509_STORE_add_cert(store, cert) == 1) n++;
      X509_free(cert);
    }
    BIO_free(bio);
    ERR_clear_error(); // the end of the PEM data
    if (n == 0) return "the CA it was given holds no PEM certificate";
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, [](int ok, X509_STORE_CTX *x) {
      if (!ok) {
        harness::note("TLS: the gateway's certificate is refused: %s",
                      X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
      }
      return ok;
    });
    if (!X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(ctx), host.c_str(), 0)) return "bad host name";
  }
  if (mosquitto_int_option(m, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0) != MOSQ_ERR_SUCCESS ||
      mosquitto_void_option(m, MOSQ_OPT_SSL_CTX, ctx) != MOSQ_ERR_SUCCESS) {
    return "libmosquitto refused the TLS context";
  }
  return "";
}

int harnessPollClients(int timeoutMs) {
  std::vector<pollfd> fds;
  for (PubSubClient *c : liveClients) {
    int fd = c->socket();
    if (fd >= 0) fds.push_back(pollfd{fd, POLLIN, 0});
  }
  if (fds.empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeoutMs));
    return 0;
  }
  return poll(fds.data(), fds.size(), timeoutMs);
}

PubSubClient::~PubSubClient() { drop(); }

int PubSubClient::socket() const { return m_ ? mosquitto_socket(m_) : -1; }

void PubSubClient::drop() {
  liveClients.erase(this);
  if (m_) {
    mosquitto_destroy(m_);
    m_ = nullptr;
  }
  pendingSubs_.clear();
}

PubSubClient &PubSubClient::setServer(IPAddress ip, uint16_t port) {
  ip_ = ip;
  domain_ = nullptr;
  port_ = port;
  return *this;
}

// Like the library, keeps the pointer: the string must outlive the client.
PubSubClient &PubSubClient::setServer(const char *domain, uint16_t port) {
  domain_ = domain;
  port_ = port;
  return *this;
}

PubSubClient &PubSubClient::setCallback(MQTT_CALLBACK_SIGNATURE) {
  this->callback = callback;
  return *this;
}

boolean PubSubClient::setBufferSize(uint16_t size) {
  if (size == 0) return false;
  bufferSize_ = size;
  return true;
}

boolean PubSubClient::connect(const char *id) { return connect(id, nullptr, nullptr, nullptr, 0, false, nullptr, true); }
boolean PubSubClient::connect(const char *id, const char *user, const char *pass) {
  return connect(id, user, pass, nullptr, 0, false, nullptr, true);
}
boolean PubSubClient::connect(const char *id, const char *willTopic, uint8_t willQos, boolean willRetain,
                              const char *willMessage) {
  return connect(id, nullptr, nullptr, willTopic, willQos, willRetain, willMessage, true);
}
boolean PubSubClient::connect(const char *id, const char *user, const char *pass, const char *willTopic,
                              uint8_t willQos, boolean willRetain, const char *willMessage) {
  return connect(id, user, pass, willTopic, willQos, willRetain, willMessage, true);
}

boolean PubSubClient::connect(const char *id, const char *user, const char *pass, const char *willTopic,
                              uint8_t willQos, boolean willRetain, const char *willMessage, boolean cleanSession) {
  if (connected()) return true;
  drop();
  state_ = MQTT_CONNECT_FAILED;
  if (!client_) {
    harness::note("PubSubClient::connect without a Client");
    return false;
  }
  // The CONNECT packet is built in the library's buffer: it must fit.
  size_t need = MQTT_MAX_HEADER_SIZE + 10 + 2 + strlen(id ? id : "");
  if (willTopic) need += 2 + strlen(willTopic) + 2 + strlen(willMessage ? willMessage : "");
  if (user) need += 2 + strlen(user);
  if (user && pass) need += 2 + strlen(pass);
  if (need > bufferSize_) {
    harness::note("CONNECT of %zu bytes does not fit PubSubClient's %u-byte buffer (setBufferSize)", need, bufferSize_);
    return false;
  }
  std::string host = domain_ ? domain_ : ip_.toString().c_str();
  harness::Transport tr = client_->transport();
  m_ = mosquitto_new(id, cleanSession, this);
  if (!m_) {
    harness::note("mosquitto_new: %s", strerror(errno));
    return false;
  }
  mosquitto_int_option(m_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_connect_callback_set(m_, [](mosquitto *, void *obj, int rc) { self(obj)->onConnack(rc); });
  mosquitto_disconnect_callback_set(m_, [](mosquitto *, void *obj, int rc) { self(obj)->onLost(mosquitto_strerror(rc)); });
  mosquitto_message_callback_set(m_, [](mosquitto *, void *obj, const mosquitto_message *msg) {
    self(obj)->onMessage(msg->topic, msg->payload, msg->payloadlen);
  });
  mosquitto_subscribe_callback_set(m_, [](mosquitto *, void *obj, int mid, int n, const int *granted) {
    self(obj)->onSubscribed(mid, n > 0 ? granted[0] : 0x80);
  });
  mosquitto_log_callback_set(m_, [](mosquitto *, void *, int level, const char *str) {
    if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING) || getenv("HARNESS_DEBUG")) harness::note("mosquitto: %s", str);
  });
  if (user) mosquitto_username_pw_set(m_, user, pass);
  if (willTopic) {
    mosquitto_will_set(m_, willTopic, static_cast<int>(strlen(willMessage ? willMessage : "")), willMessage, willQos,
                       willRetain);
  }
  if (tr.tls) {
    std::string err = tlsSetup(m_, tr, host);
    if (!err.empty()) {
      harness::note("%s: %s", tr.kind, err.c_str());
      drop();
      return false;
    }
  }
  harness::note("MQTT 3.1.1 over %s to %s:%u as client id \"%s\"", tr.kind, host.c_str(), port_, id ? id : "");
  connack_ = -1;
  int rc = mosquitto_connect(m_, host.c_str(), port_, keepAlive_);
  auto deadline = Clock::now() + std::chrono::seconds(socketTimeout_);
  while (rc == MOSQ_ERR_SUCCESS && connack_ < 0 && Clock::now() < deadline) {
    check();
    rc = mosquitto_loop(m_, 50, 1);
  }
  if (connack_ == 0) {
    if (SSL *ssl = static_cast<SSL *>(mosquitto_ssl_get(m_))) {
      harness::note("TLS: %s, %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
    }
    state_ = MQTT_CONNECTED;
    liveClients.insert(this);
    return true;
  }
  if (connack_ > 0) {
    harness::note("CONNACK return code %d", connack_);
    state_ = connack_;
  } else if (rc != MOSQ_ERR_SUCCESS) {
    harness::note("connection failed: %s%s", mosquitto_strerror(rc),
                  rc == MOSQ_ERR_ERRNO ? (std::string(" (") + strerror(errno) + ")").c_str() : "");
    state_ = MQTT_CONNECT_FAILED;
  } else {
    harness::note("no CONNACK within %u s", socketTimeout_);
    state_ = MQTT_CONNECTION_TIMEOUT;
  }
  drop();
  return false;
}

void PubSubClient::disconnect() {
  if (m_ && state_ == MQTT_CONNECTED) {
    state_ = MQTT_DISCONNECTED;
    mosquitto_disconnect(m_);
    mosquitto_loop(m_, 0, 1);
  }
  drop();
  state_ = MQTT_DISCONNECTED;
}

boolean PubSubClient::publish(const char *topic, const char *payload) {
  return publish(topic, reinterpret_cast<const uint8_t *>(payload), payload ? strlen(payload) : 0, false);
}
boolean PubSubClient::publish(const char *topic, const char *payload, boolean retained) {
  return publish(topic, reinterpret_cast<const uint8_t *>(payload), payload ? strlen(payload) : 0, retained);
}
boolean PubSubClient::publish(const char *topic, const uint8_t *payload, unsigned int plength) {
  return publish(topic, payload, plength, false);
}

boolean PubSubClient::publish(const char *topic, const uint8_t *payload, unsigned int plength, boolean retained) {
  if (!connected()) return false;
  size_t need = MQTT_MAX_HEADER_SIZE + 2 + strnlen(topic, bufferSize_) + plength;
  if (need > bufferSize_) {
    harness::note("publish to %s refused: %zu bytes do not fit PubSubClient's %u-byte buffer (setBufferSize)", topic,
                  need, bufferSize_);
    return false;
  }
  int rc = mosquitto_publish(m_, nullptr, topic, static_cast<int>(plength), payload, 0, retained);
  if (rc != MOSQ_ERR_SUCCESS) {
    onLost(mosquitto_strerror(rc));
    return false;
  }
  return true;
}

boolean PubSubClient::subscribe(const char *topic) { return subscribe(topic, 0); }

boolean PubSubClient::subscribe(const char *topic, uint8_t qos) {
  if (qos > 1) return false; // the library subscribes at QoS 0 or 1 only
  if (!connected()) return false;
  if (MQTT_MAX_HEADER_SIZE + 2 + 2 + strnlen(topic, bufferSize_) + 1 > bufferSize_) return false;
  int mid = 0;
  int rc = mosquitto_subscribe(m_, &mid, topic, qos);
  if (rc != MOSQ_ERR_SUCCESS) {
    harness::note("subscribe to %s: %s", topic, mosquitto_strerror(rc));
    return false;
  }
  pendingSubs_[mid] = topic;
  return true;
}

boolean PubSubClient::unsubscribe(const char *topic) {
  if (!connected()) return false;
  return mosquitto_unsubscribe(m_, nullptr, topic) == MOSQ_ERR_SUCCESS;
}

boolean PubSubClient::loop() {
  if (!connected()) return false;
  int rc = mosquitto_loop(m_, 0, 1);
  if (rc != MOSQ_ERR_SUCCESS) onLost(mosquitto_strerror(rc));
  return state_ == MQTT_CONNECTED;
}

// As the library asks its Client: is the socket still open?
boolean PubSubClient::connected() {
  if (!m_ || state_ != MQTT_CONNECTED) return false;
  pollfd p{mosquitto_socket(m_), POLLIN, 0};
  if (p.fd < 0) {
    onLost("no socket");
    return false;
  }
  if (poll(&p, 1, 0) > 0) {
    char b;
    if ((p.revents & (POLLERR | POLLNVAL)) || ((p.revents & (POLLIN | POLLHUP)) && recv(p.fd, &b, 1, MSG_PEEK) == 0)) {
      onLost("the server closed it");
      return false;
    }
  }
  return true;
}

void PubSubClient::onConnack(int rc) { connack_ = rc; }

void PubSubClient::onLost(const char *why) {
  if (state_ == MQTT_CONNECTED) {
    harness::note("connection lost: %s", why);
    state_ = MQTT_CONNECTION_LOST;
  }
  liveClients.erase(this);
}

void PubSubClient::onSubscribed(int mid, int qos) {
  auto it = pendingSubs_.find(mid);
  std::string topic = it == pendingSubs_.end() ? "?" : it->second;
  if (it != pendingSubs_.end()) pendingSubs_.erase(it);
  if (qos >= 0x80) {
    harness::note("SUBACK: subscription to %s refused (0x%02x): the device's ACL does not allow it", topic.c_str(), qos);
  } else {
    harness::note("SUBACK: subscribed to %s at QoS %d", topic.c_str(), qos);
  }
}

void PubSubClient::onMessage(const char *topic, const void *payload, int len) {
  size_t tl = strlen(topic);
  size_t need = MQTT_MAX_HEADER_SIZE + 2 + tl + 2 + static_cast<size_t>(len);
  if (need > bufferSize_) {
    harness::note("message on %s dropped: %zu bytes do not fit PubSubClient's %u-byte buffer", topic, need,
                  bufferSize_);
    return;
  }
  if (!callback) return;
  // The library hands over its buffer: the topic NUL-terminated, the
  // payload not. Exact-size copies let the address sanitizer catch a
  // sketch that reads past either.
  char *t = static_cast<char *>(malloc(tl + 1));
  memcpy(t, topic, tl + 1);
  uint8_t *p = static_cast<uint8_t *>(malloc(len > 0 ? static_cast<size_t>(len) : 1));
  if (len > 0) memcpy(p, payload, static_cast<size_t>(len));
  callback(t, p, static_cast<unsigned int>(len));
  free(p);
  free(t);
}
