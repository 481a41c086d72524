package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/payload"
)

// Every profile makes payloads that a bucket stores, with the number of
// fields it says, and carries the LED as the firmware examples do.
func TestParseProfile(t *testing.T) {
	tests := []struct {
		spec, name string
		fields     int
		want       []string // in the payload of message 7 of device sim-3, LED on
	}{
		{"", "env", 3, []string{`"temp":`, `"hum":`, `"led":1}`}},
		{"env", "env", 3, []string{`"temp":`, `"hum":`, `"led":1}`}},
		{"counter", "counter", 2, []string{`{"count":7,"led":1}`}},
		{`{"id":"{device}","n":{seq},"on":{led},"r":{rand},"w":{walk},"ts":{ts}}`, "template", 4, []string{`"id":"sim-3"`, `"n":7,`, `"on":1,`, `"ts":1767225600000}`}},
		{`{"nested":{"v":{walk}},"{notaplaceholder}":1}`, "template", 2, []string{`{"nested":{"v":`, `"{notaplaceholder}":1}`}},
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			p, err := ParseProfile(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name() != tt.name || p.Fields() != tt.fields {
				t.Errorf("name %q, %d fields; want %q, %d", p.Name(), p.Fields(), tt.name, tt.fields)
			}
			gen := p.make("sim-3", rand.New(rand.NewPCG(1, 2)))
			var b []byte
			for seq := 1; seq <= 7; seq++ {
				b = gen(b[:0], reading{seq: seq, led: true, now: now})
				if !json.Valid(b) {
					t.Fatalf("not JSON: %s", b)
				}
				res, err := payload.Decode(b, now, payload.Options{})
				if err != nil || len(res.Fields) != tt.fields {
					t.Fatalf("%s: %d fields, %v", b, len(res.Fields), err)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s lacks %s", b, w)
				}
			}
		})
	}
	var zero Profile
	if zero.Name() != "env" || zero.Fields() != 3 {
		t.Errorf("zero Profile: %q, %d fields", zero.Name(), zero.Fields())
	}
	for _, bad := range []string{"gauss", `{"v":{walk}`, `{"name":"{device}"}`, `[{seq}]`} {
		if _, err := ParseProfile(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseProfile(%q): %v, want ErrInvalid", bad, err)
		}
	}
}

func TestParseSwitch(t *testing.T) {
	for in, want := range map[string]int{"on": 1, "ON": 1, " 1\n": 1, `"true"`: 1, "off": 0, "0": 0, "False": 0, "": -1, "toggle": -1, `{"on":true}`: -1} {
		on, ok := parseSwitch([]byte(in))
		got := -1
		if ok {
			got = map[bool]int{true: 1, false: 0}[on]
		}
		if got != want {
			t.Errorf("parseSwitch(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestSimValidate(t *testing.T) {
	for _, s := range []Sim{{Devices: -1}, {Interval: -time.Second}, {QoS: 3}, {Topic: "sensors/+/env"}, {Command: "cmd/#"}, {Topic: "$SYS/x"}, {Count: -1}} {
		if _, err := s.Run(context.Background(), Target{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", s, err)
		}
	}
	if _, err := (Sim{Devices: 2}).Run(context.Background(), Target{Devices: DeviceList([]Device{{ClientID: "a"}})}); !errors.Is(err, ErrNoDevice) {
		t.Errorf("two devices of one: %v", err)
	}
}
