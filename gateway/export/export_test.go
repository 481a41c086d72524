package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fixed dataset of the golden files: awkward names, a missing value,
// and negative, large and tiny numbers.
var (
	testFields = []string{"temp", "hum,%", `say "hi"`, "wind speed", "Température (°C)", "2nd", `it's\`}
	nan        = math.NaN()
	testRecs   = []Record{
		{Time: 1714564800000, Device: "d1", Values: []float64{21.5, 40, 0, -3.25, 18.125, 2, 1}},
		{Time: 1714564800001, Device: "esp32-01", Values: []float64{nan, 41.5, nan, nan, nan, nan, nan}},
		{Time: 1714564801999, Device: `device, "two"`, Values: []float64{-1.7976931348623157e308, 5e-324, 1e21, 1e-7, 0.000001, 123456789012345680000, math.Copysign(0, -1)}},
		{Time: 0, Device: "", Values: []float64{nan, nan, nan, nan, nan, nan, nan}},
		{Time: 253402300799999, Device: "café 2", Values: []float64{0.1, -0.30000000000000004, 1e20, 999999999999999999999, 1.5e-6, -7, 100}},
		{Time: 1714564860000, Device: "it's", Values: []float64{22, nan, 3, nan, 19, 5, nan}},
	}
)

// write writes recs with fields through a new Writer for opts.
func write(t testing.TB, opts Options, fields []string, recs []Record) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := New(&out, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Begin(fields); err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := w.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestEmpty(t *testing.T) {
	tests := []struct {
		opts   Options
		fields []string
		want   string
	}{
		{Options{}, nil, "[]\n"},
		{Options{Format: "json", TSFormat: "iso"}, []string{"a"}, "[]\n"},
		{Options{Format: "csv"}, nil, "ts,device\n"},
		{Options{Format: "csv"}, []string{"a", "b c"}, "ts,device,a,b c\n"},
		{Options{Format: "arff", Relation: "b1"}, []string{"a"},
			"@RELATION b1\n\n@ATTRIBUTE ts NUMERIC\n@ATTRIBUTE device STRING\n@ATTRIBUTE a NUMERIC\n\n@DATA\n"},
		{Options{Format: "arff"}, nil,
			"@RELATION ''\n\n@ATTRIBUTE ts NUMERIC\n@ATTRIBUTE device STRING\n\n@DATA\n"},
	}
	for _, tt := range tests {
		if got := string(write(t, tt.opts, tt.fields, nil)); got != tt.want {
			t.Errorf("%+v %q: got\n%s\nwant\n%s", tt.opts, tt.fields, got, tt.want)
		}
	}
}

func TestOneRecord(t *testing.T) {
	rec := []Record{{Time: 1714564800000, Device: "d1", Values: []float64{21.5, 40}}}
	fields := []string{"temp", "hum"}
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, "[\n{\"ts\":1714564800000,\"device\":\"d1\",\"temp\":21.5,\"hum\":40}\n]\n"},
		{Options{TSFormat: "iso"}, "[\n{\"ts\":\"2024-05-01T12:00:00.000Z\",\"device\":\"d1\",\"temp\":21.5,\"hum\":40}\n]\n"},
		{Options{Format: "csv"}, "ts,device,temp,hum\n1714564800000,d1,21.5,40\n"},
		{Options{Format: "csv", TSFormat: "iso"}, "ts,device,temp,hum\n2024-05-01T12:00:00.000Z,d1,21.5,40\n"},
		{Options{Format: "arff", Relation: "b"}, "@RELATION b\n\n@ATTRIBUTE ts NUMERIC\n@ATTRIBUTE device STRING\n" +
			"@ATTRIBUTE temp NUMERIC\n@ATTRIBUTE hum NUMERIC\n\n@DATA\n1714564800000,d1,21.5,40\n"},
		{Options{Format: "arff", TSFormat: "iso", Relation: "b"}, "@RELATION b\n\n@ATTRIBUTE ts DATE \"yyyy-MM-dd'T'HH:mm:ss.SSS'Z'\"\n" +
			"@ATTRIBUTE device STRING\n@ATTRIBUTE temp NUMERIC\n@ATTRIBUTE hum NUMERIC\n\n@DATA\n'2024-05-01T12:00:00.000Z',d1,21.5,40\n"},
	}
	for _, tt := range tests {
		if got := string(write(t, tt.opts, fields, rec)); got != tt.want {
			t.Errorf("%+v: got\n%s\nwant\n%s", tt.opts, got, tt.want)
		}
	}
}

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{1, "1"},
		{-1.5, "-1.5"},
		{21.53, "21.53"},
		{0.30000000000000004, "0.30000000000000004"},
		{1e-6, "0.000001"},
		{-1e-6, "-0.000001"},
		{9.99e-7, "9.99e-7"},
		{1e-7, "1e-7"},
		{5e-324, "5e-324"},
		{1e20, "100000000000000000000"},
		{999999999999999900000, "999999999999999900000"},
		{1e21, "1e+21"},
		{-1e21, "-1e+21"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{123456789, "123456789"},
		{1714564800000, "1714564800000"},
	}
	for _, tt := range tests {
		got := string(appendFloat(nil, tt.v))
		if got != tt.want {
			t.Errorf("appendFloat(%v) = %s, want %s", tt.v, got, tt.want)
		}
		if back, err := strconv.ParseFloat(got, 64); err != nil || math.Float64bits(back) != math.Float64bits(tt.v) {
			t.Errorf("appendFloat(%v) = %s reads back as %v, %v", tt.v, got, back, err)
		}
	}
}

func TestISO(t *testing.T) {
	w := &writer{iso: true}
	for _, ms := range []int64{0, 1, 999, 1000, 1714564800000, 1714564800001, 1714564800999, 1714564801000, 1714564800123, -1, -1000, -1001, 253402300799999} {
		got := string(w.appendISO(nil, ms))
		want := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
		if got != want {
			t.Errorf("appendISO(%d) = %s, want %s", ms, got, want)
		}
	}
}

func TestQuoting(t *testing.T) {
	tests := []struct {
		in, json, csv, arff string
	}{
		{"temp", `"temp"`, "temp", "temp"},
		{"env.t-2_x", `"env.t-2_x"`, "env.t-2_x", "env.t-2_x"},
		{"", `""`, "", "''"},
		{"?", `"?"`, "?", "'?'"},
		{"2nd", `"2nd"`, "2nd", "'2nd'"},
		{"_x", `"_x"`, "_x", "'_x'"},
		{"a b", `"a b"`, "a b", "'a b'"},
		{"a,b", `"a,b"`, `"a,b"`, "'a,b'"},
		{`say "hi"`, `"say \"hi\""`, `"say ""hi"""`, `'say \"hi\"'`},
		{`it's\`, `"it's\\"`, `it's\`, `'it\'s\\'`},
		{"50%", `"50%"`, "50%", `'50\%'`},
		{"{x}", `"{x}"`, "{x}", "'{x}'"},
		{"a\nb\rc\td", `"a\nb\rc\td"`, "\"a\nb\rc\td\"", `'a\nb\rc\td'`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f\"", "\x00\x1f\x7f", `'\000\037\177'`},
		{"Température (°C)", `"Température (°C)"`, "Température (°C)", "'Température (°C)'"},
		{"日本", `"日本"`, "日本", "'日本'"},
		{"\u2028\u2029", `"\u2028\u2029"`, "\u2028\u2029", "'\u2028\u2029'"},
		{"a\xffb", `"a\ufffdb"`, "a\xffb", "'a\xffb'"},
		{"<&>", `"<&>"`, "<&>", "'<&>'"},
	}
	for _, tt := range tests {
		if got := string(appendJSONString(nil, tt.in)); got != tt.json {
			t.Errorf("JSON %q = %s, want %s", tt.in, got, tt.json)
		}
		if got := string(appendCSVCell(nil, tt.in)); got != tt.csv {
			t.Errorf("CSV %q = %s, want %s", tt.in, got, tt.csv)
		}
		if got := string(appendARFFString(nil, tt.in)); got != tt.arff {
			t.Errorf("ARFF %q = %s, want %s", tt.in, got, tt.arff)
		}
		// JSON as encoding/json reads it.
		var s string
		if err := json.Unmarshal(appendJSONString(nil, tt.in), &s); err != nil || s != strings.ToValidUTF8(tt.in, "\uFFFD") {
			t.Errorf("JSON %q reads back as %q, %v", tt.in, s, err)
		}
		// ARFF as a StreamTokenizer reads it.
		if got, rest, ok := readARFFToken(tt.arff); !ok || got != tt.in || rest != "" {
			t.Errorf("ARFF %q reads back as %q, %q, %v", tt.in, got, rest, ok)
		}
	}
}

