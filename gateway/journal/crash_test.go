package journal_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/journal"
)

// Environment of a child process of TestCrashKill9: the journal directory
// and the round number.
const (
	crashDirEnv   = "PERCH_JOURNAL_CRASH_DIR"
	crashRoundEnv = "PERCH_JOURNAL_CRASH_ROUND"
)

const (
	crashSyncWriters  = 12 // goroutines using AppendSync, printing each ack
	crashPlainWriters = 4  // goroutines using Append
	crashSegmentSize  = 32 << 10
)

// A child process appends from many goroutines and prints every position
// AppendSync acknowledges; the parent SIGKILLs it at some point and checks
// that the reopened journal holds every acknowledged record exactly once,
// at its position, and that what survived of each writer is a prefix of
// what it wrote. The rounds share one journal, so each also recovers from
// the previous kill.
func TestCrashKill9(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir, os.Getenv(crashRoundEnv))
		return
	}
	rounds := 6
	if testing.Short() {
		rounds = 2
	}
	dir := t.TempDir()
	acked := map[string]journal.Pos{}
	for round := range rounds {
		killAfter := 20 + round*317%600
		n := runCrashChild(t, dir, round, killAfter, acked)

		j, err := journal.Open(journal.Config{Dir: dir, Logger: testLogger(t)})
		if err != nil {
			t.Fatalf("round %d: Open after kill -9: %v", round, err)
		}
		seen := map[string]journal.Pos{}
		last := map[string]int{} // writer -> highest record number seen
		err = j.Replay(journal.Pos{}, func(p journal.Pos, rec []byte) error {
			id, _, _ := strings.Cut(string(rec), "|")
			if prev, dup := seen[id]; dup {
				return fmt.Errorf("record %s at %v and again at %v", id, prev, p)
			}
			seen[id] = p
			// id is r<round>-<kind><writer>-<number>
			i := strings.LastIndexByte(id, '-')
			writer, num := id[:i], id[i+1:]
			k, err := strconv.Atoi(num)
			if err != nil {
				return fmt.Errorf("record %q: %v", rec, err)
			}
			if k != last[writer]+1 {
				return fmt.Errorf("writer %s: record %d follows %d: a hole", writer, k, last[writer])
			}
			last[writer] = k
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: Replay: %v", round, err)
		}
		for id, p := range acked {
			if q, ok := seen[id]; !ok {
				t.Errorf("round %d: acknowledged record %s (%v) lost", round, id, p)
			} else if q != p {
				t.Errorf("round %d: record %s acknowledged at %v, found at %v", round, id, p, q)
			}
		}
		st := j.Segments()
		t.Logf("round %d: killed after %d acks; %d records in %d segments survive", round, n, len(seen), len(st))
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runCrashChild starts a child appending to dir, records the positions it
// acknowledges in acked, SIGKILLs it after killAfter acknowledgements and
// returns how many it saw.
func runCrashChild(t *testing.T, dir string, round, killAfter int, acked map[string]journal.Pos) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashKill9$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := sync.OnceFunc(func() { cmd.Process.Signal(syscall.SIGKILL) })
	// A child that never gets far enough is killed anyway.
	stop := time.AfterFunc(10*time.Second, kill)
	defer stop.Stop()
	n := 0
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			break // a line cut short by the kill is not an acknowledgement
		} else if err != nil {
			t.Fatal(err)
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 4 && fields[0] == "ACK":
			seg, err1 := strconv.ParseUint(fields[2], 10, 64)
			off, err2 := strconv.ParseInt(fields[3], 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("child printed %q", line)
			}
			acked[fields[1]] = journal.Pos{Segment: seg, Offset: off}
			if n++; n == killAfter {
				kill()
			}
		case len(fields) > 0 && fields[0] == "ERROR":
			kill()
			t.Fatalf("round %d: child: %s", round, line)
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("round %d: child ended with %v before the kill; stderr:\n%s", round, err, stderr.String())
	}
	if n < killAfter {
		t.Fatalf("round %d: child acknowledged only %d records in 10s; stderr:\n%s", round, n, stderr.String())
	}
	return n
}

// crashChild appends until it is killed.
func crashChild(dir, round string) {
	j, err := journal.Open(journal.Config{Dir: dir, SegmentSize: crashSegmentSize})
	if err != nil {
		fmt.Println("ERROR", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
	pad := strings.Repeat("p", 170)
	var wg sync.WaitGroup
	for w := range crashSyncWriters + crashPlainWriters {
		wg.Go(func() {
			acks := w < crashSyncWriters
			for i := 1; ; i++ {
				id := fmt.Sprintf("r%s-s%02d-%d", round, w, i)
				if !acks {
					id = fmt.Sprintf("r%s-a%02d-%d", round, w, i)
				}
				rec := []byte(id + "|" + pad)
				if !acks {
					if _, err := j.Append(rec); err != nil {
						fmt.Println("ERROR", err)
						os.Exit(1)
					}
					time.Sleep(time.Millisecond)
					continue
				}
				p, err := j.AppendSync(rec)
				if err != nil {
					fmt.Println("ERROR", err)
					os.Exit(1)
				}
				// One write per line, shorter than PIPE_BUF: atomic.
				fmt.Printf("ACK %s %d %d\n", id, p.Segment, p.Offset)
			}
		})
	}
	time.Sleep(15 * time.Second)
	fmt.Println("ERROR not killed")
	os.Exit(1)
}
