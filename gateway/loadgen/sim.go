package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Sim simulates devices that behave as the firmware examples do
// (firmware-examples/ in the repository): dashboards and buckets to try
// without hardware, or a gateway under a realistic load. Client i of the
// target is device i. Each connects with its own credentials over TLS,
// subscribes to its command topic, publishes a JSON reading to its own
// topic every Interval, takes "on" and "off" (or 1/0, true/false: what the
// console's switch widget sends) on its command topic as the state of its
// LED, which its readings carry as "led" and which it publishes at once,
// and after losing its connection reconnects with exponential backoff (1 s
// doubling up to a minute, plus jitter).
//
// Every device must connect at the start, or Run fails: a wrong password
// or address shows at once rather than as endless retries. Unlike the
// benchmark scenarios, Sim may target a gateway at any address: it paces
// its messages as boards do.
type Sim struct {
	Devices  int           // default 1
	Interval time.Duration // between two readings of one device; default 5 s
	Count    int           // readings per device; 0 for no limit
	Duration time.Duration // 0 for no limit (then Count or ctx ends the run)
	QoS      byte          // of the readings: 0, 1 or 2
	// Topic and Command are each device's reading and command topics, %c
	// standing for its id; by default sensors/%c/env and cmd/%c/led, as in
	// the firmware examples.
	Topic, Command string
	// NoCommands leaves the command topic alone.
	NoCommands bool
	// Profile makes the payloads; the zero Profile is "env".
	Profile Profile
	// Events, if not nil, is told what happens to the devices. It is called
	// from the devices' goroutines, concurrently.
	Events func(SimEvent)
}

// SimEvent is something that happened to a simulated device.
type SimEvent struct {
	Device string
	Kind   string // one of the Sim* event kinds
	Detail string
}

// The kinds of SimEvent.
const (
	SimConnected = "connected"   // again, after a loss
	SimLost      = "lost"        // the connection; Detail says why
	SimRetry     = "retry"       // a reconnect failed; Detail says why and when the next is
	SimCommand   = "command"     // Detail is "on" or "off"
	SimIgnored   = "ignored"     // a message on the command topic that is not a command
	SimRejected  = "rejected"    // a reading the broker refused; Detail says why
	SimNoCommand = "no-commands" // the command subscription was refused
)

// SimResult is the outcome of a Sim run.
type SimResult struct {
	Scenario Sim
	// Sent counts the readings written; Acknowledged those the broker
	// acknowledged (QoS 1 and 2 only); Failed those it refused or that
	// were lost with their connection.
	Sent, Acknowledged, Failed uint64
	Commands, Reconnects       uint64
	Elapsed                    time.Duration
}

// Retry backoff of a simulated device, as the firmware examples do it.
const (
	simRetryMin = time.Second
	simRetryMax = time.Minute
)

func (s Sim) withDefaults() Sim {
	if s.Devices == 0 {
		s.Devices = 1
	}
	if s.Interval == 0 {
		s.Interval = 5 * time.Second
	}
	if s.Topic == "" {
		s.Topic = "sensors/%c/env"
	}
	if s.Command == "" {
		s.Command = "cmd/%c/led"
	}
	if s.Profile.make == nil {
		s.Profile = envProfile
	}
	return s
}

func (s Sim) validate() error {
	switch {
	case s.Devices < 1, s.Interval <= 0, s.Count < 0, s.Duration < 0:
		return fmt.Errorf("%w: sim of %d devices, interval %s, count %d, duration %s", ErrInvalid, s.Devices, s.Interval, s.Count, s.Duration)
	case s.QoS > 2:
		return fmt.Errorf("%w: sim QoS %d (0, 1 or 2)", ErrInvalid, s.QoS)
	}
	for _, t := range []struct{ name, topic string }{{"topic", s.Topic}, {"command topic", s.Command}} {
		if strings.ContainsAny(t.topic, "+#\x00") || strings.HasPrefix(t.topic, "$") {
			return fmt.Errorf("%w: sim %s %q: a topic name (no wildcards, not beginning with $)", ErrInvalid, t.name, t.topic)
		}
	}
	return nil
}

