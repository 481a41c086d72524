package bucket

import (
	"fmt"
	"slices"

	"github.com/perch-gw/perch/gateway/payload"
)

// Event is a message a bucket has just stored, for live subscribers.
type Event struct {
	Bucket string
	Time   int64 // ms
	Device string
	Topic  string
	Fields []payload.Field
}

// Subscription receives a bucket's new points. A subscriber that falls more
// than its buffer behind loses events (counted in Stats.Dropped): a slow
// browser tab must never slow the devices down. C is closed when the
// subscription or its bucket ends.
type Subscription struct {
	C  <-chan Event
	c  chan Event
	m  *Manager
	id string
}

// Subscribe starts a live feed of bucket id's new points.
func (m *Manager) Subscribe(id string, buffer int) (*Subscription, error) {
	if _, err := m.entry(id); err != nil {
		return nil, err
	}
	if buffer <= 0 {
		buffer = 256
	}
	c := make(chan Event, buffer)
	s := &Subscription{C: c, c: c, m: m, id: id}
	m.subMu.Lock()
	defer m.subMu.Unlock()
	if m.subs == nil {
		return nil, fmt.Errorf("bucket: manager closed")
	}
	if m.subs[id] == nil {
		m.subs[id] = map[*Subscription]struct{}{}
	}
	m.subs[id][s] = struct{}{}
	return s, nil
}

// Close ends the subscription and closes C. It is safe to call more than once.
func (s *Subscription) Close() {
	s.m.subMu.Lock()
	defer s.m.subMu.Unlock()
	if _, ok := s.m.subs[s.id][s]; ok {
		delete(s.m.subs[s.id], s)
		close(s.c)
	}
}

func (m *Manager) publish(e *entry, res payload.Result, device, topic string) {
	m.subMu.Lock()
	defer m.subMu.Unlock()
	subs := m.subs[e.b.ID]
	if len(subs) == 0 && len(m.taps) == 0 {
		return
	}
	ev := Event{Bucket: e.b.ID, Time: res.Time.UnixMilli(), Device: device, Topic: topic, Fields: slices.Clone(res.Fields)}
	for s := range subs {
		select {
		case s.c <- ev:
		default:
			e.dropped.Add(1)
		}
	}
	for t := range m.taps {
		t.fn(ev)
	}
}

// Tap is a callback on every bucket's new points, made by TapAll.
type Tap struct {
	m    *Manager
	fn   func(Event)
	done chan struct{}
}

// TapAll calls fn with every point stored in any bucket (Event.Bucket
// tells which), in the order they are stored, until the tap or the Manager
// is closed; buckets created later are included. fn runs on the writer's
// goroutine (a device's, before its PUBACK) with the Manager's subscription
// lock held: it must return at once (hand the event on without blocking,
// or drop it) and must not call the Manager. The event's Fields are shared
// with the other subscribers: read them, do not change them.
func (m *Manager) TapAll(fn func(Event)) (*Tap, error) {
	t := &Tap{m: m, fn: fn, done: make(chan struct{})}
	m.subMu.Lock()
	defer m.subMu.Unlock()
	if m.subs == nil {
		return nil, fmt.Errorf("bucket: manager closed")
	}
	if m.taps == nil {
		m.taps = map[*Tap]struct{}{}
	}
	m.taps[t] = struct{}{}
	return t, nil
}

// Done is closed when the tap or the Manager is closed: fn is not called
// again.
func (t *Tap) Done() <-chan struct{} { return t.done }

// Close ends the tap. It is safe to call more than once, from any
// goroutine.
func (t *Tap) Close() {
	t.m.subMu.Lock()
	defer t.m.subMu.Unlock()
	if _, ok := t.m.taps[t]; ok {
		delete(t.m.taps, t)
		close(t.done)
	}
}

// endSubs closes the subscriptions of bucket id (or of all when id is "").
func (m *Manager) endSubs(id string) {
	m.subMu.Lock()
	defer m.subMu.Unlock()
	for bid, subs := range m.subs {
		if id != "" && bid != id {
			continue
		}
		for s := range subs {
			close(s.c)
		}
		delete(m.subs, bid)
	}
	if id == "" {
		m.subs = nil
		for t := range m.taps {
			close(t.done)
		}
		m.taps = nil
	}
}
