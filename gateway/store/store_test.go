package store

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/payload"
	"github.com/perch-gw/perch/gateway/query"
)

// base is a fixed time (2026-01-01T00:00:00Z) for controlled clocks.
const base = int64(1767225600000)

func openT(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func write(t testing.TB, s *Store, dev string, ts int64, kv ...any) {
	t.Helper()
	if err := s.Write(msg(dev, ts, kv...)); err != nil {
		t.Fatalf("write %s@%d: %v", dev, ts, err)
	}
}

func msg(dev string, ts int64, kv ...any) Message {
	m := Message{Time: ts, Device: dev, Topic: "t/" + dev}
	for i := 0; i < len(kv); i += 2 {
		m.Fields = append(m.Fields, payload.Field{Name: kv[i].(string), Value: toF(kv[i+1])})
	}
	return m
}

func toF(v any) float64 {
	switch v := v.(type) {
	case int:
		return float64(v)
	case float64:
		return v
	}
	panic(v)
}

type rec struct {
	ts  int64
	dev string
	v   string
}

func scan(t testing.TB, s *Store, q Query) ([]string, []rec) {
	t.Helper()
	if q.To == 0 {
		q.To = math.MaxInt64
	}
	var cols []string
	var out []rec
	err := s.Scan(q, func(c []string) error { cols = c; return nil }, func(r *Record) error {
		out = append(out, rec{r.Time, r.Device, fmt.Sprint(r.Values)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cols, out
}

func TestRoundTrip(t *testing.T) {
	s := openT(t, Config{})
	write(t, s, "b", base+1000, "temp", 21.5, "hum", 40)
	write(t, s, "a", base+1000, "temp", 20)
	write(t, s, "a", base+2000, "hum", 41)
	cols, got := scan(t, s, Query{})
	if fmt.Sprint(cols) != "[hum temp]" {
		t.Fatalf("cols %v", cols)
	}
	want := []rec{{base + 1000, "a", "[NaN 20]"}, {base + 1000, "b", "[40 21.5]"}, {base + 2000, "a", "[41 NaN]"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	_, got = scan(t, s, Query{Desc: true, Limit: 1, Fields: []string{"hum"}})
	if fmt.Sprint(got) != fmt.Sprint([]rec{{base + 2000, "a", "[41]"}}) {
		t.Fatalf("desc limit: %v", got)
	}
	_, got = scan(t, s, Query{Device: "b"})
	if len(got) != 1 || got[0].dev != "b" {
		t.Fatalf("device filter: %v", got)
	}
	dir := s.Dir()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, Config{Dir: dir})
	_, got2 := scan(t, s2, Query{})
	if fmt.Sprint(got2) != fmt.Sprint(want) {
		t.Fatalf("after reopen: %v", got2)
	}
	st := s2.Stats()
	if st.Series != 4 || st.Points != 4 || st.First != base+1000 || st.Last != base+2000 {
		t.Fatalf("stats %+v", st)
	}
}

// Defect 4: the engine hides a point that is not after its series' newest
// one until the partition is flushed. Through the store it is visible at
// once, in order.
func TestOutOfOrderVisible(t *testing.T) {
	s := openT(t, Config{})
	for _, ts := range []int64{100, 300, 200, 300, 50} {
		write(t, s, "d", base+ts*1000, "v", int(ts))
	}
	waitIdle(t, s)
	_, got := scan(t, s, Query{})
	want := "[{1767225650000 d [50]} {1767225700000 d [100]} {1767225800000 d [200]} {1767225900000 d [300]}]"
	if fmt.Sprint(got) != want {
		// both points at 300 are kept, as one record (one per time and device)
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if st := s.Stats(); st.Overlay == 0 {
		t.Fatalf("expected out-of-order points held in the overlay: %+v", st)
	}
}

// waitIdle waits until the writer has taken every pending point.
func waitIdle(t testing.TB, s *Store) {
	t.Helper()
	for i := 0; ; i++ {
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		if n == 0 {
			// the writer's step is done once it lets go of ins
			s.ins.Lock()
			n = len(s.spare)
			s.ins.Unlock()
			_ = n
			return
		}
		if i > 10000 {
			t.Fatal("writer never drained")
		}
		time.Sleep(time.Millisecond)
	}
}

// Defect 2: concurrent InsertRows on one series lose points. Writes from
// many goroutines all land.
func TestConcurrentWriters(t *testing.T) {
	s := openT(t, Config{SyncInterval: time.Second})
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := s.Write(msg("d", base+int64(i*writers+w), "v", 1)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	_, got := scan(t, s, Query{})
	if len(got) != writers*each {
		t.Fatalf("%d records, want %d", len(got), writers*each)
	}
}

// Defect 3: the engine silently drops points older than its two writable
// partitions, and any point at timestamp 0. The store refuses both, visibly.
func TestTooOldRefused(t *testing.T) {
	s := openT(t, Config{PartitionDuration: time.Minute})
	write(t, s, "d", base, "v", 1)
	write(t, s, "d", base+3*60_000, "v", 2) // head full: the next write rolls
	write(t, s, "d", base+4*60_000, "v", 3)
	write(t, s, "d", base+6*60_000, "v", 4)
	waitIdle(t, s)
	err := s.Write(msg("d", base+1000, "v", 9))
	var re *RejectError
	if !errors.As(err, &re) || re.Reason != ReasonTooOld || !errors.Is(err, ErrRejected) {
		t.Fatalf("old point: %v", err)
	}
	if err := s.Write(msg("d", 0, "v", 9)); !errors.As(err, &re) || re.Reason != ReasonTooOld {
		t.Fatalf("ts 0: %v", err)
	}
	if got := s.Stats().Rejected[ReasonTooOld]; got != 2 {
		t.Fatalf("rejected count %d", got)
	}
	// A late point inside the writable window is kept.
	write(t, s, "d", base+5*60_000, "v", 5)
	_, got := scan(t, s, Query{})
	if len(got) != 5 {
		t.Fatalf("%v", got)
	}
}

func TestAggregate(t *testing.T) {
	s := openT(t, Config{PartitionDuration: time.Minute})
	for i := range 600 { // 10 minutes at 1 Hz, 10 partitions
		write(t, s, "d", base+int64(i)*1000, "v", i)
	}
	cols, got := scan(t, s, Query{Agg: query.Agg("avg"), Every: 60_000})
	if len(cols) != 1 || len(got) != 10 {
		t.Fatalf("%v %v", cols, got)
	}
	if got[0].v != "[29.5]" || got[9].v != "[569.5]" || got[3].ts != base+180_000 {
		t.Fatalf("%v", got)
	}
	_, got = scan(t, s, Query{Agg: query.Agg("count")})
	if len(got) != 1 || got[0].v != "[600]" || got[0].ts != base {
		t.Fatalf("%v", got)
	}
	_, got = scan(t, s, Query{Agg: query.Agg("max"), Every: 300_000, Desc: true, From: base + 10_000, To: base + 400_000})
	if fmt.Sprint(got) != fmt.Sprint([]rec{{base + 300_000, "d", "[400]"}, {base, "d", "[299]"}}) {
		t.Fatalf("%v", got)
	}
}

func TestClear(t *testing.T) {
	s := openT(t, Config{PartitionDuration: time.Second})
	for i := range 100 {
		write(t, s, "d", base+int64(i)*100, "v", i)
	}
	waitIdle(t, s)
	if err := s.Clear(base+2000, base+5000); err != nil {
		t.Fatal(err)
	}
	_, got := scan(t, s, Query{})
	if len(got) != 100-31 {
		t.Fatalf("%d left", len(got))
	}
	var re *RejectError
	if err := s.Write(msg("d", base+3000, "v", 1)); !errors.As(err, &re) || re.Reason != ReasonCleared {
		t.Fatalf("write into cleared: %v", err)
	}
	dir := s.Dir()
	s.Close()
	s = openT(t, Config{Dir: dir, PartitionDuration: time.Second})
	if _, got := scan(t, s, Query{}); len(got) != 69 {
		t.Fatalf("after reopen %d", len(got))
	}
	if err := s.Clear(0, math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if _, got := scan(t, s, Query{}); len(got) != 0 {
		t.Fatalf("after clear all %d", len(got))
	}
	write(t, s, "d", base, "v", 1)
	if _, got := scan(t, s, Query{}); len(got) != 1 {
		t.Fatalf("after clear all and write %d", len(got))
	}
	if st := s.Stats(); st.Series != 1 {
		t.Fatalf("%+v", st)
	}
}

// Defects 5 and 6: the engine's retention counts from a partition's flush
// time, may never start, and deleting a partition it has mapped frees no
// space. The store's retention hides expired points at once and truncates
// whole expired partitions, so their blocks really are freed.
func TestRetentionFreesSpace(t *testing.T) {
	var now atomic.Int64
	now.Store(base + 60_000)
	s := openT(t, Config{PartitionDuration: time.Second, Retention: 90 * time.Second,
		Now: func() time.Time { return time.UnixMilli(now.Load()) }})
	for i := range 600 { // 60 s of points, 10 a second: 60 partitions
		write(t, s, "d", base+int64(i)*100, "v", i)
	}
	waitIdle(t, s)
	s.mu.Lock()
	first := s.man.Partitions[0].Name
	nparts := len(s.man.Partitions)
	s.mu.Unlock()
	held, err := os.Open(filepath.Join(s.Dir(), "ts", first, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	before := s.Stats().Bytes

	now.Store(base + 140_000) // cutoff at base+50s: 50 of 60 seconds expire
	eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.man.Partitions) < nparts-40
	})
	_, got := scan(t, s, Query{})
	if len(got) == 0 || got[0].ts < base+50_000 {
		t.Fatalf("expired points still visible: first %v of %d", got[0], len(got))
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(held.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 0 || st.Blocks != 0 {
		t.Fatalf("an expired partition still holds %d bytes (%d blocks)", st.Size, st.Blocks)
	}
	if after := s.Stats().Bytes; after >= before {
		t.Fatalf("bytes on disk %d, before %d", after, before)
	}
	var re *RejectError
	if err := s.Write(msg("d", base+1000, "v", 1)); !errors.As(err, &re) || re.Reason != ReasonExpired {
		t.Fatalf("write before the cutoff: %v", err)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Many writers, timestamps a little out of order, partitions rolling every
// few messages: every point is stored exactly once and visible at once.
// (This caught the writer reusing the array it was still inserting as the
// next queue when late points were held back.)
func TestConcurrentLateRolling(t *testing.T) {
	// 10 s partitions, 100 ms apart: 24 rollovers, and room for a writer
	// the scheduler leaves behind for a few seconds.
	s := openT(t, Config{PartitionDuration: 10 * time.Second, SyncInterval: time.Second})
	const writers, each, round = 4, 600, 10
	// Rounds keep the writers within 4 s of each other; inside a round
	// they race freely.
	for r := range each / round {
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for k := range round {
					i := (r*round+k)*writers + w
					ts := base + int64(i)*100
					if i%5 == 0 {
						ts -= 350 // late, inside the writable window
					}
					m := msg("d", ts, "v", i)
					m.Topic = fmt.Sprint("t/", w)
					if err := s.Write(m); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	counts := map[int64]int{}
	err := s.Scan(Query{To: math.MaxInt64, Agg: query.Agg("count"), Every: 1}, func([]string) error { return nil },
		func(r *Record) error { counts[r.Time] += int(r.Values[0]); return nil })
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for ts, n := range counts {
		if n != 1 {
			t.Errorf("ts %d: %d points", ts, n)
		}
		total += n
	}
	if total != writers*each {
		t.Fatalf("%d points stored, want %d (rejected %v)", total, writers*each, s.Stats().Rejected)
	}
}
