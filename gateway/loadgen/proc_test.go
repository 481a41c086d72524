package loadgen

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       int64
		err        bool
	}{
		{"plain", "1234 (mosquitto) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 100 1000 200 18446744073709551615", 325, false},
		{"name with spaces and parens", "42 (a b) (c)) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1", 10, false},
		{"truncated", "42 (x) R 1 2 3", 0, true},
		{"no name", "42 x R", 0, true},
		{"bad number", "42 (x) R 1 42 42 0 -1 0 0 0 0 0 x 3 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.stat))
			if tc.err {
				if !errors.Is(err, ErrProcFormat) {
					t.Fatalf("err = %v, want ErrProcFormat", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestParseStatusRSS(t *testing.T) {
	got, err := parseStatusRSS([]byte("Name:\tmosquitto\nVmPeak:\t 20000 kB\nVmRSS:\t    9876 kB\nThreads:\t1\n"))
	if err != nil || got != 9876<<10 {
		t.Fatalf("got %d, %v", got, err)
	}
	if _, err := parseStatusRSS([]byte("Name:\tx\n")); !errors.Is(err, ErrProcFormat) {
		t.Fatalf("no VmRSS: err = %v", err)
	}
}

func TestParseMachineBusy(t *testing.T) {
	got, err := parseMachineBusy([]byte("cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 1 2 3 4\n"))
	if err != nil || got != 161 {
		t.Fatalf("got %d, %v; want 161", got, err)
	}
	if _, err := parseMachineBusy([]byte("intr 1 2 3\n")); !errors.Is(err, ErrProcFormat) {
		t.Fatalf("err = %v", err)
	}
}

// TestProcessSelf reads this test process's own CPU and memory.
func TestProcessSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	p, err := NewProcess(context.Background(), os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	before, err := p.CPU()
	if err != nil {
		t.Fatal(err)
	}
	spin := 0
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
		spin++ // busy on purpose, to use some CPU
	}
	t.Logf("spun %d times", spin)
	after, _ := p.CPU()
	if after < before {
		t.Fatalf("cpu went back from %s to %s", before, after)
	}
	if rss, err := p.RSS(); err != nil || rss < 1<<20 {
		t.Fatalf("rss %d, %v", rss, err)
	}
	var none *Process
	if _, err := none.CPU(); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("nil process: %v", err)
	}
}

func TestRaiseFileLimit(t *testing.T) {
	got, err := RaiseFileLimit(64)
	if err != nil || got < 64 {
		t.Fatalf("got %d, %v", got, err)
	}
	if _, err := RaiseFileLimit(1 << 62); !errors.Is(err, ErrFileLimit) {
		t.Fatalf("impossible limit: err = %v", err)
	}
}
