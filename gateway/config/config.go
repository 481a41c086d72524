// Package config defines the gateway's configuration: one plain struct whose
// zero value works, filled from defaults, an optional YAML file, PERCH_*
// environment variables and command-line flags, in that order of precedence.
package config

import "time"

// Config is the whole gateway configuration. Every field has a default (see
// Default); a zero Config passed to gateway.New is completed with them.
type Config struct {
	// DataDir holds the registry, TLS material, the control socket and, later,
	// bucket data. Created with mode 0700.
	DataDir string `koanf:"data_dir" yaml:"data_dir" json:"data_dir"`
	// Account is the gateway's account id: the MQTT user name every device
	// logs in with, and the admin login name.
	Account string `koanf:"account" yaml:"account" json:"account"`
	// Hostname names the gateway in its certificate and banner; os.Hostname() when empty.
	Hostname string   `koanf:"hostname" yaml:"hostname" json:"hostname"`
	Log      Log      `koanf:"log" yaml:"log" json:"log"`
	TLS      TLS      `koanf:"tls" yaml:"tls" json:"tls"`
	MQTT     MQTT     `koanf:"mqtt" yaml:"mqtt" json:"mqtt"`
	API      API      `koanf:"api" yaml:"api" json:"api"`
	Storage  Storage  `koanf:"storage" yaml:"storage" json:"storage"`
	MDNS     MDNS     `koanf:"mdns" yaml:"mdns" json:"mdns"`
	Health   Health   `koanf:"health" yaml:"health" json:"health"`
	Upstream Upstream `koanf:"upstream" yaml:"upstream" json:"upstream"`

	// Devices and Buckets are declared in the file only (no environment
	// variable or flag): the gateway creates or updates them at every start.
	Devices []DeviceSpec `koanf:"devices" yaml:"devices" json:"devices,omitempty"`
	Buckets []BucketSpec `koanf:"buckets" yaml:"buckets" json:"buckets,omitempty"`
}

// Log configures the gateway's log output (standard error).
type Log struct {
	Level  string `koanf:"level" yaml:"level" json:"level"`    // debug, info, warn, error
	Format string `koanf:"format" yaml:"format" json:"format"` // text or json
}

// TLS configures the certificate shared by the MQTT TLS, WebSocket and API listeners.
type TLS struct {
	// CertFile and KeyFile replace the generated server certificate when both are set.
	CertFile string `koanf:"cert_file" yaml:"cert_file" json:"cert_file"`
	KeyFile  string `koanf:"key_file" yaml:"key_file" json:"key_file"`
	// ExtraNames are additional DNS names or IP addresses for the generated certificate.
	ExtraNames []string `koanf:"extra_names" yaml:"extra_names" json:"extra_names"`
}

// Listener is one MQTT listener.
type Listener struct {
	Enabled bool   `koanf:"enabled" yaml:"enabled" json:"enabled"`
	Address string `koanf:"address" yaml:"address" json:"address"`
	// AllowAnonymous lets clients without user name and password connect on
	// this listener, as Mosquitto's allow_anonymous does. Off by default.
	AllowAnonymous bool `koanf:"allow_anonymous" yaml:"allow_anonymous" json:"allow_anonymous"`
}

// MQTT configures the broker.
type MQTT struct {
	TLS       Listener `koanf:"tls" yaml:"tls" json:"tls"`                   // MQTT over TLS, :8883, on
	TCP       Listener `koanf:"tcp" yaml:"tcp" json:"tcp"`                   // plain MQTT, :1883, off
	WebSocket Listener `koanf:"websocket" yaml:"websocket" json:"websocket"` // MQTT over secure WebSocket, :8884, off

	// MaxPacketSize bounds every MQTT packet, including the CONNECT; larger
	// packets close the connection before any buffer is allocated.
	MaxPacketSize int `koanf:"max_packet_size" yaml:"max_packet_size" json:"max_packet_size"`
	// ConnectTimeout bounds the TLS handshake plus the CONNECT packet.
	ConnectTimeout time.Duration `koanf:"connect_timeout" yaml:"connect_timeout" json:"connect_timeout"`
	// MaxQueued is the per-client queue of outgoing messages; beyond it
	// messages to that client are dropped and counted.
	MaxQueued int `koanf:"max_queued" yaml:"max_queued" json:"max_queued"`
	// MaxInflight bounds unacknowledged QoS 1/2 messages per client.
	MaxInflight int `koanf:"max_inflight" yaml:"max_inflight" json:"max_inflight"`
	// SessionExpiry is the longest a disconnected persistent session is kept.
	SessionExpiry time.Duration `koanf:"session_expiry" yaml:"session_expiry" json:"session_expiry"`
	// MaxClients bounds simultaneous connections (0: no limit beyond memory).
	MaxClients int `koanf:"max_clients" yaml:"max_clients" json:"max_clients"`
	// SysInterval is how often $SYS topics are refreshed.
	SysInterval time.Duration `koanf:"sys_interval" yaml:"sys_interval" json:"sys_interval"`
}

// API configures the admin HTTPS API (and later the console).
type API struct {
	Enabled bool   `koanf:"enabled" yaml:"enabled" json:"enabled"`
	Address string `koanf:"address" yaml:"address" json:"address"`
	// SessionTTL is how long a console login stays valid.
	SessionTTL time.Duration `koanf:"session_ttl" yaml:"session_ttl" json:"session_ttl"`
}

