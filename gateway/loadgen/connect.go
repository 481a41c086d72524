package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ConnectRate opens Total connections, Concurrency at a time, each a fresh
// TCP connection, a full TLS handshake (session tickets and the session
// cache are off, so nothing is resumed) and CONNECT/CONNACK with client i's
// credentials, then disconnects. Client i is device i: give the scenario
// devices the broker has not seen yet to measure first logins.
type ConnectRate struct {
	Total       int // default 2000
	Concurrency int // default 32
}

// ConnectResult is the outcome of a ConnectRate run.
type ConnectResult struct {
	Scenario ConnectRate
	// Connected and Failed count the attempts.
	Connected, Failed int
	// Elapsed covers every attempt, disconnects included; Rate is
	// Connected per second of it.
	Elapsed time.Duration
	Rate    float64
	// ConnectTime is from dialling to CONNACK, over the successful attempts.
	ConnectTime Percentiles
	// BrokerCPUPerConn is the broker's CPU time per successful connection
	// (-1 if not measured).
	BrokerCPUPerConn time.Duration
	// Err is the first failure.
	Err error
	// OtherCPU is the CPU used meanwhile by every other process on the
	// machine, in cores (-1 if unknown): well above 0, the run was disturbed.
	OtherCPU float64
}

func (s ConnectRate) withDefaults() ConnectRate {
	if s.Total == 0 {
		s.Total = 2000
	}
	if s.Concurrency == 0 {
		s.Concurrency = 32
	}
	return s
}

// Name describes the scenario.
func (s ConnectRate) Name() string {
	s = s.withDefaults()
	return fmt.Sprintf("%d connections, %d at a time", s.Total, s.Concurrency)
}

// Run makes the connections.
func (s ConnectRate) Run(ctx context.Context, t Target) (ConnectResult, error) {
	s = s.withDefaults()
	res := ConnectResult{Scenario: s}
	if s.Total < 1 || s.Concurrency < 1 {
		return res, fmt.Errorf("%w: connect rate %+v", ErrInvalid, s)
	}
	if _, ok := t.Devices(s.Total - 1); !ok {
		return res, fmt.Errorf("%w: connect rate needs %d devices", ErrNoDevice, s.Total)
	}
	log := t.log().With("scenario", "connect "+s.Name())
	log.Info("connecting")

	times := make([]time.Duration, s.Total)
	var (
		failed   atomic.Int64
		errOnce  sync.Once
		firstErr error
	)
	cpu := startCPU(t.Process)
	start := time.Now()
	forEach(s.Total, s.Concurrency, func(i int) {
		if ctx.Err() != nil {
			return
		}
		t0 := time.Now()
		c, err := t.connect(ctx, i, clientOptions{receiveMax: 16})
		if err != nil {
			failed.Add(1)
			errOnce.Do(func() { firstErr = err })
			return
		}
		times[i] = time.Since(t0)
		c.close()
	})
	res.Elapsed = time.Since(start)
	use := cpu.stop()
	res.OtherCPU = use.others()
	if err := ctx.Err(); err != nil {
		return res, err
	}

	ok := times[:0]
	for _, d := range times {
		if d > 0 {
			ok = append(ok, d)
		}
	}
	res.Connected = len(ok)
	res.Failed = int(failed.Load())
	res.Rate = perSecond(uint64(res.Connected), res.Elapsed)
	res.ConnectTime = percentiles(ok)
	res.BrokerCPUPerConn = perItem(use.Broker, uint64(res.Connected))
	res.Err = firstErr
	log.Info("done", "conn/s", int(res.Rate), "p99", res.ConnectTime.P99, "failed", res.Failed)
	if res.Connected == 0 {
		return res, fmt.Errorf("loadgen: no connection succeeded: %w", firstErr)
	}
	return res, nil
}
