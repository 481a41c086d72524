package query

import (
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary URL queries, as any client may send, to Parse.
// It must not panic, and must either reject the query with an *Error that
// quotes little of it, or return Params that keep every rule: a valid
// range, interval, limit and enums, and a Values that parses back to them.
func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.query)
	}
	for _, tt := range parseErrorTests {
		f.Add(tt.query)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw) // what parsed, as a server would take it
		p, err := Parse(v, now)
		if err != nil {
			checkError(t, raw, err)
			if !reflect.DeepEqual(p, Params{}) {
				t.Fatalf("Parse(%q) returned %+v with its error", raw, p)
			}
			return
		}
		checkParams(t, raw, p)
		again, err := Parse(p.Values(), now)
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("Parse(%q) = %+v; its Values %q parse to %+v, %v", raw, p, p.Values().Encode(), again, err)
		}

		// ParseRange takes the same range, when there is nothing else.
		from, to, err := ParseRange(v, now)
		onlyRange := true
		for name := range v {
			onlyRange = onlyRange && slices.Contains(rangeParams, name)
		}
		if onlyRange && (err != nil || from != p.From || to != p.To) {
			t.Fatalf("ParseRange(%q) = %d, %d, %v; Parse gave %d, %d", raw, from, to, err, p.From, p.To)
		}
		if !onlyRange && err == nil {
			t.Fatalf("ParseRange(%q) took parameters other than the range", raw)
		}
	})
}

// FuzzParseInterval checks ParseInterval against time.ParseDuration, for
// the units both know.
func FuzzParseInterval(f *testing.F) {
	for _, s := range []string{"5m", "1h30m", "1.5h", "500ms", "2000us", "1d", "1w", ".5s", "0", "-1h", "1e3s", "366d", "0.0000001h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseInterval(s)
		if err != nil {
			checkError(t, s, err)
		} else if ms < MinInterval || ms > MaxInterval {
			t.Fatalf("ParseInterval(%q) = %d", s, ms)
		}
		if strings.ContainsAny(s, "dw+-") {
			return // not Go's
		}
		d, goErr := time.ParseDuration(s)
		goOK := goErr == nil && s != "0" && d%time.Millisecond == 0 && d >= time.Millisecond && d <= MaxInterval*time.Millisecond
		switch {
		case err == nil && goErr != nil:
			t.Fatalf("ParseInterval(%q) = %d; time.ParseDuration: %v", s, ms, goErr)
		case err == nil && time.Duration(ms)*time.Millisecond != d:
			t.Fatalf("ParseInterval(%q) = %d ms; time.ParseDuration %v", s, ms, d)
		case err != nil && goOK:
			t.Fatalf("ParseInterval(%q): %v; time.ParseDuration %v", s, err, d)
		}
	})
}

// checkError checks an error of the package: an *Error wrapping
// ErrInvalid, with a short message that quotes little of the input.
func checkError(t *testing.T, in string, err error) {
	t.Helper()
	var e *Error
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &e) || e.Message == "" {
		t.Fatalf("%q: error %#v is not an *Error wrapping ErrInvalid", in, err)
	}
	msg := err.Error()
	if len(msg) > 300 {
		t.Fatalf("%q: error message of %d bytes: %s", in, len(msg), msg)
	}
	// No more than about 40 bytes of the input in a row, as given or
	// as a value decoded from it; quoted, 40 backslashes are 80.
	const window = 100
	vals := []string{in}
	v, _ := url.ParseQuery(in)
	for name, vs := range v {
		vals = append(vals, name)
		vals = append(vals, vs...)
	}
	for i := 0; i+window <= len(msg); i++ {
		for _, s := range vals {
			if strings.Contains(s, msg[i:i+window]) {
				t.Fatalf("%q: error %q quotes more than %d bytes of it", in, msg, window)
			}
		}
	}
}

// checkParams checks that p keeps the rules of a parsed query.
func checkParams(t *testing.T, raw string, p Params) {
	t.Helper()
	fail := func(what string) { t.Fatalf("Parse(%q) = %+v: %s", raw, p, what) }
	if p.From < 0 || p.From > p.To {
		fail("bad range")
	}
	if p.Every < 0 || p.Every > MaxInterval || p.Every > 0 && p.Agg == None {
		fail("bad interval")
	}
	if p.Agg != None && !slices.Contains(aggs, p.Agg) {
		fail("bad aggregation function")
	}
	if p.Limit < 0 || p.Limit > MaxLimit {
		fail("bad limit")
	}
	if p.Sort != Asc && p.Sort != Desc || p.Format != JSON && p.Format != CSV && p.Format != ARFF ||
		p.TSFormat != TSMillis && p.TSFormat != TSISO {
		fail("bad enum")
	}
	if p.Fields != nil && len(p.Fields) == 0 {
		fail("empty, not nil, fields")
	}
	seen := make(map[string]bool)
	for _, f := range p.Fields {
		if f == "" || len(f) > MaxFieldLen || strings.Contains(f, ",") || seen[f] || checkText(f) != "" {
			fail("bad field " + f)
		}
		seen[f] = true
	}
	for _, s := range []string{p.Device, p.Topic} {
		if len(s) > MaxDeviceLen || !utf8.ValidString(s) || checkText(s) != "" {
			fail("bad device or topic")
		}
	}
}
