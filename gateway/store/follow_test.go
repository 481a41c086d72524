package store

import (
	"encoding/json"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"
)

// readAll reads every message after p, in batches of n.
func readAll(t *testing.T, s *Store, p Pos, n int) ([]string, Pos) {
	t.Helper()
	var out []string
	for {
		got, err := s.ReadAfter(p, n, func(e *Entry) error {
			out = append(out, fmt.Sprintf("%s %s %d %v", e.Device, e.Topic, e.Time-base, e.Fields))
			p = e.Pos
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got == 0 {
			return out, p
		}
		if got > n {
			t.Fatalf("batch of %d, asked for %d", got, n)
		}
	}
}

// A follower reads messages in the order they were accepted, late and
// out-of-order ones included, in batches, and resumes after a position.
func TestFollowAcceptOrder(t *testing.T) {
	s := openT(t, Config{PartitionDuration: time.Minute})
	write(t, s, "a", base+5000, "t", 1, "h", 2)
	write(t, s, "b", base+1000, "t", 3) // out of order
	write(t, s, "a", base+9000, "t", 4)
	got, last := readAll(t, s, Pos{}, 2)
	want := "[a t/a 5000 [{t 1} {h 2}] b t/b 1000 [{t 3}] a t/a 9000 [{t 4}]]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got  %v\nwant %s", got, want)
	}
	if n, _ := s.ReadAfter(last, 10, func(*Entry) error { return nil }); n != 0 {
		t.Fatalf("%d messages after the last", n)
	}
	ch := s.Changed()
	select {
	case <-ch:
		t.Fatal("changed before a write")
	default:
	}
	write(t, s, "c", base+100, "x", 7)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed not closed by a write")
	}
	got, _ = readAll(t, s, last, 10)
	if fmt.Sprint(got) != "[c t/c 100 [{x 7}]]" {
		t.Fatalf("after the last: %v", got)
	}
	pts, app, err := s.Backlog(last)
	if err != nil || pts != 1 || app != 5 {
		t.Fatalf("backlog after the last: %d points, appended %d, %v", pts, app, err)
	}
	if pts, _, _ := s.Backlog(Pos{}); pts != 5 {
		t.Fatalf("backlog of all: %d points, want 5", pts)
	}
}

// A hold keeps the journal segments the engine no longer needs, across
// many partition rollovers and a restart, until the follower moves on;
// then they go. Retention overrides a hold.
func TestHoldKeepsJournal(t *testing.T) {
	dir := t.TempDir()
	var now atomic.Int64
	now.Store(base)
	cfg := Config{Dir: dir, PartitionDuration: time.Second, journalSegment: 1 << 10,
		Now: func() time.Time { return time.UnixMilli(now.Load()) }}
	s := openT(t, cfg)
	if err := s.SetHold("up", Hold{Note: json.RawMessage(`{"sent":[]}`)}); err != nil {
		t.Fatal(err)
	}
	const n = 3000 // 30 s at 100 Hz: 30 partitions, ~40 journal segments
	for i := range n {
		write(t, s, "d", base+int64(i)*10, "v", i)
	}
	waitIdle(t, s)
	eventually(t, func() bool { return s.Stats().Flushed >= base+20_000 })
	segs := len(s.j.Segments())
	if segs < 20 {
		t.Fatalf("only %d journal segments: the test does not exercise trimming", segs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, cfg)
	h, ok := s.HoldOf("up")
	if !ok || h.After != (Pos{}) || string(h.Note) != `{"sent":[]}` {
		t.Fatalf("hold after restart: %+v %v", h, ok)
	}
	got, last := readAll(t, s, Pos{}, 500)
	if len(got) != n {
		t.Fatalf("the follower read %d of %d messages", len(got), n)
	}
	for i, g := range got {
		if want := fmt.Sprintf("d t/d %d [{v %d}]", i*10, i); g != want {
			t.Fatalf("message %d: %s, want %s", i, g, want)
		}
	}
	// Caught up: the segments go at the next maintenance.
	if err := s.SetHold("up", Hold{After: last}); err != nil {
		t.Fatal(err)
	}
	write(t, s, "d", base+n*10, "v", n)
	eventually(t, func() bool { return len(s.j.Segments()) < segs/2 })

	// A held segment whose points have all expired goes too.
	if err := s.SetHold("up", Hold{}); err != nil {
		t.Fatal(err)
	}
	oldSegs := s.j.Segments()
	oldLast := oldSegs[len(oldSegs)-1].ID
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.Retention = time.Second
	now.Store(base + 1_000_000)
	s = openT(t, cfg)
	for i := range 1000 {
		write(t, s, "d", base+1_000_000+int64(i)*10, "v", i)
	}
	eventually(t, func() bool { return s.j.Segments()[0].ID >= oldLast })
	if got, _ := readAll(t, s, Pos{}, 300); len(got) != 1000 {
		t.Fatalf("after retention the follower reads %d messages, want the 1000 new ones", len(got))
	}
	if err := s.Release("up"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.HoldOf("up"); ok {
		t.Fatal("hold still there after Release")
	}
}

// Without a hold the journal is trimmed as before: the follower API costs
// nothing to a store nobody follows.
func TestNoHoldTrims(t *testing.T) {
	s := openT(t, Config{PartitionDuration: time.Second, journalSegment: 4 << 10})
	for i := range 3000 {
		write(t, s, "d", base+int64(i)*10, "v", i)
	}
	waitIdle(t, s)
	eventually(t, func() bool { return len(s.j.Segments()) < 20 })
}

// A full Clear ends what a follower had yet to read.
func TestFollowClear(t *testing.T) {
	s := openT(t, Config{})
	write(t, s, "a", base, "v", 1)
	ch := s.Changed()
	if err := s.Clear(0, math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	<-ch
	write(t, s, "a", base+1, "v", 2)
	got, _ := readAll(t, s, Pos{}, 10)
	if fmt.Sprint(got) != "[a t/a 1 [{v 2}]]" {
		t.Fatalf("after clear: %v", got)
	}
}
