package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Throughput publishes as fast as the broker takes messages, from
// Publishers clients to one topic that Subscribers clients subscribe to.
// Clients 0..Subscribers-1 subscribe; the next Publishers clients publish.
type Throughput struct {
	Publishers  int           // default 1
	Subscribers int           // default 1
	QoS         byte          // 0 or 1, for publishing and subscribing
	PayloadSize int           // bytes; default 64
	Duration    time.Duration // publishing time; default 10 s
	// Window is the number of QoS 1 publishes each publisher keeps in
	// flight (one goroutine each, waiting for its PUBACK); default 16.
	// QoS 0 publishers write from one goroutine, paced by TCP.
	Window int
}

// ThroughputResult is the outcome of a Throughput run.
type ThroughputResult struct {
	Scenario Throughput
	// Elapsed is the publishing time actually measured.
	Elapsed time.Duration
	// Published counts messages published (for QoS 1, acknowledged) and
	// Delivered those received by all subscribers, after waiting for the
	// broker to drain. Expected is Published times the subscriber count.
	Published, Delivered, Expected uint64
	// PublishRate is Published per second of Elapsed. DeliverRate is
	// Delivered, summed over the subscribers, per second from the first
	// publish to the last delivery: a broker that accepts messages faster
	// than it delivers them is not credited for its backlog. Drain is how
	// long deliveries went on after publishing stopped.
	PublishRate, DeliverRate float64
	Drain                    time.Duration
	// Loss is the fraction of Expected that was not delivered.
	Loss float64
	// BrokerCPU is the broker's CPU time from the first publish until the
	// deliveries drained (-1 if not measured); BrokerCPUPerMsg divides it
	// by Delivered. GeneratorCPU is this process's, over the same time.
	BrokerCPU, BrokerCPUPerMsg       time.Duration
	GeneratorCPU, GeneratorCPUPerMsg time.Duration
	// Err is the first publish or connection error during the run.
	Err error
	// OtherCPU is the CPU used meanwhile by every other process on the
	// machine, in cores (-1 if unknown): well above 0, the run was disturbed.
	OtherCPU float64
}

// Limits of a Throughput run beyond its Duration.
const (
	maxPublishesPerWorker = 100_000_000
	// stopGrace is how long publishers may take to finish their last
	// writes or acknowledgements once Duration is over.
	stopGrace = 10 * time.Second
	// drainQuiet and drainLimit bound the wait for the last deliveries.
	drainQuiet = time.Second
	drainLimit = 15 * time.Second
)

func (s Throughput) withDefaults() Throughput {
	if s.Publishers == 0 {
		s.Publishers = 1
	}
	if s.Subscribers == 0 {
		s.Subscribers = 1
	}
	if s.PayloadSize == 0 {
		s.PayloadSize = 64
	}
	if s.Duration == 0 {
		s.Duration = 10 * time.Second
	}
	if s.Window == 0 {
		s.Window = 16
	}
	return s
}

func (s Throughput) validate() error {
	switch {
	case s.Publishers < 1, s.Subscribers < 1, s.PayloadSize < 1, s.Window < 1, s.Duration <= 0:
		return fmt.Errorf("%w: throughput %+v", ErrInvalid, s)
	case s.QoS > 1:
		return fmt.Errorf("%w: throughput QoS %d (0 or 1)", ErrInvalid, s.QoS)
	}
	return nil
}

// Name describes the scenario, as "10→1 QoS 0".
func (s Throughput) Name() string {
	s = s.withDefaults()
	return fmt.Sprintf("%d→%d QoS %d", s.Publishers, s.Subscribers, s.QoS)
}