// Name describes the scenario.
func (s Sim) Name() string {
	s = s.withDefaults()
	return fmt.Sprintf("%d devices, a %s reading every %s each, QoS %d", s.Devices, s.Profile.Name(), s.Interval, s.QoS)
}

// Run connects the devices, runs them until Count readings each, Duration
// or ctx ends, and disconnects them. An ended ctx is not an error: the
// result says what was done until then.
func (s Sim) Run(ctx context.Context, t Target) (SimResult, error) {
	s = s.withDefaults()
	res := SimResult{Scenario: s}
	if err := s.validate(); err != nil {
		return res, err
	}
	devs := make([]*simDevice, s.Devices)
	for i := range devs {
		dev, ok := t.Devices(i)
		if !ok {
			return res, fmt.Errorf("%w: index %d", ErrNoDevice, i)
		}
		id := dev.ClientID
		devs[i] = &simDevice{
			s: &s, t: t, i: i, id: id,
			topic:   strings.ReplaceAll(s.Topic, "%c", id),
			command: strings.ReplaceAll(s.Command, "%c", id),
			cmds:    make(chan bool, 16),
			gen:     s.Profile.make(id, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))),
			rng:     rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))),
		}
		if s.NoCommands {
			devs[i].command = ""
		}
	}
	defer func() {
		forEach(len(devs), 32, func(i int) {
			if c := devs[i].c; c != nil {
				c.close()
			}
		})
	}()

	var (
		errOnce  sync.Once
		firstErr error
	)
	forEach(len(devs), 16, func(i int) {
		if ctx.Err() != nil {
			return
		}
		if err := devs[i].connect(ctx); err != nil {
			errOnce.Do(func() { firstErr = err })
		}
	})
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}

	runCtx, stop := ctx, context.CancelFunc(func() {})
	if s.Duration > 0 {
		runCtx, stop = context.WithTimeout(ctx, s.Duration)
	}
	defer stop()
	start := time.Now()
	var wg sync.WaitGroup
	for _, d := range devs {
		wg.Go(func() { d.run(runCtx) })
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	for _, d := range devs {
		res.Sent += d.sent
		res.Acknowledged += d.acked
		res.Failed += d.failed
		res.Commands += d.commands
		res.Reconnects += d.reconnects
	}
	return res, nil
}

// simDevice is one simulated device. Its fields are used by its own
// goroutine only (connect, then run), but for cmds.
type simDevice struct {
	s              *Sim
	t              Target
	i              int
	id             string
	topic, command string
	gen            generator
	rng            *rand.Rand
	cmds           chan bool // from the client's delivery goroutine
	c              *client
	led            bool
	readings       int // scheduled readings published so far
	buf            []byte

	sent, acked, failed, commands, reconnects uint64
}

