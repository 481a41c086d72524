// Package query parses and checks the parameters of a bucket data query,
// the URL query of GET /api/v1/buckets/{id}/data (Parse) and of DELETE on
// the same path (ParseRange), whose times and intervals the CLI parses too
// (ParseTime, ParseInterval); and it does the arithmetic of aggregation
// (Acc, IntervalStart).
//
// # Parameters
//
// A bucket holds points of (field, device, topic, time in ms, value). A
// query selects and shapes them:
//
//	from, to    the time range, both inclusive: epoch ms, RFC 3339 or
//	            relative to now (-1h, -7d, now); see ParseTime.
//	            Without them, from the beginning and to the end.
//	fields      the fields, comma-separated and/or repeated
//	            (fields=a,b&fields=c); empty items are ignored and
//	            duplicates dropped. Without it, every field.
//	device      one device id, exactly; without it, any device.
//	topic       one topic, exactly (+ and # are plain characters here).
//	agg         an aggregation function: avg, min, max, sum, count, first
//	            or last; or, as Thinger.io has it, an interval (below).
//	every       the aggregation interval: 30s, 5m, 1h, 1d, 1w, 500ms,
//	            1h30m; see ParseInterval. An interval without a function
//	            means avg; a function without an interval aggregates the
//	            whole range into one value.
//	limit       at most this many records, 1 to 10,000,000.
//	sort        asc (the default) or desc, by time.
//	format      json (the default), csv or arff.
//	ts_format   ms (the default) or iso (RFC 3339 UTC).
//
// Intervals are aligned on the Unix epoch (IntervalStart): 1d starts at UTC
// midnight, and 1w, since 1970-01-01 was a Thursday, on Thursdays.
//
// # Thinger.io names
//
// Scripts written for Thinger.io's bucket API work unchanged: min_ts is
// from, max_ts is to, items is limit, agg_type is the function, and agg
// may hold an interval (agg=1h&agg_type=max). With items and no sort, the
// order is desc, Thinger.io's default. A parameter and its alias together
// (from and min_ts, limit and items), two functions or two intervals are
// an error, even when they agree.
//
// # Rejections
//
// A query is taken whole or not at all: an unknown parameter is an error
// (a typo must not widen a query silently), and so is a parameter given
// twice (but fields), an empty value (but for fields, device and topic,
// where empty means all), or one out of its range. Every error is an *Error
// wrapping ErrInvalid that names the parameter as the request spelled it.
package query

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Agg is an aggregation function, or "" for none.
type Agg string

// The aggregation functions.
const (
	None  Agg = ""
	Avg   Agg = "avg"
	Min   Agg = "min"
	Max   Agg = "max"
	Sum   Agg = "sum"
	Count Agg = "count"
	First Agg = "first" // the value with the earliest time
	Last  Agg = "last"  // the value with the latest time
)

// aggs lists the functions, for checks and messages.
var aggs = []Agg{Avg, Min, Max, Sum, Count, First, Last}

// Sort is the order of the records, by time.
type Sort string

// The orders.
const (
	Asc  Sort = "asc"
	Desc Sort = "desc"
)

// Format is the document a query's result is written as.
type Format string

// The formats.
const (
	JSON Format = "json"
	CSV  Format = "csv"
	ARFF Format = "arff"
)

// TSFormat is how times are written in the result.
type TSFormat string

// The time formats.
const (
	TSMillis TSFormat = "ms"  // milliseconds since the Unix epoch
	TSISO    TSFormat = "iso" // RFC 3339 in UTC, to the millisecond
)

// Limits on parameter values.
const (
	MaxLimit     = 10_000_000 // records
	MaxFieldLen  = 128        // bytes, as payload.MaxNameLen
	MaxDeviceLen = 256        // bytes
	MaxTopicLen  = 256        // bytes

	defaultTo = math.MaxInt64
)

// Params are a query's parameters, checked. The zero value is not a valid
// query: Parse fills in the defaults.
type Params struct {
	From, To int64    // ms since the epoch, both inclusive; 0 and math.MaxInt64 when absent
	Fields   []string // nil for every field
	Device   string   // "" for any
	Topic    string   // "" for any
	Agg      Agg      // "" for none; never "" when Every > 0
	Every    int64    // the aggregation interval in ms; 0 for one aggregate over the range
	Limit    int      // records, 0 for no limit
	Sort     Sort
	Format   Format
	TSFormat TSFormat
}

// The parameters, in the order they are checked (so that of several
// errors, the same is always reported).
var (
	rangeParams = []string{"from", "min_ts", "to", "max_ts"}
	allParams   = []string{"from", "min_ts", "to", "max_ts", "fields", "device", "topic",
		"agg", "agg_type", "every", "limit", "items", "sort", "format", "ts_format"}
)