// Run connects the clients, publishes for Duration, waits for the broker to
// deliver what it accepted, and disconnects.
func (s Throughput) Run(ctx context.Context, t Target) (ThroughputResult, error) {
	s = s.withDefaults()
	res := ThroughputResult{Scenario: s}
	if err := s.validate(); err != nil {
		return res, err
	}
	log := t.log().With("scenario", "throughput "+s.Name())
	topic := newTopic("throughput")

	clients := make([]*client, s.Subscribers+s.Publishers)
	defer closeAll(clients, 32)
	delivered := make([]atomic.Uint64, s.Subscribers)
	// origin is set before any client exists, so the subscribers'
	// goroutines read it safely; lastDelivery is an offset from it.
	origin := time.Now()
	var lastDelivery atomic.Int64
	for i := range s.Subscribers {
		c, err := t.connect(ctx, i, clientOptions{onPublish: func(*paho.Publish) {
			delivered[i].Add(1)
			lastDelivery.Store(int64(time.Since(origin)))
		}})
		if err != nil {
			return res, err
		}
		clients[i] = c
		if _, err := c.mqtt.Subscribe(ctx, &paho.Subscribe{
			Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: s.QoS}},
		}); err != nil {
			return res, fmt.Errorf("loadgen: subscribe to %s: %w", topic, err)
		}
	}
	pubs := clients[s.Subscribers:]
	for i := range pubs {
		c, err := t.connect(ctx, s.Subscribers+i, clientOptions{receiveMax: 16})
		if err != nil {
			return res, err
		}
		pubs[i] = c
	}
	sumDelivered := func() uint64 {
		var n uint64
		for i := range delivered {
			n += delivered[i].Load()
		}
		return n
	}

	payload := make([]byte, s.PayloadSize)
	workers := 1
	if s.QoS > 0 {
		workers = s.Window
	}
	log.Info("publishing", "for", s.Duration)
	var (
		published atomic.Uint64
		errOnce   sync.Once
		firstErr  error
		wg        sync.WaitGroup
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	runCtx, stopPublishing := context.WithTimeout(ctx, s.Duration)
	defer stopPublishing()
	cpu := startCPU(t.Process)
	start := time.Now()
	for _, c := range pubs {
		for range workers {
			wg.Go(func() {
				// paho builds a new packet from msg on every call, so it is reused.
				msg := &paho.Publish{Topic: topic, QoS: s.QoS, Payload: payload}
				for range maxPublishesPerWorker {
					if runCtx.Err() != nil {
						return
					}
					if _, err := c.mqtt.Publish(ctx, msg); err != nil {
						if runCtx.Err() == nil {
							fail(fmt.Errorf("loadgen: publish: %w", err))
						}
						return
					}
					published.Add(1)
				}
			})
		}
	}

	<-runCtx.Done()
	res.Elapsed = time.Since(start)
	res.PublishRate = perSecond(published.Load(), res.Elapsed)

	if done, ok := waitWithin(ctx, &wg, stopGrace); !ok {
		if ctx.Err() == nil {
			fail(fmt.Errorf("loadgen: publishers still busy %s after the run: connections closed", stopGrace))
		}
		for _, c := range pubs {
			c.abort() // ends blocked writes and waits for acknowledgements
		}
		<-done
	}
	res.Published = published.Load()
	res.Expected = res.Published * uint64(s.Subscribers)
	res.Delivered = waitDrained(ctx.Done(), sumDelivered, res.Expected, drainQuiet, drainLimit)
	if last := origin.Add(time.Duration(lastDelivery.Load())); last.After(start) {
		res.DeliverRate = perSecond(res.Delivered, last.Sub(start))
		res.Drain = max(0, last.Sub(start)-res.Elapsed)
	}
	use := cpu.stop()
	res.BrokerCPU, res.GeneratorCPU, res.OtherCPU = use.Broker, use.Generator, use.others()
	res.BrokerCPUPerMsg = perItem(res.BrokerCPU, res.Delivered)
	res.GeneratorCPUPerMsg = perItem(res.GeneratorCPU, res.Delivered)
	if res.Expected > 0 && res.Delivered < res.Expected {
		res.Loss = float64(res.Expected-res.Delivered) / float64(res.Expected)
	}
	for _, c := range clients {
		if err := c.err(); err != nil {
			fail(fmt.Errorf("loadgen: connection lost: %w", err))
		}
	}
	res.Err = firstErr
	if err := ctx.Err(); err != nil {
		return res, err
	}
	log.Info("done", "delivered/s", int(res.DeliverRate), "loss", res.Loss, "broker_cpu_per_msg", res.BrokerCPUPerMsg)
	return res, nil
}

// waitWithin waits for wg up to d, or until ctx is done, and reports
// whether wg finished. done is closed once wg finishes: a caller that gets
// false must make wg's goroutines finish and then receive from done.
func waitWithin(ctx context.Context, wg *sync.WaitGroup, d time.Duration) (done <-chan struct{}, ok bool) {
	ch := make(chan struct{})
	go func() {
		wg.Wait()
		close(ch)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return ch, true
	case <-ctx.Done():
	case <-t.C:
	}
	return ch, false
}
