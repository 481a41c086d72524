package bucket

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const day = 24 * time.Hour

// Duration is a time.Duration written for people: "365d", "2w", "12h",
// "90s", "1ms", "0".
type Duration time.Duration

// ParseDuration reads a duration: "0", a whole number of days ("30d") or
// weeks ("2w"), or a Go duration ("12h", "1h30m", "500ms").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	for suffix, unit := range map[string]time.Duration{"d": day, "w": 7 * day} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil || v < 0 || time.Duration(v) > 100*365*day/unit {
				return 0, fmt.Errorf("%q is not a duration (want e.g. 365d, 2w, 12h or 0)", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (want e.g. 365d, 2w, 12h or 0)", s)
	}
	return d, nil
}

// String formats d the way ParseDuration reads it, in the largest exact unit.
func (d Duration) String() string {
	v := time.Duration(d)
	switch {
	case v == 0:
		return "0"
	case v%(7*day) == 0:
		return strconv.FormatInt(int64(v/(7*day)), 10) + "w"
	case v%day == 0:
		return strconv.FormatInt(int64(v/day), 10) + "d"
	}
	s := v.String()
	for _, z := range []string{"m0s", "h0m"} {
		if strings.HasSuffix(s, z) && len(s) > len(z) {
			s = strings.TrimSuffix(s, z[1:])
		}
	}
	return s
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
