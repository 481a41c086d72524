package bucket

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/db"
)

// A bucket whose disk filled up refuses writes with its error showing, and
// takes writes again, keeping what it had, once the disk has room.
func TestHealAfterDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 600<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(filepath.Join(t.TempDir(), "perch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m, err := New(Config{DB: d, Dir: filepath.Join(dir, "buckets"), SyncInterval: time.Millisecond,
		HealInterval: 20 * time.Millisecond, HealMinFree: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Create(Bucket{ID: "env", Enabled: true, Retention: Duration(DefaultRetention)}); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for i := range 200 {
		fields = append(fields, fmt.Sprintf(`"f%d":%d.%d`, i, i, i))
	}
	body := []byte("{" + strings.Join(fields, ",") + "}")
	stored := 0
	for ; stored < 10000; stored++ {
		if _, err := m.Write("env", "d", body); err != nil {
			if !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("write %d: %v", stored, err)
			}
			break
		}
	}
	if stored == 10000 {
		t.Fatal("the disk never filled up")
	}
	if i, _ := m.Get("env"); !strings.Contains(i.Stats.Error, "no space left") {
		t.Fatalf("stats error %q", i.Stats.Error)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := m.Write("env", "d", []byte(`{"a":2}`))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after the disk has room: %v", err)
		}
		if errors.Is(err, ErrNotFound) {
			t.Fatal("the bucket vanished")
		}
		time.Sleep(10 * time.Millisecond)
	}
	i, _ := m.Get("env")
	if i.Stats.Error != "" || i.Stats.Points < int64(stored) {
		t.Fatalf("after healing: %+v (stored %d before the disk filled)", i.Stats, stored)
	}
}