// Parse checks the URL query of a data read, as the package doc describes,
// taking relative times from now. An error is an *Error wrapping
// ErrInvalid.
func Parse(v url.Values, now time.Time) (Params, error) {
	if err := checkNames(v, allParams, "unknown parameter"); err != nil {
		return Params{}, err
	}
	from, to, err := parseRange(v, now)
	if err != nil {
		return Params{}, err
	}
	p := Params{From: from, To: to, Sort: Asc, Format: JSON, TSFormat: TSMillis}
	if p.Fields, err = parseFields(v["fields"]); err != nil {
		return Params{}, err
	}
	if p.Device, err = parseString(v, "device", MaxDeviceLen); err != nil {
		return Params{}, err
	}
	if p.Topic, err = parseString(v, "topic", MaxTopicLen); err != nil {
		return Params{}, err
	}
	if p.Agg, p.Every, err = parseAgg(v); err != nil {
		return Params{}, err
	}

	name, s, ok, err := alias(v, "limit", "items")
	if err != nil {
		return Params{}, err
	}
	if ok {
		n, err := strconv.Atoi(s)
		if err != nil || !isDigits(s) || n < 1 || n > MaxLimit {
			return Params{}, &Error{name, "not a number from 1 to " + strconv.Itoa(MaxLimit) + ": " + quote(s)}
		}
		p.Limit = n
		if name == "items" {
			p.Sort = Desc // Thinger.io's default
		}
	}
	if s, ok := get(v, "sort"); ok {
		if p.Sort, err = oneOf(Sort(s), "sort", Asc, Desc); err != nil {
			return Params{}, err
		}
	}
	if s, ok := get(v, "format"); ok {
		if p.Format, err = oneOf(Format(s), "format", JSON, CSV, ARFF); err != nil {
			return Params{}, err
		}
	}
	if s, ok := get(v, "ts_format"); ok {
		if p.TSFormat, err = oneOf(TSFormat(s), "ts_format", TSMillis, TSISO); err != nil {
			return Params{}, err
		}
	}
	return p, nil
}

// ParseRange checks the URL query of a data deletion: from and to (or
// min_ts and max_ts) as Parse takes them, and nothing else. Without them,
// the range is everything: 0 to math.MaxInt64.
func ParseRange(v url.Values, now time.Time) (from, to int64, err error) {
	if err := checkNames(v, rangeParams, "not allowed here (only from, to, min_ts and max_ts)"); err != nil {
		return 0, 0, err
	}
	return parseRange(v, now)
}

// checkNames rejects a parameter not in known, or given more than once.
func checkNames(v url.Values, known []string, unknown string) error {
	var bad []string
	for name := range v {
		if !slices.Contains(known, name) {
			bad = append(bad, name)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad) // the same error for the same query
		if bad[0] == "" {
			return &Error{"", "a parameter has no name"}
		}
		return &Error{clip(bad[0]), unknown}
	}
	for _, name := range known {
		if n := len(v[name]); n > 1 && name != "fields" {
			return &Error{name, "given " + strconv.Itoa(n) + " times"}
		}
	}
	return nil
}

// get returns the value of a parameter given at most once.
func get(v url.Values, name string) (string, bool) {
	if vs := v[name]; len(vs) > 0 {
		return vs[0], true
	}
	return "", false
}

// alias returns the value of name or of its alias, and which one was
// given; both is an error.
func alias(v url.Values, name, alias string) (given, value string, ok bool, err error) {
	s, ok1 := get(v, name)
	a, ok2 := get(v, alias)
	switch {
	case ok1 && ok2:
		return "", "", false, &Error{alias, "given with " + name + ", which is the same parameter"}
	case ok2:
		return alias, a, true, nil
	}
	return name, s, ok1, nil
}

// parseRange parses from and to, with their aliases.
func parseRange(v url.Values, now time.Time) (from, to int64, err error) {
	from, to = 0, defaultTo
	fromName, s, ok, err := alias(v, "from", "min_ts")
	if err != nil {
		return 0, 0, err
	}
	if ok {
		var msg string
		if from, msg = parseTime(s, now); msg != "" {
			return 0, 0, &Error{fromName, msg}
		}
	}
	toName, s, ok, err := alias(v, "to", "max_ts")
	if err != nil {
		return 0, 0, err
	}
	if ok {
		var msg string
		if to, msg = parseTime(s, now); msg != "" {
			return 0, 0, &Error{toName, msg}
		}
	}
	if from > to {
		return 0, 0, &Error{fromName, strconv.FormatInt(from, 10) + " is after " + toName + " (" + strconv.FormatInt(to, 10) + ")"}
	}
	return from, to, nil
}

