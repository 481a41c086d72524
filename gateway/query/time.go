package query

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Interval bounds, in milliseconds.
const (
	MinInterval = 1                   // 1ms
	MaxInterval = 366 * 24 * 3600_000 // 366d: a leap year in one interval
)

// maxRFC3339 is longer than any RFC 3339 time ParseTime accepts
// ("2006-01-02T15:04:05.999999999-07:00" is 35 bytes).
const maxRFC3339 = 40

const (
	wantTime     = " (want epoch ms, RFC 3339 or -1h)"
	wantInterval = " (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)"
)

// ParseTime parses a point in time as the query parameters from and to give
// it, to milliseconds since the Unix epoch:
//
//   - a number of milliseconds since the epoch, digits only: 1714564800000;
//   - an RFC 3339 time: 2024-05-01T12:00:00Z, 2024-05-01T14:00:00.250+02:00;
//     a fraction of a millisecond is truncated. A space before the offset's
//     hours is read as '+', which is what an unescaped '+' in a URL becomes;
//   - "now", or now minus an interval written as ParseInterval takes it but
//     without its upper bound: -1h, -30m, -7d, -1h30m.
//
// The time must not be before the epoch. now is the time "now" and relative
// times are taken from. An error is an *Error wrapping ErrInvalid.
func ParseTime(s string, now time.Time) (int64, error) {
	ms, msg := parseTime(s, now)
	if msg != "" {
		return 0, &Error{Message: msg}
	}
	return ms, nil
}

// parseTime is ParseTime, returning what is wrong instead of an error.
func parseTime(s string, now time.Time) (int64, string) {
	switch {
	case s == "now":
		if ms := now.UnixMilli(); ms >= 0 {
			return ms, ""
		}
		return 0, "now is before the Unix epoch"
	case strings.HasPrefix(s, "-"):
		ns, ok := parseDuration(s[1:])
		if !ok {
			return 0, "not a time: " + quote(s) + wantTime
		}
		ms := now.UnixMilli() - ns/1e6
		switch {
		case ns < 0 || ms < 0: // ns < 0: beyond int64
			return 0, quote(s) + " is before the Unix epoch"
		case ns%1e6 != 0:
			return 0, quote(s) + " is not a whole number of milliseconds"
		}
		return ms, ""
	case s != "" && isDigits(s):
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, quote(s) + " is beyond the largest time"
		}
		return ms, ""
	}
	t, ok := parseRFC3339(s)
	if !ok {
		return 0, "not a time: " + quote(s) + wantTime
	}
	if t.Before(time.Unix(0, 0)) {
		return 0, quote(s) + " is before the Unix epoch"
	}
	return t.UnixMilli(), ""
}

// parseRFC3339 parses an RFC 3339 time, more strictly than time.Parse in
// one way (no comma before the fraction) and more loosely in two (a lower
// case t and z, and a space for the offset's '+').
func parseRFC3339(s string) (time.Time, bool) {
	if len(s) > maxRFC3339 || strings.IndexByte(s, ',') >= 0 {
		return time.Time{}, false
	}
	var buf [maxRFC3339]byte
	b := append(buf[:0], s...)
	for i, c := range b {
		if c == 't' || c == 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	// A '+' in a URL query decodes as a space: ...:00 02:00 was ...:00+02:00.
	if n := len(b); n >= 6 && b[n-6] == ' ' && b[n-3] == ':' {
		b[n-6] = '+'
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	return t, err == nil
}

// ParseInterval parses an aggregation interval to milliseconds: a number
// and a unit, ms, s, m, h, d (24h) or w (7d), as in 500ms, 30s, 5m, 1h, 1d,
// 1w, or several as Go's time.ParseDuration takes them (1h30m, 1.5h; ns, us
// and µs too). It must be a whole number of milliseconds from 1ms to 366d.
// An error is an *Error wrapping ErrInvalid.
func ParseInterval(s string) (int64, error) {
	ms, msg := parseInterval(s)
	if msg != "" {
		return 0, &Error{Message: msg}
	}
	return ms, nil
}

// parseInterval is ParseInterval, returning what is wrong instead of an
// error.
func parseInterval(s string) (int64, string) {
	ns, ok := parseDuration(s)
	switch {
	case !ok:
		return 0, "not an interval: " + quote(s) + wantInterval
	case ns < 0 || ns > MaxInterval*1e6:
		return 0, quote(s) + " is more than 366d"
	case ns%1e6 != 0:
		return 0, quote(s) + " is not a whole number of milliseconds"
	case ns < MinInterval*1e6:
		return 0, quote(s) + " is less than 1ms"
	}
	return ns / 1e6, ""
}

// units are the duration units in nanoseconds, ms before m since the first
// match wins.
var units = []struct {
	name string
	ns   int64
}{
	{"ns", 1},
	{"us", 1e3},
	{"µs", 1e3}, // U+00B5, as time.ParseDuration
	{"μs", 1e3}, // U+03BC
	{"ms", 1e6},
	{"s", 1e9},
	{"m", 60e9},
	{"h", 3600e9},
	{"d", 24 * 3600e9},
	{"w", 7 * 24 * 3600e9},
}

// parseDuration parses one or more numbers, each with an optional fraction
// and a unit, to nanoseconds. It reports false for anything else; a
// duration beyond int64 gives -1 and true, so that callers say "too long"
// rather than "not a duration".
func parseDuration(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var total int64
	overflow := false
	for s != "" {
		// The number: digits, optionally a '.' and more digits.
		i := 0
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		intPart := s[:i]
		var fracPart string
		if i < len(s) && s[i] == '.' {
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			fracPart = s[i+1 : j]
			i = j
		}
		if intPart == "" && fracPart == "" {
			return 0, false
		}
		s = s[i:]
		// The unit.
		var unit int64
		for _, u := range units {
			if strings.HasPrefix(s, u.name) {
				unit = u.ns
				s = s[len(u.name):]
				break
			}
		}
		if unit == 0 {
			return 0, false
		}
		if overflow {
			continue // keep checking the syntax
		}
		v, err := strconv.ParseInt("0"+intPart, 10, 64)
		if err != nil || v > math.MaxInt64/unit {
			overflow = true
			continue
		}
		v *= unit
		if fracPart != "" {
			// As time.ParseDuration does it, so that both agree: digits
			// past what a uint64 holds are dropped.
			f, scale := uint64(0), 1.0
			for _, c := range []byte(fracPart) {
				if f > (1<<63-1)/10 || f*10+uint64(c-'0') > 1<<63 {
					break
				}
				f = f*10 + uint64(c-'0')
				scale *= 10
			}
			// float64 to int64 is not defined past int64's range.
			if x := float64(f) * (float64(unit) / scale); x < 1<<62 {
				v += int64(x)
			} else {
				v = -1
			}
			if v < 0 {
				overflow = true
				continue
			}
		}
		if total > math.MaxInt64-v {
			overflow = true
			continue
		}
		total += v
	}
	if overflow {
		return -1, true
	}
	return total, true
}

// formatInterval writes ms in the largest unit that divides it: the form
// Params.Values gives every.
func formatInterval(ms int64) string {
	for _, u := range []struct {
		name string
		ms   int64
	}{{"w", 7 * 24 * 3600_000}, {"d", 24 * 3600_000}, {"h", 3600_000}, {"m", 60_000}, {"s", 1000}} {
		if ms%u.ms == 0 {
			return strconv.FormatInt(ms/u.ms, 10) + u.name
		}
	}
	return strconv.FormatInt(ms, 10) + "ms"
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
