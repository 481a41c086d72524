package throttle

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestDefaults(t *testing.T) {
	c := newClock()
	l := New(Config{Now: c.Now})
	const addr = "192.0.2.1:4000"
	for i := range DefaultBurst {
		if !l.Allow(addr) {
			t.Fatalf("refused after %d failures, want %d allowed", i, DefaultBurst)
		}
		l.Fail(addr)
	}
	if l.Allow(addr) {
		t.Fatalf("allowed after %d failures", DefaultBurst)
	}
	c.Advance(DefaultEvery)
	if !l.Allow(addr) {
		t.Fatalf("refused %v after the last failure", DefaultEvery)
	}
	if l.max != DefaultMaxSources {
		t.Errorf("MaxSources = %d, want %d", l.max, DefaultMaxSources)
	}
	// The real clock works too.
	if !New(Config{}).Allow(addr) {
		t.Error("zero Config refuses a fresh source")
	}
}

func TestBurstRefusalRecovery(t *testing.T) {
	const (
		burst = 3
		every = 2 * time.Second
		addr  = "198.51.100.7:51000"
	)
	c := newClock()
	l := New(Config{Burst: burst, Every: every, Now: c.Now})

	// The budget: burst failures, then refusal.
	for i := range burst {
		if !l.Allow(addr) {
			t.Fatalf("refused after %d failures", i)
		}
		l.Fail(addr)
	}
	if l.Allow(addr) {
		t.Fatal("allowed after the burst was spent")
	}
	c.Advance(every - time.Millisecond)
	if l.Allow(addr) {
		t.Fatal("allowed before a failure was forgiven")
	}
	c.Advance(time.Millisecond)
	if !l.Allow(addr) {
		t.Fatal("refused once a failure was forgiven")
	}
	// One more attempt per Every.
	l.Fail(addr)
	if l.Allow(addr) {
		t.Fatal("allowed straight after the extra attempt failed")
	}
	// Failures while throttled are not counted: retrying too fast does not
	// push recovery back.
	for range 9 {
		c.Advance(every / 10)
		if l.Allow(addr) {
			t.Fatal("allowed before Every had passed")
		}
		l.Fail(addr)
	}
	c.Advance(every / 10)
	if !l.Allow(addr) {
		t.Fatal("refused after Every, although the extra failures came while throttled")
	}
	// Full recovery: after burst × every with no failures the whole budget is back.
	c.Advance(burst * every)
	for i := range burst {
		if !l.Allow(addr) {
			t.Fatalf("after full recovery refused after %d failures", i)
		}
		l.Fail(addr)
	}
	if l.Allow(addr) {
		t.Fatal("allowed beyond the burst after recovery")
	}
	// Success forgets the failures.
	l.Succeed(addr)
	if !l.Allow(addr) {
		t.Fatal("refused after Succeed")
	}
	if n := l.Len(); n != 0 {
		t.Errorf("Len after Succeed = %d, want 0", n)
	}
}

func TestSourcesIndependent(t *testing.T) {
	c := newClock()
	l := New(Config{Burst: 2, Every: time.Second, Now: c.Now})
	l.Fail("192.0.2.1:1")
	l.Fail("192.0.2.1:2")
	if l.Allow("192.0.2.1:3") {
		t.Fatal("192.0.2.1 allowed after its burst")
	}
	for _, other := range []string{"192.0.2.2:1", "[2001:db8::1]:1", "192.0.2.10:1"} {
		if !l.Allow(other) {
			t.Errorf("%s refused for failures of 192.0.2.1", other)
		}
	}
	l.Succeed("192.0.2.2:9") // forgetting another source changes nothing
	if l.Allow("192.0.2.1:3") {
		t.Error("Succeed of 192.0.2.2 forgave 192.0.2.1")
	}
}

