package journal

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
)

// A failed write is sticky: the batch's callers and every later call get
// the error, and Close reports it.
func TestWriteFailureIsSticky(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	j, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// The committer is idle until the first Append, which happens after
	// this under j.mu: every write fails with ENOSPC from now on.
	j.f.Close()
	j.f = full

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := j.AppendSync([]byte("lost")); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("AppendSync on a full disk: %v, want ENOSPC", err)
			}
		})
	}
	wg.Wait()
	if _, err := j.Append([]byte("after")); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Append after a failed write: %v, want ENOSPC", err)
	}
	if err := j.Sync(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Sync after a failed write: %v, want ENOSPC", err)
	}
	if err := j.Roll(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Roll after a failed write: %v, want ENOSPC", err)
	}
	if err := j.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close: %v, want ENOSPC", err)
	}
	if err := j.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close again: %v, want ENOSPC", err)
	}
	if _, err := j.Append([]byte("closed")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	j, err = Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if segs := j.Segments(); len(segs) != 1 || segs[0].Records != 0 {
		t.Errorf("after reopening: %v", segs)
	}
}
