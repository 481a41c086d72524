package bucket

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"0", 0, "0"}, {"365d", 365 * day, "365d"}, {"2w", 14 * day, "2w"}, {"12h", 12 * time.Hour, "12h"},
		{"1h30m", 90 * time.Minute, "1h30m"}, {"500ms", 500 * time.Millisecond, "500ms"}, {"36500d", 36500 * day, "36500d"},
	} {
		got, err := ParseDuration(tc.in)
		if err != nil || got != tc.want || Duration(got).String() != tc.out {
			t.Errorf("%q: %v %v %q", tc.in, got, err, Duration(got).String())
		}
	}
	for _, bad := range []string{"", "1year", "-1d", "-5m", "36501d", "5219w", "99999999999w", "1.5d"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("%q: accepted as %v", bad, d)
		}
	}
}