func TestKey(t *testing.T) {
	ip := func(s string) key { return key{ip: netip.MustParseAddr(s)} }
	tests := []struct {
		addr string
		want key
	}{
		{"192.0.2.1:1883", ip("192.0.2.1")},
		{"192.0.2.1", ip("192.0.2.1")},
		{"[::ffff:192.0.2.1]:1883", ip("192.0.2.1")},
		{"[2001:db8:1:2:3:4:5:6]:8883", ip("2001:db8:1:2::")},
		{"[2001:db8:1:2::ffff]:1", ip("2001:db8:1:2::")},
		{"2001:db8:1:2::9", ip("2001:db8:1:2::")},
		{"[2001:db8:1:2::9]", ip("2001:db8:1:2::")},
		{"[fe80::1%eth0]:1883", ip("fe80::")},
		{"[::1]:1883", ip("::")},
		{"local", key{other: "local"}},
		{"pipe:1", key{other: "pipe"}},
		{"", key{}},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := keyOf(tt.addr); got != tt.want {
				t.Errorf("keyOf(%q) = %+v, want %+v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestGrouping(t *testing.T) {
	tests := []struct {
		name       string
		fail, peer string
		same       bool
	}{
		{"port stripped", "192.0.2.1:1000", "192.0.2.1:2000", true},
		{"bare IPv4", "192.0.2.1:1000", "192.0.2.1", true},
		{"IPv4-mapped IPv6", "[::ffff:192.0.2.1]:1000", "192.0.2.1:3", true},
		{"IPv6 same /64", "[2001:db8:1:2::1]:1883", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:5555", true},
		{"IPv6 other /64", "[2001:db8:1:2::1]:1883", "[2001:db8:1:3::1]:1883", false},
		{"IPv4 neighbour", "192.0.2.1:1", "192.0.2.2:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(Config{Burst: 1, Every: time.Minute, Now: newClock().Now})
			l.Fail(tt.fail)
			if got := !l.Allow(tt.peer); got != tt.same {
				t.Errorf("after a failure from %s, %s throttled = %v, want %v", tt.fail, tt.peer, got, tt.same)
			}
		})
	}
}

func TestEviction(t *testing.T) {
	c := newClock()
	l := New(Config{Burst: 1, Every: time.Hour, MaxSources: 3, Now: c.Now})
	addr := func(i int) string { return fmt.Sprintf("10.0.0.%d:1", i) }
	for i := 1; i <= 3; i++ {
		l.Fail(addr(i))
	}
	l.Allow(addr(1)) // 1 is now more recently used than 2
	for i := 4; i <= 5; i++ {
		l.Fail(addr(i))
	}
	if n := l.Len(); n != 3 {
		t.Fatalf("Len = %d, want MaxSources 3", n)
	}
	for i, want := range map[int]bool{1: false, 2: true, 3: true, 4: false, 5: false} {
		if got := l.Allow(addr(i)); got != want {
			t.Errorf("Allow(%s) = %v, want %v (least recently used evicted)", addr(i), got, want)
		}
	}
	// A spray of addresses keeps memory bounded.
	for i := range 10_000 {
		l.Fail(fmt.Sprintf("[2001:db8:%x::1]:1", i))
	}
	if n := l.Len(); n != 3 {
		t.Fatalf("Len after a spray = %d, want 3", n)
	}
}

func TestConcurrent(t *testing.T) {
	c := newClock()
	l := New(Config{Burst: 5, Every: time.Second, MaxSources: 50, Now: c.Now})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				addr := fmt.Sprintf("10.0.%d.%d:%d", g, i%97, i)
				if l.Allow(addr) {
					l.Fail(addr)
				}
				if i%13 == 0 {
					l.Succeed(addr)
				}
				if i%100 == 0 {
					c.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n > 50 {
		t.Fatalf("Len = %d, want at most MaxSources 50", n)
	}
}

func BenchmarkAllowFail(b *testing.B) {
	l := New(Config{})
	addrs := make([]string, 256)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("[2001:db8:%x::1]:1883", i)
	}
	i := 0
	for b.Loop() {
		a := addrs[i%len(addrs)]
		if l.Allow(a) {
			l.Fail(a)
		}
		i++
	}
}
