package store

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/query"
)

// The crash test's child writes messages as fast as it can, one partition
// (1 s of timestamps) per ten messages, every seventh a little late, and
// prints the index of each message Write acknowledged.
func TestMain(m *testing.M) {
	if dir := os.Getenv("PERCH_STORE_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

const crashPart = time.Second

func crashTS(i int) int64 {
	ts := base + int64(i)*100
	if i%7 == 3 {
		ts -= 150 // late, inside the writable window
	}
	return ts
}

func crashChild(dir string) {
	s, err := Open(Config{Dir: dir, PartitionDuration: crashPart, SyncInterval: 50 * time.Millisecond, MaxPending: 100})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	start, _ := strconv.Atoi(os.Getenv("PERCH_STORE_CRASH_START"))
	w := bufio.NewWriter(os.Stdout)
	for i := start; i < start+1_000_000; i++ {
		if err := s.Write(msg("d", crashTS(i), "v", i, "w", -i)); err != nil {
			fmt.Fprintln(w, "error:", err)
			w.Flush()
			os.Exit(1)
		}
		fmt.Fprintln(w, i)
		w.Flush()
	}
}

// TestCrash kills the store's process with SIGKILL during ingest, after
// more than ten partition rollovers (the engine's WAL loses data there) and
// again after a restart, and finds every acknowledged point exactly once.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	dir := t.TempDir()
	acked := map[int]bool{}
	next := 0
	for round, kills := range []int{450, 700, 300} { // 45, 70 and 30 rollovers
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "PERCH_STORE_CRASH_CHILD="+dir, "PERCH_STORE_CRASH_START="+strconv.Itoa(next))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			i, err := strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("round %d: child said %q", round, sc.Text())
			}
			acked[i] = true
			next = i + 1
			if n++; n == kills {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				// acknowledgements printed before the kill landed are
				// still in the pipe: read them too
				for sc.Scan() {
					if i, err := strconv.Atoi(sc.Text()); err == nil {
						acked[i] = true
						next = max(next, i+1)
					}
				}
				break
			}
		}
		cmd.Wait()
		if n < kills {
			t.Fatalf("round %d: child stopped after %d acks", round, n)
		}
		// Unacknowledged messages may or may not be stored: continue past
		// them with fresh timestamps.
		next += 50
	}

	s := openT(t, Config{Dir: dir, PartitionDuration: crashPart})
	counts := map[int64]int{}
	var sum float64
	err := s.Scan(Query{To: math.MaxInt64, Fields: []string{"v"}, Agg: query.Agg("count"), Every: 1},
		func([]string) error { return nil },
		func(r *Record) error {
			counts[r.Time] += int(r.Values[0])
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for i := range acked {
		if c := counts[crashTS(i)]; c != 1 {
			t.Errorf("acknowledged message %d (ts %d) stored %d times", i, crashTS(i), c)
		}
	}
	for ts, c := range counts {
		if c != 1 {
			t.Errorf("ts %d stored %d times", ts, c)
		}
	}
	err = s.Scan(Query{To: math.MaxInt64, Fields: []string{"v", "w"}}, func([]string) error { return nil }, func(r *Record) error {
		if r.Values[0] != -r.Values[1] {
			t.Errorf("record %d: v=%v w=%v", r.Time, r.Values[0], r.Values[1])
		}
		sum += r.Values[0]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	t.Logf("acked %d, stored %d distinct timestamps, %d partitions flushed, stats %+v", len(acked), len(counts), len(s.man.Partitions), st)
	if len(s.man.Partitions) < 100 {
		t.Fatalf("only %d partitions flushed: the test did not roll enough", len(s.man.Partitions))
	}
	if dump := strings.TrimSpace(fmt.Sprint(st.Rejected)); dump != "map[]" {
		t.Fatalf("rejections: %s", dump)
	}
}
