package config

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenDir holds the golden files, beside the repository's other test data.
const goldenDir = "../../testdata/config"

// fileName stands for the temporary file's path in expected messages.
const fileName = "perch.yaml"

// source is the input of one Load.
type source struct {
	file string   // YAML content; "" for no file
	env  []string // KEY=VALUE
	args []string // command line, parsed into a FlagSet made by RegisterFlags
}

// load runs Load on src and returns the error with the file's path
// replaced by fileName.
func load(t *testing.T, src source) (Config, error) {
	t.Helper()
	opts := LoadOptions{Env: src.env, IgnoreEnv: []string{"PERCH_SERVER", "PERCH_TOKEN"}}
	if src.file != "" {
		opts.File = writeFile(t, src.file)
	}
	if src.args != nil {
		fs := pflag.NewFlagSet("perch", pflag.ContinueOnError)
		fs.String("config", "", "not a key")
		RegisterFlags(fs)
		if err := fs.Parse(src.args); err != nil {
			t.Fatalf("parsing %q: %v", src.args, err)
		}
		opts.Flags = fs
	}
	c, err := Load(opts)
	if err != nil && opts.File != "" {
		err = renamed{err, strings.ReplaceAll(err.Error(), opts.File, fileName)}
	}
	return c, err
}

type renamed struct {
	error
	msg string
}

func (r renamed) Error() string { return r.msg }
func (r renamed) Unwrap() error { return r.error }

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fileName)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// defaultWith is Default changed by edit.
func defaultWith(edit func(*Config)) Config {
	c := Default()
	if edit != nil {
		edit(&c)
	}
	return c
}

