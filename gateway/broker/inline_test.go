package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRecorder records what matches "rec/#", refuses payloads that are
// "bad" and fails on "fail".
type fakeRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *fakeRecorder) Matches(topic string) bool { return strings.HasPrefix(topic, "rec/") }

func (r *fakeRecorder) Ingest(device, topic string, payload []byte, _ time.Time) error {
	switch string(payload) {
	case "bad":
		return fmt.Errorf("%w: %w: not JSON", ErrRejected, ErrBadPayload)
	case "fail":
		return errors.New("disk full")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, device+" "+topic+" "+string(payload))
	return nil
}

func runBroker(t *testing.T, cfg Config) *Broker {
	t.Helper()
	cfg.Auth = noAuth{}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return b
}

func next(t *testing.T, w *Watch) Message {
	t.Helper()
	select {
	case m, ok := <-w.C:
		if !ok {
			t.Fatal("watch closed")
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5 s")
	}
	return Message{}
}

func none(t *testing.T, w *Watch) {
	t.Helper()
	select {
	case m := <-w.C:
		t.Fatalf("unexpected message %s %q", m.Topic, m.Payload)
	default:
	}
}

func TestPublishAndWatch(t *testing.T) {
	b := runBroker(t, Config{})
	if err := b.Publish("keep/1", []byte("old"), 0, true); err != nil {
		t.Fatal(err)
	}
	w, err := b.Watch("keep/#", 16)
	if err != nil {
		t.Fatal(err)
	}
	if m := next(t, w); m.Topic != "keep/1" || string(m.Payload) != "old" || !m.Retain {
		t.Fatalf("retained: %+v", m)
	}
	all, err := b.Watch("#", 16)
	if err != nil {
		t.Fatal(err)
	}
	if m := next(t, all); m.Topic != "keep/1" {
		t.Fatalf("retained on #: %+v", m)
	}
	for _, m := range []struct {
		topic string
		qos   byte
	}{{"keep", 1}, {"keep/a/b", 2}, {"other", 0}} {
		if err := b.Publish(m.topic, []byte("p-"+m.topic), m.qos, false); err != nil {
			t.Fatal(err)
		}
	}
	// '#' covers the parent level: mochi's inline subscriptions alone miss it.
	for _, want := range []string{"keep", "keep/a/b"} {
		if m := next(t, w); m.Topic != want || string(m.Payload) != "p-"+want || m.Retain || m.Time.IsZero() {
			t.Fatalf("got %+v, want %s", m, want)
		}
	}
	none(t, w)
	for _, want := range []string{"keep", "keep/a/b", "other"} {
		if m := next(t, all); m.Topic != want {
			t.Fatalf("# got %s, want %s", m.Topic, want)
		}
	}
	// $ topics never reach a watch, though mochi gives inline subscribers
	// its $SYS messages.
	if err := b.server.Publish("$SYS/broker/uptime", []byte("1"), false, 0); err != nil {
		t.Fatal(err)
	}
	none(t, all)
	if got := b.Stats().Streams; got != 2 {
		t.Fatalf("streams = %d, want 2", got)
	}

	// Closing removes the subscriptions from mochi's index.
	w.Close()
	w.Close()
	all.Close()
	if _, ok := <-w.C; ok {
		t.Fatal("C not closed")
	}
	for _, topic := range []string{"keep", "keep/x", "other"} {
		if n := len(b.server.Topics.Subscribers(topic).InlineSubscriptions); n != 0 {
			t.Fatalf("%d inline subscriptions left for %s", n, topic)
		}
	}
	if got := b.Stats().Streams; got != 0 {
		t.Fatalf("streams = %d after close", got)
	}
	// the inline client is no session and no client
	if st := b.Stats(); st.Sessions != 0 || st.ClientsConnected != 0 || len(b.Statuses()) != 0 {
		t.Fatalf("inline client shows: %+v %v", st, b.Statuses())
	}
}

// A slow reader loses messages, counted, and never slows the publisher.
func TestWatchSlowReader(t *testing.T) {
	b := runBroker(t, Config{})
	w, err := b.Watch("s/+", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10 {
			if err := b.Publish("s/x", []byte{byte(i)}, 1, false); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publishing blocked on a slow watch")
	}
	if w.Dropped() != 8 || b.Stats().StreamsDropped != 8 {
		t.Fatalf("dropped %d (stats %d), want 8", w.Dropped(), b.Stats().StreamsDropped)
	}
	if m := next(t, w); m.Payload[0] != 0 || m.QoS != 1 {
		t.Fatalf("first kept: %+v", m)
	}
}

func TestPublishRecorded(t *testing.T) {
	rec := &fakeRecorder{}
	b := runBroker(t, Config{Recorder: rec})
	w, err := b.Watch("rec/#", 8)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := b.Publish("rec/1", []byte(`{"v":1}`), 1, false); err != nil {
		t.Fatal(err)
	}
	if m := next(t, w); string(m.Payload) != `{"v":1}` {
		t.Fatalf("%+v", m)
	}
	if err := b.Publish("rec/1", []byte("bad"), 1, false); !errors.Is(err, ErrRejected) || !errors.Is(err, ErrBadPayload) {
		t.Fatalf("a refused payload: %v", err)
	}
	if err := b.Publish("rec/1", []byte("fail"), 1, false); !errors.Is(err, ErrNotStored) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("a failed store: %v", err)
	}
	none(t, w) // neither was published
	if got := b.Stats().StoreFailures; got != 1 {
		t.Fatalf("store failures %d", got)
	}
	if err := b.Publish("norec", []byte("bad"), 0, false); err != nil {
		t.Fatalf("not recorded, not judged: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen) != 1 || rec.seen[0] != `api rec/1 {"v":1}` {
		t.Fatalf("recorded %q", rec.seen)
	}
}

func TestPublishAndWatchRefusals(t *testing.T) {
	b := runBroker(t, Config{})
	for _, topic := range []string{"", "a/#", "a/+", "$SYS/x", "$share/g/a", "a\x00b", strings.Repeat("a", 1025)} {
		if err := b.Publish(topic, nil, 0, false); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("publish %q: %v", topic, err)
		}
	}
	if err := b.Publish(strings.Repeat("a", 1024), nil, 0, false); err != nil {
		t.Errorf("a topic of 1024 bytes: %v", err)
	}
	if err := b.Publish("a", nil, 3, false); err == nil {
		t.Error("QoS 3 accepted")
	}
	if err := b.Publish("a", make([]byte, b.cfg.MQTT.MaxPacketSize), 0, false); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a payload over the packet size: %v", err)
	}
	for _, filter := range []string{"", "a/#/b", "a+", "$SYS/#", "$share/g/#", strings.Repeat("a", 1025)} {
		if _, err := b.Watch(filter, 1); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("watch %q: %v", filter, err)
		}
	}
	if err := b.Publish("a/#", nil, 0, false); err == nil || !strings.Contains(err.Error(), `"a/#": contains a wildcard`) {
		t.Errorf("message: %v", err)
	}
}

// Closing the broker ends every watch; afterwards none starts and nothing
// is published.
func TestWatchBrokerClose(t *testing.T) {
	b := runBroker(t, Config{})
	w, err := b.Watch("a", 1)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	select {
	case _, ok := <-w.C:
		if ok {
			t.Fatal("a message after close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch not closed with the broker")
	}
	w.Close()
	if _, err := b.Watch("a", 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("watch after close: %v", err)
	}
	if err := b.Publish("a", nil, 0, false); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

// Watches opening and closing while messages flow: no send on a closed
// channel, no race.
func TestWatchConcurrency(t *testing.T) {
	b := runBroker(t, Config{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := b.Publish(fmt.Sprintf("c/%d/%d", p, i%3), []byte("x"), byte(i%3), i%7 == 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 200 {
		w, err := b.Watch([]string{"c/#", "c/+/1", "#", "c/0/2"}[i%4], 1+i%3)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			select {
			case <-w.C:
			case <-time.After(time.Second):
			}
		}
		w.Close()
	}
	close(stop)
	wg.Wait()
	if n := b.Stats().Streams; n != 0 {
		t.Fatalf("%d streams left", n)
	}
}
