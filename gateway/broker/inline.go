package broker

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/perch-gw/perch/gateway/acl"
)

// The admin API publishes and watches topics through mochi's inline client,
// which lives inside the broker: no connection, no login, no ACL (the API
// has authenticated its caller). Its messages reach devices like any other,
// each device's own ACL deciding what it receives.

// APIDevice is the device a message published through Publish is recorded
// under (see Recorder), as the buckets' own API writes are.
const APIDevice = "api"

// MaxAPITopic bounds a topic or filter given to Publish or Watch, as it
// bounds a bucket's filter.
const MaxAPITopic = 1024

var (
	// ErrInvalidTopic is wrapped by Publish's and Watch's errors for a
	// topic name or filter they do not take; the message says why.
	ErrInvalidTopic = errors.New("invalid topic")
	// ErrTooLarge is wrapped by Publish's error for a message over the
	// broker's maximum packet size.
	ErrTooLarge = errors.New("message too large")
	// ErrNotStored is wrapped by Publish's error when a bucket's store
	// failed: the message was neither stored nor published.
	ErrNotStored = errors.New("message not stored")
	// ErrClosed is returned by Publish and Watch once the broker is closed.
	ErrClosed = errors.New("broker closed")
)

// detachInline keeps mochi's inline client out of its client list. Listed,
// it would count as a session, and a device with the client id "inline"
// would "take over" its session (mochi keys takeovers on the id alone),
// stopping it. Publish and Subscribe reach it directly, never by the list.
// Its id becomes "", which no connected client can have (OnConnect refuses
// it, and mochi assigns an id otherwise), so that a device's no-local
// subscription never mistakes an API message for its own.
func detachInline(s *mqtt.Server) {
	if cl, ok := s.Clients.Get(mqtt.InlineClientId); ok && cl.Net.Inline {
		s.Clients.Delete(mqtt.InlineClientId)
		cl.ID = ""
	}
}

// validAPITopic says why t may not be given to Publish (filter false) or
// Watch (filter true), wrapping ErrInvalidTopic, or returns nil.
func validAPITopic(t string, filter bool) error {
	what, err := "", acl.ValidTopic(t)
	if filter {
		what, err = " filter", acl.ValidFilter(t)
	}
	switch {
	case err != nil:
		// acl says `acl: invalid topic name "a/#": contains a wildcard`.
		reason := err.Error()
		if i := strings.Index(reason, `"`); i >= 0 {
			reason = reason[i:]
		}
		return fmt.Errorf("%w%s %s", ErrInvalidTopic, what, reason)
	case len(t) > MaxAPITopic:
		return fmt.Errorf("%w%s: %d bytes; at most %d are allowed", ErrInvalidTopic, what, len(t), MaxAPITopic)
	case t[0] == '$':
		return fmt.Errorf("%w%s %q: topics beginning with '$' belong to the broker", ErrInvalidTopic, what, t)
	}
	return nil
}

// Publish sends a message to the devices subscribed to topic, as if a
// client had published it: retained if retain is set, delivered at up to
// qos. topic must be a topic name (no wildcards) not beginning with '$'.
//
// A message on a topic that a bucket records is first stored there under
// the device APIDevice, exactly as a device's would be: a payload the
// bucket refuses gives an error wrapping ErrRejected (and ErrBadPayload),
// a store that fails one wrapping ErrNotStored, and in both cases the
// message is not published (as an MQTT 5 device's is not).
func (b *Broker) Publish(topic string, payload []byte, qos byte, retain bool) error {
	if err := validAPITopic(topic, false); err != nil {
		return err
	}
	if qos > 2 {
		return fmt.Errorf("broker: publish %s: QoS %d is not 0, 1 or 2", topic, qos)
	}
	// A PUBLISH is a header of at most 5 bytes, the topic with its
	// length, a packet id, properties; a device could not send more.
	if n := 5 + 2 + len(topic) + 2 + 1 + len(payload); n > b.cfg.MQTT.MaxPacketSize {
		return fmt.Errorf("%w: a %d byte payload on %s makes a packet over the broker's limit of %d bytes (mqtt.max_packet_size)",
			ErrTooLarge, len(payload), topic, b.cfg.MQTT.MaxPacketSize)
	}
	select {
	case <-b.closed:
		return ErrClosed
	default:
	}
	if r := b.cfg.Recorder; r != nil && r.Matches(topic) {
		if err := r.Ingest(APIDevice, topic, payload, time.Now()); err != nil {
			if errors.Is(err, ErrRejected) {
				return fmt.Errorf("broker: publish %s: %w", topic, err)
			}
			b.hook.recordFailures.Add(1)
			b.log.Error("mqtt: a message published through the API could not be stored; not published", "topic", topic, "err", err)
			return fmt.Errorf("broker: publish %s: %w: %w", topic, ErrNotStored, err)
		}
	}
	if err := b.server.Publish(topic, payload, retain, qos); err != nil {
		return fmt.Errorf("broker: publish %s: %w", topic, err)
	}
	return nil
}

// Message is a message a Watch delivers.
type Message struct {
	Time    time.Time // when the broker passed it on
	Topic   string
	Payload []byte
	QoS     byte // as published
	// Retain is the publisher's retain flag; the retained messages sent
	// when a Watch starts have it set too.
	Retain bool
}

