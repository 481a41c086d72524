package journal_test

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/journal"
)

// benchDir returns a fresh directory for a benchmark journal: under
// $PERCH_JOURNAL_BENCH_DIR when set (to measure an SD card, say), else in
// the test's temporary directory.
func benchDir(b *testing.B) string {
	b.Helper()
	parent := os.Getenv("PERCH_JOURNAL_BENCH_DIR")
	if parent == "" {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "journal-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// BenchmarkAppendSync: g goroutines each append 200-byte records with
// AppendSync, as publishers waiting for their PUBACK do. records/fsync shows
// the group commit at work.
func BenchmarkAppendSync(b *testing.B) {
	for _, interval := range []time.Duration{0, 2 * time.Millisecond} {
		for _, g := range []int{1, 16, 256} {
			name := fmt.Sprintf("goroutines=%d", g)
			if interval > 0 {
				name = fmt.Sprintf("interval=%v/%s", interval, name)
			}
			b.Run(name, func(b *testing.B) {
				j, err := journal.Open(journal.Config{Dir: benchDir(b), SyncInterval: interval})
				if err != nil {
					b.Fatal(err)
				}
				defer j.Close()
				rec := []byte(record(0, 200))
				var n atomic.Int64
				var wg sync.WaitGroup
				before := j.Stats()
				b.ResetTimer()
				start := time.Now()
				for range g {
					wg.Go(func() {
						for n.Add(1) <= int64(b.N) {
							if _, err := j.AppendSync(rec); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start).Seconds()
				b.StopTimer()
				st := j.Stats()
				syncs := float64(st.Syncs - before.Syncs)
				b.ReportMetric(float64(b.N)/elapsed, "records/s")
				b.ReportMetric(syncs/elapsed, "fsyncs/s")
				b.ReportMetric(float64(b.N)/max(syncs, 1), "records/fsync")
			})
		}
	}
}

// BenchmarkAppend: plain Append from one goroutine, not waiting for the
// disk.
func BenchmarkAppend(b *testing.B) {
	j, err := journal.Open(journal.Config{Dir: benchDir(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	rec := []byte(record(0, 200))
	b.SetBytes(int64(len(rec)))
	start := time.Now()
	for b.Loop() {
		if _, err := j.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkReplay reads back 100,000 records of 200 bytes (21 MB, two
// segments).
func BenchmarkReplay(b *testing.B) {
	const records = 100_000
	j, err := journal.Open(journal.Config{Dir: benchDir(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	rec := []byte(record(0, 200))
	for range records {
		if _, err := j.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(records * int64(len(rec)+8))
	start := time.Now()
	for b.Loop() {
		n := 0
		err := j.Replay(journal.Pos{}, func(journal.Pos, []byte) error {
			n++
			return nil
		})
		if err != nil || n != records {
			b.Fatalf("Replay: %d records, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N)*records/time.Since(start).Seconds(), "records/s")
}
