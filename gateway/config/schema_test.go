package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSchemaTags checks what the reflection in newSchema relies on: every
// exported field, the items of lists included, has a koanf tag naming the
// same key as its yaml and json tags (json may add omitempty), every leaf
// has a type Load can read from every source, and every item field one the
// list parser can read.
func TestSchemaTags(t *testing.T) {
	var walk func(t reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() {
				continue
			}
			name := path + f.Name
			k, y, j := f.Tag.Get("koanf"), f.Tag.Get("yaml"), f.Tag.Get("json")
			if k == "" || k == "-" {
				t.Errorf("%s has no koanf tag", name)
			}
			if jName, opts, _ := strings.Cut(j, ","); y != k || jName != k || (opts != "" && opts != "omitempty") {
				t.Errorf("%s: tags koanf:%q yaml:%q json:%q differ", name, k, y, j)
			}
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, name+".")
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				walk(f.Type.Elem(), name+"[].")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "Config.")

	s := newSchema()
	if len(s.leaves) < 30 {
		t.Errorf("schema has %d keys, want at least 30", len(s.leaves))
	}
	for _, l := range s.leaves {
		if l.kind == kindUnsupported {
			t.Errorf("%s: unsupported field type", l.key)
		}
	}
	var lists []string
	for _, l := range s.lists {
		lists = append(lists, l.key)
		for _, f := range l.fields {
			if f.kind != kindString && f.kind != kindBool && f.kind != kindList {
				t.Errorf("%s[].%s: unsupported item field type", l.key, f.name)
			}
		}
	}
	if want := []string{"upstream.bridge", "devices", "buckets"}; !reflect.DeepEqual(lists, want) {
		t.Errorf("lists %q, want %q", lists, want)
	}
	if s.byKey["devices"] != nil || s.byEnv["PERCH_DEVICES"] != nil || s.byFlag["buckets"] != nil {
		t.Errorf("a list of objects is a leaf")
	}
}

func TestDescriptions(t *testing.T) {
	s := newSchema()
	descs := descriptions()
	for _, l := range s.leaves {
		d, ok := descs[l.key]
		switch {
		case !ok || d == "":
			t.Errorf("%s has no description in descriptions()", l.key)
		case strings.ContainsAny(d, "`|\n"):
			t.Errorf("%s: description has a backquote, pipe or newline: %q", l.key, d)
		case !strings.HasSuffix(d, "."):
			t.Errorf("%s: description does not end with a period: %q", l.key, d)
		}
	}
	for key := range descs {
		if s.byKey[key] == nil {
			t.Errorf("descriptions() has %q, which is no key", key)
		}
	}
	items := itemDescriptions()
	n := 0
	for _, l := range s.lists {
		for _, f := range l.fields {
			n++
			key := l.key + "." + f.name
			d, ok := items[key]
			switch {
			case !ok || d == "":
				t.Errorf("%s has no description in itemDescriptions()", key)
			case strings.ContainsAny(d, "`|\n"):
				t.Errorf("%s: description has a backquote, pipe or newline: %q", key, d)
			case !strings.HasSuffix(d, "."):
				t.Errorf("%s: description does not end with a period: %q", key, d)
			}
		}
	}
	if len(items) != n {
		t.Errorf("itemDescriptions() has %d entries for %d item keys", len(items), n)
	}
	for key, b := range limits() {
		l := s.byKey[key]
		if l == nil || (l.kind != kindInt && l.kind != kindDuration) || b.min > b.max {
			t.Errorf("limits() has %q, which is no int or duration key or has an empty range", key)
		}
	}
}

