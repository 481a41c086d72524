package health

import (
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testdataDir = "../../testdata/health"

type fakePub struct {
	mu   sync.Mutex
	msgs []string
}

func (p *fakePub) Publish(topic string, payload []byte, qos byte, retain bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, topic+" "+string(payload))
	return nil
}

type fakeStats struct{ s BrokerStats }

func (f fakeStats) BrokerStats() BrokerStats { return f.s }

func fakeDisk(string) (uint64, uint64, error) { return 32 << 30, 8 << 30, nil }

func TestCollectGolden(t *testing.T) {
	for _, name := range []string{"pi", "vm"} {
		t.Run(name, func(t *testing.T) {
			start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			now := start
			m, err := New(Config{Hostname: "h", Root: filepath.Join(testdataDir, name), Publisher: &fakePub{},
				Stats: fakeStats{BrokerStats{Clients: 3, InRate: 1.234, OutRate: 2.5}}, Now: func() time.Time { return now }, statfs: fakeDisk})
			if err != nil {
				t.Fatal(err)
			}
			now = start.Add(90 * time.Second)
			got, _ := json.MarshalIndent(m.Collect(), "", "  ")
			golden := filepath.Join(testdataDir, name+".json")
			if *update {
				os.WriteFile(golden, append(got, '\n'), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != string(got)+"\n" {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// periph's Sense takes a first reading under 100 as whole degrees for
// good; each reading here is judged on its own.
func TestThermalQuirk(t *testing.T) {
	root := t.TempDir()
	zone := filepath.Join(root, "sys/class/thermal/thermal_zone0")
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	os.MkdirAll(zone, 0o755)
	c := newCollector(root, root, fakeDisk, slog.New(slog.DiscardHandler))
	for _, tt := range []struct {
		raw  string
		want float64
	}{{"42\n", 42}, {"48312\n", 48.31}, {"0\n", 0}, {"51000\n", 51}} {
		os.WriteFile(filepath.Join(zone, "temp"), []byte(tt.raw), 0o644)
		r := c.collect()
		if r.CPUTemp == nil || *r.CPUTemp != tt.want {
			t.Errorf("reading %q: got %v, want %v", tt.raw, r.CPUTemp, tt.want)
		}
	}
}

// recPin records every level set and when.
type recPin struct {
	*gpiotest.Pin
	mu    sync.Mutex
	at    []time.Time
	level []gpio.Level
}

func (p *recPin) Out(l gpio.Level) error {
	p.mu.Lock()
	p.at = append(p.at, time.Now())
	p.level = append(p.level, l)
	p.mu.Unlock()
	return p.Pin.Out(l)
}

// lastCycle is the last n complete steps recorded, then forgets them all.
func (p *recPin) lastCycle(n int) []Step {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Step
	for i := len(p.at) - 1 - n; i >= 0 && i < len(p.at)-1; i++ {
		out = append(out, Step{On: p.level[i] == gpio.High, D: p.at[i+1].Sub(p.at[i])})
	}
	p.at, p.level = nil, nil
	return out
}

// sameCycle says whether got is want, possibly started at another step.
func sameCycle(got, want []Step) bool {
	if len(got) != len(want) {
		return false
	}
	for r := range want {
		ok := true
		for i := range got {
			ok = ok && got[i] == want[(i+r)%len(want)]
		}
		if ok {
			return true
		}
	}
	return false
}

func TestLEDPatterns(t *testing.T) {
	if err := gpioreg.Register(&gpiotest.Pin{N: "PERCHTEST1", Num: 901}); err != nil {
		t.Fatal(err)
	}
	defer gpioreg.Unregister("PERCHTEST1")
	p, err := OpenLED("PERCHTEST1", "/nonexistent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLED("GPIO999", "/nonexistent"); err == nil {
		t.Error("a missing pin was found")
	}
	synctest.Test(t, func(t *testing.T) {
		rec := &recPin{Pin: p.(*gpiotest.Pin)}
		l := NewLED(rec, nil)
		for _, tt := range []struct {
			state State
			set   func()
		}{
			{Starting, func() {}},
			{Ready, l.setReady},
			{Traffic, func() { l.setTraffic(true) }},
			{Fault, func() { l.setStoreFault(true) }},
			{Ready, func() { l.setStoreFault(false); l.setTraffic(false) }},
			{Fault, func() { l.setDiskFault(true) }},
		} {
			tt.set()
			if got := l.State(); got != tt.state {
				t.Fatalf("state %v, want %v", got, tt.state)
			}
			time.Sleep(3 * time.Second) // let the previous cycle finish
			rec.lastCycle(0)
			time.Sleep(6 * time.Second)
			synctest.Wait()
			want := Pattern(tt.state)
			if got := rec.lastCycle(len(want)); !sameCycle(got, want) {
				t.Errorf("%v: %v, want %v", tt.state, got, want)
			}
		}
		l.Close()
		synctest.Wait()
		if p.(*gpiotest.Pin).Read() != gpio.Low {
			t.Error("LED left on after Close")
		}
	})
}

func TestRunPublishesAndCloseStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pub := &fakePub{}
		m, err := New(Config{Hostname: "gw", Interval: 5 * time.Second, Root: filepath.Join(testdataDir, "vm"), Publisher: pub, statfs: fakeDisk})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- m.Run(context.Background()) }()
		time.Sleep(11 * time.Second)
		synctest.Wait()
		pub.mu.Lock()
		n := len(pub.msgs)
		first := pub.msgs[0]
		pub.mu.Unlock()
		if n != 3 {
			t.Errorf("%d reports in 11s at 5s, want 3", n)
		}
		if want := "perch/gw/health {"; first[:len(want)] != want {
			t.Errorf("published %s", first)
		}
		m.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		m.Close()
	})
}

type fakeUpstream struct {
	mu        sync.Mutex
	connected bool
	lag       int64
}

func (f *fakeUpstream) UpstreamHealth() (bool, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connected, f.lag
}

// The LED shows a fault once the upstream has been down for two minutes,
// not at a blip, and the report carries the link's state.
func TestUpstreamFault(t *testing.T) {
	up := &fakeUpstream{connected: true}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m, err := New(Config{Hostname: "gw", Root: filepath.Join(testdataDir, "vm"), Publisher: &fakePub{},
		Stats: fakeStats{}, Upstream: up, Now: func() time.Time { return now }, statfs: fakeDisk})
	if err != nil {
		t.Fatal(err)
	}
	m.led = NewLED(&gpiotest.Pin{N: "PERCHTEST2"}, nil)
	defer m.led.Close()
	m.led.setReady()
	step := func(d time.Duration, connected bool, want State) {
		t.Helper()
		now = now.Add(d)
		up.mu.Lock()
		up.connected, up.lag = connected, 42
		up.mu.Unlock()
		m.sample()
		if got := m.led.State(); got != want {
			t.Fatalf("after %v (connected %v): LED %v, want %v", d, connected, got, want)
		}
	}
	step(time.Second, true, Ready)
	step(time.Second, false, Ready)     // down: not a fault yet
	step(119*time.Second, false, Ready) // 1m59s
	step(2*time.Second, false, Fault)   // over 2 minutes
	step(time.Second, true, Ready)      // back
	step(90*time.Second, false, Ready)  // a new outage starts its own count
	r := m.Collect()
	if r.UpstreamConnected == nil || *r.UpstreamConnected != 0 || r.UpstreamLag == nil || *r.UpstreamLag != 42 {
		t.Errorf("report: connected %v lag %v", r.UpstreamConnected, r.UpstreamLag)
	}
	// Without an upstream the report leaves the members out.
	m2, err := New(Config{Hostname: "gw", Root: filepath.Join(testdataDir, "vm"), Publisher: &fakePub{}, statfs: fakeDisk})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(m2.Collect()); strings.Contains(string(b), "upstream") {
		t.Errorf("report without an upstream: %s", b)
	}
}
