package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Idle opens Conns authenticated connections (clients 0..Conns-1, keep
// alive 60 s), holds them for Hold, and measures how much resident memory
// the broker gained. Opening that many connections needs as many open
// files in this process and in the broker: see RaiseFileLimit.
type Idle struct {
	Conns       int           // default 10000
	Concurrency int           // connections opened at a time; default 32
	Hold        time.Duration // time between the last connect and the measurement; default 5 s
}

// IdleResult is the outcome of an Idle run.
type IdleResult struct {
	Scenario Idle
	// Opened counts the connections made, Failed the ones refused, Dropped
	// those that closed before the measurement.
	Opened, Failed, Dropped int
	// OpenTime is the time taken to open them all.
	OpenTime time.Duration
	// RSSBefore and RSSAfter are the broker's VmRSS in bytes before the
	// first connection and after Hold; PerConn is the difference divided
	// by Opened.
	RSSBefore, RSSAfter uint64
	PerConn             float64
	// HoldCPU is the broker's CPU use while holding, as a fraction of one
	// core (-1 if not measured).
	HoldCPU float64
	Err     error
	// OtherCPU is the CPU used meanwhile by every other process on the
	// machine, in cores (-1 if unknown): well above 0, the run was disturbed.
	OtherCPU float64
}

func (s Idle) withDefaults() Idle {
	if s.Conns == 0 {
		s.Conns = 10000
	}
	if s.Concurrency == 0 {
		s.Concurrency = 32
	}
	if s.Hold == 0 {
		s.Hold = 5 * time.Second
	}
	return s
}

// Name describes the scenario.
func (s Idle) Name() string {
	s = s.withDefaults()
	return fmt.Sprintf("%d connections", s.Conns)
}

// fileMargin is the number of open files kept beyond one per connection.
const fileMargin = 256

// Run opens the connections, measures, and closes them. It needs the
// broker's Process.
func (s Idle) Run(ctx context.Context, t Target) (IdleResult, error) {
	s = s.withDefaults()
	res := IdleResult{Scenario: s, HoldCPU: -1, OtherCPU: -1}
	if s.Conns < 1 || s.Concurrency < 1 || s.Hold < 0 {
		return res, fmt.Errorf("%w: idle %+v", ErrInvalid, s)
	}
	if t.Process == nil {
		return res, ErrNoProcess
	}
	if _, ok := t.Devices(s.Conns - 1); !ok {
		return res, fmt.Errorf("%w: idle needs %d devices", ErrNoDevice, s.Conns)
	}
	if _, err := RaiseFileLimit(uint64(s.Conns + fileMargin)); err != nil {
		return res, err
	}
	log := t.log().With("scenario", "idle "+s.Name())

	var err error
	if res.RSSBefore, err = t.Process.RSS(); err != nil {
		return res, err
	}
	clients := make([]*client, s.Conns)
	defer func() {
		log.Info("closing")
		closeAll(clients, s.Concurrency)
	}()
	var (
		failed   atomic.Int64
		errOnce  sync.Once
		firstErr error
	)
	log.Info("opening")
	start := time.Now()
	forEach(s.Conns, s.Concurrency, func(i int) {
		if ctx.Err() != nil {
			return
		}
		c, err := t.connect(ctx, i, clientOptions{receiveMax: 16})
		if err != nil {
			failed.Add(1)
			errOnce.Do(func() { firstErr = err })
			return
		}
		clients[i] = c
	})
	res.OpenTime = time.Since(start)
	res.Failed = int(failed.Load())
	for _, c := range clients {
		if c != nil {
			res.Opened++
		}
	}
	log.Info("holding", "opened", res.Opened, "failed", res.Failed, "in", res.OpenTime.Round(time.Millisecond))

	cpu := startCPU(t.Process)
	hold := time.NewTimer(s.Hold)
	select {
	case <-ctx.Done():
		hold.Stop()
		return res, ctx.Err()
	case <-hold.C:
	}
	use := cpu.stop()
	if use.Broker >= 0 && use.Elapsed > 0 {
		res.HoldCPU = use.Broker.Seconds() / use.Elapsed.Seconds()
	}
	res.OtherCPU = use.others()
	if res.RSSAfter, err = t.Process.RSS(); err != nil {
		return res, err
	}
	for _, c := range clients {
		if c != nil && !c.alive() {
			res.Dropped++
			errOnce.Do(func() { firstErr = fmt.Errorf("loadgen: idle connection dropped: %v", c.err()) })
		}
	}
	if res.Opened > 0 && res.RSSAfter > res.RSSBefore {
		res.PerConn = float64(res.RSSAfter-res.RSSBefore) / float64(res.Opened)
	}
	res.Err = firstErr
	log.Info("done", "rss_before_MiB", res.RSSBefore>>20, "rss_after_MiB", res.RSSAfter>>20, "KiB_per_conn", int(res.PerConn/1024))
	if res.Opened == 0 {
		return res, fmt.Errorf("loadgen: no idle connection opened: %w", firstErr)
	}
	return res, nil
}
