package payload

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"
)

// minMillis is the earliest time a ts may give, 2000-01-01T00:00:00Z, in
// milliseconds since the epoch.
const minMillis = 946684800000

// maxRFC3339 is longer than any RFC 3339 time Decode accepts
// ("2006-01-02T15:04:05.999999999-07:00" is 35 bytes).
const maxRFC3339 = 40

// timestamp decodes the top-level ts at d.pos into d.ts; d.path is "ts".
func (d *Decoder) timestamp() error {
	if d.pos == len(d.data) {
		return d.syntax("looking for a value")
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		return d.timeString()
	case isDigit(c) || c == '-' && d.pos+1 < len(d.data) && isDigit(d.data[d.pos+1]):
		start := d.pos
		if err := d.scanNumber(); err != nil {
			return err
		}
		v, ok := parseNumber(d.data[start:d.pos])
		if !ok {
			return d.fail(ReasonTimestamp, quoteClip(d.data[start:d.pos])+" is beyond float64's range")
		}
		return d.timeMillis(v)
	}
	return d.fail(ReasonTimestamp, "not a number of milliseconds or an RFC 3339 string")
}

// timeMillis checks a ts of v milliseconds since the epoch.
func (d *Decoder) timeMillis(v float64) error {
	ms := math.Trunc(v)
	switch limit := d.received.Add(d.opts.MaxFutureSkew).UnixMilli(); {
	case !(v > 0):
		return d.fail(ReasonTimestamp, fmtMillis(v)+" is not a positive number of milliseconds")
	case ms < minMillis:
		hint := ""
		if v >= minMillis/1000 && v < 1e11 {
			hint = " (seconds, not milliseconds?)"
		}
		return d.fail(ReasonTimestamp, fmtMillis(v)+" ms is before 2000-01-01"+hint)
	case ms > float64(limit):
		hint := ""
		if v >= 1e14 {
			hint = " (microseconds or nanoseconds, not milliseconds?)"
		}
		return d.fail(ReasonTimestamp, fmt.Sprintf("%s ms is more than %v after the receive time%s", fmtMillis(v), d.opts.MaxFutureSkew, hint))
	}
	d.ts, d.fromTS = time.UnixMilli(int64(ms)).UTC(), true
	return nil
}

// timeString decodes and checks a ts string.
func (d *Decoder) timeString() error {
	var buf [maxRFC3339 + 1]byte
	s, err := d.str(buf[:0], maxRFC3339)
	if err != nil {
		return err
	}
	if len(s) > maxRFC3339 || bytes.IndexByte(s, ',') >= 0 {
		// time.Parse allows a comma before the fraction of a second, RFC
		// 3339 does not.
		return d.fail(ReasonTimestamp, "not a number of milliseconds or an RFC 3339 string")
	}
	// RFC 3339 allows a lower-case t and z, time.Parse does not.
	for i, c := range s {
		if c == 't' || c == 'z' {
			s[i] = c - 'a' + 'A'
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return d.fail(ReasonTimestamp, "not a number of milliseconds or an RFC 3339 string")
	}
	t = t.UTC()
	if t.UnixMilli() < minMillis {
		return d.fail(ReasonTimestamp, t.Format(time.RFC3339Nano)+" is before 2000-01-01")
	}
	if limit := d.received.Add(d.opts.MaxFutureSkew); t.After(limit) {
		return d.fail(ReasonTimestamp, fmt.Sprintf("%s is more than %v after the receive time", t.Format(time.RFC3339Nano), d.opts.MaxFutureSkew))
	}
	d.ts, d.fromTS = t, true
	return nil
}

// fmtMillis formats a ts number for a message: in full when it is short,
// which is when people can read it anyway.
func fmtMillis(v float64) string {
	if math.Abs(v) < 1e21 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
