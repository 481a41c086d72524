package query

import (
	"errors"
	"math"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// now is the time the tests take relative times from; nowMS is it in ms.
var (
	now   = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	nowMS = now.UnixMilli() // 1714564800000
)

// defaults returns the Params of an empty query, changed by fn.
func defaults(fn func(p *Params)) Params {
	p := Params{To: math.MaxInt64, Sort: Asc, Format: JSON, TSFormat: TSMillis}
	if fn != nil {
		fn(&p)
	}
	return p
}

var parseTests = []struct {
	name  string
	query string
	want  Params
}{
	{"empty", "", defaults(nil)},
	{"epoch ms", "from=1714564800000&to=1714568400000", defaults(func(p *Params) { p.From, p.To = 1714564800000, 1714568400000 })},
	{"zero", "from=0&to=0", defaults(func(p *Params) { p.To = 0 })},
	{"from equals to", "from=5&to=5", defaults(func(p *Params) { p.From, p.To = 5, 5 })},
	{"largest time", "to=9223372036854775807", defaults(nil)},
	{"leading zeros", "from=007", defaults(func(p *Params) { p.From = 7 })},
	{"RFC 3339", "from=2024-05-01T10:00:00Z&to=2024-05-01T11:00:00Z", defaults(func(p *Params) { p.From, p.To = nowMS-2*3600_000, nowMS-3600_000 })},
	{"RFC 3339 fraction truncated", "from=2024-05-01T12:00:00.1239Z", defaults(func(p *Params) { p.From = nowMS + 123 })},
	{"RFC 3339 nanoseconds", "from=2024-05-01T12:00:00.999999999Z", defaults(func(p *Params) { p.From = nowMS + 999 })},
	{"RFC 3339 offset", "from=" + url.QueryEscape("2024-05-01T14:00:00+02:00"), defaults(func(p *Params) { p.From = nowMS })},
	{"RFC 3339 negative offset", "from=2024-05-01T07:30:00-04:30", defaults(func(p *Params) { p.From = nowMS })},
	{"RFC 3339 unescaped plus", "from=2024-05-01T14:00:00+02:00", defaults(func(p *Params) { p.From = nowMS })},
	{"RFC 3339 lower case", "from=2024-05-01t12:00:00z", defaults(func(p *Params) { p.From = nowMS })},
	{"epoch in RFC 3339", "from=1970-01-01T00:00:00Z", defaults(nil)},
	{"relative", "from=-1h&to=-30m", defaults(func(p *Params) { p.From, p.To = nowMS-3600_000, nowMS-1800_000 })},
	{"relative days and weeks", "from=-7d&to=-1w", defaults(func(p *Params) { p.From, p.To = nowMS-7*86400_000, nowMS-7*86400_000 })},
	{"relative compound", "from=-1h30m", defaults(func(p *Params) { p.From = nowMS - 5400_000 })},
	{"relative beyond 366d", "from=-400d", defaults(func(p *Params) { p.From = nowMS - 400*86400_000 })},
	{"relative zero", "from=-0s", defaults(func(p *Params) { p.From = nowMS })},
	{"now", "from=-1h&to=now", defaults(func(p *Params) { p.From, p.To = nowMS-3600_000, nowMS })},
	{"min_ts max_ts", "min_ts=1&max_ts=2", defaults(func(p *Params) { p.From, p.To = 1, 2 })},
	{"mixed names", "from=1&max_ts=2", defaults(func(p *Params) { p.From, p.To = 1, 2 })},

	{"fields", "fields=temp,hum", defaults(func(p *Params) { p.Fields = []string{"temp", "hum"} })},
	{"fields repeated", "fields=a,b&fields=c", defaults(func(p *Params) { p.Fields = []string{"a", "b", "c"} })},
	{"fields empty items", "fields=,a,,b,&fields=", defaults(func(p *Params) { p.Fields = []string{"a", "b"} })},
	{"fields duplicates", "fields=b,a,b&fields=a,c", defaults(func(p *Params) { p.Fields = []string{"b", "a", "c"} })},
	{"fields all empty", "fields=&fields=,,", defaults(nil)},
	{"fields awkward", "fields=" + url.QueryEscape(`Température (°C),a b,x"y,env.t, lead`), defaults(func(p *Params) {
		p.Fields = []string{"Température (°C)", "a b", `x"y`, "env.t", " lead"}
	})},
	{"field of 128 bytes", "fields=" + strings.Repeat("f", 128), defaults(func(p *Params) { p.Fields = []string{strings.Repeat("f", 128)} })},
	{"device and topic", "device=esp32-01&topic=" + url.QueryEscape("sensors/+/temp #1"), defaults(func(p *Params) { p.Device, p.Topic = "esp32-01", "sensors/+/temp #1" })},
	{"device unicode", "device=" + url.QueryEscape("capteur-été"), defaults(func(p *Params) { p.Device = "capteur-été" })},
	{"device empty", "device=&topic=", defaults(nil)},
	{"device of 256 bytes", "device=" + strings.Repeat("d", 256), defaults(func(p *Params) { p.Device = strings.Repeat("d", 256) })},

	{"agg function", "agg=max", defaults(func(p *Params) { p.Agg = Max })},
	{"every functions", "agg=avg", defaults(func(p *Params) { p.Agg = Avg })},
	{"agg min", "agg=min", defaults(func(p *Params) { p.Agg = Min })},
	{"agg sum", "agg=sum", defaults(func(p *Params) { p.Agg = Sum })},
	{"agg count", "agg=count", defaults(func(p *Params) { p.Agg = Count })},
	{"agg first", "agg=first", defaults(func(p *Params) { p.Agg = First })},
	{"agg last", "agg=last", defaults(func(p *Params) { p.Agg = Last })},
	{"agg and every", "agg=sum&every=5m", defaults(func(p *Params) { p.Agg, p.Every = Sum, 300_000 })},
	{"every alone means avg", "every=1h", defaults(func(p *Params) { p.Agg, p.Every = Avg, 3600_000 })},
	{"Thinger agg interval", "agg=1d", defaults(func(p *Params) { p.Agg, p.Every = Avg, 86400_000 })},
	{"Thinger agg interval and agg_type", "agg=1h&agg_type=max", defaults(func(p *Params) { p.Agg, p.Every = Max, 3600_000 })},
	{"agg_type alone", "agg_type=count", defaults(func(p *Params) { p.Agg = Count })},
	{"agg_type and every", "agg_type=first&every=30s", defaults(func(p *Params) { p.Agg, p.Every = First, 30_000 })},
	{"agg interval in ms", "agg=500ms", defaults(func(p *Params) { p.Agg, p.Every = Avg, 500 })},
	{"every 1w", "every=1w", defaults(func(p *Params) { p.Agg, p.Every = Avg, 7*86400_000 })},
	{"every 366d", "every=366d", defaults(func(p *Params) { p.Agg, p.Every = Avg, MaxInterval })},
	{"every 1ms", "every=1ms", defaults(func(p *Params) { p.Agg, p.Every = Avg, 1 })},

	{"limit", "limit=100", defaults(func(p *Params) { p.Limit = 100 })},
	{"limit bounds", "limit=10000000", defaults(func(p *Params) { p.Limit = MaxLimit })},
	{"limit 1", "limit=1", defaults(func(p *Params) { p.Limit = 1 })},
	{"items sorts desc", "items=10", defaults(func(p *Params) { p.Limit, p.Sort = 10, Desc })},
	{"items with sort asc", "items=10&sort=asc", defaults(func(p *Params) { p.Limit = 10 })},
	{"limit keeps asc", "limit=10", defaults(func(p *Params) { p.Limit = 10 })},
	{"sort desc", "sort=desc", defaults(func(p *Params) { p.Sort = Desc })},
	{"sort asc", "sort=asc", defaults(nil)},
	{"format csv", "format=csv", defaults(func(p *Params) { p.Format = CSV })},
	{"format arff", "format=arff", defaults(func(p *Params) { p.Format = ARFF })},
	{"format json", "format=json", defaults(nil)},
	{"ts_format iso", "ts_format=iso", defaults(func(p *Params) { p.TSFormat = TSISO })},
	{"ts_format ms", "ts_format=ms", defaults(nil)},

	{"Thinger script", "items=1000&max_ts=1714564800000&min_ts=1714478400000&agg=1h&agg_type=avg", defaults(func(p *Params) {
		p.From, p.To, p.Limit, p.Sort, p.Agg, p.Every = 1714478400000, 1714564800000, 1000, Desc, Avg, 3600_000
	})},
	{"everything", "from=-1d&to=now&fields=temp,hum&device=d1&topic=t&agg=max&every=15m&limit=50&sort=desc&format=csv&ts_format=iso", Params{
		From: nowMS - 86400_000, To: nowMS, Fields: []string{"temp", "hum"}, Device: "d1", Topic: "t",
		Agg: Max, Every: 900_000, Limit: 50, Sort: Desc, Format: CSV, TSFormat: TSISO,
	}},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(v, now)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.query, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%s)\n got %+v\nwant %+v", tt.query, got, tt.want)
			}
			// What Values encodes parses back the same.
			again, err := Parse(got.Values(), now)
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("Parse(%s.Values() = %s) = %+v, %v", tt.query, got.Values().Encode(), again, err)
			}
		})
	}
}