// readARFFToken reads one token from the start of s as Weka's reader does
// with java.io.StreamTokenizer: a bare word up to a delimiter, or a string
// in single or double quotes with C escapes. It returns the token and what
// follows.
func readARFFToken(s string) (tok, rest string, ok bool) {
	if s == "" {
		return "", "", false
	}
	q := s[0]
	if q != '\'' && q != '"' {
		i := strings.IndexAny(s, " \t\n\r,{}%'\"")
		if i < 0 {
			i = len(s)
		}
		return s[:i], s[i:], i > 0
	}
	var b []byte
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return string(b), s[i+1:], true
		case c == '\n' || c == '\r':
			return "", "", false
		case c == '\\' && i+1 < len(s):
			i++
			c = s[i]
			switch c {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'a':
				c = 7
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'v':
				c = '\v'
			}
			if c >= '0' && c <= '7' {
				first := c
				c -= '0'
				if i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7' {
					i++
					c = c<<3 + s[i] - '0'
					if i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7' && first <= '3' {
						i++
						c = c<<3 + s[i] - '0'
					}
				}
			}
		}
		b = append(b, c)
	}
	return "", "", false
}

// TestCSVRoundTrip reads the CSV of the dataset back with encoding/csv.
func TestCSVRoundTrip(t *testing.T) {
	for _, tsf := range []string{"ms", "iso"} {
		out := write(t, Options{Format: "csv", TSFormat: tsf}, testFields, testRecs)
		rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v\n%s", tsf, err, out)
		}
		if len(rows) != len(testRecs)+1 {
			t.Fatalf("%s: %d rows", tsf, len(rows))
		}
		if want := append([]string{"ts", "device"}, testFields...); !slices.Equal(rows[0], want) {
			t.Errorf("%s: header %q, want %q", tsf, rows[0], want)
		}
		for i, rec := range testRecs {
			row := rows[i+1]
			ts := strconv.FormatInt(rec.Time, 10)
			if tsf == "iso" {
				ts = time.UnixMilli(rec.Time).UTC().Format("2006-01-02T15:04:05.000Z")
			}
			if row[0] != ts || row[1] != rec.Device {
				t.Errorf("%s: row %d starts %q, %q; want %q, %q", tsf, i, row[0], row[1], ts, rec.Device)
			}
			for j, v := range rec.Values {
				cell := row[2+j]
				if math.IsNaN(v) {
					if cell != "" {
						t.Errorf("%s: row %d cell %d = %q, want empty", tsf, i, j, cell)
					}
					continue
				}
				if got, err := strconv.ParseFloat(cell, 64); err != nil || math.Float64bits(got) != math.Float64bits(v) {
					t.Errorf("%s: row %d cell %d = %q, want %v", tsf, i, j, cell, v)
				}
			}
		}
	}
}

