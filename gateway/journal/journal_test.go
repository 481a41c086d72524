package journal_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/journal"
)

// entry is one replayed record.
type entry struct {
	p   journal.Pos
	rec string
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func open(t testing.TB, cfg journal.Config) *journal.Journal {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	j, err := journal.Open(cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.Dir, err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func replayAll(t testing.TB, j *journal.Journal, from journal.Pos) []entry {
	t.Helper()
	var out []entry
	err := j.Replay(from, func(p journal.Pos, rec []byte) error {
		out = append(out, entry{p, string(rec)})
		return nil
	})
	if err != nil {
		t.Fatalf("Replay(%v): %v", from, err)
	}
	return out
}

// record returns the i-th test record: its number padded to size bytes.
func record(i, size int) string {
	s := fmt.Sprintf("record-%06d-", i)
	for len(s) < size {
		s += string(rune('a' + len(s)%26))
	}
	return s[:max(size, 1)]
}

// frame encodes rec as the journal does on disk.
func frame(rec []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(rec)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(rec, crc32.MakeTable(crc32.Castagnoli)))
	return append(b, rec...)
}

func appendAll(t testing.TB, j *journal.Journal, recs []string) []journal.Pos {
	t.Helper()
	var ps []journal.Pos
	for _, r := range recs {
		p, err := j.Append([]byte(r))
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		ps = append(ps, p)
	}
	if err := j.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return ps
}

func checkEntries(t testing.TB, got []entry, ps []journal.Pos, recs []string) {
	t.Helper()
	if len(got) != len(recs) {
		t.Fatalf("replayed %d records, want %d", len(got), len(recs))
	}
	for i := range got {
		if got[i].p != ps[i] || got[i].rec != recs[i] {
			t.Fatalf("record %d: replayed %v %.20q, want %v %.20q", i, got[i].p, got[i].rec, ps[i], recs[i])
		}
	}
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	cfg := journal.Config{Dir: dir, SegmentSize: 1024}
	j := open(t, cfg)
	if fi, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	} else if m := fi.Mode().Perm(); m != 0o700 {
		t.Errorf("directory mode %v, want 0700", m)
	}
	var recs []string
	for i := range 200 {
		recs = append(recs, record(i, 1+i*7%300))
	}
	ps := appendAll(t, j, recs)
	for i := 1; i < len(ps); i++ {
		if ps[i].Compare(ps[i-1]) <= 0 {
			t.Fatalf("position %d (%v) not after %v", i, ps[i], ps[i-1])
		}
	}
	checkEntries(t, replayAll(t, j, journal.Pos{}), ps, recs)

	segs := j.Segments()
	if len(segs) < 5 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	n := 0
	for i, s := range segs {
		if s.ID != uint64(i+1) {
			t.Errorf("segment %d has id %d", i, s.ID)
		}
		if s.Size > cfg.SegmentSize {
			t.Errorf("segment %d: %d bytes, over %d", s.ID, s.Size, cfg.SegmentSize)
		}
		fi, err := os.Stat(s.Path)
		if err != nil {
			t.Fatal(err)
		} else if fi.Size() != s.Size {
			t.Errorf("segment %d: file has %d bytes, Segments says %d", s.ID, fi.Size(), s.Size)
		}
		if s.First != ps[n] || s.Last != ps[n+s.Records-1] {
			t.Errorf("segment %d: first %v last %v, want %v %v", s.ID, s.First, s.Last, ps[n], ps[n+s.Records-1])
		}
		n += s.Records
	}
	if n != len(recs) {
		t.Errorf("segments hold %d records, want %d", n, len(recs))
	}
	if st := j.Stats(); st.Records != uint64(len(recs)) || st.Synced != st.Records || st.Syncs == 0 || st.LastSync.IsZero() {
		t.Errorf("Stats = %+v", st)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j = open(t, cfg)
	checkEntries(t, replayAll(t, j, journal.Pos{}), ps, recs)
	if got := j.Segments(); !slices.Equal(got, segs) {
		t.Errorf("after reopening, Segments = %v, want %v", got, segs)
	}
}

func TestReopenContinues(t *testing.T) {
	cfg := journal.Config{Dir: t.TempDir(), SegmentSize: 700}
	var recs []string
	var ps []journal.Pos
	for round := range 4 {
		j := open(t, cfg)
		var batch []string
		for i := range 10 {
			batch = append(batch, record(round*10+i, 50))
		}
		got := appendAll(t, j, batch)
		if len(ps) > 0 && got[0].Compare(ps[len(ps)-1]) <= 0 {
			t.Fatalf("round %d: first position %v not after the previous round's last %v", round, got[0], ps[len(ps)-1])
		}
		recs, ps = append(recs, batch...), append(ps, got...)
		checkEntries(t, replayAll(t, j, journal.Pos{}), ps, recs)
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// The second round continued the segment the first one left.
	if ps[10].Segment != ps[9].Segment && ps[9].Offset+58+58 <= cfg.SegmentSize {
		t.Errorf("reopened journal started segment %d instead of continuing %d", ps[10].Segment, ps[9].Segment)
	}
}

// lastSegment returns the path of the journal's newest segment.
func lastSegment(t *testing.T, j *journal.Journal) string {
	segs := j.Segments()
	return segs[len(segs)-1].Path
}

func TestTornTail(t *testing.T) {
	good := frame([]byte(record(99, 100)))
	garbage := make([]byte, 300)
	rand.NewChaCha8([32]byte{1}).Read(garbage)
	garbage[3] = 0xF0 // a length far over the maximum
	tests := []struct {
		name string
		tail []byte
		// dropLast: the tail replaces the last good record's checksum.
		dropLast bool
	}{
		{"partial header", good[:3], false},
		{"header only", good[:8], false},
		{"partial record", good[:60], false},
		{"zero block", make([]byte, 4096), false},
		{"zero length header then zeros", make([]byte, 11), false},
		{"partial record then zeros", append(slices.Clone(good[:60]), make([]byte, 4096)...), false},
		{"garbage", garbage, false},
		{"last record checksum", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := journal.Config{Dir: t.TempDir(), SegmentSize: 1000}
			j := open(t, cfg)
			var recs []string
			for i := range 30 {
				recs = append(recs, record(i, 40))
			}
			ps := appendAll(t, j, recs)
			path := lastSegment(t, j)
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			goodSize := int64(len(b))
			if tt.dropLast {
				last := ps[len(ps)-1]
				b[last.Offset+4] ^= 0xFF
				goodSize = last.Offset
				recs, ps = recs[:len(recs)-1], ps[:len(ps)-1]
			}
			if err := os.WriteFile(path, append(b, tt.tail...), 0o600); err != nil {
				t.Fatal(err)
			}

			j = open(t, cfg)
			checkEntries(t, replayAll(t, j, journal.Pos{}), ps, recs)
			if fi, err := os.Stat(path); err != nil {
				t.Fatal(err)
			} else if fi.Size() != goodSize {
				t.Errorf("after recovery the segment has %d bytes, want %d", fi.Size(), goodSize)
			}
			p, err := j.AppendSync([]byte("after"))
			if err != nil {
				t.Fatal(err)
			}
			if want := (journal.Pos{Segment: ps[len(ps)-1].Segment, Offset: goodSize}); p != want {
				t.Errorf("next record at %v, want %v", p, want)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			j = open(t, cfg)
			got := replayAll(t, j, journal.Pos{})
			checkEntries(t, got, append(ps, p), append(recs, "after"))
		})
	}
}

func TestCorrupt(t *testing.T) {
	const size = 50 // frames of 58 bytes
	const fsize = size + 8
	tests := []struct {
		name string
		// damage changes the files of a journal with segments 1 to 3 of
		// ten records each and returns the file and offset the error must
		// name.
		damage func(t *testing.T, paths []string) (string, int64)
	}{
		{"checksum in a non-last segment", func(t *testing.T, paths []string) (string, int64) {
			flip(t, paths[0], 4*fsize+20)
			return paths[0], 4 * fsize
		}},
		{"torn tail of a non-last segment", func(t *testing.T, paths []string) (string, int64) {
			truncate(t, paths[1], 9*fsize+30)
			return paths[1], 9 * fsize
		}},
		{"zeros at the end of a non-last segment", func(t *testing.T, paths []string) (string, int64) {
			appendBytes(t, paths[0], make([]byte, 512))
			return paths[0], 10 * fsize
		}},
		{"checksum in the middle of the last segment", func(t *testing.T, paths []string) (string, int64) {
			flip(t, paths[2], 3*fsize+30)
			return paths[2], 3 * fsize
		}},
		{"length in the middle of the last segment", func(t *testing.T, paths []string) (string, int64) {
			flip(t, paths[2], 5*fsize+2) // length grows by 0xFF<<16: past the end
			return paths[2], 5 * fsize
		}},
		{"zeros in the middle of the last segment", func(t *testing.T, paths []string) (string, int64) {
			f, err := os.OpenFile(paths[2], os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, 2*fsize), 2*fsize); err != nil {
				t.Fatal(err)
			}
			return paths[2], 2 * fsize
		}},
		{"record-like headers after a bad record in the last segment", func(t *testing.T, paths []string) (string, int64) {
			// Every offset but one in four reads as the header of a record
			// of up to 512 KiB: telling whether any is valid costs more
			// than Open is willing to spend.
			appendBytes(t, paths[2], bytes.Repeat([]byte{0, 0, 8, 0}, 1<<18))
			return paths[2], 10 * fsize
		}},
		{"missing middle segment", func(t *testing.T, paths []string) (string, int64) {
			if err := os.Remove(paths[1]); err != nil {
				t.Fatal(err)
			}
			return paths[2], -1
		}},
		{"two files for one segment", func(t *testing.T, paths []string) (string, int64) {
			b, err := os.ReadFile(paths[1])
			if err != nil {
				t.Fatal(err)
			}
			dup := filepath.Join(filepath.Dir(paths[1]), "2.log")
			if err := os.WriteFile(dup, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return dup, -1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := journal.Config{Dir: t.TempDir()}
			j := open(t, cfg)
			for seg := range 3 {
				var recs []string
				for i := range 10 {
					recs = append(recs, record(seg*10+i, size))
				}
				appendAll(t, j, recs)
				if seg < 2 {
					if err := j.Roll(); err != nil {
						t.Fatal(err)
					}
				}
			}
			var paths []string
			for _, s := range j.Segments() {
				paths = append(paths, s.Path)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			path, off := tt.damage(t, paths)
			j, err := journal.Open(cfg)
			if err == nil {
				j.Close()
				t.Fatal("Open of a damaged journal succeeded")
			}
			if !errors.Is(err, journal.ErrCorrupt) {
				t.Errorf("Open: %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("Open: %v; the error does not name %s", err, path)
			}
			if off >= 0 && !strings.Contains(err.Error(), fmt.Sprintf("offset %d:", off)) {
				t.Errorf("Open: %v; the error does not name offset %d", err, off)
			}
			t.Log(err)
		})
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0xFF
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// More than ten segments, named without padding so that a lexical sort
// gives 1, 10, 11, ..., 19, 2, 20, ...: exactly the order that made tstorage
// delete its newest WAL segment.
func TestNumericOrder(t *testing.T) {
	dir := t.TempDir()
	cfg := journal.Config{Dir: dir}
	j := open(t, cfg)
	var recs []string
	var ps []journal.Pos
	for seg := 1; seg <= 25; seg++ {
		if seg > 1 {
			if err := j.Roll(); err != nil {
				t.Fatal(err)
			}
		}
		batch := []string{record(seg*10, 20), record(seg*10+1, 20)}
		recs = append(recs, batch...)
		ps = append(ps, appendAll(t, j, batch)...)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 25; id++ {
		if err := os.Rename(filepath.Join(dir, fmt.Sprintf("%020d.log", id)), filepath.Join(dir, fmt.Sprintf("%d.log", id))); err != nil {
			t.Fatal(err)
		}
	}

	j = open(t, cfg)
	checkEntries(t, replayAll(t, j, journal.Pos{}), ps, recs)
	segs := j.Segments()
	if len(segs) != 25 {
		t.Fatalf("%d segments, want 25", len(segs))
	}
	for i, s := range segs {
		if s.ID != uint64(i+1) || filepath.Base(s.Path) != fmt.Sprintf("%d.log", i+1) {
			t.Fatalf("segment %d is %d (%s)", i+1, s.ID, s.Path)
		}
	}
	// New segments get padded names after the last one.
	if err := j.Roll(); err != nil {
		t.Fatal(err)
	}
	p, err := j.AppendSync([]byte("26"))
	if err != nil {
		t.Fatal(err)
	}
	if p != (journal.Pos{Segment: 26}) {
		t.Errorf("first record after Roll at %v, want 26:0", p)
	}

	if err := j.RemoveBefore(12); err != nil {
		t.Fatal(err)
	}
	var left []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		left = append(left, e.Name())
	}
	var want []string
	for id := 12; id <= 25; id++ {
		want = append(want, fmt.Sprintf("%d.log", id))
	}
	want = append(want, fmt.Sprintf("%020d.log", 26), "LOCK")
	slices.Sort(left)
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("after RemoveBefore(12) the directory holds\n%v\nwant\n%v", left, want)
	}
	if segs := j.Segments(); segs[0].ID != 12 || len(segs) != 15 {
		t.Errorf("after RemoveBefore(12) Segments run from %d, %d of them", segs[0].ID, len(segs))
	}
	from := slices.Index(ps, journal.Pos{Segment: 12})
	checkEntries(t, replayAll(t, j, journal.Pos{}), append(ps[from:], p), append(recs[from:], "26"))

	// The current segment is never removed.
	if err := j.RemoveBefore(1 << 60); err != nil {
		t.Fatal(err)
	}
	if segs := j.Segments(); len(segs) != 1 || segs[0].ID != 26 {
		t.Errorf("after RemoveBefore(huge) Segments = %v, want segment 26 alone", segs)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = open(t, cfg)
	checkEntries(t, replayAll(t, j, journal.Pos{}), []journal.Pos{p}, []string{"26"})
}

func TestReplayFrom(t *testing.T) {
	j := open(t, journal.Config{Dir: t.TempDir(), SegmentSize: 300})
	var recs []string
	for i := range 40 {
		recs = append(recs, record(i, 30))
	}
	ps := appendAll(t, j, recs)
	for _, k := range []int{0, 1, 7, 8, 9, 20, 39} {
		checkEntries(t, replayAll(t, j, ps[k]), ps[k:], recs[k:])
	}
	if got := replayAll(t, j, journal.Pos{Segment: ps[39].Segment + 1}); len(got) != 0 {
		t.Errorf("Replay past the end gave %d records", len(got))
	}
	stop := errors.New("stop")
	n := 0
	err := j.Replay(journal.Pos{}, func(journal.Pos, []byte) error {
		if n++; n == 5 {
			return stop
		}
		return nil
	})
	if err != stop || n != 5 {
		t.Errorf("Replay with fn failing at record 5: %v after %d records", err, n)
	}
}

// Every record, from 64 goroutines racing each other, a roller and a
// reader, is in the journal exactly once at the position AppendSync gave.
func TestConcurrentAppendSync(t *testing.T) {
	const writers, each = 64, 40
	cfg := journal.Config{Dir: t.TempDir(), SegmentSize: 4096}
	j := open(t, cfg)
	var (
		mu    sync.Mutex
		acked = map[string]journal.Pos{}
		wg    sync.WaitGroup
		done  = make(chan struct{})
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				rec := fmt.Sprintf("w%02d-%03d-%s", w, i, strings.Repeat("x", (w*i)%100))
				p, err := j.AppendSync([]byte(rec))
				if err != nil {
					t.Errorf("AppendSync: %v", err)
					return
				}
				mu.Lock()
				acked[rec] = p
				mu.Unlock()
			}
		})
	}
	var side sync.WaitGroup
	side.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			switch i % 4 {
			case 0:
				if err := j.Roll(); err != nil {
					t.Errorf("Roll: %v", err)
				}
			case 1:
				j.Segments()
				j.Stats()
			case 2:
				if err := j.Replay(journal.Pos{}, func(journal.Pos, []byte) error { return nil }); err != nil {
					t.Errorf("Replay: %v", err)
				}
			case 3:
				if err := j.Sync(); err != nil {
					t.Errorf("Sync: %v", err)
				}
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	close(done)
	side.Wait()

	check := func(j *journal.Journal) {
		t.Helper()
		seen := map[string]journal.Pos{}
		var prev journal.Pos
		for _, e := range replayAll(t, j, journal.Pos{}) {
			if _, dup := seen[e.rec]; dup {
				t.Fatalf("record %q replayed twice", e.rec)
			}
			if e.p.Compare(prev) <= 0 {
				t.Fatalf("replay went from %v back to %v", prev, e.p)
			}
			seen[e.rec], prev = e.p, e.p
		}
		if len(seen) != writers*each {
			t.Errorf("replayed %d records, want %d", len(seen), writers*each)
		}
		for rec, p := range acked {
			if seen[rec] != p {
				t.Errorf("record %q acknowledged at %v, replayed at %v", rec, p, seen[rec])
			}
		}
	}
	check(j)
	st := j.Stats()
	t.Logf("%d records, %d fsyncs, %d writes, %d segments", st.Records, st.Syncs, st.Writes, len(j.Segments()))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	check(open(t, cfg))
}

// With SyncInterval, fsyncs are at most one per interval (plus the ones
// that finish a segment), and AppendSync still waits for its fsync.
func TestSyncInterval(t *testing.T) {
	const interval = 20 * time.Millisecond
	j := open(t, journal.Config{Dir: t.TempDir(), SyncInterval: interval})
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for i := range 5 {
				if _, err := j.AppendSync([]byte(record(w*100+i, 100))); err != nil {
					t.Errorf("AppendSync: %v", err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := j.Stats()
	if st.Synced != st.Records {
		t.Errorf("AppendSync returned with %d of %d records fsynced", st.Synced, st.Records)
	}
	if limit := uint64(elapsed/interval) + 2; st.Syncs > limit {
		t.Errorf("%d fsyncs in %v, want at most %d", st.Syncs, elapsed, limit)
	}
	t.Logf("%d records, %d fsyncs in %v", st.Records, st.Syncs, elapsed)

	// A plain Append is fsynced in the background.
	if _, err := j.Append([]byte("background")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := j.Stats(); st.Synced != st.Records; st = j.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("a plain Append was not fsynced within 5s: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRecordLimits(t *testing.T) {
	j := open(t, journal.Config{Dir: t.TempDir(), SegmentSize: 4096})
	if _, err := j.Append(nil); !errors.Is(err, journal.ErrEmpty) {
		t.Errorf("Append(empty): %v, want ErrEmpty", err)
	}
	if _, err := j.AppendSync(make([]byte, journal.MaxRecordSize+1)); !errors.Is(err, journal.ErrTooLarge) {
		t.Errorf("Append(MaxRecordSize+1 bytes): %v, want ErrTooLarge", err)
	}
	small := []byte("small")
	big := bytes.Repeat([]byte{0xAB}, journal.MaxRecordSize)
	ps := appendAll(t, j, []string{string(small), string(big), string(small)})
	// The big record has a segment of its own.
	if ps[0].Segment == ps[1].Segment || ps[1].Segment == ps[2].Segment || ps[1].Offset != 0 {
		t.Errorf("positions %v", ps)
	}
	checkEntries(t, replayAll(t, j, journal.Pos{}), ps, []string{string(small), string(big), string(small)})
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(journal.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append([]byte("unsynced")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := j.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Errorf("Close again: %v", err)
	}
	calls := map[string]func() error{
		"Append":       func() error { _, err := j.Append([]byte("x")); return err },
		"AppendSync":   func() error { _, err := j.AppendSync([]byte("x")); return err },
		"Sync":         j.Sync,
		"Roll":         j.Roll,
		"RemoveBefore": func() error { return j.RemoveBefore(5) },
		"Replay":       func() error { return j.Replay(journal.Pos{}, func(journal.Pos, []byte) error { return nil }) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, journal.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	// Close made the plain Append durable.
	j = open(t, journal.Config{Dir: dir})
	if got := replayAll(t, j, journal.Pos{}); len(got) != 1 || got[0].rec != "unsynced" {
		t.Errorf("after Close and Open: %v", got)
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(journal.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if j2, err := journal.Open(journal.Config{Dir: dir}); !errors.Is(err, journal.ErrLocked) {
		if err == nil {
			j2.Close()
		}
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, journal.Config{Dir: dir})
}

func TestOpenConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  journal.Config
	}{
		{"no dir", journal.Config{}},
		{"negative segment size", journal.Config{Dir: t.TempDir(), SegmentSize: -1}},
		{"negative interval", journal.Config{Dir: t.TempDir(), SyncInterval: -time.Second}},
		{"dir is a file", journal.Config{Dir: file}},
		{"segment id 0", journal.Config{Dir: dirWith(t, "0.log")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if j, err := journal.Open(tt.cfg); err == nil {
				j.Close()
				t.Error("Open succeeded")
			} else {
				t.Log(err)
			}
		})
	}
	// Files that are not segments are left alone.
	dir := dirWith(t, "notes.txt", "x.log", "123.log.bak")
	j := open(t, journal.Config{Dir: dir})
	if segs := j.Segments(); len(segs) != 1 || segs[0].ID != 1 {
		t.Errorf("Segments = %v", segs)
	}
}

func dirWith(t *testing.T, names ...string) string {
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A ticket's Wait(false) returns once the record is in the kernel (Stats.Written
// covers it) even with a long SyncInterval; Wait(true) once it is fsynced.
func TestTicketWait(t *testing.T) {
	j := open(t, journal.Config{Dir: t.TempDir(), SyncInterval: time.Hour})
	// The first record is fsynced at once (there is no earlier fsync to
	// space it from); the interval then holds the next one back.
	if _, err := j.AppendSync([]byte("first")); err != nil {
		t.Fatal(err)
	}
	_, tk, err := j.AppendTicket([]byte("written"))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Wait(tk, false); err != nil {
		t.Fatal(err)
	}
	st := j.Stats()
	if st.Written < 2 {
		t.Fatalf("Wait(false) returned before the write: %+v", st)
	}
	if st.Synced != 1 {
		t.Fatalf("fsynced again within a one-hour interval: %+v", st)
	}
	done := make(chan error, 1)
	go func() { done <- j.Wait(tk, true) }()
	// Close fsyncs what is written: the durable wait ends with it.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Replay from any record's position starts there, mid-segment too (a
// follower resumes batch by batch without rereading the segment).
func TestReplayFromEveryPosition(t *testing.T) {
	j := open(t, journal.Config{Dir: t.TempDir(), SegmentSize: 1024})
	var recs []string
	for i := range 120 {
		recs = append(recs, record(i, 1+i*13%200))
	}
	ps := appendAll(t, j, recs)
	for i := range ps {
		checkEntries(t, replayAll(t, j, ps[i]), ps[i:], recs[i:])
	}
	// A position past a segment's end reads on from the next segment.
	segs := j.Segments()
	past := journal.Pos{Segment: segs[0].ID, Offset: segs[0].Size}
	checkEntries(t, replayAll(t, j, past), ps[segs[0].Records:], recs[segs[0].Records:])
}
