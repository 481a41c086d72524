package payload

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestFlattenGolden decodes realistic sensor payloads (testdata/sensors)
// and compares what comes out with testdata/flatten.golden.
func TestFlattenGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "sensors", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sensor payloads: %v", err)
	}
	var out bytes.Buffer
	out.WriteString("# Decode of each payload in testdata/sensors, received at " + received.Format(time.RFC3339) + ".\n")
	out.WriteString("# Regenerate with: go test ./gateway/payload -run TestFlattenGolden -update\n")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "\n== %s\n", filepath.Base(file))
		r, err := Decode(data, received, Options{})
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
			continue
		}
		from := "received"
		if r.FromTS {
			from = "ts"
		}
		fmt.Fprintf(&out, "time %s (%s)\n", r.Time.Format(time.RFC3339Nano), from)
		fmt.Fprintf(&out, "skipped %d strings, %d nulls\n", r.Skipped.Strings, r.Skipped.Nulls)
		for _, f := range r.Fields {
			fmt.Fprintf(&out, "%s = %s\n", f.Name, formatValue(f.Value))
		}
	}
	golden(t, "flatten.golden", out.Bytes())
}

// formatValue formats v as encoding/json would.
func formatValue(v float64) string {
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// golden compares got with testdata's file name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update if the change is intended):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
