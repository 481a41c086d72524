// Package health is the gateway's view of its own host: every interval it
// collects the CPU temperature, load, memory, free disk on the data dir,
// uptime and the broker's clients and message rates, and publishes them as
// JSON to perch/<hostname>/health; it also drives an optional status LED.
// Hardware that is not there (no thermal zone, no LED) is left out, never
// an error.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults and bounds of Config.Interval.
const (
	DefaultInterval = 30 * time.Second
	// FaultDiskPercent is the free space on the data dir, in percent,
	// under which the LED shows a fault.
	FaultDiskPercent = 5.0
	// faultHold is how long a failed bucket store keeps the LED at fault.
	faultHold = time.Minute
)

// ErrConfig is wrapped by New's error for a configuration it cannot use.
var ErrConfig = errors.New("health: invalid config")

// Publisher sends a message as a client would; the broker satisfies it.
type Publisher interface {
	Publish(topic string, payload []byte, qos byte, retain bool) error
}

// BrokerStats is what the health report and the LED need of the broker.
type BrokerStats struct {
	Clients       int64
	MessagesIn    int64
	MessagesOut   int64
	InRate        float64
	OutRate       float64
	StoreFailures int64 // messages not stored because a bucket's store failed
}

// StatsSource gives the broker's counters; the gateway satisfies it.
type StatsSource interface {
	BrokerStats() BrokerStats
}

// UpstreamSource tells the link to the upstream broker's state; the
// gateway satisfies it when an upstream is configured.
type UpstreamSource interface {
	UpstreamHealth() (connected bool, lagPoints int64)
}

// upstreamGrace is how long the upstream may be down before the LED shows
// a fault: a reconnect after a blip is not one.
const upstreamGrace = 2 * time.Minute

// Config configures a Monitor.
type Config struct {
	Hostname string        // names the topic: perch/<Hostname>/health
	Interval time.Duration // DefaultInterval when 0
	DataDir  string        // whose file system's free space is reported
	// Root is the file system root under which /proc and /sys are read;
	// "" is the host's own (and then periph discovers the thermal zones).
	// Tests point it at a fake tree.
	Root string
	// LED is "" (none), "act" (the board's ACT LED) or a GPIO pin name
	// such as "GPIO17". A missing LED or pin is logged, not an error.
	LED       string
	Publisher Publisher
	Stats     StatsSource    // may be nil
	Upstream  UpstreamSource // nil without an upstream
	Logger    *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// statfs replaces the file system query in tests.
	statfs func(string) (total, free uint64, err error)
}

// Topic is the topic the reports of the gateway named host go to.
func Topic(host string) string { return "perch/" + host + "/health" }

// Monitor collects and publishes the reports and drives the LED.
type Monitor struct {
	cfg     Config
	log     *slog.Logger
	col     *collector
	led     *LED
	started time.Time

	mu      sync.Mutex
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup
	lastIn  int64
	lastOut int64
	lastSF  int64
	faultAt time.Time // last new store failure
	downAt  time.Time // when the upstream was first seen down; zero while up
}

// New prepares a Monitor and, when an LED is configured and found,
// starts showing the "starting" pattern on it until Run.
func New(cfg Config) (*Monitor, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	switch {
	case cfg.Interval < 0:
		return nil, fmt.Errorf("%w: interval %v is negative", ErrConfig, cfg.Interval)
	case cfg.Publisher == nil:
		return nil, fmt.Errorf("%w: no publisher", ErrConfig)
	case cfg.Hostname == "":
		return nil, fmt.Errorf("%w: no hostname", ErrConfig)
	}
	m := &Monitor{cfg: cfg, log: cfg.Logger, started: cfg.Now(), done: make(chan struct{})}
	m.col = newCollector(cfg.Root, cfg.DataDir, cfg.statfs, cfg.Logger)
	if cfg.LED != "" {
		pin, err := OpenLED(cfg.LED, cfg.Root)
		if err != nil {
			m.log.Warn("health: no status LED", "led", cfg.LED, "err", err)
		} else {
			m.led = NewLED(pin, cfg.Logger)
		}
	}
	return m, nil
}

