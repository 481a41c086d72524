package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds the dashboard decoder and validator arbitrary bodies, as
// the API takes them from anyone with a token: it must never panic, every
// refusal must be a *FieldError with a field or a syntax error, and what it
// accepts must be valid and come back the same after a round trip through
// JSON (which is how the store keeps it).
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "greenhouse.json")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		`{"id":"d"}`,
		`{"id":"d","widgets":[]}`,
		`{"id":"d","widgets":[{"id":"w","type":"text","x":0,"y":0,"w":12,"h":1}]}`,
		`{"id":"d","widgets":[{"id":"w","type":"value","w":1,"h":1,"source":{"kind":"topic","topic":"a/+/#","path":"a.0"},"options":{"x":"<&>"}}]}`,
		`{"id":"d","widgets":[{"id":"w","type":"led","w":1,"h":1,"source":{"kind":"bucket","bucket":"b","fields":[],"device":""},"options":null}]}`,
		`{"ID":"d","Widgets":[{"ID":"w","TYPE":"text","w":1,"h":1}],"created":5}`,
		`{"id":"d","widgets":[{"id":"w","type":"chart","w":1,"h":1,"source":{"kind":"bucket","bucket":"b"},"options":{"a":"\u2028"}}]}`,
		`{"id":"d","widgets":[null]}`,
		`{"id":"d","widgets":[{"x":1e99}]}`,
		`{"id":"d"} x`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Parse(in)
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				if fe.Reason == "" || !errors.Is(err, ErrInvalid) {
					t.Fatalf("bad field error %#v", fe)
				}
			} else if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v is neither a *FieldError nor ErrSyntax", err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("accepted but invalid: %v", err)
		}
		if len(d.Widgets) > MaxWidgets {
			t.Fatalf("%d widgets", len(d.Widgets))
		}
		for _, w := range d.Widgets {
			if len(w.Options) > MaxOptions || (w.Options != nil && w.Options[0] != '{') {
				t.Fatalf("options %q", w.Options)
			}
		}
		first, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		d2, err := Parse(first)
		if err != nil {
			t.Fatalf("its own JSON %s does not parse: %v", first, err)
		}
		second, _ := json.Marshal(d2)
		if !bytes.Equal(first, second) {
			t.Fatalf("not stable:\n%s\n%s", first, second)
		}
	})
}
