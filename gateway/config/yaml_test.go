package config

import (
	"os"
	"reflect"
	"testing"
	"time"
)

func TestYAMLDefault(t *testing.T) {
	b, err := Default().YAML()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "default.yaml", b)
}

func TestYAMLRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"default", nil},
		{"everything changed", func(c *Config) {
			*c = Config{
				DataDir:  "/var/lib/perch",
				Account:  "acme-1",
				Hostname: "pi.local",
				Log:      Log{Level: "debug", Format: "json"},
				TLS:      TLS{CertFile: "/c.pem", KeyFile: "/k.pem", ExtraNames: []string{"a", "10.0.0.2", "::1"}},
				MQTT: MQTT{
					TLS:            Listener{Enabled: false, Address: "127.0.0.1:0", AllowAnonymous: true},
					TCP:            Listener{Enabled: true, Address: "[::1]:1883"},
					WebSocket:      Listener{Enabled: true, Address: "0.0.0.0:8884", AllowAnonymous: true},
					MaxPacketSize:  1 << 20,
					ConnectTimeout: 1500 * time.Millisecond,
					MaxQueued:      1,
					MaxInflight:    65535,
					SessionExpiry:  0,
					MaxClients:     1000,
					SysInterval:    time.Hour + time.Second,
				},
				API:     API{Enabled: false, Address: ":0", SessionTTL: 7 * 24 * time.Hour},
				Storage: Storage{FsyncInterval: 0, PartitionDuration: 90 * time.Minute, MaxPending: 1000},
				Devices: []DeviceSpec{
					{ID: "d-1", Name: "n", Description: "d", Enabled: new(bool), Credentials: "twelve-bytes", Publish: []string{}, Subscribe: []string{"a/%c/#"}},
					{ID: "d_2", CredentialsHash: "$argon2id$x", Publish: []string{"#"}},
				},
				Buckets: []BucketSpec{
					{ID: "b", Name: "n", Description: "d", Enabled: new(bool), Topic: "a/+/b", Retention: "2w", Resolution: "100ms"},
					{ID: "api", Retention: "0"},
				},
			}
		}},
		{"strings YAML would read as other types", func(c *Config) {
			c.Account = "true"
			c.DataDir = "8883"
			c.Hostname = "null"
			c.Log.Level = "~"
			c.Log.Format = "1h"
			c.TLS.ExtraNames = []string{"yes", "0x10", "", " padded "}
		}},
		{"strings YAML must quote", func(c *Config) {
			c.DataDir = "a: b # c"
			c.Hostname = "- x"
			c.Account = "'\"{[&*!|>%@`"
			c.TLS.CertFile = "line\nbreak\r\n\ttab"
			c.TLS.KeyFile = "\x00\x7f\u2028 émoji 🐦"
			c.TLS.ExtraNames = []string{"a,b", "c, d", "#", "---"}
		}},
		{"negative and odd numbers", func(c *Config) {
			c.MQTT.MaxClients = -5
			c.MQTT.SessionExpiry = -time.Nanosecond
			c.MQTT.ConnectTimeout = 1<<63 - 1
			c.Storage.FsyncInterval = -time.Second
			c.Storage.MaxPending = -1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultWith(tt.edit)
			checkRoundTrip(t, c)
		})
	}
}

// checkRoundTrip checks that Load reads back what YAML prints of c.
func checkRoundTrip(t *testing.T, c Config) {
	t.Helper()
	b, err := c.YAML()
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	path := writeFile(t, string(b))
	got, err := Load(LoadOptions{File: path})
	if err != nil {
		t.Fatalf("Load of YAML's output: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip\n%s\ngave\n%#v\nwant\n%#v", b, got, c)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func TestYAMLInvalidUTF8(t *testing.T) {
	c := Default()
	c.Hostname = "\xff"
	if _, err := c.YAML(); err == nil || err.Error() != `config: hostname: "\xff" is not valid UTF-8` {
		t.Errorf("error %v", err)
	}
}