// Storage configures the data buckets' stores.
type Storage struct {
	// FsyncInterval bounds what a power cut can take: acknowledged points of
	// at most this long. 0 = fsync before every acknowledgement.
	FsyncInterval time.Duration `koanf:"fsync_interval" yaml:"fsync_interval" json:"fsync_interval"`
	// PartitionDuration is the time span of a bucket's storage partitions;
	// the newest one or two are held in memory.
	PartitionDuration time.Duration `koanf:"partition_duration" yaml:"partition_duration" json:"partition_duration"`
	// MaxPending is how many points may wait to be compressed before
	// publishers are slowed.
	MaxPending int `koanf:"max_pending" yaml:"max_pending" json:"max_pending"`
}

// Health configures the gateway's own health reports and status LED.
type Health struct {
	// Enabled publishes a health report to perch/<hostname>/health every
	// Interval and records it in the built-in bucket "health".
	Enabled  bool          `koanf:"enabled" yaml:"enabled" json:"enabled"`
	Interval time.Duration `koanf:"interval" yaml:"interval" json:"interval"`
	// LED is the status LED: "" for none, "act" for the board's ACT LED,
	// or a GPIO pin name such as GPIO17.
	LED string `koanf:"led" yaml:"led" json:"led"`
}

// Upstream configures the link to a cloud MQTT broker: store-and-forward
// of buckets and live bridge rules. No URL, no link.
type Upstream struct {
	// URL of the broker: mqtts://host:8883, mqtt://host:1883, wss://host/path or ws://.
	URL      string `koanf:"url" yaml:"url" json:"url"`
	ClientID string `koanf:"client_id" yaml:"client_id" json:"client_id"`
	Username string `koanf:"username" yaml:"username" json:"username"`
	Password string `koanf:"password" yaml:"password" json:"password"`
	// CertFile and KeyFile are a client certificate, for brokers that want one.
	CertFile string `koanf:"cert_file" yaml:"cert_file" json:"cert_file"`
	KeyFile  string `koanf:"key_file" yaml:"key_file" json:"key_file"`
	// CAFile is the broker's CA; the system's roots when empty.
	CAFile      string        `koanf:"ca_file" yaml:"ca_file" json:"ca_file"`
	MQTTVersion string        `koanf:"mqtt_version" yaml:"mqtt_version" json:"mqtt_version"` // 5 or 3.1.1
	KeepAlive   time.Duration `koanf:"keepalive" yaml:"keepalive" json:"keepalive"`
	// Gateway names this gateway upstream ({gateway}); the hostname when empty.
	Gateway string `koanf:"gateway" yaml:"gateway" json:"gateway"`
	// Buckets to forward: * for all, [] for none.
	Buckets []string `koanf:"buckets" yaml:"buckets" json:"buckets"`
	// Topic is the template of the topic of a bucket's batches.
	Topic     string `koanf:"topic" yaml:"topic" json:"topic"`
	BatchSize int    `koanf:"batch_size" yaml:"batch_size" json:"batch_size"`
	MaxRate   int    `koanf:"max_rate" yaml:"max_rate" json:"max_rate"` // points a second; 0 = no bound
	Inflight  int    `koanf:"inflight" yaml:"inflight" json:"inflight"`
	// Bridge rules are declared in the file only.
	Bridge []BridgeRule `koanf:"bridge" yaml:"bridge" json:"bridge,omitempty"`
}

// BridgeRule is a live bridge rule between local and upstream topics.
type BridgeRule struct {
	Direction    string `koanf:"direction" yaml:"direction" json:"direction"` // out or in
	Filter       string `koanf:"filter" yaml:"filter" json:"filter"`
	LocalPrefix  string `koanf:"local_prefix" yaml:"local_prefix" json:"local_prefix,omitempty"`
	RemotePrefix string `koanf:"remote_prefix" yaml:"remote_prefix" json:"remote_prefix,omitempty"`
	QoS          string `koanf:"qos" yaml:"qos" json:"qos,omitempty"` // 0 or 1; 1 when empty
}

// MDNS configures the gateway's advertisement on the local network.
type MDNS struct {
	// Enabled advertises _secure-mqtt._tcp, _mqtt._tcp (when the plain
	// listener is on) and _https._tcp over multicast DNS.
	Enabled bool `koanf:"enabled" yaml:"enabled" json:"enabled"`
	// Instance is the advertised name; perch-<hostname> when empty.
	Instance string `koanf:"instance" yaml:"instance" json:"instance"`
	// Interfaces to advertise on; empty for every multicast-capable one but loopback.
	Interfaces []string `koanf:"interfaces" yaml:"interfaces" json:"interfaces"`
}

// Default returns the configuration used for every key that is not set.
func Default() Config {
	return Config{
		DataDir: "./perch-data",
		Account: "admin",
		Log:     Log{Level: "info", Format: "text"},
		MQTT: MQTT{
			TLS:            Listener{Enabled: true, Address: ":8883"},
			TCP:            Listener{Enabled: false, Address: ":1883"},
			WebSocket:      Listener{Enabled: false, Address: ":8884"},
			MaxPacketSize:  256 << 10,
			ConnectTimeout: 10 * time.Second,
			MaxQueued:      256,
			MaxInflight:    256,
			SessionExpiry:  24 * time.Hour,
			SysInterval:    30 * time.Second,
		},
		API: API{Enabled: true, Address: ":8443", SessionTTL: 12 * time.Hour},
		Storage: Storage{
			FsyncInterval:     time.Second,
			PartitionDuration: time.Hour,
			MaxPending:        256 << 10,
		},
		MDNS:   MDNS{Enabled: true},
		Health: Health{Enabled: true, Interval: 30 * time.Second},
		Upstream: Upstream{
			MQTTVersion: "5",
			KeepAlive:   60 * time.Second,
			Buckets:     []string{"*"},
			Topic:       "perch/{gateway}/buckets/{bucket}",
			BatchSize:   500,
			Inflight:    4,
		},
	}
}