func (d *simDevice) event(kind, format string, args ...any) {
	if d.s.Events != nil {
		d.s.Events(SimEvent{Device: d.id, Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
}

// onPublish takes a message on the command topic, on the client's delivery
// goroutine.
func (d *simDevice) onPublish(p *paho.Publish) {
	on, ok := parseSwitch(p.Payload)
	if p.Topic != d.command || !ok {
		d.event(SimIgnored, "%d bytes on %s", len(p.Payload), p.Topic)
		return
	}
	select {
	case d.cmds <- on:
	default: // commands faster than a board would follow them: drop
	}
}

// parseSwitch reads a command as the firmware examples do: on/off, 1/0 or
// true/false, in any case, quoted or not.
func parseSwitch(b []byte) (on, ok bool) {
	w := strings.ToLower(strings.Trim(strings.TrimSpace(string(b)), `"`))
	switch strings.TrimSpace(w) {
	case "on", "1", "true":
		return true, true
	case "off", "0", "false":
		return false, true
	}
	return false, false
}

// connect connects the device and subscribes to its command topic.
func (d *simDevice) connect(ctx context.Context) error {
	c, err := d.t.connect(ctx, d.i, clientOptions{anyAddress: true, receiveMax: 16, onPublish: d.onPublish})
	if err != nil {
		return err
	}
	if d.command != "" {
		sctx, cancel := context.WithTimeout(ctx, packetTimeout)
		sa, err := c.mqtt.Subscribe(sctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: d.command, QoS: 1}}})
		cancel()
		switch {
		case err != nil && sa != nil && len(sa.Reasons) > 0:
			d.event(SimNoCommand, "subscription to %s refused with reason %#x: the device's ACL must allow it", d.command, sa.Reasons[0])
		case err != nil:
			c.close()
			return fmt.Errorf("loadgen: %s: subscribe to %s: %w", d.id, d.command, err)
		}
	}
	d.c = c
	return nil
}

// run publishes the device's readings until Count, or ctx ends, following
// commands and reconnecting when the connection is lost.
func (d *simDevice) run(ctx context.Context) {
	s := d.s
	// The first readings are spread over one interval, as boards switched
	// on at different times would send them.
	next := time.Now().Add(time.Duration(d.i) * s.Interval / time.Duration(s.Devices))
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	var backoff time.Duration
	for s.Count == 0 || d.readings < s.Count {
		if ctx.Err() != nil {
			return
		}
		if d.c == nil || !d.c.alive() {
			if d.c != nil {
				why := "the gateway closed the connection"
				if err := d.c.err(); err != nil {
					why = err.Error()
				}
				d.event(SimLost, "%s", why)
				d.c.abort()
				d.c.close()
				d.c = nil
			}
			if backoff > 0 {
				wait := backoff + time.Duration(d.rng.Int64N(int64(backoff/4)+1))
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			if err := d.connect(ctx); err != nil {
				backoff = min(max(2*backoff, simRetryMin), simRetryMax)
				if re := (*RefusedError)(nil); errors.As(err, &re) {
					err = fmt.Errorf("refused: %s (%#x)", connackReasons[re.Reason], re.Reason)
				}
				d.event(SimRetry, "%v; next try in about %s", err, backoff)
				continue
			}
			backoff = 0
			d.reconnects++
			d.event(SimConnected, "again")
		}
		select {
		case <-ctx.Done():
			return
		case <-d.c.mqtt.Done():
			// lost: the top of the loop reconnects
		case on := <-d.cmds:
			d.commands++
			d.led = on
			d.event(SimCommand, "%s", map[bool]string{true: "on", false: "off"}[on])
			d.publish(ctx) // at once, so that a dashboard shows the new state
		case <-timer.C:
			d.readings++
			d.publish(ctx)
			next = next.Add(s.Interval)
			if now := time.Now(); next.Before(now) {
				next = now.Add(s.Interval) // fell behind: no burst to catch up
			}
			timer.Reset(time.Until(next))
		}
	}
}

// publish sends one reading. It is not cut short by ctx: a reading written
// is waited for (at most packetTimeout), so that the counts are exact.
func (d *simDevice) publish(ctx context.Context) {
	d.buf = d.gen(d.buf[:0], reading{seq: int(d.sent) + 1, led: d.led, now: time.Now()})
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), packetTimeout)
	defer cancel()
	d.sent++
	_, err := d.c.mqtt.Publish(pctx, &paho.Publish{Topic: d.topic, QoS: d.s.QoS, Payload: d.buf})
	if err != nil {
		d.failed++
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no acknowledgement within %s", packetTimeout)
		}
		d.event(SimRejected, "%v", err)
		return
	}
	if d.s.QoS > 0 {
		d.acked++
	}
}
