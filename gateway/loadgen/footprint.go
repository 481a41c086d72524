package loadgen

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// StartTimer starts fresh copies of a broker, beside the running one, to
// time its start-up.
type StartTimer interface {
	// TimeStart starts a new broker process keeping its state in dir (empty
	// on a cold start, left from an earlier start on a warm one) and
	// returns the time from exec until a TLS handshake with its MQTT over
	// TLS listener succeeded. The process is stopped before it returns.
	TimeStart(ctx context.Context, dir string) (time.Duration, error)
}

// startPoll is how often a starting broker is dialled, and dialTimeout
// bounds one attempt (loopback).
const (
	startPoll   = 2 * time.Millisecond
	dialTimeout = 100 * time.Millisecond
)

// timeStart execs a broker with start and dials addr until a TLS handshake
// succeeds, then stops the broker.
func timeStart(ctx context.Context, addr string, start func() (*child, error)) (time.Duration, error) {
	if err := checkLoopback(addr); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	t0 := time.Now()
	ch, err := start()
	if err != nil {
		return 0, err
	}
	defer ch.stop()
	// Not verified: a fresh gateway makes its own CA, and only the
	// handshake's completion is timed.
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: dialTimeout},
		Config:    &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
	}
	tick := time.NewTicker(startPoll)
	defer tick.Stop()
	var last error
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			elapsed := time.Since(t0)
			c.Close()
			return elapsed, nil
		}
		last = err
		if ch.hasExited() {
			return 0, ch.exitError()
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: %s accepted no TLS handshake: %v: %v\n%s", ErrBroker, addr, ctx.Err(), last, ch.logTail(2048))
		case <-tick.C:
		}
	}
}

// perchStarts starts `perch serve` on a data directory of its own.
type perchStarts struct{ p *Perch }

func (s perchStarts) TimeStart(ctx context.Context, dir string) (time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := append([]string{"serve",
		"--data-dir", filepath.Join(dir, "data"),
		"--mqtt-tls-address", addr,
		"--api-address", "127.0.0.1:0",
	}, s.p.args...)
	return timeStart(ctx, addr, func() (*child, error) {
		return startChild(s.p.bin, args, perchEnv(), filepath.Join(dir, "perch.log"))
	})
}

// mosquittoStarts starts Mosquitto with the running broker's certificates
// and password file, on a port of its own.
type mosquittoStarts struct{ m *Mosquitto }

func (s mosquittoStarts) TimeStart(ctx context.Context, dir string) (time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(mosquittoConf(s.m.dir, port, s.m.cfg, s.m.certs)), 0o600); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBroker, err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return timeStart(ctx, addr, func() (*child, error) {
		return startChild(s.m.bin, []string{"-c", conf}, nil, filepath.Join(dir, "mosquitto.log"))
	})
}

// Footprint measures what a gateway costs an appliance: its binary's size,
// how fast a fresh process accepts TLS, its memory with a few idle devices
// and buckets, and what it writes while idle (issue #5).
type Footprint struct {
	Devices int           // idle MQTT over TLS connections; default 10
	Buckets int           // buckets created, where the target has them; default 5
	Starts  int           // cold and warm starts timed; default 5
	Settle  time.Duration // wait after connecting before RSS; default 5 s
	Idle    time.Duration // period whose writes are counted; default 60 s
}

// FootprintResult is the outcome of a Footprint run.
type FootprintResult struct {
	Scenario   Footprint
	BinarySize int64 // -1 when unknown
	// ColdStart is the median time from exec of a process with a new,
	// empty data directory until a TLS handshake succeeded; WarmStart the
	// same for a second process on that directory.
	ColdStart, WarmStart   time.Duration // -1 when not measured
	ColdStarts, WarmStarts []time.Duration
	Connected, Buckets     int
	// RSS is the broker's resident memory after Settle with the devices
	// connected and the buckets made.
	RSS uint64
	// Written is the broker's wchar (/proc/<pid>/io: bytes passed to write
	// system calls, whatever the page cache later writes) over IdleTime;
	// PerHour scales it to an hour. -1 when unknown.
	Written  int64
	IdleTime time.Duration
	PerHour  float64
	OtherCPU float64
	Err      error
}