// Report is one health report. Fields the host cannot give are left out.
type Report struct {
	CPUTemp       *float64 `json:"cpu_temp_c,omitempty"`
	Load1         *float64 `json:"load1,omitempty"`
	Load5         *float64 `json:"load5,omitempty"`
	Load15        *float64 `json:"load15,omitempty"`
	MemTotal      *uint64  `json:"mem_total_bytes,omitempty"`
	MemAvailable  *uint64  `json:"mem_available_bytes,omitempty"`
	DiskTotal     *uint64  `json:"disk_total_bytes,omitempty"`
	DiskFree      *uint64  `json:"disk_free_bytes,omitempty"`
	DiskFreePct   *float64 `json:"disk_free_percent,omitempty"`
	Uptime        *float64 `json:"uptime_s,omitempty"`
	GatewayUptime float64  `json:"gateway_uptime_s"`
	Clients       *int64   `json:"clients,omitempty"`
	MessagesInPS  *float64 `json:"messages_in_per_s,omitempty"`
	MessagesOutPS *float64 `json:"messages_out_per_s,omitempty"`
	StoreFailures *int64   `json:"store_failures,omitempty"`
	// Upstream: 1 when connected, 0 when not; absent without an upstream.
	UpstreamConnected *int   `json:"upstream_connected,omitempty"`
	UpstreamLag       *int64 `json:"upstream_lag_points,omitempty"`
}

// Collect gathers one report.
func (m *Monitor) Collect() Report {
	r := m.col.collect()
	r.GatewayUptime = roundTo(m.cfg.Now().Sub(m.started).Seconds(), 0)
	if m.cfg.Stats != nil {
		s := m.cfg.Stats.BrokerStats()
		in, out := roundTo(s.InRate, 2), roundTo(s.OutRate, 2)
		r.Clients, r.MessagesInPS, r.MessagesOutPS, r.StoreFailures = &s.Clients, &in, &out, &s.StoreFailures
	}
	if m.cfg.Upstream != nil {
		up, lag := m.cfg.Upstream.UpstreamHealth()
		c := 0
		if up {
			c = 1
		}
		r.UpstreamConnected, r.UpstreamLag = &c, &lag
	}
	return r
}

// publish collects, publishes and updates the LED's disk fault.
func (m *Monitor) publish() {
	r := m.Collect()
	if m.led != nil {
		m.led.setDiskFault(r.DiskFreePct != nil && *r.DiskFreePct < FaultDiskPercent)
	}
	body, err := json.Marshal(r)
	if err != nil {
		m.log.Error("health: encoding the report", "err", err)
		return
	}
	if err := m.cfg.Publisher.Publish(Topic(m.cfg.Hostname), body, 0, true); err != nil {
		m.log.Warn("health: publishing the report", "topic", Topic(m.cfg.Hostname), "err", err)
	}
}

// sample feeds the LED the broker's traffic and store failures of the last second.
func (m *Monitor) sample() {
	if m.led == nil || m.cfg.Stats == nil {
		return
	}
	s := m.cfg.Stats.BrokerStats()
	now := m.cfg.Now()
	m.led.setTraffic(s.MessagesIn != m.lastIn || s.MessagesOut != m.lastOut)
	if s.StoreFailures > m.lastSF {
		m.faultAt = now
	}
	m.led.setStoreFault(!m.faultAt.IsZero() && now.Sub(m.faultAt) < faultHold)
	m.lastIn, m.lastOut, m.lastSF = s.MessagesIn, s.MessagesOut, s.StoreFailures
	if m.cfg.Upstream != nil {
		if up, _ := m.cfg.Upstream.UpstreamHealth(); up {
			m.downAt = time.Time{}
		} else if m.downAt.IsZero() {
			m.downAt = now
		}
		m.led.setUpstreamFault(!m.downAt.IsZero() && now.Sub(m.downAt) >= upstreamGrace)
	}
}

// Run publishes a report at once and then every interval, until ctx is
// done or the Monitor is closed; the LED shows "ready". It returns nil:
// a failure of the health reports never stops the gateway.
func (m *Monitor) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.wg.Add(1)
	m.mu.Unlock()
	defer m.wg.Done()

	if m.led != nil {
		m.led.setReady()
		if m.cfg.Stats != nil {
			s := m.cfg.Stats.BrokerStats()
			m.lastIn, m.lastOut, m.lastSF = s.MessagesIn, s.MessagesOut, s.StoreFailures
		}
	}
	m.publish()
	report := time.NewTicker(m.cfg.Interval)
	defer report.Stop()
	var tick <-chan time.Time
	if m.led != nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.done:
			return nil
		case <-report.C:
			m.publish()
		case <-tick:
			m.sample()
		}
	}
}

// Close stops Run and the LED (left off) and waits for them. It is safe to
// call more than once.
func (m *Monitor) Close() error {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.done)
	}
	m.mu.Unlock()
	m.wg.Wait()
	if m.led != nil {
		m.led.Close()
	}
	return nil
}
