package config

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration reference is the generated one, so the docs
// cannot drift from the code.
func TestREADMEHasReference(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), strings.TrimSpace(Reference())) {
		t.Fatal("README.md's configuration reference is out of date: paste in testdata/config/reference.md (go test ./gateway/config -update regenerates it)")
	}
}
