package db_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/db"
)

type record struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func openTemp(t *testing.T) (*db.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "perch.db")
	d, err := db.Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

func TestRoundTrip(t *testing.T) {
	d, path := openTemp(t)
	if d.Path() != path {
		t.Errorf("Path() = %q, want %q", d.Path(), path)
	}
	if fi, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("file mode %v, want 0600", m)
	}

	want := map[string]record{"a": {"alpha", 1}, "c": {"gamma", 3}, "b": {"beta", 2}}
	err := d.Update(func(tx db.Tx) error {
		for k, v := range want {
			if err := tx.Put("things", k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}

	err = d.View(func(tx db.Tx) error {
		for k, w := range want {
			var got record
			if err := tx.Get("things", k, &got); err != nil {
				return fmt.Errorf("Get(%s): %w", k, err)
			}
			if got != w {
				t.Errorf("Get(%s) = %+v, want %+v", k, got, w)
			}
		}
		var keys []string
		if err := tx.ForEach("things", func(key string, raw []byte) error {
			keys = append(keys, key)
			var r record
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			if r != want[key] {
				t.Errorf("ForEach value of %s = %+v, want %+v", key, r, want[key])
			}
			return nil
		}); err != nil {
			return err
		}
		if strings.Join(keys, ",") != "a,b,c" {
			t.Errorf("ForEach keys %v, want a,b,c in order", keys)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}

	t.Run("missing", func(t *testing.T) {
		d.View(func(tx db.Tx) error {
			var r record
			if err := tx.Get("things", "zz", &r); !errors.Is(err, db.ErrNotFound) {
				t.Errorf("Get(missing key) = %v, want ErrNotFound", err)
			}
			if err := tx.Get("nobucket", "a", &r); !errors.Is(err, db.ErrNotFound) {
				t.Errorf("Get(missing bucket) = %v, want ErrNotFound", err)
			}
			n := 0
			if err := tx.ForEach("nobucket", func(string, []byte) error { n++; return nil }); err != nil || n != 0 {
				t.Errorf("ForEach(missing bucket) = %v after %d calls, want nil after 0", err, n)
			}
			return nil
		})
	})

	t.Run("delete", func(t *testing.T) {
		if err := d.Update(func(tx db.Tx) error { return tx.Delete("things", "b") }); err != nil {
			t.Fatalf("Delete(b): %v", err)
		}
		for _, c := range []struct{ bucket, key string }{{"things", "b"}, {"nobucket", "a"}} {
			err := d.Update(func(tx db.Tx) error { return tx.Delete(c.bucket, c.key) })
			if !errors.Is(err, db.ErrNotFound) {
				t.Errorf("Delete(%s/%s) = %v, want ErrNotFound", c.bucket, c.key, err)
			}
		}
		d.View(func(tx db.Tx) error {
			var r record
			if err := tx.Get("things", "b", &r); !errors.Is(err, db.ErrNotFound) {
				t.Errorf("Get after Delete = %v, want ErrNotFound", err)
			}
			return nil
		})
	})

	t.Run("rollback", func(t *testing.T) {
		boom := errors.New("boom")
		err := d.Update(func(tx db.Tx) error {
			if err := tx.Put("things", "rolled", record{"x", 9}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v, want boom", err)
		}
		d.View(func(tx db.Tx) error {
			var r record
			if err := tx.Get("things", "rolled", &r); !errors.Is(err, db.ErrNotFound) {
				t.Errorf("Get of rolled-back Put = %+v, %v; want ErrNotFound", r, err)
			}
			return nil
		})
	})

	t.Run("encode error", func(t *testing.T) {
		err := d.Update(func(tx db.Tx) error { return tx.Put("things", "ch", make(chan int)) })
		if err == nil || !strings.Contains(err.Error(), "things/ch") {
			t.Errorf("Put(chan) = %v, want an error naming things/ch", err)
		}
	})

	t.Run("decode error", func(t *testing.T) {
		d.View(func(tx db.Tx) error {
			var n int
			err := tx.Get("things", "a", &n) // an object into an int
			if !errors.Is(err, db.ErrCorrupt) || !strings.Contains(err.Error(), "things/a") {
				t.Errorf("Get(object into int) = %v, want ErrCorrupt naming things/a", err)
			}
			return nil
		})
	})

	t.Run("view is read-only", func(t *testing.T) {
		err := d.View(func(tx db.Tx) error { return tx.Put("things", "ro", record{}) })
		if err == nil {
			t.Error("Put in a View succeeded")
		}
	})
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perch.db")
	d, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Update(func(tx db.Tx) error { return tx.Put("devices", "dev-1", record{"one", 1}) }); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !db.Exists(path) {
		t.Fatalf("Exists(%s) = false after Close", path)
	}

	d, err = db.Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer d.Close()
	var got record
	if err := d.View(func(tx db.Tx) error { return tx.Get("devices", "dev-1", &got) }); err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	if got != (record{"one", 1}) {
		t.Errorf("after reopen got %+v", got)
	}
}

func TestExists(t *testing.T) {
	dir := t.TempDir()
	if db.Exists(filepath.Join(dir, "nope.db")) {
		t.Error("Exists(missing file) = true")
	}
	_, path := openTemp(t)
	if !db.Exists(path) {
		t.Error("Exists(open database) = false")
	}
}

func TestOpenCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	tests := []struct {
		name    string
		content []byte
	}{
		{"text", []byte("this is not a bbolt database\n")},
		{"one byte", []byte{0}},
		{"random 4KiB", random(4096)},
		{"random 64KiB", random(64 << 10)},
		{"zeros 32KiB", make([]byte, 32<<10)},
		{"json", []byte(`{"devices":{"dev-1":{}}}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "garbage.db")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			d, err := db.Open(path)
			if err == nil {
				d.Close()
				t.Fatalf("Open(%s) succeeded on garbage", tt.name)
			}
			if !errors.Is(err, db.ErrCorrupt) {
				t.Errorf("Open(garbage) = %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("Open error %q does not name the file %s", err, path)
			}
		})
	}
}

// smallDB returns the bytes of a cleanly closed database holding one record,
// and its page size. Its layout is fixed: meta pages 0 and 1, then the
// first transaction's pages, then the last transaction's root and freelist
// pages (4 and 5), in a file of 32 KiB.
func smallDB(t *testing.T) ([]byte, int) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src.db")
	d, err := db.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Update(func(tx db.Tx) error { return tx.Put("devices", "dev-1", record{"one", 1}) }); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// The page size is in the first meta page, after the 16-byte page
	// header, the magic number and the version.
	page := int(binary.LittleEndian.Uint32(raw[24:28]))
	if page < 1024 || len(raw) < 6*page {
		t.Fatalf("unexpected layout: page size %d, file %d bytes", page, len(raw))
	}
	return raw, page
}

// A database file cut short (a crash during a copy, a full SD card) must be
// reported as corrupt, whatever length it was cut to. These lengths are all
// shorter than two pages, where bbolt refuses the file before mapping it.
func TestOpenShortFile(t *testing.T) {
	raw, page := smallDB(t)
	for _, n := range []int{1, 100, page / 2, page - 1, page, page + 100, 2*page - 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cut.db")
			if err := os.WriteFile(path, raw[:n], 0o600); err != nil {
				t.Fatal(err)
			}
			d, err := db.Open(path)
			if err == nil {
				d.Close()
				t.Fatalf("Open of a database cut to %d of %d bytes succeeded", n, len(raw))
			}
			if !errors.Is(err, db.ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open(cut to %d bytes) = %v, want ErrCorrupt naming the file", n, err)
			}
		})
	}
}

// openChildEnv names the file a child process of TestOpenTruncatedNoCrash
// opens.
const openChildEnv = "PERCH_DB_TEST_OPEN_CHILD"

// A database cut after its meta pages points at pages past the end of the
// file. Reading those through the memory map is a fault that kills the
// process unless it is caught, so each Open runs in a child process: the
// test reports a crash instead of taking the whole package's tests down.
func TestOpenTruncatedNoCrash(t *testing.T) {
	if path := os.Getenv(openChildEnv); path != "" {
		d, err := db.Open(path)
		if err == nil {
			d.Close()
			fmt.Println("RESULT opened")
			return
		}
		fmt.Printf("RESULT corrupt=%v named=%v: %v\n", errors.Is(err, db.ErrCorrupt), strings.Contains(err.Error(), path), err)
		return
	}
	raw, page := smallDB(t)
	// 2 pages: only the metas are left. 4 and 5 pages: the latest root and
	// freelist pages (4 and 5) are missing.
	for _, pages := range []int{2, 3, 4, 5} {
		n := pages * page
		t.Run(fmt.Sprintf("%d pages", pages), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cut.db")
			if err := os.WriteFile(path, raw[:n], 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestOpenTruncatedNoCrash$", "-test.count=1")
			// Under -race a child would otherwise sleep a second on exit.
			cmd.Env = append(os.Environ(), openChildEnv+"="+path,
				"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			out, err := cmd.CombinedOutput()
			result := ""
			for line := range strings.Lines(string(out)) {
				if r, ok := strings.CutPrefix(line, "RESULT "); ok {
					result = strings.TrimSpace(r)
				}
			}
			switch {
			case err != nil || result == "":
				first, _, _ := strings.Cut(string(out), "\n\n")
				t.Fatalf("Open of a database cut to %d of %d bytes crashed the process (%v):\n%s", n, len(raw), err, first)
			case result == "opened":
				t.Fatalf("Open of a database cut to %d of %d bytes succeeded", n, len(raw))
			case !strings.HasPrefix(result, "corrupt=true named=true"):
				t.Errorf("Open(cut to %d bytes): %s; want ErrCorrupt naming the file", n, result)
			}
		})
	}
}

// bbolt keeps two meta pages and writes them alternately, so a commit torn
// by a power cut damages at most one: Open must fall back to the other
// (losing at most the last commit), not call the file corrupt.
func TestOpenOneTornMeta(t *testing.T) {
	raw, page := smallDB(t)
	// smallDB's file went through two commits: meta page 0 holds the
	// latest (txid 2, with dev-1), meta page 1 the one before (txid 1).
	txid := func(meta int) uint64 { return binary.LittleEndian.Uint64(raw[meta*page+16+48:]) }
	if txid(0) != 2 || txid(1) != 1 {
		t.Fatalf("meta pages hold txids %d and %d, want 2 and 1", txid(0), txid(1))
	}
	tests := []struct {
		name    string
		meta    int
		wantDev bool
	}{
		{"latest", 0, false},
		{"previous", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := slices.Clone(raw)
			// Flip a byte of the meta's txid: its checksum no longer matches.
			b[tt.meta*page+16+48] ^= 0xFF
			path := filepath.Join(t.TempDir(), "torn.db")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			d, err := db.Open(path)
			if err != nil {
				t.Fatalf("Open with the %s meta page torn: %v", tt.name, err)
			}
			defer d.Close()
			var r record
			err = d.View(func(tx db.Tx) error { return tx.Get("devices", "dev-1", &r) })
			if tt.wantDev && (err != nil || r != (record{"one", 1})) {
				t.Errorf("Get(dev-1) = %+v, %v; want the committed record", r, err)
			}
			if !tt.wantDev && !errors.Is(err, db.ErrNotFound) {
				t.Errorf("Get(dev-1) = %+v, %v; want ErrNotFound (rolled back to the previous commit)", r, err)
			}
			// The database is usable.
			if err := d.Update(func(tx db.Tx) error { return tx.Put("devices", "dev-2", record{"two", 2}) }); err != nil {
				t.Errorf("Update after recovery: %v", err)
			}
		})
	}
	t.Run("both", func(t *testing.T) {
		b := slices.Clone(raw)
		b[16+48] ^= 0xFF
		b[page+16+48] ^= 0xFF
		path := filepath.Join(t.TempDir(), "torn.db")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := db.Open(path)
		if err == nil {
			d.Close()
			t.Fatal("Open with both meta pages torn succeeded")
		}
		if !errors.Is(err, db.ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Errorf("Open = %v, want ErrCorrupt naming the file", err)
		}
	})
}

// A database whose data pages were overwritten after a clean close must be
// refused at Open (the consistency walk), not at first use.
func TestOpenDamagedPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perch.db")
	d, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 200)
	err = d.Update(func(tx db.Tx) error {
		for i := range 500 {
			if err := tx.Put("devices", fmt.Sprintf("dev-%04d", i), record{big, i}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the two meta pages (the page size is at least 4 KiB) and scribble
	// over everything after them.
	const metaEnd = 2 * 4096
	if len(raw) <= metaEnd {
		t.Fatalf("database only %d bytes", len(raw))
	}
	scribble := bytes.Repeat([]byte{0xA5}, len(raw)-metaEnd)
	copy(raw[metaEnd:], scribble)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err = db.Open(path)
	if err == nil {
		d.Close()
		t.Fatal("Open succeeded on a database with overwritten pages")
	}
	if !errors.Is(err, db.ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Errorf("Open = %v, want ErrCorrupt naming %s", err, path)
	}
}

func TestOpenLocked(t *testing.T) {
	_, path := openTemp(t)
	// bbolt takes an flock on its own file descriptor, and flock locks
	// belong to the open file description, so a second Open in the same
	// process conflicts just as another process would.
	start := time.Now()
	d2, err := db.Open(path)
	elapsed := time.Since(start)
	if err == nil {
		d2.Close()
		t.Fatal("second Open of an open database succeeded")
	}
	if !errors.Is(err, db.ErrLocked) {
		t.Errorf("second Open = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
	if elapsed > 5*time.Second {
		t.Errorf("second Open took %v to give up, want about 1 s", elapsed)
	}
}

func TestOpenAfterCloseNotLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perch.db")
	d, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = db.Open(path)
	if err != nil {
		t.Fatalf("Open after Close = %v; the lock was not released", err)
	}
	d.Close()
}

func TestOpenMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "perch.db")
	_, err := db.Open(path)
	if err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
	if errors.Is(err, db.ErrCorrupt) || errors.Is(err, db.ErrLocked) {
		t.Errorf("Open(missing dir) = %v, should be neither corrupt nor locked", err)
	}
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("Open(missing dir) = %v, want ErrNotExist naming the path", err)
	}
}

func TestCloseTwice(t *testing.T) {
	d, err := db.Open(filepath.Join(t.TempDir(), "perch.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestBatchConcurrent(t *testing.T) {
	d, path := openTemp(t)
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("dev-%02d", i)
			errs <- d.Batch(func(tx db.Tx) error { return tx.Put("seen", key, record{key, i}) })
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Batch: %v", err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var keys []string
	err = d.View(func(tx db.Tx) error {
		return tx.ForEach("seen", func(key string, raw []byte) error {
			var r record
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			if r.Name != key {
				t.Errorf("%s holds %+v", key, r)
			}
			keys = append(keys, key)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != n || !sort.StringsAreSorted(keys) {
		t.Errorf("after reopen %d keys (%v), want %d sorted", len(keys), keys, n)
	}
}

func TestConcurrentReadersAndWriters(t *testing.T) {
	d, _ := openTemp(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 20 {
				key := fmt.Sprintf("w%d-%02d", w, i)
				if err := d.Update(func(tx db.Tx) error { return tx.Put("mixed", key, record{key, i}) }); err != nil {
					t.Errorf("Update %s: %v", key, err)
				}
			}
		})
		wg.Go(func() {
			for range 20 {
				err := d.View(func(tx db.Tx) error {
					return tx.ForEach("mixed", func(string, []byte) error { return nil })
				})
				if err != nil {
					t.Errorf("View: %v", err)
				}
			}
		})
	}
	wg.Wait()
	n := 0
	d.View(func(tx db.Tx) error {
		return tx.ForEach("mixed", func(string, []byte) error { n++; return nil })
	})
	if n != 80 {
		t.Errorf("%d records, want 80", n)
	}
}
