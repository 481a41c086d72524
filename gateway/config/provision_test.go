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

func ptr[T any](v T) *T { return &v }

// TestProvisionFile loads testdata/config/provision.yaml, which has every
// form the lists take, into the Config it declares.
func TestProvisionFile(t *testing.T) {
	c, err := Load(LoadOptions{File: filepath.Join(goldenDir, "provision.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Account = "greenhouse"
	want.Storage = Storage{FsyncInterval: 0, PartitionDuration: 2 * time.Hour, MaxPending: 100000}
	want.Devices = []DeviceSpec{
		{
			ID:              "greenhouse-1",
			Name:            "Greenhouse sensor",
			Description:     "Temperature and humidity, north bench",
			CredentialsHash: "$argon2id$v=19$m=16384,t=1,p=1$Up01uLnYKdI7X6qA5uKwPA$zhm3hSMZTe/QU1exy+W3vkv9MiX0EkiD28aZTrBgapY",
			Publish:         []string{"sensors/%c/#", "status/%c"},
			Subscribe:       []string{"cmd/%c/#"},
		},
		{ID: "door_7", Enabled: ptr(false), Credentials: "correct horse battery", Publish: []string{}},
		{ID: "0042", Name: "1234", Enabled: ptr(true), Credentials: "twelve-bytes"},
	}
	want.Buckets = []BucketSpec{
		{ID: "climate", Name: "Greenhouse climate", Topic: "sensors/+/climate", Retention: "90d", Resolution: "1s"},
		{ID: "api-only", Retention: "0"},
		{ID: "weekly", Topic: "weekly/#", Retention: "2w", Resolution: "100ms", Enabled: ptr(true)},
		{ID: "hours", Topic: "hours/#", Retention: "12h"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got\n%#v\nwant\n%#v", c, want)
	}
	if c.Devices[1].Publish == nil || c.Devices[1].Subscribe != nil {
		t.Errorf("publish: [] must load as empty and a missing subscribe as nil: %#v", c.Devices[1])
	}
	if err := c.Validate(); err != nil {
		t.Errorf("does not validate: %v", err)
	}
	checkRoundTrip(t, c)
}

// TestProvisionErrorsFile pins, in a golden file, everything Load says of
// testdata/config/provision-errors.yaml: one line per problem, in the
// file's order, each with its line.
func TestProvisionErrorsFile(t *testing.T) {
	path := filepath.Join(goldenDir, "provision-errors.yaml")
	_, err := Load(LoadOptions{File: path})
	if err == nil {
		t.Fatal("no error")
	}
	if !isOurs(err) {
		t.Errorf("error wraps none of the package's errors: %v", err)
	}
	msg := strings.ReplaceAll(err.Error(), path, "provision-errors.yaml")
	golden(t, "provision-errors.txt", []byte(msg+"\n"))
}

func TestListValues(t *testing.T) {
	const hash = "credentials_hash: $h"
	tests := []struct {
		name, file string
		want       func(*Config)
	}{
		{"null lists", "devices:\nbuckets: ~\n", nil},
		{"empty lists", "devices: []\nbuckets: []\n", nil},
		{"null fields are not set", "devices:\n  - id: d\n    " + hash + "\n    name: ~\n    enabled:\n    publish: ~\n", func(c *Config) {
			c.Devices = []DeviceSpec{{ID: "d", CredentialsHash: "$h"}}
		}},
		{"scalars as written", "buckets:\n  - id: 12\n    name: true\n    description: 1.50\n    topic: \"0x10\"\n", func(c *Config) {
			c.Buckets = []BucketSpec{{ID: "12", Name: "true", Description: "1.50", Topic: "0x10"}}
		}},
		{"enabled false and true", "buckets:\n  - {id: a, enabled: false}\n  - {id: b, enabled: \"true\"}\n", func(c *Config) {
			c.Buckets = []BucketSpec{{ID: "a", Enabled: ptr(false)}, {ID: "b", Enabled: ptr(true)}}
		}},
		{"filters keep commas", "devices:\n  - id: d\n    " + hash + "\n    subscribe: [\"a,b\", 1]\n", func(c *Config) {
			c.Devices = []DeviceSpec{{ID: "d", CredentialsHash: "$h", Subscribe: []string{"a,b", "1"}}}
		}},
		{"anchors and aliases", "devices:\n  - id: a\n    " + hash + "\n    publish: &p [x/#]\n  - id: b\n    " + hash + "\n    publish: *p\n", func(c *Config) {
			c.Devices = []DeviceSpec{
				{ID: "a", CredentialsHash: "$h", Publish: []string{"x/#"}},
				{ID: "b", CredentialsHash: "$h", Publish: []string{"x/#"}},
			}
		}},
		{"retention forms", "buckets:\n  - {id: a, retention: 0}\n  - {id: b, retention: 0d}\n  - {id: c, retention: 36500d}\n  - {id: d, retention: 1h30m}\n", func(c *Config) {
			c.Buckets = []BucketSpec{{ID: "a", Retention: "0"}, {ID: "b", Retention: "0d"}, {ID: "c", Retention: "36500d"}, {ID: "d", Retention: "1h30m"}}
		}},
		{"resolution bounds", "buckets:\n  - {id: a, resolution: 1ms}\n  - {id: b, resolution: 1h}\n  - {id: c, resolution: 1000us}\n", func(c *Config) {
			c.Buckets = []BucketSpec{{ID: "a", Resolution: "1ms"}, {ID: "b", Resolution: "1h"}, {ID: "c", Resolution: "1000us"}}
		}},
		{"credentials of exactly 12 bytes", "devices:\n  - {id: d, credentials: 123456789012}\n", func(c *Config) {
			c.Devices = []DeviceSpec{{ID: "d", Credentials: "123456789012"}}
		}},
		{"the same id in devices and buckets", "devices: [{id: x, credentials_hash: $h}]\nbuckets: [{id: x}]\n", func(c *Config) {
			c.Devices = []DeviceSpec{{ID: "x", CredentialsHash: "$h"}}
			c.Buckets = []BucketSpec{{ID: "x"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load(t, source{file: tt.file})
			if err != nil {
				t.Fatal(err)
			}
			if want := defaultWith(tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, want)
			}
		})
	}
}

// TestListErrors: every problem of an item is one line naming the file,
// the line and the item's key.
func TestListErrors(t *testing.T) {
	const hash = "    credentials_hash: $h\n"
	tests := []struct {
		name, file string
		wantErr    error
		want       string
	}{
		// Shape.
		{"list is a mapping", "devices:\n  id: d\n", ErrBadValue,
			"config: perch.yaml:1: devices: expected a list of mappings, got a mapping"},
		{"list is a scalar", "buckets: b1\n", ErrBadValue,
			`config: perch.yaml:1: buckets: expected a list of mappings, got "b1"`},
		{"item is a scalar", "buckets:\n  - {id: a}\n  - b\n", ErrBadValue,
			`config: perch.yaml:3: buckets[1]: expected a mapping of buckets keys, got "b"`},
		{"item is null", "buckets:\n  -\n", ErrBadValue,
			"config: perch.yaml:2: buckets[0]: expected a mapping of buckets keys, got null"},
		{"item is a list", "buckets:\n  - [a]\n", ErrBadValue,
			"config: perch.yaml:2: buckets[0]: expected a mapping of buckets keys, got a list"},
		{"nested under a section", "api:\n  devices: []\n", ErrUnknownKey,
			"config: perch.yaml:2: api.devices: unknown key (did you mean devices?)"},
		{"singular", "device:\n  - id: d\n", ErrUnknownKey,
			"config: perch.yaml:1: device: unknown key (did you mean devices?)"},
		{"duplicate list", "buckets: []\nbuckets: []\n", ErrSyntax,
			"config: perch.yaml:2: buckets: duplicate key (first at line 1)"},

		// Keys of an item.
		{"unknown key", "devices:\n  - id: d\n" + hash + "    credential: x\n", ErrUnknownKey,
			"config: perch.yaml:4: devices[0].credential: unknown key (did you mean credentials?)"},
		{"unknown key, no guess", "buckets:\n  - id: b\n    color: red\n", ErrUnknownKey,
			"config: perch.yaml:3: buckets[0].color: unknown key"},
		{"a top-level key in an item", "buckets:\n  - id: b\n    account: a\n", ErrUnknownKey,
			"config: perch.yaml:3: buckets[0].account: unknown key"},
		{"duplicate key", "buckets:\n  - id: b\n    topic: a\n    topic: b\n", ErrSyntax,
			"config: perch.yaml:4: buckets[0].topic: duplicate key (first at line 3)"},
		{"empty key", "buckets:\n  - id: b\n    \"\": x\n", ErrUnknownKey,
			"config: perch.yaml:3: buckets[0]: empty key"},
		{"complex key", "buckets:\n  - id: b\n    ? [a]\n    : x\n", ErrSyntax,
			"config: perch.yaml:3: buckets[0]: a key must be a string, got a list"},
		{"merge key", "buckets:\n  - id: b\n    <<: {topic: a}\n", ErrSyntax,
			"config: perch.yaml:3: buckets[0]: merge keys (<<) are not supported"},

		// Types.
		{"bool", "buckets:\n  - id: b\n    enabled: yes\n", ErrBadValue,
			`config: perch.yaml:3: buckets[0].enabled: cannot parse "yes" as bool (true or false)`},
		{"mapping for a string", "buckets:\n  - id: {a: b}\n", ErrBadValue,
			"config: perch.yaml:2: buckets[0].id: expected a string, got a mapping"},
		{"list for a string", "buckets:\n  - id: b\n    topic: [a, b]\n", ErrBadValue,
			"config: perch.yaml:3: buckets[0].topic: expected a string, got a list"},
		{"scalar for a list", "devices:\n  - id: d\n" + hash + "    publish: a/#\n", ErrBadValue,
			`config: perch.yaml:4: devices[0].publish: expected a list of strings, got "a/#"`},
		{"mapping in a list", "devices:\n  - id: d\n" + hash + "    subscribe: [a, {b: c}]\n", ErrBadValue,
			"config: perch.yaml:4: devices[0].subscribe: item 2: expected a string, got a mapping"},
		{"null in a list", "devices:\n  - id: d\n" + hash + "    subscribe: [a, ~]\n", ErrBadValue,
			"config: perch.yaml:4: devices[0].subscribe: item 2: expected a string, got null"},

		// Ids.
		{"missing id", "buckets:\n  - topic: a/#\n", ErrInvalid,
			"config: perch.yaml:2: buckets[0].id: must be set"},
		{"empty id", "buckets:\n  - topic: a/#\n    id: \"\"\n", ErrInvalid,
			"config: perch.yaml:3: buckets[0].id: must be set"},
		{"invalid id", "buckets:\n  - id: a/b\n", ErrInvalid,
			`config: perch.yaml:2: buckets[0].id: "a/b" is not 1 to 64 letters, digits, '_' or '-'`},
		{"id too long", "buckets:\n  - id: " + strings.Repeat("x", 65) + "\n", ErrInvalid,
			`config: perch.yaml:2: buckets[0].id: "` + strings.Repeat("x", 65) + `" is not 1 to 64 letters, digits, '_' or '-'`},
		{"duplicate id", "buckets:\n  - id: a\n  - id: b\n  - topic: x\n    id: a\n", ErrInvalid,
			`config: perch.yaml:5: buckets[2].id: "a" is also buckets[0].id`},
		{"three times the same id", "buckets: [{id: a}, {id: a}, {id: a}]\n", ErrInvalid,
			`config: perch.yaml:1: buckets[1].id: "a" is also buckets[0].id` + "\n" +
				`config: perch.yaml:1: buckets[2].id: "a" is also buckets[0].id`},

		// Credentials.
		{"no credentials", "devices:\n  - id: d\n    name: n\n", ErrInvalid,
			"config: perch.yaml:2: devices[0]: needs credentials or credentials_hash"},
		{"both credentials", "devices:\n  - id: d\n    credentials: twelve-bytes\n    credentials_hash: $h\n", ErrInvalid,
			"config: perch.yaml:4: devices[0].credentials_hash: cannot be set with credentials (give one)"},
		{"short credentials", "devices:\n  - id: d\n    credentials: elevenbytes\n", ErrInvalid,
			"config: perch.yaml:3: devices[0].credentials: is 11 bytes, want at least 12"},
		{"hash without $", "devices:\n  - id: d\n    credentials_hash: hunter2-hunter2\n", ErrInvalid,
			`config: perch.yaml:3: devices[0].credentials_hash: does not start with "$" (print one with perch device credentials --hash)`},
		{"empty filter", "devices:\n  - id: d\n" + hash + "    publish: [a, \"\"]\n", ErrInvalid,
			"config: perch.yaml:4: devices[0].publish: item 2 is empty"},

		// Retention and resolution.
		{"retention", "buckets:\n  - id: b\n    retention: 1year\n", ErrInvalid,
			`config: perch.yaml:3: buckets[0].retention: "1year" is not a duration (want e.g. 365d, 2w, 12h or 0)`},
		{"negative retention", "buckets:\n  - id: b\n    retention: -1h\n", ErrInvalid,
			`config: perch.yaml:3: buckets[0].retention: "-1h" is not a duration (want e.g. 365d, 2w, 12h or 0)`},
		{"fractional days", "buckets:\n  - id: b\n    retention: 1.5d\n", ErrInvalid,
			`config: perch.yaml:3: buckets[0].retention: "1.5d" is not a duration (want e.g. 365d, 2w, 12h or 0)`},
		{"retention over 100 years", "buckets:\n  - id: b\n    retention: 5215w\n", ErrInvalid,
			`config: perch.yaml:3: buckets[0].retention: "5215w" is not a duration (want e.g. 365d, 2w, 12h or 0)`},
		{"resolution syntax", "buckets:\n  - id: b\n    resolution: fast\n", ErrInvalid,
			`config: perch.yaml:3: buckets[0].resolution: "fast" is not a duration (want e.g. 1s or 100ms)`},
		{"resolution in days", "buckets:\n  - id: b\n    resolution: 1d\n", ErrInvalid,
			`config: perch.yaml:3: buckets[0].resolution: "1d" is not a duration (want e.g. 1s or 100ms)`},
		{"resolution low", "buckets:\n  - id: b\n    resolution: 999us\n", ErrInvalid,
			`config: perch.yaml:3: buckets[0].resolution: "999us" is out of range (allowed: whole milliseconds from 1ms to 1h)`},
		{"resolution high", "buckets:\n  - id: b\n    resolution: 61m\n", ErrInvalid,
			`config: perch.yaml:3: buckets[0].resolution: "61m" is out of range (allowed: whole milliseconds from 1ms to 1h)`},
		{"resolution not whole ms", "buckets:\n  - id: b\n    resolution: 1.5ms\n", ErrInvalid,
			`config: perch.yaml:3: buckets[0].resolution: "1.5ms" is out of range (allowed: whole milliseconds from 1ms to 1h)`},
		{"resolution 0", "buckets:\n  - id: b\n    resolution: 0\n", ErrInvalid,
			`config: perch.yaml:3: buckets[0].resolution: "0" is out of range (allowed: whole milliseconds from 1ms to 1h)`},

		// Together.
		{"an item with a wrong type is not checked further", "buckets:\n  - enabled: maybe\n", ErrBadValue,
			`config: perch.yaml:2: buckets[0].enabled: cannot parse "maybe" as bool (true or false)`},
		{"several, in the file's order", "acount: x\nbuckets:\n  - {id: a, retention: x}\n  - {id: a}\nmqtt:\n  max_queued: x\n", ErrUnknownKey,
			"config: perch.yaml:1: acount: unknown key (did you mean account?)\n" +
				`config: perch.yaml:3: buckets[0].retention: "x" is not a duration (want e.g. 365d, 2w, 12h or 0)` + "\n" +
				`config: perch.yaml:4: buckets[1].id: "a" is also buckets[0].id` + "\n" +
				`config: perch.yaml:6: mqtt.max_queued: cannot parse "x" as int`},
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

// TestValidateLists: Validate checks the lists of a Config built in code as
// Load checks them in a file.
func TestValidateLists(t *testing.T) {
	dev := func(id string) DeviceSpec { return DeviceSpec{ID: id, CredentialsHash: "$h"} }
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"valid", func(c *Config) {
			c.Devices = []DeviceSpec{dev("a"), {ID: "b", Credentials: "twelve-bytes", Enabled: ptr(false), Publish: []string{}}}
			c.Buckets = []BucketSpec{{ID: "a"}, {ID: "b", Topic: "x/#", Retention: "0", Resolution: "1h"}}
		}, ""},
		{"missing id", func(c *Config) { c.Devices = []DeviceSpec{dev("")} }, "devices[0].id: must be set"},
		{"invalid id", func(c *Config) { c.Buckets = []BucketSpec{{ID: "é"}} }, `buckets[0].id: "é" is not 1 to 64 letters, digits, '_' or '-'`},
		{"duplicate id", func(c *Config) { c.Devices = []DeviceSpec{dev("a"), dev("b"), dev("a")} }, `devices[2].id: "a" is also devices[0].id`},
		{"no credentials", func(c *Config) { c.Devices = []DeviceSpec{{ID: "a"}} }, "devices[0]: needs credentials or credentials_hash"},
		{"both credentials", func(c *Config) {
			c.Devices = []DeviceSpec{{ID: "a", Credentials: "twelve-bytes", CredentialsHash: "$h"}}
		},
			"devices[0].credentials_hash: cannot be set with credentials (give one)"},
		{"short credentials", func(c *Config) { c.Devices = []DeviceSpec{{ID: "a", Credentials: "x"}} },
			"devices[0].credentials: is 1 bytes, want at least 12"},
		{"retention", func(c *Config) { c.Buckets = []BucketSpec{{ID: "a", Retention: "1year"}} },
			`buckets[0].retention: "1year" is not a duration (want e.g. 365d, 2w, 12h or 0)`},
		{"resolution", func(c *Config) { c.Buckets = []BucketSpec{{ID: "a", Resolution: "1ns"}} },
			`buckets[0].resolution: "1ns" is out of range (allowed: whole milliseconds from 1ms to 1h)`},
		{"in key order, lists after the keys, no key last", func(c *Config) {
			c.MQTT.TLS.Enabled, c.API.Enabled = false, false
			c.Buckets = []BucketSpec{{ID: "a", Retention: "x", Resolution: "y"}, {}}
			c.Devices = []DeviceSpec{{ID: "?", Credentials: "x"}}
			c.Storage.MaxPending = 1
			c.Account = ""
		}, `account: "" is not 1 to 64 letters, digits, '_' or '-'` + "\n" +
			"storage.max_pending: 1 is out of range (allowed: 1000 to 16777216)\n" +
			`devices[0].id: "?" is not 1 to 64 letters, digits, '_' or '-'` + "\n" +
			"devices[0].credentials: is 1 bytes, want at least 12\n" +
			`buckets[0].retention: "x" is not a duration (want e.g. 365d, 2w, 12h or 0)` + "\n" +
			`buckets[0].resolution: "y" is not a duration (want e.g. 1s or 100ms)` + "\n" +
			"buckets[1].id: must be set\n" +
			"nothing to serve: every listener (mqtt.tls.enabled, mqtt.tcp.enabled, mqtt.websocket.enabled, api.enabled) is disabled"},
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

func TestParseRetention(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"0d", 0, true},
		{"0s", 0, true},
		{"30d", 30 * day, true},
		{"365d", 365 * day, true},
		{"2w", 14 * day, true},
		{"12h", 12 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"500ms", 500 * time.Millisecond, true},
		{"36500d", 36500 * day, true},
		{"5214w", 5214 * 7 * day, true},
		{"36501d", 0, false},
		{"5215w", 0, false},
		{"99999999999999999999d", 0, false},
		{"", 0, false},
		{"d", 0, false},
		{"1year", 0, false},
		{"1.5d", 0, false},
		{"-1d", 0, false},
		{"+1d", 0, false},
		{"1_000d", 0, false},
		{"-1h", 0, false},
		{" 1d", 0, false},
		{"1D", 0, false},
		{"10", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRetention(tt.in)
			if !tt.ok {
				if err == nil {
					t.Fatalf("= %v, want an error", got)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error does not wrap ErrInvalid")
				}
				if !strings.HasPrefix(err.Error(), `config: "`) || !strings.HasSuffix(err.Error(), " is not a duration (want e.g. 365d, 2w, 12h or 0)") {
					t.Errorf("error %q", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("= %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := ParseRetention("1year"); err == nil || err.Error() != `config: "1year" is not a duration (want e.g. 365d, 2w, 12h or 0)` {
		t.Errorf("error %v", err)
	}
}

// TestListsRoundTrip prints lists with every kind of field and value and
// loads them back.
func TestListsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"full", func(c *Config) { *c = exampleConfig() }},
		{"enabled, empty and nil filters", func(c *Config) {
			c.Devices = []DeviceSpec{
				{ID: "a", Enabled: ptr(false), Credentials: "twelve-bytes", Publish: []string{}, Subscribe: nil},
				{ID: "b", Enabled: ptr(true), CredentialsHash: "$h", Publish: nil, Subscribe: []string{}},
			}
			c.Buckets = []BucketSpec{{ID: "a", Enabled: ptr(false)}, {ID: "b", Enabled: ptr(true), Retention: "0"}}
		}},
		{"strings YAML would read as other types or must quote", func(c *Config) {
			c.Devices = []DeviceSpec{{
				ID: "0042", Name: "true", Description: "null", CredentialsHash: "$- x: y # z",
				Publish: []string{"yes", "0x10", "a,b", "#", "---", "a: b # c", " "}, Subscribe: []string{"\x00\u2028 🐦"},
			}}
			c.Buckets = []BucketSpec{{ID: "1e3", Name: "'\"{[&*!|>%@`", Description: "line\nbreak\r\n\ttab", Topic: "#", Retention: "1h", Resolution: "1000000us"}}
			c.Devices = append(c.Devices, DeviceSpec{ID: "x", Credentials: "~ - #: 'true'"})
		}},
		{"many", func(c *Config) {
			for i := range 50 {
				c.Buckets = append(c.Buckets, BucketSpec{ID: strings.Repeat("b", i+1)})
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRoundTrip(t, defaultWith(tt.edit))
		})
	}
}

func TestYAMLListInvalidUTF8(t *testing.T) {
	c := Default()
	c.Buckets = []BucketSpec{{ID: "a"}, {ID: "b", Topic: "\xff"}}
	if _, err := c.YAML(); err == nil || err.Error() != `config: buckets[1].topic: "\xff" is not valid UTF-8` {
		t.Errorf("error %v", err)
	}
	c = Default()
	c.Devices = []DeviceSpec{{ID: "a", Publish: []string{"ok", "\xfe"}}}
	if _, err := c.YAML(); err == nil || err.Error() != `config: devices[0].publish: "\xfe" is not valid UTF-8` {
		t.Errorf("error %v", err)
	}
}

// TestPrintedLists pins how YAML prints the lists: the keys without
// omitempty always, the others only when set.
func TestPrintedLists(t *testing.T) {
	c := Default()
	c.Devices = []DeviceSpec{{ID: "d", Enabled: ptr(false), Credentials: "twelve-bytes", Publish: []string{}}}
	c.Buckets = []BucketSpec{{ID: "b"}}
	b, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	want := "devices:\n" +
		"  - id: d\n    name: \"\"\n    description: \"\"\n    enabled: false\n    credentials: twelve-bytes\n    publish: []\n" +
		"buckets:\n" +
		"  - id: b\n    name: \"\"\n    description: \"\"\n    topic: \"\"\n"
	if _, lists, _ := strings.Cut(string(b), "inflight: 4\n"); lists != want {
		t.Errorf("lists printed as\n%s\nwant\n%s", lists, want)
	}
	if d, _ := Default().YAML(); strings.Contains(string(d), "\ndevices:") || strings.Contains(string(d), "\nbuckets:") || strings.Contains(string(d), "bridge:") {
		t.Errorf("empty lists printed:\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(goldenDir, "provision.yaml")); err != nil {
		t.Error(err)
	}
}
