package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary payloads, as any device may publish, to Decode
// and a Decoder. They must not panic, must agree, and must either return
// valid fields (the ones encoding/json's tokenizer finds, flattened) or an
// *Error wrapping ErrInvalid that quotes little of the payload.
func FuzzDecode(f *testing.F) {
	for _, tt := range fieldTests {
		f.Add([]byte(tt.in))
	}
	for _, tt := range rejectTests {
		if len(tt.in) < 1024 {
			f.Add([]byte(tt.in))
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "sensors", "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	d := newTestDecoder(f, Options{})
	tight := Options{MaxBytes: 512, MaxFields: 4, MaxDepth: 3, MaxFutureSkew: time.Minute}
	dt := newTestDecoder(f, tight)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data, received, Options{})
		checkResult(t, data, Options{}, r, err)
		r2, err2 := d.Decode(data, received)
		if !sameResult(r, err, r2, err2) {
			t.Fatalf("Decode(%q) = %+v, %v; Decoder.Decode = %+v, %v", data, r, err, r2, err2)
		}

		rt, errt := Decode(data, received, tight)
		checkResult(t, data, tight, rt, errt)
		rt2, errt2 := dt.Decode(data, received)
		if !sameResult(rt, errt, rt2, errt2) {
			t.Fatalf("tight Decode(%q) = %+v, %v; Decoder.Decode = %+v, %v", data, rt, errt, rt2, errt2)
		}
		// Tighter limits only reject more.
		if errt == nil && !sameResult(rt, errt, r, err) {
			t.Fatalf("Decode(%q) with tight limits = %+v, with the defaults %+v, %v", data, rt, r, err)
		}

		valid := json.Valid(data)
		if err == nil && !valid {
			t.Fatalf("Decode(%q) accepted what encoding/json says is not JSON", data)
		}
		var e *Error
		if errors.As(err, &e) && valid && (e.Reason == ReasonSyntax || e.Reason == ReasonTrailing) {
			t.Fatalf("Decode(%q) = %v, but encoding/json says it is JSON", data, err)
		}
		if err != nil {
			return
		}
		want, skipped, hasTS, rerr := reference(data)
		if rerr != nil {
			t.Fatalf("reference(%q): %v", data, rerr)
		}
		if !sameFields(r.Fields, want) || r.Skipped != skipped || r.FromTS != hasTS {
			t.Fatalf("Decode(%q) = %v %+v ts %v\nreference %v %+v ts %v", data, r.Fields, r.Skipped, r.FromTS, want, skipped, hasTS)
		}
	})
}

// checkResult checks what Decode(data, received, opts) returned, alone.
func checkResult(t *testing.T, data []byte, opts Options, r Result, err error) {
	t.Helper()
	opts, _ = opts.withDefaults()
	if err != nil {
		var e *Error
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &e) {
			t.Fatalf("Decode(%q): error %v is not an *Error wrapping ErrInvalid", data, err)
		}
		msg := err.Error()
		if e.Reason == "" || len(msg) <= len("payload: ") || len(msg) > 400 {
			t.Fatalf("Decode(%q): error message %q", data, msg)
		}
		// No more than a few dozen bytes of the payload in a row.
		const window = 100
		for i := 0; i+window <= len(msg); i++ {
			if bytes.Contains(data, []byte(msg[i:i+window])) {
				t.Fatalf("Decode(%q): error %q quotes more than %d bytes of it", data, msg, window)
			}
		}
		if r.Fields != nil || r.FromTS || !r.Time.IsZero() || r.Skipped != (Skipped{}) {
			t.Fatalf("Decode(%q) returned %+v with its error", data, r)
		}
		return
	}
	if len(r.Fields) == 0 || len(r.Fields) > opts.MaxFields {
		t.Fatalf("Decode(%q): %d fields", data, len(r.Fields))
	}
	seen := make(map[string]bool)
	for _, f := range r.Fields {
		if problem := validName(f.Name); problem != "" {
			t.Fatalf("Decode(%q): field %q: %s", data, f.Name, problem)
		}
		if seen[f.Name] {
			t.Fatalf("Decode(%q): two fields %q", data, f.Name)
		}
		seen[f.Name] = true
		if math.IsNaN(f.Value) || math.IsInf(f.Value, 0) {
			t.Fatalf("Decode(%q): field %q = %v", data, f.Name, f.Value)
		}
	}
	if r.Time.Location() != time.UTC {
		t.Fatalf("Decode(%q): time %v not in UTC", data, r.Time)
	}
	if r.FromTS {
		if r.Time.Year() < 2000 || r.Time.After(received.Add(opts.MaxFutureSkew)) {
			t.Fatalf("Decode(%q): time %v from ts", data, r.Time)
		}
	} else if !r.Time.Equal(received) {
		t.Fatalf("Decode(%q): time %v, not the receive time", data, r.Time)
	}
}

func sameResult(r1 Result, err1 error, r2 Result, err2 error) bool {
	if err1 != nil || err2 != nil {
		return err1 != nil && err2 != nil && err1.Error() == err2.Error()
	}
	return sameFields(r1.Fields, r2.Fields) && r1.Skipped == r2.Skipped && r1.FromTS == r2.FromTS && r1.Time.Equal(r2.Time)
}

// reference flattens a payload Decode accepted with encoding/json's
// tokenizer, without any of Decode's checks.
func reference(data []byte) (fields []Field, skipped Skipped, hasTS bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(path string, top bool) error
	walk = func(path string, top bool) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				for dec.More() {
					k, err := dec.Token()
					if err != nil {
						return err
					}
					key := k.(string)
					if top && key == "ts" {
						hasTS = true
						if _, err := dec.Token(); err != nil { // a number or a string
							return err
						}
						continue
					}
					p := key
					if path != "" {
						p = path + "." + key
					}
					if err := walk(p, false); err != nil {
						return err
					}
				}
			case '[':
				for i := 0; dec.More(); i++ {
					if err := walk(path+"."+strconv.Itoa(i), false); err != nil {
						return err
					}
				}
			}
			_, err := dec.Token() // } or ]
			return err
		case json.Number:
			x, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return err
			}
			if top {
				path = "value"
			}
			fields = append(fields, Field{path, x})
		case bool:
			x := 0.0
			if v {
				x = 1
			}
			if top {
				path = "value"
			}
			fields = append(fields, Field{path, x})
		case string:
			skipped.Strings++
		case nil:
			skipped.Nulls++
		}
		return nil
	}
	err = walk("", true)
	return fields, skipped, hasTS, err
}
