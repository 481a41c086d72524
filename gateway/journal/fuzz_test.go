package journal_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/perch-gw/perch/gateway/journal"
)

// FuzzOpen opens a journal whose segment 1 holds random bytes, alone (the
// last segment) or followed by a valid segment 2. Open must not panic, and
// must either fail with ErrCorrupt or leave a clean log: segment 1 cut to
// a run of valid records (not cut at all when it is not the last), which
// Replay returns and to which appends continue. More seeds are in
// testdata/fuzz/FuzzOpen.
func FuzzOpen(f *testing.F) {
	a, b := frame([]byte("first record")), frame([]byte("second"))
	ab := cat(a, b, frame(make([]byte, 40)))
	for _, data := range [][]byte{
		nil,
		a,
		ab,
		cat(ab, a[:5]),
		cat(ab, make([]byte, 512)),
		cat(a[:10], b),
		cat(a, []byte{0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4}, b),
		make([]byte, 8),
	} {
		f.Add(data, false)
		f.Add(data, true)
	}
	tail := frame([]byte("segment two"))
	f.Fuzz(func(t *testing.T, data []byte, notLast bool) {
		dir := t.TempDir()
		first := filepath.Join(dir, "00000000000000000001.log")
		if err := os.WriteFile(first, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if notLast {
			if err := os.WriteFile(filepath.Join(dir, "00000000000000000002.log"), tail, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cfg := journal.Config{Dir: dir, SegmentSize: 1 << 20}
		j, err := journal.Open(cfg)
		if err != nil {
			if !errors.Is(err, journal.ErrCorrupt) {
				t.Fatalf("Open: %v, want ErrCorrupt or success", err)
			}
			return
		}
		defer func() { j.Close() }()
		kept, err := os.ReadFile(first)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, kept) {
			t.Fatalf("Open changed segment 1 into something other than a prefix of it")
		}
		if notLast && len(kept) != len(data) {
			t.Fatalf("Open cut segment 1 from %d to %d bytes although it is not the last", len(data), len(kept))
		}
		var recs [][]byte
		var reframed []byte
		err = j.Replay(journal.Pos{}, func(p journal.Pos, rec []byte) error {
			recs = append(recs, bytes.Clone(rec))
			if p.Segment == 1 {
				reframed = append(reframed, frame(rec)...)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Replay after a clean Open: %v", err)
		}
		if !bytes.Equal(reframed, kept) {
			t.Fatalf("segment 1 keeps %d bytes, its records frame to %d", len(kept), len(reframed))
		}
		if _, err := j.AppendSync([]byte("appended")); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		j, err = journal.Open(cfg)
		if err != nil {
			t.Fatalf("reopening: %v", err)
		}
		n := 0
		err = j.Replay(journal.Pos{}, func(p journal.Pos, rec []byte) error {
			want := []byte("appended")
			if n < len(recs) {
				want = recs[n]
			}
			if !bytes.Equal(rec, want) {
				t.Errorf("record %d after reopening: %q, want %q", n, rec, want)
			}
			n++
			return nil
		})
		if err != nil || n != len(recs)+1 {
			t.Fatalf("Replay after reopening: %d records, %v; want %d", n, err, len(recs)+1)
		}
	})
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
