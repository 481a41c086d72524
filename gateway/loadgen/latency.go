package loadgen

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Latency publishes at a steady total Rate and measures the time from each
// publish to its delivery. It is run at a fixed rate on purpose: an
// unthrottled publisher's "latency" is mostly its own send buffer filling.
// Client 0 subscribes; the next Publishers clients publish, each at
// Rate/Publishers, paced by a ticker (the messages due at each tick are
// sent together).
//
// Each payload carries its send time, read from the monotonic clock as an
// offset from the run's start just before the publish is written; the
// subscriber reads the clock when paho hands it the message. Both ends are
// in this process, so no clock synchronisation is involved.
type Latency struct {
	Rate        int           // messages per second, over all publishers; default 5000
	Publishers  int           // default 1
	QoS         byte          // 0 or 1; default 0
	PayloadSize int           // bytes, at least 16; default 64
	Duration    time.Duration // default 10 s
	// Tick is the pacing interval; default 1 ms.
	Tick time.Duration
}

// LatencyResult is the outcome of a Latency run.
type LatencyResult struct {
	Scenario Latency
	// Sent counts publishes written; Received those delivered (Lost is
	// the difference). Late counts ticks at which a publisher was more
	// than one tick behind its schedule.
	Sent, Received, Lost uint64
	Late                 int
	// Elapsed is the sending time; Rate the achieved send rate.
	Elapsed time.Duration
	Rate    float64
	// Latency is publish to deliver, over every delivered message.
	Latency Percentiles
	// BrokerCPUPerMsg is the broker's CPU time per delivered message (-1
	// if not measured).
	BrokerCPUPerMsg time.Duration
	Err             error
	// OtherCPU is the CPU used meanwhile by every other process on the
	// machine, in cores (-1 if unknown): well above 0, the run was disturbed.
	OtherCPU float64
}

func (s Latency) withDefaults() Latency {
	if s.Rate == 0 {
		s.Rate = 5000
	}
	if s.Publishers == 0 {
		s.Publishers = 1
	}
	if s.PayloadSize == 0 {
		s.PayloadSize = 64
	}
	if s.Duration == 0 {
		s.Duration = 10 * time.Second
	}
	if s.Tick == 0 {
		s.Tick = time.Millisecond
	}
	return s
}

// Name describes the scenario, as "5000 msg/s QoS 0".
func (s Latency) Name() string {
	s = s.withDefaults()
	return fmt.Sprintf("%d msg/s QoS %d", s.Rate, s.QoS)
}

func (s Latency) validate() error {
	switch {
	case s.Rate < 1, s.Publishers < 1, s.Publishers > s.Rate, s.PayloadSize < 16, s.Duration <= 0, s.Tick <= 0:
		return fmt.Errorf("%w: latency %+v", ErrInvalid, s)
	case s.QoS > 1:
		return fmt.Errorf("%w: latency QoS %d (0 or 1)", ErrInvalid, s.QoS)
	}
	return nil
}