var parseErrorTests = []struct {
	name  string
	query string
	want  string // the whole message
}{
	{"not a time", "from=yesterday", `query: from: not a time: "yesterday" (want epoch ms, RFC 3339 or -1h)`},
	{"empty time", "from=", `query: from: not a time: "" (want epoch ms, RFC 3339 or -1h)`},
	{"negative ms", "to=-1714564800000", `query: to: not a time: "-1714564800000" (want epoch ms, RFC 3339 or -1h)`},
	{"signed ms", "from=%2B5", `query: from: not a time: "+5" (want epoch ms, RFC 3339 or -1h)`},
	{"fractional ms", "from=1.5", `query: from: not a time: "1.5" (want epoch ms, RFC 3339 or -1h)`},
	{"ms beyond int64", "to=9223372036854775808", `query: to: "9223372036854775808" is beyond the largest time`},
	{"before the epoch", "from=1969-12-31T23:59:59.999Z", `query: from: "1969-12-31T23:59:59.999Z" is before the Unix epoch`},
	{"relative before the epoch", "from=-3000w", `query: from: "-3000w" is before the Unix epoch`},
	{"relative beyond int64", "from=-999999999999h", `query: from: "-999999999999h" is before the Unix epoch`},
	{"relative without unit", "from=-5", `query: from: not a time: "-5" (want epoch ms, RFC 3339 or -1h)`},
	{"relative unknown unit", "from=-5y", `query: from: not a time: "-5y" (want epoch ms, RFC 3339 or -1h)`},
	{"relative sub-millisecond", "from=-1us", `query: from: "-1us" is not a whole number of milliseconds`},
	{"relative plus", "from=%2B1h", `query: from: not a time: "+1h" (want epoch ms, RFC 3339 or -1h)`},
	{"date only", "from=2024-05-01", `query: from: not a time: "2024-05-01" (want epoch ms, RFC 3339 or -1h)`},
	{"no zone", "from=2024-05-01T12:00:00", `query: from: not a time: "2024-05-01T12:00:00" (want epoch ms, RFC 3339 or -1h)`},
	{"comma fraction", "from=2024-05-01T12:00:00,5Z", `query: from: not a time: "2024-05-01T12:00:00,5Z" (want epoch ms, RFC 3339 or -1h)`},
	{"bad month", "from=2024-13-01T12:00:00Z", `query: from: not a time: "2024-13-01T12:00:00Z" (want epoch ms, RFC 3339 or -1h)`},
	{"from after to", "from=10&to=9", `query: from: 10 is after to (9)`},
	{"min_ts after max_ts", "min_ts=-1h&max_ts=-2h", `query: min_ts: 1714561200000 is after max_ts (1714557600000)`},
	{"bad min_ts", "min_ts=x", `query: min_ts: not a time: "x" (want epoch ms, RFC 3339 or -1h)`},
	{"bad max_ts", "max_ts=x", `query: max_ts: not a time: "x" (want epoch ms, RFC 3339 or -1h)`},
	{"from and min_ts", "from=1&min_ts=1", `query: min_ts: given with from, which is the same parameter`},
	{"to and max_ts", "to=1&max_ts=2", `query: max_ts: given with to, which is the same parameter`},
	{"limit and items", "limit=1&items=1", `query: items: given with limit, which is the same parameter`},

	{"unknown", "form=1", `query: form: unknown parameter`},
	{"unknown, first in order", "zz=1&aa=2&from=1", `query: aa: unknown parameter`},
	{"unknown case", "From=1", `query: From: unknown parameter`},
	{"unknown odd name", "a%20b=1", `query: "a b": unknown parameter`},
	{"unknown empty name", "=1", `query: a parameter has no name`},
	{"unknown long name", strings.Repeat("x", 100) + "=1", `query: ` + strings.Repeat("x", 40) + `...: unknown parameter`},
	{"from twice", "from=1&from=2", `query: from: given 2 times`},
	{"limit thrice", "limit=1&limit=1&limit=1", `query: limit: given 3 times`},
	{"device twice", "device=a&device=a", `query: device: given 2 times`},

	{"field too long", "fields=a," + strings.Repeat("f", 129), `query: fields: name longer than 128 bytes: "` + strings.Repeat("f", 40) + `..."`},
	{"field control", "fields=a%0Ab", `query: fields: control character U+000A in "a\nb"`},
	{"field not UTF-8", "fields=%FF", `query: fields: not UTF-8: "\xff"`},
	{"device too long", "device=" + strings.Repeat("d", 257), `query: device: longer than 256 bytes: "` + strings.Repeat("d", 40) + `..."`},
	{"device control", "device=d%001", `query: device: control character U+0000 in "d\x001"`},
	{"device C1 control", "device=d%C2%85", `query: device: control character U+0085 in "d\u0085"`},
	{"topic too long", "topic=" + strings.Repeat("t", 257), `query: topic: longer than 256 bytes: "` + strings.Repeat("t", 40) + `..."`},
	{"topic control", "topic=a%7F", `query: topic: control character U+007F in "a\x7f"`},

	{"agg unknown", "agg=mean", `query: agg: not an aggregation function or interval: "mean" (want avg, min, max, sum, count, first, last or an interval such as 5m)`},
	{"agg upper case", "agg=AVG", `query: agg: not an aggregation function or interval: "AVG" (want avg, min, max, sum, count, first, last or an interval such as 5m)`},
	{"agg empty", "agg=", `query: agg: not an aggregation function or interval: "" (want avg, min, max, sum, count, first, last or an interval such as 5m)`},
	{"agg bad interval", "agg=5x", `query: agg: not an interval: "5x" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
	{"agg zero interval", "agg=0s", `query: agg: "0s" is less than 1ms`},
	{"agg_type unknown", "agg_type=1h", `query: agg_type: not an aggregation function: "1h" (want avg, min, max, sum, count, first or last)`},
	{"two functions", "agg=avg&agg_type=max", `query: agg: a second aggregation function, with agg_type`},
	{"two equal functions", "agg=avg&agg_type=avg", `query: agg: a second aggregation function, with agg_type`},
	{"two intervals", "agg=5m&every=5m", `query: every: a second interval, with agg`},
	{"every function", "every=avg", `query: every: not an interval: "avg" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
	{"every too long", "every=367d", `query: every: "367d" is more than 366d`},
	{"every too short", "every=0.5ms", `query: every: "0.5ms" is not a whole number of milliseconds`},
	{"every zero", "every=0ms", `query: every: "0ms" is less than 1ms`},
	{"every without unit", "every=60", `query: every: not an interval: "60" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
	{"every negative", "every=-1h", `query: every: not an interval: "-1h" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},

	{"limit zero", "limit=0", `query: limit: not a number from 1 to 10000000: "0"`},
	{"limit too big", "limit=10000001", `query: limit: not a number from 1 to 10000000: "10000001"`},
	{"limit huge", "limit=99999999999999999999", `query: limit: not a number from 1 to 10000000: "99999999999999999999"`},
	{"limit negative", "limit=-1", `query: limit: not a number from 1 to 10000000: "-1"`},
	{"limit signed", "limit=%2B5", `query: limit: not a number from 1 to 10000000: "+5"`},
	{"limit not a number", "limit=ten", `query: limit: not a number from 1 to 10000000: "ten"`},
	{"limit empty", "limit=", `query: limit: not a number from 1 to 10000000: ""`},
	{"items bad", "items=0", `query: items: not a number from 1 to 10000000: "0"`},
	{"sort", "sort=up", `query: sort: not asc or desc: "up"`},
	{"sort upper case", "sort=DESC", `query: sort: not asc or desc: "DESC"`},
	{"format", "format=xml", `query: format: not json, csv or arff: "xml"`},
	{"format empty", "format=", `query: format: not json, csv or arff: ""`},
	{"ts_format", "ts_format=rfc3339", `query: ts_format: not ms or iso: "rfc3339"`},
	{"long value quoted short", "from=" + strings.Repeat("é", 30), `query: from: not a time: "` + strings.Repeat("é", 20) + `..." (want epoch ms, RFC 3339 or -1h)`},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range parseErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(v, now)
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, want an error", tt.query, p)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%s) error\n got %s\nwant %s", tt.query, err, tt.want)
			}
			var e *Error
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &e) || e.Param == "" && tt.query[0] != '=' {
				t.Errorf("Parse(%s) = %#v, want an *Error with a Param wrapping ErrInvalid", tt.query, err)
			}
			if !reflect.DeepEqual(p, Params{}) {
				t.Errorf("Parse(%s) returned %+v with its error", tt.query, p)
			}
		})
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		query    string
		from, to int64
		err      string
	}{
		{query: "", from: 0, to: math.MaxInt64},
		{query: "from=1&to=2", from: 1, to: 2},
		{query: "min_ts=-1h", from: nowMS - 3600_000, to: math.MaxInt64},
		{query: "max_ts=2024-05-01T12:00:00Z", from: 0, to: nowMS},
		{query: "to=now", from: 0, to: nowMS},
		{query: "from=2&to=1", err: `query: from: 2 is after to (1)`},
		{query: "from=1&min_ts=1", err: `query: min_ts: given with from, which is the same parameter`},
		{query: "from=1&from=1", err: `query: from: given 2 times`},
		{query: "to=soon", err: `query: to: not a time: "soon" (want epoch ms, RFC 3339 or -1h)`},
		{query: "from=1&limit=5", err: `query: limit: not allowed here (only from, to, min_ts and max_ts)`},
		{query: "from=1&fields=a", err: `query: fields: not allowed here (only from, to, min_ts and max_ts)`},
		{query: "device=d", err: `query: device: not allowed here (only from, to, min_ts and max_ts)`},
		{query: "form=1", err: `query: form: not allowed here (only from, to, min_ts and max_ts)`},
	}
	for _, tt := range tests {
		v, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		from, to, err := ParseRange(v, now)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err || !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseRange(%s) = %d, %d, %v; want error %s", tt.query, from, to, err, tt.err)
			}
			continue
		}
		if err != nil || from != tt.from || to != tt.to {
			t.Errorf("ParseRange(%s) = %d, %d, %v; want %d, %d", tt.query, from, to, err, tt.from, tt.to)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{in: "0", want: 0},
		{in: "1714564800000", want: 1714564800000},
		{in: "now", want: nowMS},
		{in: "-1h", want: nowMS - 3600_000},
		{in: "-30m", want: nowMS - 1800_000},
		{in: "-7d", want: nowMS - 7*86400_000},
		{in: "-1.5s", want: nowMS - 1500},
		{in: "-250ms", want: nowMS - 250},
		{in: "2024-05-01T12:00:00Z", want: nowMS},
		{in: "2024-05-01T12:00:00.5Z", want: nowMS + 500},
		{in: "2024-05-01T12:00:00.0009Z", want: nowMS},
		{in: "2024-05-01T13:00:00+01:00", want: nowMS},
		{in: "2024-05-01T13:00:00 01:00", want: nowMS},
		{in: "Now", err: `query: not a time: "Now" (want epoch ms, RFC 3339 or -1h)`},
		{in: "-", err: `query: not a time: "-" (want epoch ms, RFC 3339 or -1h)`},
		{in: "--1h", err: `query: not a time: "--1h" (want epoch ms, RFC 3339 or -1h)`},
		{in: " 1", err: `query: not a time: " 1" (want epoch ms, RFC 3339 or -1h)`},
		{in: "1 ", err: `query: not a time: "1 " (want epoch ms, RFC 3339 or -1h)`},
		{in: "2024-05-01T12:00:00Z ", err: `query: not a time: "2024-05-01T12:00:00Z " (want epoch ms, RFC 3339 or -1h)`},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, now)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err || !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseTime(%q) = %d, %v; want error %s", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTime(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	// now itself before the epoch.
	if _, err := ParseTime("now", time.Unix(-1, 0)); err == nil || err.Error() != "query: now is before the Unix epoch" {
		t.Errorf("ParseTime(now) before the epoch: %v", err)
	}
}

