// PubSubClient.h (knolleary/PubSubClient 2.8) of the host harness, on top
// of libmosquitto: real MQTT 3.1.1 to a real broker, over TLS when the
// Client is a WiFiClientSecure (the CA it was given is the only one
// trusted; TLS 1.2, as the chips speak it) or plain TCP for WiFiClient and
// EthernetClient. Like the library it is single-threaded: messages arrive
// in the callback only from inside loop(). It keeps the library's limits
// that a sketch can trip over: the 256-byte packet buffer (setBufferSize),
// QoS 0 publishes, subscriptions at QoS 0 or 1, a payload that is not
// NUL-terminated, and setServer keeping the pointer it is given.
#pragma once
#include <Arduino.h>

#include <map>

#define MQTT_VERSION_3_1 3
#define MQTT_VERSION_3_1_1 4
#define MQTT_VERSION MQTT_VERSION_3_1_1
#define MQTT_MAX_PACKET_SIZE 256
#define MQTT_KEEPALIVE 15
#define MQTT_SOCKET_TIMEOUT 15
#define MQTT_MAX_HEADER_SIZE 5

#define MQTT_CONNECTION_TIMEOUT -4
#define MQTT_CONNECTION_LOST -3
#define MQTT_CONNECT_FAILED -2
#define MQTT_DISCONNECTED -1
#define MQTT_CONNECTED 0
#define MQTT_CONNECT_BAD_PROTOCOL 1
#define MQTT_CONNECT_BAD_CLIENT_ID 2
#define MQTT_CONNECT_UNAVAILABLE 3
#define MQTT_CONNECT_BAD_CREDENTIALS 4
#define MQTT_CONNECT_UNAUTHORIZED 5

// On the ESPs a std::function, on AVR a function pointer; the harness, built
// once for all boards, takes a std::function everywhere.
#define MQTT_CALLBACK_SIGNATURE std::function<void(char *, uint8_t *, unsigned int)> callback

struct mosquitto;

class PubSubClient {
public:
  PubSubClient() {}
  explicit PubSubClient(Client &client) : client_(&client) {}
  ~PubSubClient();
  PubSubClient(const PubSubClient &) = delete;
  PubSubClient &operator=(const PubSubClient &) = delete;

  PubSubClient &setServer(IPAddress ip, uint16_t port);
  PubSubClient &setServer(uint8_t *ip, uint16_t port) { return setServer(IPAddress(ip), port); }
  PubSubClient &setServer(const char *domain, uint16_t port);
  PubSubClient &setCallback(MQTT_CALLBACK_SIGNATURE);
  PubSubClient &setClient(Client &client) { client_ = &client; return *this; }
  PubSubClient &setKeepAlive(uint16_t keepAlive) { keepAlive_ = keepAlive; return *this; }
  PubSubClient &setSocketTimeout(uint16_t timeout) { socketTimeout_ = timeout; return *this; }
  boolean setBufferSize(uint16_t size);
  uint16_t getBufferSize() { return bufferSize_; }

  boolean connect(const char *id);
  boolean connect(const char *id, const char *user, const char *pass);
  boolean connect(const char *id, const char *willTopic, uint8_t willQos, boolean willRetain, const char *willMessage);
  boolean connect(const char *id, const char *user, const char *pass, const char *willTopic, uint8_t willQos,
                  boolean willRetain, const char *willMessage);
  boolean connect(const char *id, const char *user, const char *pass, const char *willTopic, uint8_t willQos,
                  boolean willRetain, const char *willMessage, boolean cleanSession);
  void disconnect();

  boolean publish(const char *topic, const char *payload);
  boolean publish(const char *topic, const char *payload, boolean retained);
  boolean publish(const char *topic, const uint8_t *payload, unsigned int plength);
  boolean publish(const char *topic, const uint8_t *payload, unsigned int plength, boolean retained);

  boolean subscribe(const char *topic);
  boolean subscribe(const char *topic, uint8_t qos);
  boolean unsubscribe(const char *topic);

  boolean loop();
  boolean connected();
  int state() { return state_; }

  // The harness's own callbacks from libmosquitto; not part of the API.
  void onConnack(int rc);
  void onMessage(const char *topic, const void *payload, int len);
  void onSubscribed(int mid, int qos);
  void onLost(const char *why);

private:
  void drop();
  int socket() const;
  friend int harnessPollClients(int);

  Client *client_ = nullptr;
  IPAddress ip_;
  const char *domain_ = nullptr;
  uint16_t port_ = 0;
  MQTT_CALLBACK_SIGNATURE = nullptr;
  uint16_t keepAlive_ = MQTT_KEEPALIVE;
  uint16_t socketTimeout_ = MQTT_SOCKET_TIMEOUT;
  uint16_t bufferSize_ = MQTT_MAX_PACKET_SIZE;
  int state_ = MQTT_DISCONNECTED;
  int connack_ = -1;
  mosquitto *m_ = nullptr;
  std::map<int, std::string> pendingSubs_;
};