// Run connects the clients, publishes at the fixed rate for Duration,
// waits for the last deliveries and disconnects.
func (s Latency) Run(ctx context.Context, t Target) (LatencyResult, error) {
	s = s.withDefaults()
	res := LatencyResult{Scenario: s}
	if err := s.validate(); err != nil {
		return res, err
	}
	log := t.log().With("scenario", "latency "+s.Name())
	topic := newTopic("latency")
	total := int(int64(s.Rate) * int64(s.Duration) / int64(time.Second))
	if total < s.Publishers {
		return res, fmt.Errorf("%w: latency of %d messages from %d publishers", ErrInvalid, total, s.Publishers)
	}

	// Payload times are offsets from start, which is set before any client
	// exists so that the subscriber's goroutines read it safely.
	start := time.Now()
	var (
		mu       sync.Mutex
		samples  = make([]time.Duration, 0, total)
		received atomic.Uint64
	)
	onPublish := func(p *paho.Publish) {
		now := time.Since(start)
		if len(p.Payload) < 8 {
			return
		}
		sent := time.Duration(binary.BigEndian.Uint64(p.Payload))
		received.Add(1)
		mu.Lock()
		if len(samples) < cap(samples) {
			samples = append(samples, now-sent)
		}
		mu.Unlock()
	}

	clients := make([]*client, 1+s.Publishers)
	defer closeAll(clients, 32)
	sub, err := t.connect(ctx, 0, clientOptions{onPublish: onPublish})
	if err != nil {
		return res, err
	}
	clients[0] = sub
	if _, err := sub.mqtt.Subscribe(ctx, &paho.Subscribe{
		Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: s.QoS}},
	}); err != nil {
		return res, fmt.Errorf("loadgen: subscribe to %s: %w", topic, err)
	}
	pubs := clients[1:]
	for i := range pubs {
		c, err := t.connect(ctx, 1+i, clientOptions{receiveMax: 16})
		if err != nil {
			return res, err
		}
		pubs[i] = c
	}

	log.Info("publishing", "rate", s.Rate, "for", s.Duration)
	var (
		sent, late atomic.Uint64
		errOnce    sync.Once
		firstErr   error
		wg         sync.WaitGroup
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	cpu := startCPU(t.Process)
	begin := time.Now()
	deadline := begin.Add(s.Duration + stopGrace)
	for i, c := range pubs {
		// Spread the total over the publishers.
		n := total / s.Publishers
		if i < total%s.Publishers {
			n++
		}
		rate := float64(s.Rate) / float64(s.Publishers)
		wg.Go(func() {
			if err := s.publish(ctx, c, topic, n, rate, start, begin, deadline, &sent, &late); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait() // each publisher stops by its deadline
	res.Elapsed = time.Since(begin)
	res.Sent = sent.Load()
	res.Late = int(late.Load())
	res.Rate = perSecond(res.Sent, res.Elapsed)
	res.Received = waitDrained(ctx.Done(), received.Load, res.Sent, drainQuiet, drainLimit)
	use := cpu.stop()
	res.BrokerCPUPerMsg = perItem(use.Broker, res.Received)
	res.OtherCPU = use.others()
	if res.Received < res.Sent {
		res.Lost = res.Sent - res.Received
	}
	mu.Lock()
	res.Latency = percentiles(samples)
	mu.Unlock()
	for _, c := range clients {
		if err := c.err(); err != nil {
			fail(fmt.Errorf("loadgen: connection lost: %w", err))
		}
	}
	res.Err = firstErr
	if err := ctx.Err(); err != nil {
		return res, err
	}
	log.Info("done", "p50", res.Latency.P50, "p99", res.Latency.P99, "lost", res.Lost)
	return res, nil
}

// publish sends n messages at rate per second from begin, the ones due at
// each tick together, and gives up at deadline. Payloads carry the send
// time as an offset from start. QoS 1 publishes do not wait
// for their PUBACK (paho still bounds them by the broker's Receive
// Maximum), so that a slow acknowledgement delays later messages only as
// much as it would a real device.
func (s Latency) publish(ctx context.Context, c *client, topic string, n int, rate float64,
	start, begin, deadline time.Time, sent, late *atomic.Uint64) error {
	tick := time.NewTicker(s.Tick)
	defer tick.Stop()
	opts := paho.PublishOptions{}
	if s.QoS > 0 {
		opts.Method = paho.PublishMethod_AsyncSend
	}
	perTick := max(int(rate*s.Tick.Seconds()), 1)
	done := 0
	for done < n {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			if now.After(deadline) {
				return fmt.Errorf("loadgen: latency publisher %d messages behind at the deadline", n-done)
			}
		}
		due := min(int(rate*time.Since(begin).Seconds()), n)
		if due-done > 2*perTick {
			late.Add(1)
		}
		for ; done < due; done++ {
			payload := make([]byte, s.PayloadSize)
			binary.BigEndian.PutUint64(payload, uint64(time.Since(start)))
			binary.BigEndian.PutUint64(payload[8:], uint64(done))
			if _, err := c.mqtt.PublishWithOptions(ctx, &paho.Publish{Topic: topic, QoS: s.QoS, Payload: payload}, opts); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("loadgen: publish: %w", err)
			}
			sent.Add(1)
		}
	}
	return nil
}
