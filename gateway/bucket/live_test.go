package bucket

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/db"
)

func newTestManager(t *testing.T) *Manager {
	t.Helper()
	d, err := db.Open(filepath.Join(t.TempDir(), "perch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	m, err := New(Config{DB: d, Dir: filepath.Join(t.TempDir(), "buckets"), SyncInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func (m *Manager) mustCreate(t *testing.T, id, topic string) {
	t.Helper()
	if _, err := m.Create(Bucket{ID: id, Enabled: true, Topic: topic, Retention: Duration(DefaultRetention), Resolution: Duration(DefaultResolution)}); err != nil {
		t.Fatal(err)
	}
}

// recorder collects what a tap is given.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) add(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) get() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// TapAll sees the points of every bucket, from MQTT messages and API
// writes alike, those of a bucket created after it included, in the order
// they are stored and each named by its bucket. A deleted bucket does not
// end it; closing it or the Manager does.
func TestTapAll(t *testing.T) {
	m := newTestManager(t)
	m.mustCreate(t, "env", "sensors/+/env")
	var all, other recorder
	tap, err := m.TapAll(all.add)
	if err != nil {
		t.Fatal(err)
	}
	tap2, err := m.TapAll(other.add)
	if err != nil {
		t.Fatal(err)
	}
	one, err := m.Subscribe("env", 0)
	if err != nil {
		t.Fatal(err)
	}
	m.mustCreate(t, "later", "")

	if err := m.Ingest("d1", "sensors/d1/env", []byte(`{"ts":1767225600000,"t":21.5}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Write("later", "api", []byte(`[{"x":1},{"x":2}]`)); err != nil {
		t.Fatal(err)
	}
	got := all.get() // taps run before the write returns
	if len(got) != 3 {
		t.Fatalf("%d events, want 3: %+v", len(got), got)
	}
	if ev := got[0]; ev.Bucket != "env" || ev.Device != "d1" || ev.Topic != "sensors/d1/env" || ev.Time != 1767225600000 ||
		len(ev.Fields) != 1 || ev.Fields[0].Name != "t" || ev.Fields[0].Value != 21.5 {
		t.Fatalf("first event: %+v", ev)
	}
	for i, want := range []float64{1, 2} {
		if ev := got[1+i]; ev.Bucket != "later" || ev.Device != "api" || ev.Topic != "" || ev.Fields[0].Name != "x" || ev.Fields[0].Value != want {
			t.Fatalf("write to later: %+v, want x=%v", ev, want)
		}
	}
	select {
	case ev := <-one.C:
		if ev.Bucket != "env" || ev.Device != "d1" {
			t.Fatalf("env's own subscription: %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("env's own subscription got nothing")
	}
	select {
	case ev := <-one.C:
		t.Fatalf("env's subscription got another bucket's point: %+v", ev)
	default:
	}

	if err := m.Delete("env"); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-one.C; ok {
		t.Fatal("env's subscription still open after its bucket was deleted")
	}
	tap2.Close()
	tap2.Close() // twice is fine
	select {
	case <-tap2.Done():
	default:
		t.Fatal("a closed tap is not done")
	}
	if _, err := m.Write("later", "api", []byte(`{"x":3}`)); err != nil {
		t.Fatal(err)
	}
	if got := all.get(); len(got) != 4 || got[3].Bucket != "later" || got[3].Fields[0].Value != 3 {
		t.Fatalf("after a delete: %+v", got)
	}
	if n := len(other.get()); n != 3 {
		t.Fatalf("a closed tap was called: %d events", n)
	}

	select {
	case <-tap.Done():
		t.Fatal("tap done before the Manager closed")
	default:
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tap.Done():
	default:
		t.Fatal("tap not done after the Manager closed")
	}
	tap.Close() // after the Manager: fine
	if _, err := m.TapAll(all.add); err == nil {
		t.Fatal("TapAll on a closed Manager succeeded")
	}
}
