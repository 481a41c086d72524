package upstream

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/perch-gw/perch/gateway/acl"
	"github.com/perch-gw/perch/gateway/broker"
)

// ruleState is a bridge rule with its counters.
type ruleState struct {
	Rule
	messages atomic.Int64
	dropped  atomic.Int64
}

// outWatch is an out rule's watch on the local broker.
type outWatch struct {
	r *ruleState
	w *broker.Watch
}

// outBuffer is how many messages an out rule may have waiting for the
// link; beyond it they are dropped and counted (the broker's watch does it).
const outBuffer = 8192

// outParallel bounds the QoS 1 messages of one rule awaiting their PUBACK.
const outParallel = 64

func (u *Upstream) watchOut() ([]outWatch, error) {
	var out []outWatch
	for _, r := range u.rules {
		if r.Direction != "out" {
			continue
		}
		w, err := u.cfg.Local.Watch(r.Filter, outBuffer)
		if err != nil {
			for _, o := range out {
				o.w.Close()
			}
			return nil, err
		}
		out = append(out, outWatch{r, w})
	}
	return out, nil
}

// mapTopic replaces prefix from by to.
func mapTopic(t, from, to string) string {
	if rest, ok := strings.CutPrefix(t, from); ok {
		return to + rest
	}
	return to + t
}

// forwardOut publishes an out rule's messages upstream while the link is up.
func (u *Upstream) forwardOut(ctx context.Context, o outWatch) {
	sem := make(chan struct{}, outParallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	var seen int64
	for m := range o.w.C {
		if d := o.w.Dropped(); d > seen {
			o.r.dropped.Add(d - seen)
			seen = d
		}
		if u.loops.take(loopIn, m.Topic, m.Payload) {
			continue // came from upstream through an in rule
		}
		lk := u.link()
		if lk == nil {
			o.r.dropped.Add(1)
			continue
		}
		remote := mapTopic(m.Topic, o.r.LocalPrefix, o.r.RemotePrefix)
		if u.echoes(remote) {
			u.loops.put(loopOut, remote, m.Payload)
		}
		qos := min(o.r.QoS, m.QoS)
		if qos == 0 {
			if err := lk.publish(ctx, remote, m.Payload, 0, m.Retain); err != nil {
				o.r.dropped.Add(1)
				continue
			}
			o.r.messages.Add(1)
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := lk.publish(ctx, remote, m.Payload, qos, m.Retain); err != nil {
				o.r.dropped.Add(1)
				return
			}
			o.r.messages.Add(1)
		}()
	}
}

// echoes says whether an in rule subscribes to remote, so that an MQTT
// 3.1.1 broker (which has no no-local option) would send our own message
// back to us.
func (u *Upstream) echoes(remote string) bool {
	if u.cfg.Version != "3.1.1" {
		return false
	}
	for _, r := range u.rules {
		if r.Direction == "in" && acl.Match(r.Filter, remote) {
			return true
		}
	}
	return false
}

// subscribeIn subscribes to the in rules' filters on a new link.
func (u *Upstream) subscribeIn(ctx context.Context, lk link) error {
	var subs []subscription
	for _, r := range u.rules {
		if r.Direction == "in" {
			subs = append(subs, subscription{filter: r.Filter, qos: r.QoS})
		}
	}
	if len(subs) == 0 {
		return nil
	}
	return lk.subscribe(ctx, subs)
}

// receive republishes a message from upstream locally, for each in rule
// that matches it.
func (u *Upstream) receive(topic string, payload []byte, qos byte, retain bool) {
	if u.loops.take(loopOut, topic, payload) {
		return // our own, echoed by a 3.1.1 broker
	}
	for _, r := range u.rules {
		if r.Direction != "in" || !acl.Match(r.Filter, topic) {
			continue
		}
		local := mapTopic(topic, r.RemotePrefix, r.LocalPrefix)
		if err := acl.ValidTopic(local); err != nil || strings.HasPrefix(local, "$") {
			r.dropped.Add(1)
			continue
		}
		if u.fedBack(local) {
			u.loops.put(loopIn, local, payload)
		}
		if err := u.cfg.Local.Publish(local, payload, min(qos, r.QoS), retain); err != nil {
			r.dropped.Add(1)
			u.log.Debug("upstream: could not republish locally", "topic", local, "err", err)
			continue
		}
		r.messages.Add(1)
	}
}

// fedBack says whether an out rule would send local back upstream.
func (u *Upstream) fedBack(local string) bool {
	for _, r := range u.rules {
		if r.Direction == "out" && acl.Match(r.Filter, local) {
			return true
		}
	}
	return false
}

// loopGuard remembers, for a short while, the messages the bridge itself
// injected on one side, so that it does not carry them back.
type loopGuard struct {
	clock clockwork.Clock
	seed  maphash.Seed
	mu    sync.Mutex
	seen  map[loopKey]time.Time
}

type loopSide byte

const (
	loopIn  loopSide = iota // republished locally by an in rule
	loopOut                 // published upstream by an out rule
)

type loopKey struct {
	side loopSide
	h    uint64
}

// loopTTL is how long an injected message is remembered.
const loopTTL = 30 * time.Second

func newLoopGuard(clock clockwork.Clock) *loopGuard {
	return &loopGuard{clock: clock, seed: maphash.MakeSeed(), seen: map[loopKey]time.Time{}}
}

func (g *loopGuard) key(side loopSide, topic string, payload []byte) loopKey {
	var h maphash.Hash
	h.SetSeed(g.seed)
	h.WriteString(topic)
	h.WriteByte(0)
	h.Write(payload)
	return loopKey{side, h.Sum64()}
}

func (g *loopGuard) put(side loopSide, topic string, payload []byte) {
	k := g.key(side, topic, payload)
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.seen) > 10_000 {
		for k, t := range g.seen {
			if now.Sub(t) > loopTTL {
				delete(g.seen, k)
			}
		}
	}
	g.seen[k] = now
}

// take reports (and forgets) whether the message was injected recently.
func (g *loopGuard) take(side loopSide, topic string, payload []byte) bool {
	g.mu.Lock()
	empty := len(g.seen) == 0
	g.mu.Unlock()
	if empty {
		return false
	}
	k := g.key(side, topic, payload)
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.seen[k]
	if ok {
		delete(g.seen, k)
	}
	return ok && g.clock.Since(t) <= loopTTL
}
