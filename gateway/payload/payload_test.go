package payload

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// received is the receive time the tests pass to Decode.
var received = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// f is a Field, for short tables.
func f(name string, v float64) Field { return Field{Name: name, Value: v} }

var fieldTests = []struct {
	name    string
	in      string
	opts    Options
	want    []Field
	skipped Skipped
}{
	{name: "flat", in: `{"t":21.5,"h":40}`, want: []Field{f("t", 21.5), f("h", 40)}},
	{name: "nested object", in: `{"env":{"t":21.5}}`, want: []Field{f("env.t", 21.5)}},
	{name: "deeply nested", in: `{"a":{"b":{"c":{"d":1}}},"e":2}`, want: []Field{f("a.b.c.d", 1), f("e", 2)}},
	{name: "array", in: `{"a":[1,2]}`, want: []Field{f("a.0", 1), f("a.1", 2)}},
	{name: "nested arrays", in: `{"a":[[1,2],[3]]}`, want: []Field{f("a.0.0", 1), f("a.0.1", 2), f("a.1.0", 3)}},
	{name: "objects in an array", in: `{"a":[{"x":1,"y":2},{"x":3}]}`, want: []Field{f("a.0.x", 1), f("a.0.y", 2), f("a.1.x", 3)}},
	{name: "arrays in objects in arrays", in: `{"m":[{"v":[1,{"w":2}]}]}`, want: []Field{f("m.0.v.0", 1), f("m.0.v.1.w", 2)}},
	{name: "index 10 and more", in: `{"a":[0,1,2,3,4,5,6,7,8,9,10]}`, want: []Field{
		f("a.0", 0), f("a.1", 1), f("a.2", 2), f("a.3", 3), f("a.4", 4), f("a.5", 5), f("a.6", 6), f("a.7", 7), f("a.8", 8), f("a.9", 9), f("a.10", 10)}},
	{name: "document order", in: `{"z":1,"a":{"y":2},"m":3}`, want: []Field{f("z", 1), f("a.y", 2), f("m", 3)}},
	{name: "booleans", in: `{"on":true,"off":false,"l":[true]}`, want: []Field{f("on", 1), f("off", 0), f("l.0", 1)}},
	{name: "strings and nulls counted", in: `{"v":1,"fw":"1.2","n":null,"e":{"s":"x","n":null},"a":["y",null,2]}`,
		want: []Field{f("v", 1), f("a.2", 2)}, skipped: Skipped{Strings: 3, Nulls: 3}},
	{name: "empty containers give nothing", in: `{"o":{},"a":[],"v":1,"x":[{}, []]}`, want: []Field{f("v", 1)}},
	{name: "white space", in: " \t\r\n{ \"a\" : [ 1 , { \"b\" : true } ] , \"c\" : 2 }\n ", want: []Field{f("a.0", 1), f("a.1.b", 1), f("c", 2)}},
	{name: "numbers", in: `{"a":0,"b":-0,"c":-1.5,"d":1e3,"e":1E+2,"f":2.5e-3,"g":-7E-1,"h":123456789012345,"i":-123456789012345}`,
		want: []Field{f("a", 0), f("b", math.Copysign(0, -1)), f("c", -1.5), f("d", 1000), f("e", 100), f("f", 0.0025), f("g", -0.7), f("h", 123456789012345), f("i", -123456789012345)}},
	{name: "float64 range", in: `{"max":1.7976931348623157e308,"min":-1.7976931348623157e308,"sub":5e-324,"under":1e-400}`,
		want: []Field{f("max", math.MaxFloat64), f("min", -math.MaxFloat64), f("sub", 5e-324), f("under", 0)}},
	{name: "integers beyond 2^53 round", in: `{"a":9007199254740993,"b":18446744073709551615,"c":123456789012345678901234567890}`,
		want: []Field{f("a", 9007199254740992), f("b", 18446744073709551616), f("c", 1.2345678901234568e29)}},
	{name: "long number text", in: `{"a":1.00000000000000000000000000000000000000000000000000000000000000000001}`, want: []Field{f("a", 1)}},
	{name: "bare number", in: `21.5`, want: []Field{f("value", 21.5)}},
	{name: "bare negative exponent", in: `-3e2`, want: []Field{f("value", -300)}},
	{name: "bare zero", in: ` 0 `, want: []Field{f("value", 0)}},
	{name: "bare true", in: `true`, want: []Field{f("value", 1)}},
	{name: "bare false", in: "false\n", want: []Field{f("value", 0)}},
	{name: "dotted key is nesting", in: `{"env.t":21.5,"env":{"h":40}}`, want: []Field{f("env.t", 21.5), f("env.h", 40)}},
	{name: "a skipped value may share a field's name", in: `{"a.b":"x","a":{"b":2},"c.0":null,"c":[3]}`,
		want: []Field{f("a.b", 2), f("c.0", 3)}, skipped: Skipped{Strings: 1, Nulls: 1}},
	{name: "ts below the top is a field", in: `{"env":{"ts":5},"a":[{"ts":6}]}`, want: []Field{f("env.ts", 5), f("a.0.ts", 6)}},
	{name: "ts anywhere in the object", in: `{"v":1,"ts":1717243200000}`, want: []Field{f("v", 1)}},
	{name: "escaped keys", in: `{"\u00e9t\u00e9":1,"a\"b":2,"a\\b":3,"a\/b":4,"\ud83d\ude00":5}`,
		want: []Field{f("été", 1), f(`a"b`, 2), f(`a\b`, 3), f("a/b", 4), f("😀", 5)}},
	{name: "printable names", in: `{"Température (°C)":1,"a b":2,"x,y;z=1":3,"日本":4}`,
		want: []Field{f("Température (°C)", 1), f("a b", 2), f("x,y;z=1", 3), f("日本", 4)}},
	{name: "escaped and plain keys differ", in: `{"a":1,"\u0041":2}`, want: []Field{f("a", 1), f("A", 2)}},
	{name: "same key in different objects", in: `{"a":{"x":1},"b":{"x":2},"c":[{"x":3},{"x":4}]}`,
		want: []Field{f("a.x", 1), f("b.x", 2), f("c.0.x", 3), f("c.1.x", 4)}},
	{name: "strings with escapes skipped", in: `{"s":"a\"b\\c\/\b\f\n\r\t\u0000\ud800\uD83D\uDE00","v":1}`, want: []Field{f("v", 1)}, skipped: Skipped{Strings: 1}},
	{name: "string values need not be UTF-8", in: "{\"s\":\"\xff\xfe\",\"v\":1}", want: []Field{f("v", 1)}, skipped: Skipped{Strings: 1}},
	{name: "name of 128 bytes", in: `{"` + strings.Repeat("n", 60) + `":{"` + strings.Repeat("m", 67) + `":1}}`,
		want: []Field{f(strings.Repeat("n", 60)+"."+strings.Repeat("m", 67), 1)}},
	{name: "MaxFields fields", in: `{"a":1,"b":true,"c":[3]}`, opts: Options{MaxFields: 3}, want: []Field{f("a", 1), f("b", 1), f("c.0", 3)}},
	{name: "MaxDepth levels", in: `{"a":{"b":[1]}}`, opts: Options{MaxDepth: 3}, want: []Field{f("a.b.0", 1)}},
	{name: "MaxBytes bytes", in: `{"a":1}`, opts: Options{MaxBytes: 7}, want: []Field{f("a", 1)}},
}