func TestLoadDefault(t *testing.T) {
	c, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Load with no sources:\n%+v\nwant Default():\n%+v", c, Default())
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Default does not validate: %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	const file = "mqtt:\n  max_queued: 10\n  tls:\n    address: 127.0.0.1:8883\ntls:\n  extra_names: [a, b]\napi:\n  enabled: false\n"
	fromFile := func(c *Config) {
		c.MQTT.MaxQueued = 10
		c.MQTT.TLS.Address = "127.0.0.1:8883"
		c.TLS.ExtraNames = []string{"a", "b"}
		c.API.Enabled = false
	}
	tests := []struct {
		name string
		src  source
		want func(*Config)
	}{
		{"default", source{}, nil},
		{"file over default", source{file: file}, fromFile},
		{"env over default", source{env: []string{"PERCH_MQTT_MAX_QUEUED=20"}}, func(c *Config) { c.MQTT.MaxQueued = 20 }},
		{"flag over default", source{args: []string{"--mqtt-max-queued=30"}}, func(c *Config) { c.MQTT.MaxQueued = 30 }},
		{"env over file", source{file: file, env: []string{"PERCH_MQTT_MAX_QUEUED=20", "PERCH_API_ENABLED=true"}}, func(c *Config) {
			fromFile(c)
			c.MQTT.MaxQueued = 20
			c.API.Enabled = true
		}},
		{"flag over env over file", source{file: file, env: []string{"PERCH_MQTT_MAX_QUEUED=20"}, args: []string{"--mqtt-max-queued", "30"}}, func(c *Config) {
			fromFile(c)
			c.MQTT.MaxQueued = 30
		}},
		{"flags not given do not override", source{file: file, env: []string{"PERCH_MQTT_MAX_QUEUED=20"}, args: []string{"--log-level=debug"}}, func(c *Config) {
			fromFile(c)
			c.MQTT.MaxQueued = 20
			c.Log.Level = "debug"
		}},
		{"a flag given its default value overrides", source{file: file, args: []string{"--mqtt-max-queued=256", "--mqtt-tls-address=:8883"}}, func(c *Config) {
			fromFile(c)
			c.MQTT.MaxQueued = 256
			c.MQTT.TLS.Address = ":8883"
		}},
		{"bool flag", source{file: file, env: []string{"PERCH_MQTT_TCP_ENABLED=true"}, args: []string{"--api-enabled", "--mqtt-tcp-enabled=false"}}, func(c *Config) {
			fromFile(c)
			c.API.Enabled = true
			c.MQTT.TCP.Enabled = false
		}},
		{"a list replaces, not appends", source{file: file, env: []string{"PERCH_TLS_EXTRA_NAMES=c"}}, func(c *Config) {
			fromFile(c)
			c.TLS.ExtraNames = []string{"c"}
		}},
		{"an empty list in the environment clears the file's", source{file: file, env: []string{"PERCH_TLS_EXTRA_NAMES="}}, func(c *Config) {
			fromFile(c)
			c.TLS.ExtraNames = nil
		}},
		{"list flag", source{file: file, env: []string{"PERCH_TLS_EXTRA_NAMES=c"}, args: []string{"--tls-extra-names=d,e", "--tls-extra-names=f"}}, func(c *Config) {
			fromFile(c)
			c.TLS.ExtraNames = []string{"d", "e", "f"}
		}},
		{"each layer its own keys", source{file: "data_dir: /var/lib/perch\n", env: []string{"PERCH_ACCOUNT=acme"}, args: []string{"--hostname=pi", "--mqtt-connect-timeout=1m"}}, func(c *Config) {
			c.DataDir = "/var/lib/perch"
			c.Account = "acme"
			c.Hostname = "pi"
			c.MQTT.ConnectTimeout = time.Minute
		}},
		{"other flags are ignored", source{args: []string{"--config=x.yaml"}}, nil},
		{"storage: flag over env over file", source{
			file: "storage:\n  fsync_interval: 2s\n  partition_duration: 30m\n  max_pending: 5000\n",
			env:  []string{"PERCH_STORAGE_FSYNC_INTERVAL=3s", "PERCH_STORAGE_MAX_PENDING=6000"},
			args: []string{"--storage-fsync-interval=0", "--storage-partition-duration", "6h"},
		}, func(c *Config) {
			c.Storage = Storage{FsyncInterval: 0, PartitionDuration: 6 * time.Hour, MaxPending: 6000}
		}},
		{"lists come from the file alone", source{
			file: "devices:\n  - id: d1\n    credentials_hash: $x\n",
			env:  []string{"PERCH_MQTT_MAX_QUEUED=20"},
			args: []string{"--storage-max-pending=2000"},
		}, func(c *Config) {
			c.Devices = []DeviceSpec{{ID: "d1", CredentialsHash: "$x"}}
			c.MQTT.MaxQueued = 20
			c.Storage.MaxPending = 2000
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load(t, tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if want := defaultWith(tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	tests := []struct {
		env  string
		want func(*Config)
	}{
		{"PERCH_DATA_DIR=/data", func(c *Config) { c.DataDir = "/data" }},
		{"PERCH_HOSTNAME=", func(c *Config) { c.Hostname = "" }},
		{"PERCH_ACCOUNT=a=b", func(c *Config) { c.Account = "a=b" }},
		{"PERCH_LOG_FORMAT=json", func(c *Config) { c.Log.Format = "json" }},
		{"PERCH_TLS_CERT_FILE=/c.pem", func(c *Config) { c.TLS.CertFile = "/c.pem" }},
		{"PERCH_TLS_EXTRA_NAMES=a,b", func(c *Config) { c.TLS.ExtraNames = []string{"a", "b"} }},
		{"PERCH_TLS_EXTRA_NAMES= perch.local , 10.0.0.2 ,", func(c *Config) { c.TLS.ExtraNames = []string{"perch.local", "10.0.0.2"} }},
		{"PERCH_MQTT_TLS_ADDRESS=:9883", func(c *Config) { c.MQTT.TLS.Address = ":9883" }},
		{"PERCH_MQTT_TLS_ENABLED=false", func(c *Config) { c.MQTT.TLS.Enabled = false }},
		{"PERCH_MQTT_TLS_ALLOW_ANONYMOUS=true", func(c *Config) { c.MQTT.TLS.AllowAnonymous = true }},
		{"PERCH_MQTT_TCP_ALLOW_ANONYMOUS=1", func(c *Config) { c.MQTT.TCP.AllowAnonymous = true }},
		{"PERCH_MQTT_WEBSOCKET_ENABLED=TRUE", func(c *Config) { c.MQTT.WebSocket.Enabled = true }},
		{"PERCH_MQTT_MAX_PACKET_SIZE=65536", func(c *Config) { c.MQTT.MaxPacketSize = 65536 }},
		{"PERCH_MQTT_MAX_PACKET_SIZE=0x10000", func(c *Config) { c.MQTT.MaxPacketSize = 65536 }},
		{"PERCH_MQTT_CONNECT_TIMEOUT=15s", func(c *Config) { c.MQTT.ConnectTimeout = 15 * time.Second }},
		{"PERCH_MQTT_SESSION_EXPIRY=0", func(c *Config) { c.MQTT.SessionExpiry = 0 }},
		{"PERCH_MQTT_MAX_CLIENTS=100", func(c *Config) { c.MQTT.MaxClients = 100 }},
		{"PERCH_API_SESSION_TTL=1h30m", func(c *Config) { c.API.SessionTTL = 90 * time.Minute }},
		{"PERCH_STORAGE_FSYNC_INTERVAL=0", func(c *Config) { c.Storage.FsyncInterval = 0 }},
		{"PERCH_STORAGE_FSYNC_INTERVAL=250ms", func(c *Config) { c.Storage.FsyncInterval = 250 * time.Millisecond }},
		{"PERCH_STORAGE_PARTITION_DURATION=2h", func(c *Config) { c.Storage.PartitionDuration = 2 * time.Hour }},
		{"PERCH_STORAGE_MAX_PENDING=1000", func(c *Config) { c.Storage.MaxPending = 1000 }},
		// Not ours: ignored.
		{"PERCH_CONFIG=/etc/perch/perch.yaml", nil},
		{"PERCH_SERVER=https://x", nil},
		{"PERCH_TOKEN=t", nil},
		{"perch_data_dir=/lower", nil},
		{"PERCHED=1", nil},
		{"HOME=/root", nil},
		{"NOEQUALS", nil},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			got, err := load(t, source{env: []string{tt.env}})
			if err != nil {
				t.Fatal(err)
			}
			if want := defaultWith(tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		env     []string
		wantErr error
		want    string
	}{
		{[]string{"PERCH_MQTT_TLS_ADRESS=:1"}, ErrUnknownKey,
			"config: environment: PERCH_MQTT_TLS_ADRESS: unknown variable (did you mean PERCH_MQTT_TLS_ADDRESS?)"},
		{[]string{"PERCH_DATADIR=/x"}, ErrUnknownKey,
			"config: environment: PERCH_DATADIR: unknown variable (did you mean PERCH_DATA_DIR?)"},
		{[]string{"PERCH_CA_FILE=/ca.pem"}, ErrUnknownKey,
			"config: environment: PERCH_CA_FILE: unknown variable"},
		{[]string{"PERCH_=x"}, ErrUnknownKey, "config: environment: PERCH_: unknown variable"},
		{[]string{"PERCH_MQTT_MAX_PACKET_SIZE=big"}, ErrBadValue,
			`config: environment: PERCH_MQTT_MAX_PACKET_SIZE: cannot parse "big" as int`},
		{[]string{"PERCH_API_ENABLED=yes"}, ErrBadValue,
			`config: environment: PERCH_API_ENABLED: cannot parse "yes" as bool (true or false)`},
		{[]string{"PERCH_MQTT_CONNECT_TIMEOUT=10"}, ErrBadValue,
			`config: environment: PERCH_MQTT_CONNECT_TIMEOUT: cannot parse "10" as duration (a number with a unit: 10s, 5m, 1h)`},
		{[]string{"PERCH_MQTT_MAX_QUEUED="}, ErrBadValue,
			`config: environment: PERCH_MQTT_MAX_QUEUED: cannot parse "" as int`},
		{[]string{"PERCH_STORAGE_FSYNC_INTERVAL=1"}, ErrBadValue,
			`config: environment: PERCH_STORAGE_FSYNC_INTERVAL: cannot parse "1" as duration (a number with a unit: 10s, 5m, 1h)`},
		{[]string{"PERCH_STORAGE_MAX_PENDING=lots"}, ErrBadValue,
			`config: environment: PERCH_STORAGE_MAX_PENDING: cannot parse "lots" as int`},
		{[]string{"PERCH_STORAGE_FSYNC=1s"}, ErrUnknownKey,
			"config: environment: PERCH_STORAGE_FSYNC: unknown variable"},
		// The lists of objects are set in the file only.
		{[]string{"PERCH_DEVICES=a"}, ErrUnknownKey, "config: environment: PERCH_DEVICES: unknown variable"},
		{[]string{"PERCH_BUCKETS_0_ID=a"}, ErrUnknownKey, "config: environment: PERCH_BUCKETS_0_ID: unknown variable"},
		{[]string{"PERCH_LOG_LEVEL=debug", "PERCH_NOPE=1", "PERCH_MQTT_MAX_INFLIGHT=x"}, ErrUnknownKey,
			"config: environment: PERCH_NOPE: unknown variable\n" +
				`config: environment: PERCH_MQTT_MAX_INFLIGHT: cannot parse "x" as int`},
	}
	for _, tt := range tests {
		t.Run(tt.env[0], func(t *testing.T) {
			_, err := load(t, source{env: tt.env})
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error does not wrap %v", tt.wantErr)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

// TestFileValues covers the YAML forms a value may take.
func TestFileValues(t *testing.T) {
	tests := []struct {
		name, file string
		want       func(*Config)
	}{
		{"empty file", "", nil},
		{"only comments", "# nothing here\n", nil},
		{"null document", "~\n", nil},
		{"empty section", "log: {}\n", nil},
		{"null section", "log:\n#  level: debug\n", nil},
		{"null value", "account:\nlog:\n  level: ~\n", nil},
		{"empty string is a value", "hostname: \"\"\n", func(c *Config) { c.Hostname = "" }},
		{"number as string", "account: 0042\n", func(c *Config) { c.Account = "0042" }},
		{"bool as string", "account: true\n", func(c *Config) { c.Account = "true" }},
		{"quoted number", "mqtt:\n  max_queued: \"10\"\n", func(c *Config) { c.MQTT.MaxQueued = 10 }},
		{"hex number", "mqtt:\n  max_packet_size: 0x10000\n", func(c *Config) { c.MQTT.MaxPacketSize = 65536 }},
		{"duration", "mqtt:\n  session_expiry: 1h30m\n  connect_timeout: 0\n", func(c *Config) {
			c.MQTT.SessionExpiry = 90 * time.Minute
			c.MQTT.ConnectTimeout = 0
		}},
		{"list", "tls:\n  extra_names:\n    - perch.local\n    - 10.0.0.2\n", func(c *Config) { c.TLS.ExtraNames = []string{"perch.local", "10.0.0.2"} }},
		{"list items keep commas", "tls:\n  extra_names: [\"a,b\", 1]\n", func(c *Config) { c.TLS.ExtraNames = []string{"a,b", "1"} }},
		{"list as a comma-separated string", "tls:\n  extra_names: perch.local, 10.0.0.2\n", func(c *Config) {
			c.TLS.ExtraNames = []string{"perch.local", "10.0.0.2"}
		}},
		{"empty list", "tls:\n  extra_names: []\n", nil},
		{"anchors and aliases", "mqtt:\n  tcp: &l\n    enabled: true\n    address: :1884\n  websocket: *l\n", func(c *Config) {
			c.MQTT.TCP = Listener{Enabled: true, Address: ":1884"}
			c.MQTT.WebSocket = Listener{Enabled: true, Address: ":1884"}
		}},
		{"flow style", "mqtt: {tls: {enabled: false}, tcp: {enabled: true}}\n", func(c *Config) {
			c.MQTT.TLS.Enabled = false
			c.MQTT.TCP.Enabled = true
		}},
		{"dotted keys", "mqtt.tls.address: :1\nmqtt.tcp:\n  enabled: true\n", func(c *Config) {
			c.MQTT.TLS.Address = ":1"
			c.MQTT.TCP.Enabled = true
		}},
		{"only the first document", "account: a\n---\naccount: b\n", func(c *Config) { c.Account = "a" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := source{file: tt.file}
			if tt.file == "" {
				// load skips an empty file name; give an empty file.
				got, err := Load(LoadOptions{File: writeFile(t, "")})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, Default()) {
					t.Errorf("got %+v", got)
				}
				return
			}
			got, err := load(t, src)
			if err != nil {
				t.Fatal(err)
			}
			if want := defaultWith(tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, file string
		wantErr    error
		want       string
	}{
		{"unknown key", "mqtt:\n  tls:\n    adress: :1\n", ErrUnknownKey,
			"config: perch.yaml:3: mqtt.tls.adress: unknown key (did you mean mqtt.tls.address?)"},
		{"key in the wrong section", "max_packet_size: 1024\n", ErrUnknownKey,
			"config: perch.yaml:1: max_packet_size: unknown key (did you mean mqtt.max_packet_size?)"},
		{"dashes", "data-dir: /x\n", ErrUnknownKey,
			"config: perch.yaml:1: data-dir: unknown key (did you mean data_dir?)"},
		{"unknown section", "broker:\n  port: 1\n", ErrUnknownKey,
			"config: perch.yaml:1: broker: unknown key"},
		{"duplicate dotted key", "mqtt.tls.address: :1\nmqtt:\n  tls:\n    address: :2\n", ErrSyntax,
			"config: perch.yaml:4: mqtt.tls.address: duplicate key (first at line 1)"},
		{"duplicate section", "log:\n  level: info\nlog:\n  format: json\n", ErrSyntax,
			"config: perch.yaml:3: log: duplicate key (first at line 1)"},
		{"wrong type int", "mqtt:\n  max_packet_size: big\n", ErrBadValue,
			`config: perch.yaml:2: mqtt.max_packet_size: cannot parse "big" as int`},
		{"float for int", "mqtt:\n  max_queued: 1.5\n", ErrBadValue,
			`config: perch.yaml:2: mqtt.max_queued: cannot parse "1.5" as int`},
		{"int out of range", "mqtt:\n  max_queued: 99999999999999999999\n", ErrBadValue,
			`config: perch.yaml:2: mqtt.max_queued: cannot parse "99999999999999999999" as int: out of range`},
		{"wrong type bool", "api:\n  enabled: yes\n", ErrBadValue,
			`config: perch.yaml:2: api.enabled: cannot parse "yes" as bool (true or false)`},
		{"duration without unit", "mqtt:\n  connect_timeout: 10\n", ErrBadValue,
			`config: perch.yaml:2: mqtt.connect_timeout: cannot parse "10" as duration (a number with a unit: 10s, 5m, 1h)`},
		{"mapping for a string", "account:\n  id: x\n", ErrBadValue,
			"config: perch.yaml:1: account: expected a string, got a mapping"},
		{"list for an int", "mqtt:\n  max_queued: [1]\n", ErrBadValue,
			"config: perch.yaml:2: mqtt.max_queued: expected an int, got a list"},
		{"mapping in a list", "tls:\n  extra_names:\n    - a\n    - {b: c}\n", ErrBadValue,
			"config: perch.yaml:2: tls.extra_names: item 2: expected a string, got a mapping"},
		{"scalar for a section", "log: debug\n", ErrBadValue,
			`config: perch.yaml:1: log: expected a mapping of log.* keys, got "debug"`},
		{"not a mapping", "- a\n- b\n", ErrSyntax,
			"config: perch.yaml:1: expected a mapping of keys, got a list"},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", ErrSyntax,
			"config: perch.yaml:3: log.level: duplicate key (first at line 2)"},
		{"complex key", "? [a]\n: x\n", ErrSyntax,
			"config: perch.yaml:1: a key must be a string, got a list"},
		{"empty key", "\"\": x\n", ErrUnknownKey,
			"config: perch.yaml:1: empty key"},
		{"malformed", "log:\n  level: info\n format: json\n", ErrSyntax,
			"config: perch.yaml: yaml: line 2: did not find expected key"},
		{"tab indentation", "log:\n\tlevel: info\n", ErrSyntax,
			"config: perch.yaml: yaml: line 2: found character that cannot start any token"},
		{"every problem at once", "acount: x\nmqtt:\n  max_queued: x\n  max_inflight: y\n", ErrUnknownKey,
			"config: perch.yaml:1: acount: unknown key (did you mean account?)\n" +
				`config: perch.yaml:3: mqtt.max_queued: cannot parse "x" as int` + "\n" +
				`config: perch.yaml:4: mqtt.max_inflight: cannot parse "y" as int`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, source{file: tt.file})
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error does not wrap %v", tt.wantErr)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestMergeKey(t *testing.T) {
	_, err := load(t, source{file: "log:\n  <<: {level: debug}\n"})
	want := "config: perch.yaml:2: log: merge keys (<<) are not supported"
	if err == nil || err.Error() != want || !errors.Is(err, ErrSyntax) {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestFileAndEnvProblemsTogether(t *testing.T) {
	_, err := load(t, source{file: "acount: x\n", env: []string{"PERCH_NOPE=1"}})
	want := "config: perch.yaml:1: acount: unknown key (did you mean account?)\n" +
		"config: environment: PERCH_NOPE: unknown variable"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}

func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perch.yaml")
	_, err := Load(LoadOptions{File: path})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v, want one wrapping fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestRegisterFlags(t *testing.T) {
	fs := pflag.NewFlagSet("perch", pflag.ContinueOnError)
	RegisterFlags(fs)
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	want := []string{
		"account", "api-address", "api-enabled", "api-session-ttl", "data-dir",
		"health-enabled", "health-interval", "health-led", "hostname",
		"log-format", "log-level", "mdns-enabled", "mdns-instance", "mdns-interfaces", "mqtt-connect-timeout", "mqtt-max-clients", "mqtt-max-inflight",
		"mqtt-max-packet-size", "mqtt-max-queued", "mqtt-session-expiry", "mqtt-sys-interval",
		"mqtt-tcp-address", "mqtt-tcp-allow-anonymous", "mqtt-tcp-enabled",
		"mqtt-tls-address", "mqtt-tls-allow-anonymous", "mqtt-tls-enabled",
		"mqtt-websocket-address", "mqtt-websocket-allow-anonymous", "mqtt-websocket-enabled",
		"storage-fsync-interval", "storage-max-pending", "storage-partition-duration",
		"tls-cert-file", "tls-extra-names", "tls-key-file",
		"upstream-batch-size", "upstream-buckets", "upstream-ca-file", "upstream-cert-file", "upstream-client-id",
		"upstream-gateway", "upstream-inflight", "upstream-keepalive", "upstream-key-file", "upstream-max-rate",
		"upstream-mqtt-version", "upstream-password", "upstream-topic", "upstream-url", "upstream-username",
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("flags\n%q\nwant\n%q", names, want)
	}
	for _, tt := range []struct{ flag, typ, def string }{
		{"data-dir", "string", "./perch-data"},
		{"mqtt-tls-enabled", "bool", "true"},
		{"mqtt-max-packet-size", "int", "262144"},
		{"mqtt-connect-timeout", "duration", "10s"},
		{"tls-extra-names", "stringSlice", "[]"},
		{"storage-fsync-interval", "duration", "1s"},
		{"storage-partition-duration", "duration", "1h0m0s"},
		{"storage-max-pending", "int", "262144"},
	} {
		f := fs.Lookup(tt.flag)
		if f.Value.Type() != tt.typ || f.DefValue != tt.def {
			t.Errorf("--%s: %s, default %q; want %s, default %q", tt.flag, f.Value.Type(), f.DefValue, tt.typ, tt.def)
		}
	}
	for flag, want := range map[string]string{
		"mqtt-tls-address":    "listen address of MQTT over TLS [PERCH_MQTT_TLS_ADDRESS]",
		"tls-cert-file":       "PEM certificate that replaces the generated server certificate; needs tls.key_file [PERCH_TLS_CERT_FILE]",
		"storage-max-pending": "points that may wait to be compressed before publishers are slowed [PERCH_STORAGE_MAX_PENDING]",
	} {
		if u := fs.Lookup(flag).Usage; u != want {
			t.Errorf("--%s usage %q, want %q", flag, u, want)
		}
	}
}