// parseFields splits, checks and deduplicates the fields parameters.
func parseFields(vs []string) ([]string, error) {
	var fields []string
	seen := make(map[string]bool)
	for _, s := range vs {
		for f := range strings.SplitSeq(s, ",") {
			if f == "" || seen[f] {
				continue
			}
			if len(f) > MaxFieldLen {
				return nil, &Error{"fields", "name longer than " + strconv.Itoa(MaxFieldLen) + " bytes: " + quote(f)}
			}
			if msg := checkText(f); msg != "" {
				return nil, &Error{"fields", msg}
			}
			seen[f] = true
			fields = append(fields, f)
		}
	}
	return fields, nil
}

// parseString returns an exact-match parameter, device or topic.
func parseString(v url.Values, name string, maxLen int) (string, error) {
	s, _ := get(v, name)
	if len(s) > maxLen {
		return "", &Error{name, "longer than " + strconv.Itoa(maxLen) + " bytes: " + quote(s)}
	}
	if msg := checkText(s); msg != "" {
		return "", &Error{name, msg}
	}
	return s, nil
}

// checkText returns what is wrong with a name or an id, or "": it must be
// UTF-8 without control characters, as no device or field has them.
func checkText(s string) string {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return "not UTF-8: " + quote(s)
		case unicode.IsControl(r):
			return fmt.Sprintf("control character %U in %s", r, quote(s))
		}
	}
	return ""
}

// parseAgg parses agg, agg_type and every.
func parseAgg(v url.Values) (Agg, int64, error) {
	var (
		agg      Agg
		every    int64
		aggFrom  string // which parameter gave the function
		everyArg string // and the interval
	)
	if s, ok := get(v, "agg_type"); ok {
		if !slices.Contains(aggs, Agg(s)) {
			return "", 0, &Error{"agg_type", "not an aggregation function: " + quote(s) + " (want " + orList(aggNames()) + ")"}
		}
		agg, aggFrom = Agg(s), "agg_type"
	}
	if s, ok := get(v, "agg"); ok {
		switch {
		case slices.Contains(aggs, Agg(s)):
			if aggFrom != "" {
				return "", 0, &Error{"agg", "a second aggregation function, with agg_type"}
			}
			agg = Agg(s)
		case s != "" && (isDigit(s[0]) || s[0] == '.'):
			ms, msg := parseInterval(s)
			if msg != "" {
				return "", 0, &Error{"agg", msg}
			}
			every, everyArg = ms, "agg"
		default:
			return "", 0, &Error{"agg", "not an aggregation function or interval: " + quote(s) + " (want " + strings.Join(aggNames(), ", ") + " or an interval such as 5m)"}
		}
	}
	if s, ok := get(v, "every"); ok {
		if everyArg != "" {
			return "", 0, &Error{"every", "a second interval, with agg"}
		}
		ms, msg := parseInterval(s)
		if msg != "" {
			return "", 0, &Error{"every", msg}
		}
		every = ms
	}
	if every > 0 && agg == None {
		agg = Avg
	}
	return agg, every, nil
}

// aggNames returns the functions' names, for messages.
func aggNames() []string {
	names := make([]string, len(aggs))
	for i, a := range aggs {
		names[i] = string(a)
	}
	return names
}

// orList is "a, b or c".
func orList(s []string) string {
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// oneOf checks that an enumerated parameter has one of the values ok.
func oneOf[T ~string](s T, name string, ok ...T) (T, error) {
	if slices.Contains(ok, s) {
		return s, nil
	}
	want := make([]string, len(ok))
	for i, o := range ok {
		want[i] = string(o)
	}
	return "", &Error{name, "not " + orList(want) + ": " + quote(string(s))}
}

// Values encodes p as a URL query that Parse turns back into p, in this
// package's own parameter names, leaving out the defaults. The CLI builds
// its requests with it.
func (p Params) Values() url.Values {
	v := url.Values{}
	if p.From != 0 {
		v.Set("from", strconv.FormatInt(p.From, 10))
	}
	if p.To != defaultTo {
		v.Set("to", strconv.FormatInt(p.To, 10))
	}
	if len(p.Fields) > 0 {
		v.Set("fields", strings.Join(p.Fields, ","))
	}
	if p.Device != "" {
		v.Set("device", p.Device)
	}
	if p.Topic != "" {
		v.Set("topic", p.Topic)
	}
	if p.Agg != None {
		v.Set("agg", string(p.Agg))
	}
	if p.Every > 0 {
		v.Set("every", formatInterval(p.Every))
	}
	if p.Limit > 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Sort != "" && p.Sort != Asc {
		v.Set("sort", string(p.Sort))
	}
	if p.Format != "" && p.Format != JSON {
		v.Set("format", string(p.Format))
	}
	if p.TSFormat != "" && p.TSFormat != TSMillis {
		v.Set("ts_format", string(p.TSFormat))
	}
	return v
}