func TestDecodeFields(t *testing.T) {
	d := newTestDecoder(t, Options{})
	for _, tt := range fieldTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in), received, tt.opts)
			if err != nil {
				t.Fatalf("Decode(%s): %v", tt.in, err)
			}
			if !sameFields(got.Fields, tt.want) {
				t.Errorf("Decode(%s) fields\n got %v\nwant %v", tt.in, got.Fields, tt.want)
			}
			if got.Skipped != tt.skipped {
				t.Errorf("Decode(%s) skipped %+v, want %+v", tt.in, got.Skipped, tt.skipped)
			}
			if tt.opts == (Options{}) {
				// A Decoder used for every case in turn gives the same.
				got2, err := d.Decode([]byte(tt.in), received)
				if err != nil || !sameFields(got2.Fields, got.Fields) || got2.Skipped != got.Skipped || !got2.Time.Equal(got.Time) {
					t.Errorf("Decoder.Decode(%s) = %+v, %v; Decode gave %+v", tt.in, got2, err, got)
				}
			}
		})
	}
}

// sameFields compares fields, telling -0 from 0.
func sameFields(a, b []Field) bool {
	return slices.EqualFunc(a, b, func(x, y Field) bool {
		return x.Name == y.Name && math.Float64bits(x.Value) == math.Float64bits(y.Value)
	})
}