// Watch receives the messages published on the topics of a filter. A
// watcher more than its buffer behind loses messages (counted by Dropped
// and in Stats): a slow browser tab must never slow the broker down. C is
// closed when the Watch or the broker is closed.
type Watch struct {
	C <-chan Message

	c      chan Message
	b      *Broker
	filter string
	subs   []inlineSub

	mu        sync.RWMutex // held for reading while sending on c
	closed    bool
	dropped   atomic.Int64
	closeOnce sync.Once
}

type inlineSub struct {
	filter string
	id     int
}

// watches are the open Watches; nil once the broker is closed.
type watches struct {
	mu  sync.Mutex
	set map[*Watch]struct{}
	seq atomic.Int64 // mochi's inline subscription ids
	// dropped counts messages lost by all watches, closed ones included.
	dropped atomic.Int64
}

// Watch starts delivering the messages published on topics that match
// filter (an MQTT topic filter, not beginning with '$'; topics beginning
// with '$' never match it), starting with the retained ones. buffer is how
// many messages may wait for the reader (256 when 0 or less).
func (b *Broker) Watch(filter string, buffer int) (*Watch, error) {
	if err := validAPITopic(filter, true); err != nil {
		return nil, err
	}
	if buffer <= 0 {
		buffer = 256
	}
	c := make(chan Message, buffer)
	w := &Watch{C: c, c: c, b: b, filter: filter}
	ws := &b.watches
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.set == nil {
		return nil, ErrClosed
	}
	// mochi matches an inline subscription "a/#" to "a/b" but not to "a"
	// (it gathers the wrong node's inline subscribers for a parent level;
	// topics.go scanSubscribers), though MQTT says '#' includes the parent:
	// subscribe the parent too. deliver checks every topic with acl.Match.
	filters := []string{filter}
	if parent, ok := strings.CutSuffix(filter, "/#"); ok && parent != "" {
		filters = append(filters, parent)
	}
	// Into the topic index directly rather than by Server.Subscribe, whose
	// replay of retained messages walks the index without its locks
	// (scanMessages reads retainPath while RetainMessage writes it: the
	// race detector catches it with a retained publish at the same time).
	for _, f := range filters {
		id := int(ws.seq.Add(1))
		b.server.Topics.InlineSubscribe(mqtt.InlineSubscription{
			Subscription: packets.Subscription{Filter: f, Identifier: id},
			Handler:      w.deliver,
		})
		w.subs = append(w.subs, inlineSub{f, id})
	}
	// The retained messages, from their own (locked) map, by topic.
	retained := b.server.Topics.Retained.GetAll()
	topics := make([]string, 0, len(retained))
	for t := range retained {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		w.deliver(nil, packets.Subscription{}, retained[t])
	}
	ws.set[w] = struct{}{}
	return w, nil
}

// deliver runs on the publisher's goroutine (or Watch's, for retained
// messages): it must never block. Retained messages are sent as stored
// (with their retain flag).
func (w *Watch) deliver(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	// mochi hands inline subscribers '$SYS' topics even for '#'
	// (gatherInlineSubscriptions skips the [MQTT-4.7.2-1] check).
	if pk.TopicName == "" || pk.TopicName[0] == '$' || !acl.Match(w.filter, pk.TopicName) {
		return
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return
	}
	if len(w.c) == cap(w.c) {
		w.drop()
		return
	}
	m := Message{Time: time.Now(), Topic: pk.TopicName, Payload: bytes.Clone(pk.Payload), QoS: pk.FixedHeader.Qos, Retain: pk.FixedHeader.Retain}
	select {
	case w.c <- m:
	default:
		w.drop()
	}
}

func (w *Watch) drop() {
	w.dropped.Add(1)
	w.b.watches.dropped.Add(1)
}

// Dropped is the number of messages this Watch lost because its reader
// was behind.
func (w *Watch) Dropped() int64 { return w.dropped.Load() }

// Filter is the topic filter watched.
func (w *Watch) Filter() string { return w.filter }

// Close removes the Watch's subscription and closes C. It is safe to call
// more than once, from any goroutine.
func (w *Watch) Close() {
	w.closeOnce.Do(func() {
		w.unsubscribe()
		w.mu.Lock()
		w.closed = true
		close(w.c)
		w.mu.Unlock()
		ws := &w.b.watches
		ws.mu.Lock()
		delete(ws.set, w)
		ws.mu.Unlock()
	})
}

func (w *Watch) unsubscribe() {
	for _, s := range w.subs {
		w.b.server.Topics.InlineUnsubscribe(s.id, s.filter)
	}
	w.subs = nil
}

// closeWatches closes every Watch and refuses new ones.
func (b *Broker) closeWatches() {
	ws := &b.watches
	ws.mu.Lock()
	open := ws.set
	ws.set = nil
	ws.mu.Unlock()
	for w := range open {
		w.Close()
	}
	if len(open) > 0 {
		b.log.Debug("closed API watches", slog.Int("count", len(open)))
	}
}

func (b *Broker) streams() int64 {
	ws := &b.watches
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return int64(len(ws.set))
}