// TestJSONRoundTrip reads the JSON of the dataset back with encoding/json.
func TestJSONRoundTrip(t *testing.T) {
	for _, tsf := range []string{"ms", "iso"} {
		out := write(t, Options{Format: "json", TSFormat: tsf}, testFields, testRecs)
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		var objs []map[string]any
		if err := dec.Decode(&objs); err != nil {
			t.Fatalf("%s: %v\n%s", tsf, err, out)
		}
		if len(objs) != len(testRecs) {
			t.Fatalf("%s: %d objects", tsf, len(objs))
		}
		for i, rec := range testRecs {
			obj := objs[i]
			var ts any = json.Number(strconv.FormatInt(rec.Time, 10))
			if tsf == "iso" {
				ts = time.UnixMilli(rec.Time).UTC().Format("2006-01-02T15:04:05.000Z")
			}
			if obj["ts"] != ts || obj["device"] != rec.Device {
				t.Errorf("%s: object %d has ts %v device %v, want %v %v", tsf, i, obj["ts"], obj["device"], ts, rec.Device)
			}
			n := 2
			for j, v := range rec.Values {
				got, ok := obj[testFields[j]]
				if math.IsNaN(v) {
					if ok {
						t.Errorf("%s: object %d has %q = %v, want none", tsf, i, testFields[j], got)
					}
					continue
				}
				n++
				num, _ := got.(json.Number)
				if f, err := strconv.ParseFloat(string(num), 64); err != nil || math.Float64bits(f) != math.Float64bits(v) {
					t.Errorf("%s: object %d has %q = %v, want %v", tsf, i, testFields[j], got, v)
				}
			}
			if len(obj) != n {
				t.Errorf("%s: object %d has %d members, want %d", tsf, i, len(obj), n)
			}
		}
	}
}