func newTestDecoder(t testing.TB, opts Options) *Decoder {
	t.Helper()
	d, err := NewDecoder(opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDecodeTime(t *testing.T) {
	paris := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name     string
		in       string
		received time.Time
		opts     Options
		want     time.Time
		fromTS   bool
	}{
		{name: "no ts", in: `{"v":1}`, want: received},
		{name: "no ts, receive time to UTC", in: `{"v":1}`, received: received.In(paris), want: received},
		{name: "bare number", in: `1`, want: received},
		{name: "milliseconds", in: `{"ts":1717243200123,"v":1}`, want: time.UnixMilli(1717243200123), fromTS: true},
		{name: "fraction truncated", in: `{"ts":1717243200123.999,"v":1}`, want: time.UnixMilli(1717243200123), fromTS: true},
		{name: "exponent", in: `{"ts":1.7172432e12,"v":1}`, want: time.UnixMilli(1717243200000), fromTS: true},
		{name: "2000-01-01 exactly", in: `{"ts":946684800000,"v":1}`, want: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), fromTS: true},
		{name: "future skew exactly", in: `{"ts":1717329600000,"v":1}`, want: received.Add(24 * time.Hour), fromTS: true},
		{name: "custom skew", in: `{"ts":1717243260000,"v":1}`, opts: Options{MaxFutureSkew: time.Minute}, want: received.Add(time.Minute), fromTS: true},
		{name: "RFC 3339", in: `{"ts":"2024-06-01T11:00:00Z","v":1}`, want: received.Add(-time.Hour), fromTS: true},
		{name: "RFC 3339 fraction", in: `{"ts":"2024-06-01T11:00:00.123456789Z","v":1}`, want: received.Add(-time.Hour + 123456789), fromTS: true},
		{name: "RFC 3339 offset", in: `{"ts":"2024-06-01T13:00:00.5+02:00","v":1}`, want: received.Add(-time.Hour + time.Second/2), fromTS: true},
		{name: "RFC 3339 negative offset", in: `{"ts":"2024-06-01T06:30:00-04:30","v":1}`, want: received.Add(-time.Hour), fromTS: true},
		{name: "RFC 3339 lower case", in: `{"ts":"2024-06-01t11:00:00z","v":1}`, want: received.Add(-time.Hour), fromTS: true},
		{name: "RFC 3339 escaped", in: `{"ts":"2024-06-01\u005411:00:00Z","v":1}`, want: received.Add(-time.Hour), fromTS: true},
		{name: "escaped ts key", in: `{"\u0074s":1717243200123,"v":1}`, want: time.UnixMilli(1717243200123), fromTS: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := received
			if !tt.received.IsZero() {
				rcv = tt.received
			}
			got, err := Decode([]byte(tt.in), rcv, tt.opts)
			if err != nil {
				t.Fatalf("Decode(%s): %v", tt.in, err)
			}
			if !got.Time.Equal(tt.want) || got.Time.Location() != time.UTC || got.FromTS != tt.fromTS {
				t.Errorf("Decode(%s) time %v from ts %v, want %v (UTC) %v", tt.in, got.Time, got.FromTS, tt.want.UTC(), tt.fromTS)
			}
			for _, fl := range got.Fields {
				if fl.Name == "ts" {
					t.Errorf("Decode(%s) has a ts field", tt.in)
				}
			}
		})
	}
}

