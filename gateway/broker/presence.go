package broker

import (
	"sync"
	"time"
)

// Presence is a device coming online or going offline: its login was
// accepted and its session established, or its live connection ended. The
// admin API streams them (GET /api/v1/events).
type Presence struct {
	Device    string
	Connected bool
	Time      time.Time
	Remote    string
	Listener  string
	// ProtocolVersion is 3, 4 (3.1.1) or 5.
	ProtocolVersion byte
	// Reason is why a connection ended, as the broker saw it; "" when it
	// does not know.
	Reason string
}

// PresenceWatch is a callback on every device's Presence changes, made by
// WatchPresence.
type PresenceWatch struct {
	b    *Broker
	fn   func(Presence)
	done chan struct{}
}

// presenceWatches are the open PresenceWatches. mu also orders sessions
// coming up (hook.sessions) with the announcements, so that watchers see a
// device's changes in the order they took effect.
type presenceWatches struct {
	mu     sync.Mutex
	set    map[*PresenceWatch]struct{}
	closed bool
}

// WatchPresence calls fn with every device's connection and disconnection,
// in the order they happen, until the watch or the broker is closed.
// Anonymous clients are not devices and are left out. A connection that
// another one with the same client id took over ends without a
// disconnection: the device never went offline.
//
// fn runs on the client's own goroutine, in the middle of its login or its
// end, with the broker's presence lock held: it must return at once (hand
// the change on without blocking, or drop it) and must not call the
// watch's or the broker's methods.
func (b *Broker) WatchPresence(fn func(Presence)) (*PresenceWatch, error) {
	w := &PresenceWatch{b: b, fn: fn, done: make(chan struct{})}
	ps := &b.presence
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, ErrClosed
	}
	if ps.set == nil {
		ps.set = make(map[*PresenceWatch]struct{})
	}
	ps.set[w] = struct{}{}
	return w, nil
}

// Done is closed when the watch or the broker is closed: fn is not called
// again.
func (w *PresenceWatch) Done() <-chan struct{} { return w.done }

// Close ends the watch. It is safe to call more than once, from any
// goroutine.
func (w *PresenceWatch) Close() {
	ps := &w.b.presence
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if _, ok := ps.set[w]; ok {
		delete(ps.set, w)
		close(w.done)
	}
}

// online makes s its device's live session and announces it.
func (b *Broker) online(s *session) {
	ps := &b.presence
	ps.mu.Lock()
	defer ps.mu.Unlock()
	b.hook.sessions.Store(s.id, s)
	if !s.anonymous {
		b.announce(Presence{Device: s.id, Connected: true, Time: time.Now().UTC(), Remote: s.remote, Listener: s.listener, ProtocolVersion: s.proto})
	}
}

// offline announces that s, which was its device's live session until
// OnDisconnect removed it, has ended: after the device's last-seen time is
// recorded, so that a watcher that looks the device up finds it. A newer
// session of the device that came up meanwhile has been announced already:
// the device is online, and nothing is said.
func (b *Broker) offline(s *session, err error) {
	ps := &b.presence
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if _, newer := b.hook.sessions.Load(s.id); newer || s.anonymous {
		return
	}
	p := Presence{Device: s.id, Time: time.Now().UTC(), Remote: s.remote, Listener: s.listener, ProtocolVersion: s.proto}
	if err != nil {
		p.Reason = err.Error()
	}
	b.announce(p)
}

// announce hands p to every watch; presence.mu is held.
func (b *Broker) announce(p Presence) {
	for w := range b.presence.set {
		w.fn(p)
	}
}

// closePresence ends every PresenceWatch and refuses new ones.
func (b *Broker) closePresence() {
	ps := &b.presence
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for w := range ps.set {
		close(w.done)
	}
	ps.set, ps.closed = nil, true
}