// Name describes the scenario.
func (s Footprint) Name() string {
	s = s.withDefaults()
	return fmt.Sprintf("%d idle TLS devices, %d buckets, %s idle", s.Devices, s.Buckets, s.Idle)
}

func (s Footprint) withDefaults() Footprint {
	if s.Devices == 0 {
		s.Devices = 10
	}
	if s.Buckets == 0 {
		s.Buckets = 5
	}
	if s.Starts == 0 {
		s.Starts = 5
	}
	if s.Settle == 0 {
		s.Settle = 5 * time.Second
	}
	if s.Idle == 0 {
		s.Idle = 60 * time.Second
	}
	return s
}

// Median returns the median of ds, -1 when empty.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// Run runs the scenario against t: start times first (beside the running
// broker, which is idle then), then the idle measurements on t itself.
func (s Footprint) Run(ctx context.Context, t Target) (FootprintResult, error) {
	s = s.withDefaults()
	res := FootprintResult{Scenario: s, BinarySize: -1, ColdStart: -1, WarmStart: -1, Written: -1, OtherCPU: -1}
	log := t.log().With("scenario", "footprint")
	if t.Binary != "" {
		if fi, err := os.Stat(t.Binary); err == nil {
			res.BinarySize = fi.Size()
		}
	}
	if t.Starts != nil {
		for i := range s.Starts {
			cold, warm, err := timeColdWarm(ctx, t.Starts)
			if err != nil {
				res.Err = err
				return res, err
			}
			log.Info("started", "run", i+1, "cold", cold.Round(time.Microsecond), "warm", warm.Round(time.Microsecond))
			res.ColdStarts = append(res.ColdStarts, cold)
			res.WarmStarts = append(res.WarmStarts, warm)
		}
		res.ColdStart, res.WarmStart = Median(res.ColdStarts), Median(res.WarmStarts)
	}

	clients := make([]*client, s.Devices)
	defer closeAll(clients, 32)
	for i := range clients {
		c, err := t.connect(ctx, i, clientOptions{receiveMax: 16})
		if err != nil {
			res.Err = err
			return res, err
		}
		clients[i] = c
		res.Connected++
	}
	if t.Buckets != nil {
		topic := newTopic("footprint")
		for i := range s.Buckets {
			id := fmt.Sprintf("bench-footprint-%d", i+1)
			if err := t.Buckets.CreateBucket(ctx, id, fmt.Sprintf("%s/%d/#", topic, i)); err != nil {
				res.Err = err
				return res, err
			}
			defer t.Buckets.DeleteBucket(context.WithoutCancel(ctx), id)
			res.Buckets++
		}
	}
	if err := sleepCtx(ctx, s.Settle); err != nil {
		return res, err
	}
	rss, err := t.Process.RSS()
	if err != nil {
		res.Err = err
		return res, err
	}
	res.RSS = rss

	cpu := startCPU(t.Process)
	w0, t0 := wchar(t.Process), time.Now()
	if err := sleepCtx(ctx, s.Idle); err != nil {
		return res, err
	}
	w1 := wchar(t.Process)
	res.IdleTime = time.Since(t0)
	res.OtherCPU = cpu.stop().others()
	if w0 >= 0 && w1 >= 0 {
		res.Written = w1 - w0
		res.PerHour = float64(res.Written) * float64(time.Hour) / float64(res.IdleTime)
	}
	log.Info("done", "rss", res.RSS, "written", res.Written, "per_hour", int64(res.PerHour))
	return res, nil
}

// timeColdWarm times a start on a new directory, then one on the directory
// it left, and removes the directory.
func timeColdWarm(ctx context.Context, st StartTimer) (cold, warm time.Duration, err error) {
	dir, err := os.MkdirTemp("", "perch-bench-start-")
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrBroker, err)
	}
	defer os.RemoveAll(dir)
	if cold, err = st.TimeStart(ctx, dir); err != nil {
		return 0, 0, err
	}
	if warm, err = st.TimeStart(ctx, dir); err != nil {
		return 0, 0, err
	}
	return cold, warm, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