var rejectTests = []struct {
	name   string
	in     string
	opts   Options
	reason Reason
	path   string
	detail string // a part of Error.Detail
}{
	// Size.
	{name: "too large", in: `{"a":12345678}`, opts: Options{MaxBytes: 10}, reason: ReasonTooLarge, detail: "14 bytes, limit 10"},
	{name: "too large by default", in: `{"a":"` + strings.Repeat("x", 64<<10) + `"}`, reason: ReasonTooLarge, detail: "65544 bytes, limit 65536"},

	// Not JSON.
	{name: "empty", in: ``, reason: ReasonSyntax, detail: "empty payload"},
	{name: "only white space", in: " \r\n\t", reason: ReasonSyntax, detail: "empty payload"},
	{name: "garbage", in: `hello`, reason: ReasonSyntax, detail: "unexpected character 'h' looking for the payload's value at offset 0"},
	{name: "byte order mark", in: "\ufeff{\"a\":1}", reason: ReasonSyntax, detail: "unexpected byte 0xef"},
	{name: "unquoted key", in: `{a:1}`, reason: ReasonSyntax, detail: "unexpected character 'a' looking for an object key at offset 1"},
	{name: "single quotes", in: `{'a':1}`, reason: ReasonSyntax},
	{name: "missing colon", in: `{"a" 1}`, path: "a", reason: ReasonSyntax, detail: "after an object key"},
	{name: "missing value", in: `{"a":}`, path: "a", reason: ReasonSyntax, detail: "looking for a value"},
	{name: "end before a value", in: `{"a": `, path: "a", reason: ReasonSyntax, detail: "unexpected end of payload looking for a value"},
	{name: "trailing comma", in: `{"a":1,}`, path: "", reason: ReasonSyntax, detail: "looking for an object key"},
	{name: "missing comma", in: `{"a":1 "b":2}`, reason: ReasonSyntax, detail: "after an object member"},
	{name: "unclosed object", in: `{"a":1`, reason: ReasonSyntax, detail: "unexpected end of payload after an object member"},
	{name: "unclosed nested", in: `{"a":{"b":1}`, reason: ReasonSyntax, detail: "end of payload"},
	{name: "array trailing comma", in: `{"a":[1,]}`, path: "a.1", reason: ReasonSyntax, detail: "looking for a value"},
	{name: "array missing comma", in: `{"a":[1 2]}`, path: "a", reason: ReasonSyntax, detail: "after an array element"},
	{name: "unclosed array", in: `{"a":[1`, path: "a", reason: ReasonSyntax, detail: "end of payload"},
	{name: "bad literal", in: `{"a":tru}`, path: "a", reason: ReasonSyntax},
	{name: "bad false", in: `{"a":fals}`, path: "a", reason: ReasonSyntax, detail: "unexpected character 'f' looking for a value at offset 5"},
	{name: "bare bad literal", in: `tru`, path: "value", reason: ReasonSyntax},
	{name: "capital literal", in: `{"a":True}`, path: "a", reason: ReasonSyntax},
	{name: "nul literal", in: `{"a":nul}`, path: "a", reason: ReasonSyntax},
	{name: "unterminated string", in: `{"a":"x`, path: "a", reason: ReasonSyntax, detail: "in a string"},
	{name: "unterminated key", in: `{"ab`, path: "", reason: ReasonSyntax, detail: "in a string"},
	{name: "control character in a string", in: "{\"a\":\"x\x01\"}", path: "a", reason: ReasonSyntax, detail: "unexpected byte 0x01 in a string"},
	{name: "newline in a key", in: "{\"a\nb\":1}", reason: ReasonSyntax, detail: "unexpected byte 0x0a in a string at offset 3"},
	{name: "bad escape", in: `{"a":"\q"}`, path: "a", reason: ReasonSyntax, detail: "in a string escape"},
	{name: "short unicode escape", in: `{"a":"\u12"}`, path: "a", reason: ReasonSyntax, detail: "in a \\u escape"},
	{name: "bad surrogate escape", in: `{"a":"\ud800\u12x4"}`, path: "a", reason: ReasonSyntax, detail: "in a \\u escape"},
	{name: "escape at the end", in: `{"a":"\`, path: "a", reason: ReasonSyntax},
	{name: "unicode escape at the end", in: `{"a":"\u12`, path: "a", reason: ReasonSyntax, detail: "unexpected end of payload in a \\u escape"},
	{name: "bad escape in a key", in: `{"a\x":1}`, reason: ReasonSyntax, detail: "unexpected character 'x' in a string escape at offset 4"},
	{name: "leading zero", in: `{"a":01}`, path: "", reason: ReasonSyntax, detail: "after an object member"},
	{name: "leading plus", in: `{"a":+1}`, path: "a", reason: ReasonSyntax},
	{name: "leading point", in: `{"a":.5}`, path: "a", reason: ReasonSyntax},
	{name: "trailing point", in: `{"a":1.}`, path: "a", reason: ReasonSyntax, detail: "decimal point"},
	{name: "empty exponent", in: `{"a":1e}`, path: "a", reason: ReasonSyntax, detail: "exponent"},
	{name: "exponent sign only", in: `{"a":1e+}`, path: "a", reason: ReasonSyntax, detail: "exponent"},
	{name: "minus only", in: `{"a":-}`, path: "a", reason: ReasonSyntax, detail: "in a number"},
	{name: "hex number", in: `{"a":0x10}`, reason: ReasonSyntax},
	{name: "bare minus", in: `-`, path: "value", reason: ReasonSyntax, detail: "in a number"},

	// Trailing data.
	{name: "two objects", in: `{"a":1} {"b":2}`, reason: ReasonTrailing, detail: "7 bytes after the value, at offset 8"},
	{name: "garbage after", in: `{"a":1}x`, reason: ReasonTrailing, detail: "1 byte after the value"},
	{name: "extra brace", in: `{"a":1}}`, reason: ReasonTrailing},
	{name: "two numbers", in: `1 2`, reason: ReasonTrailing},
	{name: "bare leading zero", in: `01`, reason: ReasonTrailing},
	{name: "NUL after", in: "{\"a\":1}\x00", reason: ReasonTrailing},

	// Not an object.
	{name: "top-level array", in: `[1,2]`, reason: ReasonNotObject, detail: "top-level array"},
	{name: "top-level string", in: `"21.5"`, reason: ReasonNotObject, detail: "top-level string"},
	{name: "top-level null", in: `null`, reason: ReasonNotObject, detail: "top-level null"},

	// No numeric fields.
	{name: "empty object", in: `{}`, reason: ReasonNoFields, detail: ""},
	{name: "only strings and nulls", in: `{"a":"x","b":{"c":"y","d":null}}`, reason: ReasonNoFields, detail: "2 strings, 1 null skipped"},
	{name: "only nulls", in: `{"a":null,"b":[null]}`, reason: ReasonNoFields, detail: "2 nulls skipped"},
	{name: "only a string", in: `{"a":"x"}`, reason: ReasonNoFields, detail: "1 string skipped"},
	{name: "only empty containers", in: `{"a":{},"b":[]}`, reason: ReasonNoFields},
	{name: "only ts", in: `{"ts":1717243200000}`, reason: ReasonNoFields},

	// Numbers.
	{name: "NaN", in: `{"a":NaN}`, path: "a", reason: ReasonNumber, detail: "NaN is not a JSON number"},
	{name: "Infinity", in: `{"a":{"b":Infinity}}`, path: "a.b", reason: ReasonNumber, detail: "Infinity is not a JSON number"},
	{name: "minus Infinity", in: `{"a":[1,-Infinity]}`, path: "a.1", reason: ReasonNumber, detail: "-Infinity is not a JSON number"},
	{name: "bare NaN", in: `NaN`, path: "value", reason: ReasonNumber},
	{name: "nan is not JSON", in: `{"a":nan}`, path: "a", reason: ReasonSyntax},
	{name: "Inf is not JSON", in: `{"a":Inf}`, path: "a", reason: ReasonSyntax},
	{name: "overflow", in: `{"a":1e309}`, path: "a", reason: ReasonNumber, detail: `"1e309" is beyond float64's range`},
	{name: "negative overflow", in: `{"a":-1.8e308}`, path: "a", reason: ReasonNumber},
	{name: "overflow by digits", in: `{"a":` + strings.Repeat("9", 400) + `}`, path: "a", reason: ReasonNumber, detail: `"` + strings.Repeat("9", 48) + `..." is beyond`},
	{name: "bare overflow", in: `1e999`, path: "value", reason: ReasonNumber},

	// Names.
	{name: "empty key", in: `{"":1}`, reason: ReasonName, detail: "empty name"},
	{name: "empty nested key", in: `{"a":{"":1}}`, path: "a.", reason: ReasonName, detail: "empty name"},
	{name: "leading dot", in: `{".a":1}`, path: ".a", reason: ReasonName, detail: "starts with '.'"},
	{name: "trailing dot", in: `{"a.":1}`, path: "a.", reason: ReasonName, detail: "ends with '.'"},
	{name: "double dot", in: `{"a..b":1}`, path: "a..b", reason: ReasonName, detail: "empty part between dots"},
	{name: "double dot after UTF-8", in: `{"é..b":1}`, path: "é..b", reason: ReasonName, detail: "empty part between dots"},
	{name: "NUL", in: `{"a\u0000b":1}`, path: "a\x00b", reason: ReasonName, detail: "control character U+0000"},
	{name: "tab", in: `{"a\tb":1}`, path: "a\tb", reason: ReasonName, detail: "control character U+0009"},
	{name: "DEL", in: `{"a\u007f":1}`, path: "a\x7f", reason: ReasonName, detail: "control character U+007F"},
	{name: "C1 control", in: `{"a\u0085":1}`, path: "a\u0085", reason: ReasonName, detail: "U+0085 is not printable"},
	{name: "bidi override", in: `{"a\u202eb":1}`, path: "a\u202eb", reason: ReasonName, detail: "U+202E is not printable"},
	{name: "zero width space", in: `{"a\u200b":1}`, path: "a\u200b", reason: ReasonName, detail: "U+200B is not printable"},
	{name: "no-break space", in: `{"a\u00a0b":1}`, path: "a\u00a0b", reason: ReasonName, detail: "U+00A0 is not printable"},
	{name: "replacement character", in: `{"a\ufffd":1}`, path: "a\ufffd", reason: ReasonName, detail: "not UTF-8 (or U+FFFD)"},
	{name: "lone surrogate", in: `{"\ud800":1}`, path: "\ufffd", reason: ReasonName, detail: "not UTF-8"},
	{name: "lone low surrogate", in: `{"\udc00\u0041":1}`, path: "\ufffdA", reason: ReasonName, detail: "not UTF-8"},
	{name: "invalid UTF-8", in: "{\"a\xff\":1}", path: "a\xff", reason: ReasonName, detail: "not UTF-8"},
	{name: "bad key of a string", in: `{"a\u0001":"x","b":1}`, path: "a\x01", reason: ReasonName},
	{name: "key too long", in: `{"` + strings.Repeat("k", 129) + `":1}`, path: strings.Repeat("k", 48) + "...", reason: ReasonName, detail: "longer than 128 bytes"},
	{name: "huge key", in: `{"` + strings.Repeat("k", 10000) + `":"x"}`, path: strings.Repeat("k", 48) + "...", reason: ReasonName, detail: "longer than 128 bytes"},
	{name: "path too long", in: `{"` + strings.Repeat("n", 64) + `":{"` + strings.Repeat("m", 64) + `":1}}`, path: strings.Repeat("n", 48) + "...", reason: ReasonName},
	{name: "index makes it too long", in: `{"` + strings.Repeat("n", 127) + `":[1]}`, path: strings.Repeat("n", 48) + "...", reason: ReasonName},
	{name: "long key cut at a rune", in: `{"` + strings.Repeat("é", 100) + `":1}`, path: strings.Repeat("é", 24) + "...", reason: ReasonName},
	{name: "long key cut before a rune", in: `{"a` + strings.Repeat("é", 100) + `":1}`, path: "a" + strings.Repeat("é", 23) + "...", reason: ReasonName},
	{name: "unterminated long key", in: `{"` + strings.Repeat("k", 200), reason: ReasonSyntax},

	// Duplicates.
	{name: "duplicate key", in: `{"a":1,"a":2}`, path: "a", reason: ReasonDuplicate, detail: "key repeated in its object"},
	{name: "duplicate key of a string", in: `{"a":"x","a":1}`, path: "a", reason: ReasonDuplicate},
	{name: "duplicate key of an object", in: `{"a":{"x":1},"a":{"y":2}}`, path: "a", reason: ReasonDuplicate},
	{name: "duplicate nested key", in: `{"e":{"t":1,"h":2,"t":3}}`, path: "e.t", reason: ReasonDuplicate},
	{name: "duplicate key in an array's object", in: `{"a":[{"x":1},{"x":2,"x":3}]}`, path: "a.1.x", reason: ReasonDuplicate},
	{name: "duplicate escaped key", in: `{"ab":1,"a\u0062":2}`, path: "ab", reason: ReasonDuplicate},
	{name: "duplicate ts", in: `{"ts":1717243200000,"ts":1717243200000,"v":1}`, path: "ts", reason: ReasonDuplicate},
	{name: "dotted key collides with nesting", in: `{"a.b":1,"a":{"b":2}}`, path: "a.b", reason: ReasonDuplicate, detail: "two fields flatten to this name"},
	{name: "dotted key collides with an index", in: `{"a":[1],"a.0":2}`, path: "a.0", reason: ReasonDuplicate},
	{name: "dotted keys collide", in: `{"x":{"a.b":1},"x.a":{"b":2}}`, path: "x.a.b", reason: ReasonDuplicate},

	// Too many fields.
	{name: "too many fields", in: `{"a":1,"b":2,"c":3,"d":4}`, opts: Options{MaxFields: 3}, path: "d", reason: ReasonTooManyFields, detail: "more than 3"},
	{name: "too many booleans", in: `{"a":[true,false,true,false]}`, opts: Options{MaxFields: 3}, path: "a.3", reason: ReasonTooManyFields},
	{name: "too many by default", in: manyFields(257), path: "f256", reason: ReasonTooManyFields, detail: "more than 256"},

	// Too deep.
	{name: "too deep", in: `{"a":{"b":{"c":1}}}`, opts: Options{MaxDepth: 2}, path: "a.b", reason: ReasonTooDeep, detail: "more than 2 levels"},
	{name: "too deep in arrays", in: `{"a":[[1]]}`, opts: Options{MaxDepth: 2}, path: "a.0", reason: ReasonTooDeep},
	{name: "too deep with nothing in it", in: `{"a":[[]]}`, opts: Options{MaxDepth: 2}, path: "a.0", reason: ReasonTooDeep},
	{name: "too deep by default", in: strings.Repeat(`{"a":`, 17) + "1" + strings.Repeat("}", 17), path: strings.Repeat("a.", 15) + "a", reason: ReasonTooDeep, detail: "more than 16 levels"},
	{name: "very deep", in: `{"a":` + strings.Repeat(`[`, 60000), path: "a" + strings.Repeat(".0", 15), reason: ReasonTooDeep},

	// Timestamps.
	{name: "ts zero", in: `{"ts":0,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: "0 is not a positive number of milliseconds"},
	{name: "ts negative zero", in: `{"ts":-0,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: "-0 is not a positive"},
	{name: "ts negative", in: `{"ts":-1717243200000,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: "-1717243200000 is not a positive"},
	{name: "ts in seconds", in: `{"ts":1717243200,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: "1717243200 ms is before 2000-01-01 (seconds, not milliseconds?)"},
	{name: "ts just before 2000", in: `{"ts":946684799999.9,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: "946684799999.9 ms is before 2000-01-01"},
	{name: "ts under a millisecond", in: `{"ts":0.5,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: "0.5 ms is before 2000-01-01"},
	{name: "ts in the future", in: `{"ts":1717329600001,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: "1717329600001 ms is more than 24h0m0s after the receive time"},
	{name: "ts beyond a custom skew", in: `{"ts":1717243260001,"v":1}`, opts: Options{MaxFutureSkew: time.Minute}, path: "ts", reason: ReasonTimestamp, detail: "more than 1m0s after"},
	{name: "ts in microseconds", in: `{"ts":1717243200000000,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: "(microseconds or nanoseconds, not milliseconds?)"},
	{name: "ts absurd", in: `{"ts":1e300,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: "1e+300 ms is more than"},
	{name: "ts overflow", in: `{"ts":1e999,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: `"1e999" is beyond float64's range`},
	{name: "ts NaN", in: `{"ts":NaN,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: "not a number of milliseconds or an RFC 3339 string"},
	{name: "ts minus Infinity", in: `{"ts":-Infinity,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: "not a number of milliseconds or an RFC 3339 string"},
	{name: "ts minus alone", in: `{"ts":-,"v":1}`, path: "ts", reason: ReasonTimestamp},
	{name: "ts true", in: `{"ts":true,"v":1}`, path: "ts", reason: ReasonTimestamp, detail: "not a number of milliseconds or an RFC 3339 string"},
	{name: "ts null", in: `{"ts":null,"v":1}`, path: "ts", reason: ReasonTimestamp},
	{name: "ts object", in: `{"ts":{"ms":1},"v":1}`, path: "ts", reason: ReasonTimestamp},
	{name: "ts array", in: `{"ts":[1717243200000],"v":1}`, path: "ts", reason: ReasonTimestamp},
	{name: "ts bad number", in: `{"ts":1.e3,"v":1}`, path: "ts", reason: ReasonSyntax},
	{name: "ts missing", in: `{"ts":`, path: "ts", reason: ReasonSyntax},
	{name: "ts string of digits", in: `{"ts":"1717243200000","v":1}`, path: "ts", reason: ReasonTimestamp, detail: "not a number of milliseconds or an RFC 3339 string"},
	{name: "ts words", in: `{"ts":"yesterday","v":1}`, path: "ts", reason: ReasonTimestamp},
	{name: "ts date only", in: `{"ts":"2024-06-01","v":1}`, path: "ts", reason: ReasonTimestamp},
	{name: "ts without offset", in: `{"ts":"2024-06-01T12:00:00","v":1}`, path: "ts", reason: ReasonTimestamp},
	{name: "ts with a space", in: `{"ts":"2024-06-01 12:00:00Z","v":1}`, path: "ts", reason: ReasonTimestamp},
	{name: "ts with a comma", in: `{"ts":"2024-06-01T12:00:00,5Z","v":1}`, path: "ts", reason: ReasonTimestamp},
	{name: "ts hour 24", in: `{"ts":"2024-06-01T24:00:00Z","v":1}`, path: "ts", reason: ReasonTimestamp},
	{name: "ts long string", in: `{"ts":"2024-06-01T12:00:00.` + strings.Repeat("0", 100) + `Z","v":1}`, path: "ts", reason: ReasonTimestamp},
	{name: "ts unterminated", in: `{"ts":"2024-06-01T12:00:00Z`, path: "ts", reason: ReasonSyntax},
	{name: "ts string before 2000", in: `{"ts":"1999-12-31T23:59:59.999Z","v":1}`, path: "ts", reason: ReasonTimestamp, detail: "1999-12-31T23:59:59.999Z is before 2000-01-01"},
	{name: "ts string in the future", in: `{"ts":"2024-06-02T14:00:00.001+02:00","v":1}`, path: "ts", reason: ReasonTimestamp, detail: "2024-06-02T12:00:00.001Z is more than 24h0m0s after the receive time"},
}

// manyFields returns an object with n fields, f0 to f(n-1).
func manyFields(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"f%d":%d`, i, i)
	}
	b.WriteByte('}')
	return b.String()
}

func TestDecodeRejects(t *testing.T) {
	d := newTestDecoder(t, Options{})
	for _, tt := range rejectTests {
		t.Run(tt.name, func(t *testing.T) {
			show := tt.in
			if len(show) > 80 {
				show = show[:80] + "..."
			}
			got, err := Decode([]byte(tt.in), received, tt.opts)
			if err == nil {
				t.Fatalf("Decode(%q) = %+v, want an error", show, got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Decode(%q) error %v does not wrap ErrInvalid", show, err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%q) error %v is not an *Error", show, err)
			}
			if e.Reason != tt.reason || e.Path != tt.path || !strings.Contains(e.Detail, tt.detail) || (tt.detail == "" && tt.reason == ReasonNoFields && e.Detail != "") {
				t.Errorf("Decode(%q) = %#v\nwant reason %q, path %q, detail containing %q", show, e, tt.reason, tt.path, tt.detail)
			}
			if got.Fields != nil || got.FromTS || !got.Time.IsZero() {
				t.Errorf("Decode(%q) returned %+v with its error", show, got)
			}
			if len(err.Error()) > 300 {
				t.Errorf("Decode(%q) error message is %d bytes long: %s", show, len(err.Error()), err)
			}
			if tt.opts == (Options{}) {
				_, err2 := d.Decode([]byte(tt.in), received)
				if err2 == nil || err2.Error() != err.Error() {
					t.Errorf("Decoder.Decode(%q) error %v, Decode's %v", show, err2, err)
				}
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Reason: ReasonSyntax, Detail: "empty payload"}, "payload: not JSON: empty payload"},
		{Error{Reason: ReasonNoFields}, "payload: no numeric fields"},
		{Error{Reason: ReasonNumber, Path: "env.t", Detail: `"1e999" is beyond float64's range`}, `payload: env.t: invalid number: "1e999" is beyond float64's range`},
		{Error{Reason: ReasonName, Path: "a\x00b"}, `payload: "a\x00b": invalid name`},
		{Error{Reason: ReasonName, Path: "a\u202eb"}, `payload: "a\u202eb": invalid name`},
		{Error{Reason: ReasonName, Path: "a..b"}, `payload: "a..b": invalid name`},
		{Error{Reason: ReasonName, Path: "été"}, `payload: été: invalid name`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %s, want %s", got, tt.want)
			}
			if !errors.Is(&tt.err, ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", &tt.err)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"set", Options{MaxBytes: 10, MaxFields: 1, MaxDepth: 1, MaxFutureSkew: time.Nanosecond}, true},
		{"negative bytes", Options{MaxBytes: -1}, false},
		{"negative fields", Options{MaxFields: -1}, false},
		{"negative depth", Options{MaxDepth: -1}, false},
		{"negative skew", Options{MaxFutureSkew: -time.Second}, false},
		{"deepest", Options{MaxDepth: 1024}, true},
		{"too deep", Options{MaxDepth: 1025}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewDecoder(tt.opts)
			_, err2 := Decode([]byte(`{"a":1}`), received, tt.opts)
			if tt.ok && (err != nil || err2 != nil) {
				t.Fatalf("NewDecoder: %v; Decode: %v", err, err2)
			}
			if !tt.ok && (!errors.Is(err, ErrOptions) || !errors.Is(err2, ErrOptions) || errors.Is(err, ErrInvalid)) {
				t.Fatalf("NewDecoder: %v; Decode: %v; want ErrOptions", err, err2)
			}
		})
	}
	got, _ := Options{}.withDefaults()
	want := Options{MaxBytes: 64 << 10, MaxFields: 256, MaxDepth: 16, MaxFutureSkew: 24 * time.Hour}
	if got != want {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
}

// A Decoder reuses its Fields slice, but the names it hands out stay valid,
// and nothing of one message leaks into the next.
func TestDecoderReuse(t *testing.T) {
	d := newTestDecoder(t, Options{})
	r1, err := d.Decode([]byte(`{"a.b":1,"c":{"d":2}}`), received)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{r1.Fields[0].Name, r1.Fields[1].Name}
	if _, err := d.Decode([]byte(`{"a.b":1,"a":{"b":2}}`), received); err == nil {
		t.Fatal("collision accepted")
	}
	if _, err := d.Decode([]byte(`{"ts":1717243200000,"x":`), received); err == nil {
		t.Fatal("truncated payload accepted")
	}
	r2, err := d.Decode([]byte(`{"zz":{"yy":3},"a.b":4}`), received)
	if err != nil {
		t.Fatal(err)
	}
	if !sameFields(r2.Fields, []Field{f("zz.yy", 3), f("a.b", 4)}) || r2.FromTS || !r2.Time.Equal(received) || r2.Skipped != (Skipped{}) {
		t.Errorf("second message %+v", r2)
	}
	if names[0] != "a.b" || names[1] != "c.d" {
		t.Errorf("names of the first message became %q", names)
	}
	if r2.Fields[1].Name != "a.b" {
		t.Errorf("interned name %q", r2.Fields[1].Name)
	}
}

// The Decoder remembers a bounded number of names, and lets go of the
// memory a big payload made it take.
func TestDecoderBounds(t *testing.T) {
	d := newTestDecoder(t, Options{MaxFields: 1000})
	for i := range 10 {
		var b strings.Builder
		b.WriteByte('{')
		for j := range 1000 {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"m%d_%d":1`, i, j)
		}
		b.WriteByte('}')
		if _, err := d.Decode([]byte(b.String()), received); err != nil {
			t.Fatal(err)
		}
		if len(d.names) > maxInterned {
			t.Fatalf("%d names interned", len(d.names))
		}
	}
	var b strings.Builder
	b.WriteString(`{"v":1`)
	for j := range 6000 {
		fmt.Fprintf(&b, `,"s%d":""`, j)
	}
	b.WriteByte('}')
	r, err := d.Decode([]byte(b.String()), received)
	if err != nil || r.Skipped.Strings != 6000 {
		t.Fatalf("6000 string keys: %+v, %v", r.Skipped, err)
	}
	if _, err := d.Decode([]byte(`{"v":1}`), received); err != nil {
		t.Fatal(err)
	}
	if len(d.set.slots) > keepSlots || cap(d.set.buf) > keepBytes {
		t.Errorf("kept %d slots and %d bytes after a big payload", len(d.set.slots), cap(d.set.buf))
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name, problem string
	}{
		{"a", ""},
		{"env.t", ""},
		{"Température (°C)", ""},
		{"a b,c\"d'e\\f", ""},
		{"😀", ""},
		{strings.Repeat("x", 128), ""},
		{strings.Repeat("x", 129), "longer than 128 bytes"},
		{"", "empty name"},
		{".", "name starts with '.'"},
		{"a.", "name ends with '.'"},
		{"a..b", "empty part between dots"},
		{"é..b", "empty part between dots"},
		{"a\x1fb", "control character U+001F"},
		{"a\x7f", "control character U+007F"},
		{"a\u2028", "character U+2028 is not printable"},
		{"a\ufeff", "character U+FEFF is not printable"},
		{"a\U000F0000", "character U+F0000 is not printable"}, // private use
		{"a\xc3", "not UTF-8 (or U+FFFD)"},
		{"a\ufffd", "not UTF-8 (or U+FFFD)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validName(tt.name); got != tt.problem {
				t.Errorf("validName(%q) = %q, want %q", tt.name, got, tt.problem)
			}
		})
	}
}

// Keys are checked for duplicates with a hash set: many keys in one object
// stay fast, and the set finds every duplicate however large it grew.
func TestManyKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"v":1`)
	for j := range 5000 {
		fmt.Fprintf(&b, `,"k%d":null`, j)
	}
	ok := b.String() + "}"
	dup := b.String() + `,"k4321":null}`
	start := time.Now()
	if _, err := Decode([]byte(ok), received, Options{}); err != nil {
		t.Fatal(err)
	}
	_, err := Decode([]byte(dup), received, Options{})
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonDuplicate || e.Path != "k4321" {
		t.Fatalf("duplicate among 5000 keys: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("5000 keys took %v", d)
	}
}
