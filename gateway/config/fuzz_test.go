package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLoadYAML feeds random files to Load: it must not panic, must report
// every failure with one of the package's errors, and what it loads must
// validate without panicking and print as YAML that loads back the same.
func FuzzLoadYAML(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input it finds, which is
	// slow for long ones (a Load takes most of a millisecond). The whole
	// default file is in testdata/fuzz/FuzzLoadYAML.
	for _, seed := range []string{
		"",
		"account: 0042\nmqtt:\n  tls: {address: \"127.0.0.1:0\", enabled: true}\n",
		"mqtt.tls.address: :1\nmqtt:\n  tcp: &l {enabled: true}\n  websocket: *l\n",
		"tls:\n  extra_names: [a, \"b,c\", 1]\n",
		"tls:\n  extra_names: a, b\n",
		"log:\n  <<: {level: debug}\n",
		"mqtt:\n  max_packet_size: big\n  connect_timeout: 10\n",
		"log:\n  level: info\n  level: debug\n",
		"- a\n",
		"? [a]\n: b\n",
		"log:\n\tlevel: info\n",
		"account: \"\\x00\\u2028\"\n",
		"storage: {fsync_interval: 0, max_pending: 0x1000}\n",
		"devices:\n  - id: d\n    credentials_hash: $h\n    enabled: false\n    publish: []\n    subscribe: [\"a,b\", 1]\n",
		"devices: [{id: d, credentials: twelve-bytes, publish: &p [x]}, {id: e, credentials_hash: $h, subscribe: *p}]\n",
		"buckets:\n  - {id: b, topic: a/#, retention: 2w, resolution: 100ms}\n  - id: c\n    retention: \"0\"\n",
		"buckets: [{id: b}, {id: b}, {retention: 1year}, x]\n",
		"devices:\n  - id: d\n    credential: x\n    enabled: yes\n",
	} {
		f.Add([]byte(seed))
	}
	// One file per worker process: t.TempDir for each input is slow.
	path := filepath.Join(f.TempDir(), "perch.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(LoadOptions{File: path})
		if err != nil {
			if !isOurs(err) {
				t.Fatalf("error wraps none of the package's errors: %v", err)
			}
			return
		}
		_ = c.Validate()
		out, err := c.YAML()
		if err != nil {
			t.Fatalf("YAML of a loaded Config: %v", err)
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := Load(LoadOptions{File: path})
		if err != nil {
			t.Fatalf("Load of YAML's output: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip\n%s\ngave\n%#v\nwant\n%#v", out, again, c)
		}
	})
}

// FuzzEnv sets one random PERCH_ variable.
func FuzzEnv(f *testing.F) {
	for _, seed := range [][2]string{
		{"DATA_DIR", "/data"},
		{"MQTT_TLS_ADDRESS", ":8883"},
		{"MQTT_TLS_ALLOW_ANONYMOUS", "true"},
		{"MQTT_MAX_PACKET_SIZE", "0x10000"},
		{"MQTT_MAX_PACKET_SIZE", "big"},
		{"MQTT_CONNECT_TIMEOUT", "10"},
		{"TLS_EXTRA_NAMES", "a, b,,"},
		{"MQTT_TLS_ADRESS", "x"},
		{"CONFIG", "/etc/perch/perch.yaml"},
		{"", ""},
		{"A=B", "C"},
		{"ACCOUNT", "\xff"},
	} {
		f.Add(seed[0], seed[1])
	}
	s := newSchema()
	path := filepath.Join(f.TempDir(), "perch.yaml")
	f.Fuzz(func(t *testing.T, name, value string) {
		c, err := Load(LoadOptions{Env: []string{EnvPrefix + name + "=" + value}})
		if err != nil {
			if !isOurs(err) {
				t.Fatalf("error wraps none of the package's errors: %v", err)
			}
			return
		}
		varName, _, _ := strings.Cut(EnvPrefix+name, "=")
		if l := s.byEnv[varName]; l == nil && varName != EnvFile {
			t.Fatalf("%s is no key's variable, yet Load accepted it", varName)
		}
		_ = c.Validate()
		out, err := c.YAML()
		if err != nil {
			if utf8.ValidString(value) {
				t.Fatalf("YAML: %v", err)
			}
			return
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := Load(LoadOptions{File: path})
		if err != nil {
			t.Fatalf("Load of YAML's output: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip\n%s\ngave\n%#v\nwant\n%#v", out, again, c)
		}
	})
}

// isOurs reports whether every error joined in err wraps one of the
// package's sentinels.
func isOurs(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !isOurs(e) {
				return false
			}
		}
		return true
	}
	for _, sentinel := range []error{ErrInvalid, ErrUnknownKey, ErrBadValue, ErrSyntax} {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	return false
}
