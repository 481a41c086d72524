package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"default", nil, ""},
		{"account chars", func(c *Config) { c.Account = "a b" }, `account: "a b" is not 1 to 64 letters, digits, '_' or '-'`},
		{"account empty", func(c *Config) { c.Account = "" }, `account: "" is not 1 to 64 letters, digits, '_' or '-'`},
		{"account 64", func(c *Config) { c.Account = strings.Repeat("a", 64) }, ""},
		{"account 65", func(c *Config) { c.Account = strings.Repeat("a", 65) }, `account: "` + strings.Repeat("a", 65) + `" is not 1 to 64 letters, digits, '_' or '-'`},
		{"account all chars", func(c *Config) { c.Account = "Az09_-" }, ""},
		{"account unicode", func(c *Config) { c.Account = "é" }, `account: "é" is not 1 to 64 letters, digits, '_' or '-'`},
		{"data dir", func(c *Config) { c.DataDir = "" }, "data_dir: must not be empty"},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, `log.level: "verbose" is not one of debug, info, warn, error`},
		{"log format", func(c *Config) { c.Log.Format = "JSON" }, `log.format: "JSON" is not text or json`},
		{"cert without key", func(c *Config) { c.TLS.CertFile = "c.pem" }, "tls.key_file: must be set with tls.cert_file"},
		{"key without cert", func(c *Config) { c.TLS.KeyFile = "k.pem" }, "tls.cert_file: must be set with tls.key_file"},
		{"cert and key", func(c *Config) { c.TLS.CertFile, c.TLS.KeyFile = "c.pem", "k.pem" }, ""},
		{"empty extra name", func(c *Config) { c.TLS.ExtraNames = []string{"a", " "} }, "tls.extra_names: item 2 is empty"},
		{"missing port", func(c *Config) { c.MQTT.TLS.Address = "8883" }, `mqtt.tls.address: missing port in address "8883"`},
		{"empty address", func(c *Config) { c.API.Address = "" }, `api.address: missing port in address ""`},
		{"port too big", func(c *Config) { c.MQTT.TCP.Address = ":65536" }, `mqtt.tcp.address: invalid port "65536" in address ":65536" (want 0 to 65535)`},
		{"port name", func(c *Config) { c.MQTT.WebSocket.Address = "localhost:http" }, `mqtt.websocket.address: invalid port "http" in address "localhost:http" (want 0 to 65535)`},
		{"empty port", func(c *Config) { c.API.Address = "localhost:" }, `api.address: invalid port "" in address "localhost:" (want 0 to 65535)`},
		{"too many colons", func(c *Config) { c.API.Address = "::1:8443" }, `api.address: too many colons in address "::1:8443"`},
		{"ipv6", func(c *Config) { c.API.Address = "[::1]:8443" }, ""},
		{"port 0 and 65535", func(c *Config) { c.API.Address, c.MQTT.TLS.Address = "127.0.0.1:0", ":65535" }, ""},
		{"bad address of a disabled listener", func(c *Config) { c.MQTT.TCP.Address = "1883" }, `mqtt.tcp.address: missing port in address "1883"`},
		{"packet size low", func(c *Config) { c.MQTT.MaxPacketSize = 1023 }, "mqtt.max_packet_size: 1023 is out of range (allowed: 1024 to 268435455)"},
		{"packet size bounds", func(c *Config) { c.MQTT.MaxPacketSize = 1024 }, ""},
		{"packet size max", func(c *Config) { c.MQTT.MaxPacketSize = 268435455 }, ""},
		{"packet size high", func(c *Config) { c.MQTT.MaxPacketSize = 256 << 20 }, "mqtt.max_packet_size: 268435456 is out of range (allowed: 1024 to 268435455)"},
		{"connect timeout low", func(c *Config) { c.MQTT.ConnectTimeout = 999 * time.Millisecond }, "mqtt.connect_timeout: 999ms is out of range (allowed: 1s to 5m)"},
		{"connect timeout high", func(c *Config) { c.MQTT.ConnectTimeout = 5*time.Minute + 1 }, "mqtt.connect_timeout: 5m0.000000001s is out of range (allowed: 1s to 5m)"},
		{"max queued 0", func(c *Config) { c.MQTT.MaxQueued = 0 }, "mqtt.max_queued: 0 is out of range (allowed: 1 to 1000000)"},
		{"max queued high", func(c *Config) { c.MQTT.MaxQueued = 1_000_001 }, "mqtt.max_queued: 1000001 is out of range (allowed: 1 to 1000000)"},
		{"max inflight", func(c *Config) { c.MQTT.MaxInflight = 65536 }, "mqtt.max_inflight: 65536 is out of range (allowed: 1 to 65535)"},
		{"session expiry 0", func(c *Config) { c.MQTT.SessionExpiry = 0 }, "mqtt.session_expiry: 0s is out of range (allowed: 1s to 4294967295s)"},
		{"session expiry max", func(c *Config) { c.MQTT.SessionExpiry = (1<<32 - 1) * time.Second }, ""},
		{"session expiry negative", func(c *Config) { c.MQTT.SessionExpiry = -time.Second }, "mqtt.session_expiry: -1s is out of range (allowed: 1s to 4294967295s)"},
		{"session expiry high", func(c *Config) { c.MQTT.SessionExpiry = 1 << 32 * time.Second }, "mqtt.session_expiry: 1193046h28m16s is out of range (allowed: 1s to 4294967295s)"},
		{"max clients", func(c *Config) { c.MQTT.MaxClients = -1 }, "mqtt.max_clients: -1 is out of range (allowed: at least 0)"},
		{"sys interval", func(c *Config) { c.MQTT.SysInterval = time.Millisecond }, "mqtt.sys_interval: 1ms is out of range (allowed: at least 1s)"},
		{"session ttl", func(c *Config) { c.API.SessionTTL = 59 * time.Second }, "api.session_ttl: 59s is out of range (allowed: at least 1m)"},
		{"fsync interval 0", func(c *Config) { c.Storage.FsyncInterval = 0 }, ""},
		{"fsync interval max", func(c *Config) { c.Storage.FsyncInterval = 10 * time.Second }, ""},
		{"fsync interval high", func(c *Config) { c.Storage.FsyncInterval = 11 * time.Second }, "storage.fsync_interval: 11s is out of range (allowed: 0s to 10s)"},
		{"fsync interval negative", func(c *Config) { c.Storage.FsyncInterval = -1 }, "storage.fsync_interval: -1ns is out of range (allowed: 0s to 10s)"},
		{"partition duration bounds", func(c *Config) { c.Storage.PartitionDuration = time.Second }, ""},
		{"partition duration low", func(c *Config) { c.Storage.PartitionDuration = 999 * time.Millisecond }, "storage.partition_duration: 999ms is out of range (allowed: 1s to 24h)"},
		{"partition duration high", func(c *Config) { c.Storage.PartitionDuration = 25 * time.Hour }, "storage.partition_duration: 25h is out of range (allowed: 1s to 24h)"},
		{"max pending bounds", func(c *Config) { c.Storage.MaxPending = 16777216 }, ""},
		{"max pending low", func(c *Config) { c.Storage.MaxPending = 999 }, "storage.max_pending: 999 is out of range (allowed: 1000 to 16777216)"},
		{"max pending high", func(c *Config) { c.Storage.MaxPending = 16777217 }, "storage.max_pending: 16777217 is out of range (allowed: 1000 to 16777216)"},
		{"nothing enabled", func(c *Config) { c.MQTT.TLS.Enabled, c.API.Enabled = false, false },
			"nothing to serve: every listener (mqtt.tls.enabled, mqtt.tcp.enabled, mqtt.websocket.enabled, api.enabled) is disabled"},
		{"only plain MQTT", func(c *Config) { c.MQTT.TLS.Enabled, c.API.Enabled, c.MQTT.TCP.Enabled = false, false, true }, ""},
		{"same address", func(c *Config) { c.API.Address = ":8883" }, `api.address: ":8883" is also mqtt.tls.address (":8883")`},
		{"wildcard and one host", func(c *Config) { c.API.Address = "127.0.0.1:8883" }, `api.address: "127.0.0.1:8883" is also mqtt.tls.address (":8883")`},
		{"same port, other hosts", func(c *Config) { c.MQTT.TLS.Address, c.API.Address = "127.0.0.1:8883", "127.0.0.2:8883" }, ""},
		{"port 0 twice", func(c *Config) { c.MQTT.TLS.Address, c.API.Address = "127.0.0.1:0", "127.0.0.1:0" }, ""},
		{"same as a disabled listener", func(c *Config) { c.API.Address = ":1883" }, ""},
		{"three on one", func(c *Config) {
			c.MQTT.TCP.Enabled, c.MQTT.TCP.Address = true, "[::]:8883"
			c.API.Address = ":08883"
		}, `mqtt.tcp.address: "[::]:8883" is also mqtt.tls.address (":8883")` + "\n" +
			`api.address: ":08883" is also mqtt.tls.address (":8883")` + "\n" +
			`api.address: ":08883" is also mqtt.tcp.address ("[::]:8883")`},
		{"several, in key order", func(c *Config) {
			c.API.SessionTTL = 0
			c.Log.Level = ""
			c.MQTT.TLS.Address = "x"
			c.Account = "?"
		}, `account: "?" is not 1 to 64 letters, digits, '_' or '-'` + "\n" +
			`log.level: "" is not one of debug, info, warn, error` + "\n" +
			`mqtt.tls.address: missing port in address "x"` + "\n" +
			"api.session_ttl: 0s is out of range (allowed: at least 1m)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := defaultWith(tt.edit).Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid")
			}
			var want []string
			for line := range strings.SplitSeq(tt.want, "\n") {
				want = append(want, "config: "+line)
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("error\n%s\nwant\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

// TestValidateZero pins the message of every problem of a zero Config in a
// golden file: the list a user would get from an empty struct.
func TestValidateZero(t *testing.T) {
	err := Config{}.Validate()
	if err == nil {
		t.Fatal("a zero Config validates")
	}
	golden(t, "validate-zero.txt", []byte(err.Error()+"\n"))
}

func TestWithDefaults(t *testing.T) {
	c := Config{
		DataDir: "/data",
		MQTT: MQTT{
			TLS:       Listener{Enabled: true, Address: "127.0.0.1:0"},
			MaxQueued: 5,
		},
	}.WithDefaults()
	want := Default()
	want.DataDir = "/data"
	want.MQTT.TLS.Address = "127.0.0.1:0"
	want.MQTT.MaxQueued = 5
	want.API.Enabled = false       // booleans as given
	want.Storage.FsyncInterval = 0 // a zero that is allowed, as given
	want.Health.Enabled = false
	want.MDNS.Enabled = false
	want.Upstream.Buckets = nil // lists as given
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got\n%+v\nwant\n%+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("a few fields plus WithDefaults do not validate: %v", err)
	}
	if d := Default(); !reflect.DeepEqual(d.WithDefaults(), d) {
		t.Errorf("WithDefaults changes Default")
	}
	if got := (Config{TLS: TLS{ExtraNames: []string{}}}).WithDefaults().TLS.ExtraNames; got == nil {
		t.Errorf("WithDefaults replaced an empty list")
	}
	// storage.fsync_interval: 0 means fsync before every acknowledgement:
	// a loaded 0 must survive gateway.New's WithDefaults.
	loaded, err := load(t, source{file: "storage:\n  fsync_interval: 0\n  max_pending: 0\n"})
	if err != nil {
		t.Fatal(err)
	}
	if got := loaded.WithDefaults().Storage; got.FsyncInterval != 0 || got.MaxPending != Default().Storage.MaxPending {
		t.Errorf("WithDefaults of a loaded storage section: %+v", got)
	}
}

// golden compares got with testdata's file name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (run go test -update if the change is intended):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
