package config

import (
	"strings"
	"testing"
)

func TestReference(t *testing.T) {
	ref := Reference()
	golden(t, "reference.md", []byte(ref))
	if n, want := strings.Count(ref, "\n"), len(newSchema().leaves)+2; n != want {
		t.Errorf("%d lines, want a header, a rule and one line per key: %d", n, want)
	}
}