func TestParseInterval(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{in: "500ms", want: 500},
		{in: "1ms", want: 1},
		{in: "30s", want: 30_000},
		{in: "5m", want: 300_000},
		{in: "1h", want: 3600_000},
		{in: "1d", want: 86400_000},
		{in: "1w", want: 7 * 86400_000},
		{in: "1h30m", want: 5400_000},
		{in: "1d12h", want: 36 * 3600_000},
		{in: "1.5h", want: 5400_000},
		{in: ".5s", want: 500},
		{in: "2.s", want: 2000},
		{in: "1m0.5s", want: 60_500},
		{in: "2000us", want: 2},
		{in: "2000µs", want: 2},
		{in: "2000μs", want: 2},
		{in: "3000000ns", want: 3},
		{in: "366d", want: MaxInterval},
		{in: "52w2d", want: MaxInterval},
		{in: "8784h", want: MaxInterval},
		{in: "0005m", want: 300_000},
		{in: "", err: `query: not an interval: "" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
		{in: "5", err: `query: not an interval: "5" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
		{in: "m", err: `query: not an interval: "m" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
		{in: ".s", err: `query: not an interval: ".s" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
		{in: "5M", err: `query: not an interval: "5M" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
		{in: "1y", err: `query: not an interval: "1y" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
		{in: "-1h", err: `query: not an interval: "-1h" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
		{in: "+1h", err: `query: not an interval: "+1h" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
		{in: "1h 30m", err: `query: not an interval: "1h 30m" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
		{in: "1h5", err: `query: not an interval: "1h5" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)`},
		{in: "0s", err: `query: "0s" is less than 1ms`},
		{in: "0.1ms", err: `query: "0.1ms" is not a whole number of milliseconds`},
		{in: "1500us", err: `query: "1500us" is not a whole number of milliseconds`},
		{in: "1ns", err: `query: "1ns" is not a whole number of milliseconds`},
		{in: "366d1ms", err: `query: "366d1ms" is more than 366d`},
		{in: "53w", err: `query: "53w" is more than 366d`},
		{in: "99999999999999999999s", err: `query: "99999999999999999999s" is more than 366d`},
		{in: "15250w", err: `query: "15250w" is more than 366d`},
		{in: "9223372036854775807ns1ns", err: `query: "9223372036854775807ns1ns" is more than 366d`},
	}
	for _, tt := range tests {
		got, err := ParseInterval(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err || !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseInterval(%q) = %d, %v; want error %s", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseInterval(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
		// formatInterval gives a form that parses to the same.
		if back, err := ParseInterval(formatInterval(got)); err != nil || back != got {
			t.Errorf("ParseInterval(formatInterval(%d) = %q) = %d, %v", got, formatInterval(got), back, err)
		}
	}
}

func TestFormatInterval(t *testing.T) {
	for ms, want := range map[int64]string{
		1: "1ms", 500: "500ms", 1500: "1500ms", 1000: "1s", 90_000: "90s", 300_000: "5m",
		5400_000: "90m", 3600_000: "1h", 86400_000: "1d", 8 * 86400_000: "8d", 14 * 86400_000: "2w",
	} {
		if got := formatInterval(ms); got != want {
			t.Errorf("formatInterval(%d) = %q, want %q", ms, got, want)
		}
	}
}

func TestErrorWithoutParam(t *testing.T) {
	e := &Error{Message: "m"}
	if e.Error() != "query: m" || !errors.Is(e, ErrInvalid) {
		t.Errorf("%v", e)
	}
}
