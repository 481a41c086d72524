package export

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden writes the dataset in every format and time format and
// compares with testdata/<format>_<ts>.golden.
// Regenerate with: go test ./gateway/export -run TestGolden -update
func TestGolden(t *testing.T) {
	for _, format := range []string{"json", "csv", "arff"} {
		for _, tsf := range []string{"ms", "iso"} {
			t.Run(format+"_"+tsf, func(t *testing.T) {
				out := write(t, Options{Format: format, TSFormat: tsf, Relation: "greenhouse-1"}, testFields, testRecs)
				golden(t, format+"_"+tsf+".golden", out)
			})
		}
	}
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
