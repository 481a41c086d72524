package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestReference(t *testing.T) {
	ref := Reference()
	golden(t, "reference.md", []byte(ref))
	table, _, _ := strings.Cut(ref, "\n\n")
	if n, want := strings.Count(table+"\n", "\n"), len(newSchema().leaves)+2; n != want {
		t.Errorf("keys table: %d lines, want a header, a rule and one line per key: %d", n, want)
	}
	for _, key := range []string{"`devices[].credentials_hash`", "`buckets[].retention`", "`storage.fsync_interval`"} {
		if !strings.Contains(ref, key) {
			t.Errorf("Reference does not document %s", key)
		}
	}
}

// TestReferenceExample loads the YAML example of Reference: it must be a
// valid file declaring one device and one bucket.
func TestReferenceExample(t *testing.T) {
	_, rest, ok := strings.Cut(Reference(), "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatal("Reference has no YAML example")
	}
	c, err := load(t, source{file: example})
	if err != nil {
		t.Fatalf("the example does not load: %v\n%s", err, example)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the example does not validate: %v", err)
	}
	if want := exampleConfig(); !reflect.DeepEqual(c, want) {
		t.Errorf("the example loads as\n%+v\nwant\n%+v", c, want)
	}
	if len(c.Devices) != 1 || len(c.Buckets) != 1 {
		t.Errorf("the example has %d devices and %d buckets, want one of each", len(c.Devices), len(c.Buckets))
	}
}