// TestARFFRoundTrip reads the ARFF of the dataset back as Weka's tokenizer
// would.
func TestARFFRoundTrip(t *testing.T) {
	out := string(write(t, Options{Format: "arff", Relation: "my bucket"}, testFields, testRecs))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var attrs []string
	data := -1
	for i, line := range lines {
		if name, ok := strings.CutPrefix(line, "@ATTRIBUTE "); ok {
			tok, rest, ok := readARFFToken(name)
			if !ok || !strings.HasPrefix(rest, " ") {
				t.Fatalf("attribute line %q", line)
			}
			attrs = append(attrs, tok)
		}
		if line == "@DATA" {
			data = i + 1
			break
		}
	}
	if want := append([]string{"ts", "device"}, testFields...); !slices.Equal(attrs, want) {
		t.Errorf("attributes %q, want %q", attrs, want)
	}
	if data < 0 || len(lines)-data != len(testRecs) {
		t.Fatalf("no @DATA or %d data lines:\n%s", len(lines)-data, out)
	}
	for i, rec := range testRecs {
		var cells []string
		for s := lines[data+i]; ; {
			tok, rest, ok := readARFFToken(s)
			if !ok && !strings.HasPrefix(s, ",") {
				t.Fatalf("line %q: no token at %q", lines[data+i], s)
			}
			cells = append(cells, tok)
			if rest == "" {
				break
			}
			if rest[0] != ',' {
				t.Fatalf("line %q: %q after a cell", lines[data+i], rest)
			}
			s = rest[1:]
		}
		if len(cells) != 2+len(rec.Values) || cells[0] != strconv.FormatInt(rec.Time, 10) || cells[1] != rec.Device {
			t.Errorf("line %q: cells %q", lines[data+i], cells)
			continue
		}
		for j, v := range rec.Values {
			if math.IsNaN(v) {
				if cells[2+j] != "?" {
					t.Errorf("line %q: cell %d = %q, want ?", lines[data+i], j, cells[2+j])
				}
			} else if f, err := strconv.ParseFloat(cells[2+j], 64); err != nil || f != v {
				t.Errorf("line %q: cell %d = %q, want %v", lines[data+i], j, cells[2+j], v)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	rec := &Record{Time: 1, Device: "d", Values: []float64{1}}
	for _, opts := range []Options{{Format: "xml"}, {Format: "JSON"}, {TSFormat: "rfc3339"}} {
		if w, err := New(io.Discard, opts); !errors.Is(err, ErrOptions) || w != nil {
			t.Errorf("New(%+v) = %v, %v; want ErrOptions", opts, w, err)
		}
	}
	for _, format := range []string{"json", "csv", "arff"} {
		t.Run(format, func(t *testing.T) {
			newW := func() Writer {
				w, err := New(io.Discard, Options{Format: format})
				if err != nil {
					t.Fatal(err)
				}
				return w
			}
			w := newW()
			if err := w.Write(rec); !errors.Is(err, ErrOrder) {
				t.Errorf("Write before Begin: %v", err)
			}
			if err := w.End(); !errors.Is(err, ErrOrder) {
				t.Errorf("End before Begin: %v", err)
			}
			for _, fields := range [][]string{{""}, {"ts"}, {"device"}, {"a", "b", "a"}} {
				if err := newW().Begin(fields); !errors.Is(err, ErrColumns) {
					t.Errorf("Begin(%q): %v", fields, err)
				}
			}
			if err := w.Begin([]string{"a"}); err != nil {
				t.Fatal(err)
			}
			if err := w.Begin([]string{"a"}); !errors.Is(err, ErrOrder) {
				t.Errorf("Begin twice: %v", err)
			}
			for _, bad := range []*Record{nil, {Values: nil}, {Values: []float64{1, 2}}, {Values: []float64{math.Inf(1)}}, {Values: []float64{math.Inf(-1)}}} {
				if err := w.Write(bad); !errors.Is(err, ErrRecord) {
					t.Errorf("Write(%+v): %v", bad, err)
				}
			}
			if err := w.Write(rec); err != nil {
				t.Errorf("Write after a rejected record: %v", err)
			}
			if err := w.End(); err != nil {
				t.Fatal(err)
			}
			if err := w.Write(rec); !errors.Is(err, ErrOrder) {
				t.Errorf("Write after End: %v", err)
			}
			if err := w.End(); !errors.Is(err, ErrOrder) {
				t.Errorf("End twice: %v", err)
			}
			if err := w.Begin([]string{"a"}); !errors.Is(err, ErrOrder) {
				t.Errorf("Begin after End: %v", err)
			}
		})
	}
}

// A rejected record leaves nothing of itself in the document.
func TestRejectedRecordWritesNothing(t *testing.T) {
	var out bytes.Buffer
	w, _ := New(&out, Options{Format: "json"})
	w.Begin([]string{"a", "b"})
	w.Write(&Record{Time: 1, Device: "d", Values: []float64{1, math.Inf(1)}})
	w.Write(&Record{Time: 2, Device: "d", Values: []float64{1, 2}})
	w.End()
	if want := "[\n{\"ts\":2,\"device\":\"d\",\"a\":1,\"b\":2}\n]\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

var errDisk = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errDisk
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	w, _ := New(&failWriter{n: 100}, Options{Format: "csv"})
	if err := w.Begin([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; err == nil && i < 1e6; i++ {
		err = w.Write(&Record{Time: int64(i), Device: "d", Values: []float64{1.5}})
	}
	if !errors.Is(err, errDisk) {
		t.Fatalf("Write: %v", err)
	}
	if err := w.End(); !errors.Is(err, errDisk) {
		t.Errorf("End: %v", err)
	}
	// An error at End's flush.
	w, _ = New(&failWriter{n: 2}, Options{Format: "json"})
	w.Begin(nil)
	if err := w.End(); !errors.Is(err, errDisk) {
		t.Errorf("End: %v", err)
	}
}

// Write does not keep the record: changing it after does not change the
// document.
func TestWriteDoesNotRetain(t *testing.T) {
	for _, format := range []string{"json", "csv", "arff"} {
		vals := []float64{1, 2}
		rec := Record{Time: 1, Device: "d", Values: vals}
		var out bytes.Buffer
		w, _ := New(&out, Options{Format: format})
		w.Begin([]string{"a", "b"})
		w.Write(&rec)
		vals[0], rec.Device = 99, "changed"
		w.End()
		if s := out.String(); strings.Contains(s, "99") || strings.Contains(s, "changed") {
			t.Errorf("%s: %s", format, s)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	rec := Record{Time: 1714564800000, Device: `dev "1"`, Values: []float64{21.53, nan, -3e-9, 1e22}}
	for _, format := range []string{"json", "csv", "arff"} {
		for _, tsf := range []string{"ms", "iso"} {
			w, _ := New(io.Discard, Options{Format: format, TSFormat: tsf})
			w.Begin([]string{"temp", "hum", "a b", "x"})
			w.Write(&rec)
			allocs := testing.AllocsPerRun(1000, func() {
				rec.Time += 1001 // a new second for iso
				if err := w.Write(&rec); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%s/%s: %v allocations per Write", format, tsf, allocs)
			}
		}
	}
}

func TestContentType(t *testing.T) {
	for format, want := range map[string]string{
		"json": "application/json", "": "application/json", "csv": "text/csv; charset=utf-8",
		"arff": "text/plain; charset=utf-8", "xml": "",
	} {
		if got := ContentType(format); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", format, got, want)
		}
	}
}

// A long export streams through the 64 KiB buffer: the io.Writer sees
// writes of at most BufferSize bytes before End.
func TestStreams(t *testing.T) {
	var cw countWriter
	w, _ := New(&cw, Options{Format: "csv"})
	w.Begin([]string{"a"})
	for i := range 100_000 {
		w.Write(&Record{Time: int64(i), Device: "device-0001", Values: []float64{float64(i) / 7}})
	}
	if cw.writes == 0 || cw.max > BufferSize {
		t.Errorf("%d writes, the largest %d bytes", cw.writes, cw.max)
	}
	w.End()
	if cw.n < 100_000*20 {
		t.Errorf("%d bytes", cw.n)
	}
}

type countWriter struct{ n, writes, max int }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += len(p)
	c.writes++
	c.max = max(c.max, len(p))
	return len(p), nil
}

// FuzzRoundTrip writes one record with any field name, device and value,
// and reads the CSV and JSON back.
func FuzzRoundTrip(f *testing.F) {
	f.Add("temp", "d1", 21.5)
	f.Add(`say "hi", a\b`, "dév\n1", -1e-7)
	f.Add("", "", 0.0)
	f.Fuzz(func(t *testing.T, name, device string, v float64) {
		fields := []string{name, "other"}
		rec := Record{Time: 1714564800000, Device: device, Values: []float64{v, nan}}
		w, _ := New(io.Discard, Options{})
		err := w.Begin(fields)
		if name == "" || name == "ts" || name == "device" || name == "other" {
			if !errors.Is(err, ErrColumns) {
				t.Fatalf("Begin(%q): %v", fields, err)
			}
			return
		}
		if math.IsInf(v, 0) {
			if err := w.Write(&rec); !errors.Is(err, ErrRecord) {
				t.Fatalf("Write(%v): %v", v, err)
			}
			return
		}
		out := write(t, Options{Format: "csv"}, fields, []Record{rec})
		// encoding/csv reads a CRLF in a quoted cell as LF.
		if !strings.Contains(name+device, "\r") {
			cell := ""
			if !math.IsNaN(v) {
				cell = string(appendFloat(nil, v))
			}
			rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
			if err != nil || len(rows) != 2 || rows[0][2] != name || rows[1][1] != device || rows[1][2] != cell || rows[1][3] != "" {
				t.Fatalf("CSV %q reads back as %q, %v", out, rows, err)
			}
		}

		out = write(t, Options{Format: "json"}, fields, []Record{rec})
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		var objs []map[string]any
		if err := dec.Decode(&objs); err != nil || len(objs) != 1 {
			t.Fatalf("JSON %q: %v", out, err)
		}
		if got := objs[0]["device"]; got != jsonString(device) {
			t.Fatalf("JSON %q: device %q", out, got)
		}
		if math.IsNaN(v) {
			return
		}
		got, _ := objs[0][jsonString(name)].(json.Number)
		if x, err := strconv.ParseFloat(string(got), 64); err != nil || math.Float64bits(x) != math.Float64bits(v) {
			t.Fatalf("JSON %q: %q = %v, want %v", out, name, got, v)
		}

		out = write(t, Options{Format: "arff"}, fields, []Record{rec})
		line := strings.Split(string(out), "\n")[4]
		if got, rest, ok := readARFFToken(line[len("@ATTRIBUTE "):]); !ok || got != name || rest != " NUMERIC" {
			t.Fatalf("ARFF %q: attribute %q, %q", out, got, rest)
		}
	})
}

// jsonString is s as encoding/json reads it back: each byte of invalid
// UTF-8 is U+FFFD.
func jsonString(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // range gives U+FFFD for each invalid byte
	}
	return b.String()
}