// TestNames pins the environment variable and flag of keys, those with
// underscores in particular, and checks that no two keys share one.
func TestNames(t *testing.T) {
	tests := []struct{ key, env, flag string }{
		{"data_dir", "PERCH_DATA_DIR", "data-dir"},
		{"account", "PERCH_ACCOUNT", "account"},
		{"log.level", "PERCH_LOG_LEVEL", "log-level"},
		{"tls.extra_names", "PERCH_TLS_EXTRA_NAMES", "tls-extra-names"},
		{"mqtt.tls.enabled", "PERCH_MQTT_TLS_ENABLED", "mqtt-tls-enabled"},
		{"mqtt.tls.address", "PERCH_MQTT_TLS_ADDRESS", "mqtt-tls-address"},
		{"mqtt.tls.allow_anonymous", "PERCH_MQTT_TLS_ALLOW_ANONYMOUS", "mqtt-tls-allow-anonymous"},
		{"mqtt.max_packet_size", "PERCH_MQTT_MAX_PACKET_SIZE", "mqtt-max-packet-size"},
		{"mqtt.connect_timeout", "PERCH_MQTT_CONNECT_TIMEOUT", "mqtt-connect-timeout"},
		{"api.address", "PERCH_API_ADDRESS", "api-address"},
		{"api.session_ttl", "PERCH_API_SESSION_TTL", "api-session-ttl"},
		{"storage.fsync_interval", "PERCH_STORAGE_FSYNC_INTERVAL", "storage-fsync-interval"},
		{"storage.partition_duration", "PERCH_STORAGE_PARTITION_DURATION", "storage-partition-duration"},
		{"storage.max_pending", "PERCH_STORAGE_MAX_PENDING", "storage-max-pending"},
	}
	s := newSchema()
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			l := s.byKey[tt.key]
			if l == nil {
				t.Fatalf("no key %q", tt.key)
			}
			if l.env() != tt.env || l.flag() != tt.flag {
				t.Errorf("env %s, flag --%s; want %s, --%s", l.env(), l.flag(), tt.env, tt.flag)
			}
			if s.byEnv[tt.env] != l || s.byFlag[tt.flag] != l {
				t.Errorf("lookup by env or flag does not find %s", tt.key)
			}
		})
	}
	if len(s.byEnv) != len(s.leaves) || len(s.byFlag) != len(s.leaves) {
		t.Errorf("%d keys but %d environment variables and %d flags: two keys share a name",
			len(s.leaves), len(s.byEnv), len(s.byFlag))
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		kind    kind
		in      string
		want    any
		wantErr string
	}{
		{kindString, " a b ", " a b ", ""},
		{kindBool, "true", true, ""},
		{kindBool, "0", false, ""},
		{kindBool, "yes", nil, `cannot parse "yes" as bool (true or false)`},
		{kindInt, "1024", 1024, ""},
		{kindInt, "0x400", 1024, ""},
		{kindInt, "-3", -3, ""},
		{kindInt, "1e3", nil, `cannot parse "1e3" as int`},
		{kindInt, "99999999999999999999", nil, `cannot parse "99999999999999999999" as int: out of range`},
		{kindDuration, "1m30s", 90 * time.Second, ""},
		{kindDuration, "0", time.Duration(0), ""},
		{kindDuration, "10", nil, `cannot parse "10" as duration (a number with a unit: 10s, 5m, 1h)`},
		{kindList, "a, b,,c ", []string{"a", "b", "c"}, ""},
		{kindList, "", []string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String()+"/"+tt.in, func(t *testing.T) {
			got, err := tt.kind.parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[string]string{"24h": "24h", "1h30m": "1h30m", "90s": "1m30s", "10s": "10s", "0s": "0s", "1h0m1s": "1h0m1s", "1.5s": "1.5s", "2m": "2m"} {
		got := formatDuration(mustDuration(t, d))
		if got != want {
			t.Errorf("formatDuration(%s) = %s, want %s", d, got, want)
		}
		if mustDuration(t, got) != mustDuration(t, d) {
			t.Errorf("%s does not parse back", got)
		}
	}
}

func TestClosest(t *testing.T) {
	keys := []string{"mqtt.tls.address", "mqtt.tcp.address", "data_dir", "account"}
	for in, want := range map[string]string{
		"mqtt.tls.adress": "mqtt.tls.address",
		"data-dir":        "data_dir",
		"Account":         "account",
		"acount":          "account",
		"hostname":        "",
		"x":               "",
	} {
		if got := closest(in, keys); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}
