package upstream

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/perch-gw/perch/gateway/payload"
	"github.com/perch-gw/perch/gateway/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The batch message, pinned by a golden file: the format is a contract
// with whoever consumes it upstream. Another Perch reads it back.
func TestBatchFormat(t *testing.T) {
	e := newEncoder("gw1", "env")
	for _, en := range []store.Entry{
		{Pos: store.Pos{Segment: 3, Offset: 1024}, Time: 1764086400000, Device: "esp32-north",
			Fields: []payload.Field{{Name: "temp", Value: 21.5}, {Name: "hum", Value: 40}}},
		{Pos: store.Pos{Segment: 3, Offset: 1060}, Time: 1764086460000, Device: "esp32-north",
			Fields: []payload.Field{{Name: "temp", Value: 21.6}}},
		{Pos: store.Pos{Segment: 4, Offset: 0}, Time: 1764086460000, Device: "esp32-south",
			Fields: []payload.Field{{Name: "hum", Value: 0.000001}, {Name: "door.open", Value: 1}}},
	} {
		e.add(&en)
	}
	got, err := e.finish()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("..", "..", "testdata", "upstream", "batch.json")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("batch\n%s\nwant\n%s", got, want)
	}
	if !json.Valid(got) {
		t.Error("not JSON")
	}
	b, err := payload.DecodeBatch(got, payload.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != "gw1/env/3:1024" || len(b.Records) != 3 || b.Records[2].Device != "gw1/esp32-south" || len(b.Records[2].Fields) != 2 {
		t.Errorf("read back: %+v", b)
	}
	// A second batch from the same encoder starts clean.
	e.reset()
	e.add(&store.Entry{Pos: store.Pos{Segment: 5, Offset: 8}, Time: 1, Device: "d", Fields: []payload.Field{{Name: "x", Value: 2}}})
	got, _ = e.finish()
	if want := `{"gateway":"gw1","bucket":"env","batch":"gw1/env/5:8","from":"5:8","to":"5:8","count":1,"points":1,"records":[
{"ts":1,"device":"d","x":2}
]}`; string(got) != want {
		t.Errorf("second batch\n%s\nwant\n%s", got, want)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{URL: "mqtts://broker:8883"}, ""},
		{Config{URL: "wss://broker/mqtt", Version: "3.1.1"}, ""},
		{Config{URL: "http://broker"}, `scheme "http" is not mqtt, mqtts, ws or wss`},
		{Config{URL: "mqtts://"}, "no host"},
		{Config{URL: "mqtt://broker", CAFile: "/x"}, "need a TLS URL"},
		{Config{URL: "mqtts://broker", CAFile: "/nonexistent/ca.pem"}, "ca_file: open /nonexistent/ca.pem"},
		{Config{URL: "mqtts://broker", CertFile: "/x"}, "cert_file and key_file go together"},
		{Config{URL: "mqtts://broker", Version: "4"}, `mqtt_version "4" is not 5 or 3.1.1`},
		{Config{URL: "mqtts://broker", Topic: "up/{gateway}"}, "needs {bucket}"},
		{Config{URL: "mqtts://broker", Topic: "up/#/{bucket}"}, "topic"},
		{Config{URL: "mqtts://broker", Bridge: []Rule{{Direction: "sideways", Filter: "a"}}}, `bridge[0]: direction "sideways"`},
		{Config{URL: "mqtts://broker", Bridge: []Rule{{Direction: "out", Filter: "a/#/b"}}}, "bridge[0]"},
		{Config{URL: "mqtts://broker", Bridge: []Rule{{Direction: "in", Filter: "$SYS/#"}}}, "belong to the broker"},
		{Config{URL: "mqtts://broker", Bridge: []Rule{{Direction: "in", Filter: "a", LocalPrefix: "x/+/"}}}, "wildcard"},
		{Config{URL: "mqtts://broker", Bridge: []Rule{{Direction: "in", Filter: "a", QoS: 2}}}, "QoS 0 or 1"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestMapTopic(t *testing.T) {
	for _, tc := range []struct{ topic, from, to, want string }{
		{"sensors/t", "", "site1/", "site1/sensors/t"},
		{"cmd/led", "cmd/", "site1/cmd/", "site1/cmd/led"},
		{"site1/cmd/led", "site1/cmd/", "cmd/", "cmd/led"},
		{"other/x", "cmd/", "up/", "up/other/x"},
		{"a", "", "", "a"},
	} {
		if got := mapTopic(tc.topic, tc.from, tc.to); got != tc.want {
			t.Errorf("mapTopic(%q, %q, %q) = %q, want %q", tc.topic, tc.from, tc.to, got, tc.want)
		}
	}
}

// Backoff doubles from MinBackoff to MaxBackoff, each wait between half
// and all of its step, and starts again after a success.
func TestBackoff(t *testing.T) {
	clock := clockwork.NewFakeClock()
	u := &Upstream{cfg: Config{MinBackoff: time.Second, MaxBackoff: time.Minute}.withDefaults(), clock: clock}
	u.cfg.Clock = clock
	u.log = u.cfg.Logger
	steps := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, s := range steps {
		d := u.failed(errTest)
		if hi := s * time.Second; d < hi/2 || d > hi {
			t.Errorf("attempt %d: waited %v, want %v to %v", i+1, d, hi/2, hi)
		}
	}
	if u.attempts != len(steps) || u.next.IsZero() || !strings.Contains(u.lastErr, "Bad User Name") {
		t.Errorf("attempts %d, next %v, last error %q", u.attempts, u.next, u.lastErr)
	}
}

var errTest = &RefusedError{Code: 0x86, Reason: "Bad User Name or Password"}

func TestLoopGuard(t *testing.T) {
	clock := clockwork.NewFakeClock()
	g := newLoopGuard(clock)
	if g.take(loopIn, "a", []byte("x")) {
		t.Error("empty guard matched")
	}
	g.put(loopIn, "a", []byte("x"))
	if g.take(loopOut, "a", []byte("x")) || g.take(loopIn, "a", []byte("y")) || g.take(loopIn, "b", []byte("x")) {
		t.Error("matched another side, payload or topic")
	}
	if !g.take(loopIn, "a", []byte("x")) || g.take(loopIn, "a", []byte("x")) {
		t.Error("a put message is taken exactly once")
	}
	g.put(loopIn, "a", []byte("x"))
	clock.Advance(loopTTL + time.Second)
	if g.take(loopIn, "a", []byte("x")) {
		t.Error("an expired message matched")
	}
}

// max_rate: a second's worth at once, then the rest paced by the clock.
func TestLimiter(t *testing.T) {
	clock := clockwork.NewFakeClock()
	l := newLimiter(1000, clock)
	done := make(chan error, 1)
	go func() { done <- l.wait(t.Context(), 2500) }()
	// 1000 at once (the burst), 1000 after a second, 500 after half more.
	for _, d := range []time.Duration{time.Second, 500 * time.Millisecond} {
		clock.BlockUntil(1)
		select {
		case err := <-done:
			t.Fatalf("2500 points at 1000/s passed too soon: %v", err)
		default:
		}
		clock.Advance(d)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := newLimiter(0, clock).wait(t.Context(), 1<<40); err != nil {
		t.Errorf("no bound: %v", err)
	}
}
