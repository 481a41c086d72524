// Package throttle limits failed login attempts per source address.
//
// Each source has a budget of Burst failures that refills at one every
// Every. While the budget lasts, [Limiter.Allow] says yes; once it is spent
// the source may try once more each time a failure has been refilled. A
// caller checks Allow before a login, refuses (or, when that is cheap,
// still checks) when it says no, and reports the outcome with
// [Limiter.Fail] or [Limiter.Succeed].
//
// Sources are keyed by IP address, without the port; IPv6 addresses by
// their /64 prefix, the block a single host or network usually gets, so
// rotating through a /64 does not buy fresh budgets.
//
// Allow does not reserve anything: attempts that pass it together are all
// checked. Reserve does: it charges the attempt up front, so a burst of
// concurrent guesses from one source gets exactly its budget, and Refund
// gives the charge back for an attempt that succeeded. The broker and the
// console login use Reserve and Refund.
package throttle

import (
	"container/list"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Defaults for a zero Config.
const (
	DefaultBurst      = 10
	DefaultEvery      = 2 * time.Second
	DefaultMaxSources = 10_000
)

// Config configures a Limiter. The zero value works; zero or negative
// fields take the defaults.
type Config struct {
	// Burst is how many failures a source may have before it is throttled.
	Burst int
	// Every is how long it takes for one failure to be forgiven: a
	// throttled source may try again once per Every.
	Every time.Duration
	// MaxSources bounds how many sources are remembered. When it is
	// reached the least recently used one is forgotten, so a flood of
	// source addresses costs bounded memory (and at worst frees some
	// sources early).
	MaxSources int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// A Limiter counts failed logins per source. It is safe for concurrent
// use; every method takes one mutex for a map lookup.
type Limiter struct {
	burst time.Duration // Burst × Every: the debt at which a source is throttled
	every time.Duration
	max   int
	now   func() time.Time

	mu      sync.Mutex
	sources map[key]*list.Element // of *source
	lru     list.List             // most recently used at the front
}

// A source is remembered as the time at which its failures will all have
// been forgiven (the "theoretical arrival time" of GCRA): its debt is
// clear - now, one Every per unforgiven failure.
type source struct {
	key   key
	clear time.Time
}

// key identifies a source: an IPv4 address, an IPv6 /64 (as its masked
// address), or for an address that is not an IP the host text itself.
type key struct {
	ip    netip.Addr
	other string
}

// New returns a Limiter for cfg.
func New(cfg Config) *Limiter {
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.MaxSources <= 0 {
		cfg.MaxSources = DefaultMaxSources
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if maxBurst := int(math.MaxInt64 / int64(cfg.Every)); cfg.Burst > maxBurst {
		cfg.Burst = maxBurst // Burst × Every must fit in a Duration
	}
	return &Limiter{
		burst:   time.Duration(cfg.Burst) * cfg.Every,
		every:   cfg.Every,
		max:     cfg.MaxSources,
		now:     cfg.Now,
		sources: make(map[key]*list.Element),
	}
}

// Allow reports whether addr ("ip:port", or a bare IP) has failure budget
// left, so a login from it should be checked. It records nothing.
func (l *Limiter) Allow(addr string) bool {
	k := keyOf(addr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.sources[k]
	if !ok {
		return true
	}
	l.lru.MoveToFront(e)
	return l.allowed(e.Value.(*source), now)
}

// allowed reports whether s can take one more failure: its debt is at most
// Burst-1 failures.
func (l *Limiter) allowed(s *source, now time.Time) bool {
	return s.clear.Sub(now) <= l.burst-l.every
}

// Fail records a failed login from addr. A failure while the source is
// already throttled is not counted, so a client that keeps retrying too
// fast is held to one attempt per Every rather than locked out for good.
func (l *Limiter) Fail(addr string) {
	k := keyOf(addr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sourceLocked(k, now)
	if !l.allowed(s, now) {
		return
	}
	l.chargeLocked(s, now)
}

// sourceLocked finds or makes k's entry, most recently used, evicting the
// least recently used source when full.
func (l *Limiter) sourceLocked(k key, now time.Time) *source {
	e, ok := l.sources[k]
	if ok {
		l.lru.MoveToFront(e)
		return e.Value.(*source)
	}
	if l.lru.Len() >= l.max {
		old := l.lru.Back()
		delete(l.sources, old.Value.(*source).key)
		l.lru.Remove(old)
	}
	s := &source{key: k, clear: now}
	l.sources[k] = l.lru.PushFront(s)
	return s
}

// chargeLocked adds one failure to s's debt.
func (l *Limiter) chargeLocked(s *source, now time.Time) {
	if s.clear.Before(now) {
		s.clear = now
	}
	s.clear = s.clear.Add(l.every)
}

// Reserve is Allow and Fail in one step: it reports whether addr has
// failure budget left and, if so, charges one failure now. Concurrent
// attempts from one source therefore cannot all pass before the first of
// them fails; a caller whose attempt succeeds gives the charge back with
// Refund.
func (l *Limiter) Reserve(addr string) bool {
	k := keyOf(addr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sourceLocked(k, now)
	if !l.allowed(s, now) {
		return false
	}
	l.chargeLocked(s, now)
	return true
}

// Refund gives back one failure charged by Reserve, for an attempt that
// succeeded. Unlike Succeed it forgives nothing else, so a good login from
// an address shared with a guesser (NAT, a proxy) does not reset the
// guesser's budget.
func (l *Limiter) Refund(addr string) {
	k := keyOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.sources[k]
	if !ok {
		return
	}
	s := e.Value.(*source)
	s.clear = s.clear.Add(-l.every)
	if !s.clear.After(l.now()) {
		delete(l.sources, k)
		l.lru.Remove(e)
	}
}

// Succeed forgets the failures of addr: a source that proves it knows a
// password is not a guesser.
func (l *Limiter) Succeed(addr string) {
	k := keyOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.sources[k]; ok {
		delete(l.sources, k)
		l.lru.Remove(e)
	}
}

// Len reports how many sources are remembered, at most MaxSources.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// keyOf maps an address to its source: the port is dropped, IPv4-mapped
// IPv6 addresses count as IPv4, IPv6 addresses are grouped by /64 (zones
// dropped), and anything that is not an IP is used as it is.
func keyOf(addr string) key {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	} else if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		host = addr[1 : len(addr)-1]
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return key{other: host}
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64) // cannot fail: 64 bits of an IPv6 address
		ip = p.Addr()
	}
	return key{ip: ip}
}
