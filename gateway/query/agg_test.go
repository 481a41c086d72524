package query

import (
	"math"
	"testing"
)

// pt is a point added to an Acc.
type pt struct {
	ts int64
	v  float64
}

// want holds the expected result of each function, in the order of aggs:
// avg, min, max, sum, count, first, last.
type want [7]float64

var nan = math.NaN()

var accTests = []struct {
	name string
	pts  []pt
	want want
}{
	{"empty", nil, want{nan, nan, nan, nan, nan, nan, nan}},
	{"one", []pt{{10, 21.5}}, want{21.5, 21.5, 21.5, 21.5, 1, 21.5, 21.5}},
	{"ascending", []pt{{1, 1}, {2, 2}, {3, 3}, {4, 4}}, want{2.5, 1, 4, 10, 4, 1, 4}},
	{"out of order", []pt{{3, 30}, {1, 10}, {4, 40}, {2, 20}}, want{25, 10, 40, 100, 4, 10, 40}},
	{"descending", []pt{{4, -4}, {3, -3}, {2, -2}, {1, -1}}, want{-2.5, -4, -1, -10, 4, -1, -4}},
	{"ties on the first time: first added wins", []pt{{5, 1}, {5, 2}, {7, 3}}, want{2, 1, 3, 6, 3, 1, 3}},
	{"ties on the last time: last added wins", []pt{{1, 1}, {9, 2}, {9, 3}}, want{2, 1, 3, 6, 3, 1, 3}},
	{"all the same time", []pt{{5, 7}, {5, 8}, {5, 9}}, want{8, 7, 9, 24, 3, 7, 9}},
	{"earliest added last", []pt{{9, 1}, {8, 2}, {1, 3}}, want{2, 1, 3, 6, 3, 3, 1}},
	{"tie after an earlier time", []pt{{5, 1}, {1, 2}, {1, 3}}, want{2, 1, 3, 6, 3, 2, 1}},
	{"time 0 and negative", []pt{{0, 1}, {-5, 2}}, want{1.5, 1, 2, 3, 2, 2, 1}},
	{"compensated sum", []pt{{1, 0.1}, {2, 0.1}, {3, 0.1}, {4, 0.1}, {5, 0.1}, {6, 0.1}, {7, 0.1}, {8, 0.1}, {9, 0.1}, {10, 0.1}},
		want{0.1, 0.1, 0.1, 1, 10, 0.1, 0.1}},
	{"cancellation", []pt{{1, 1}, {2, 1e100}, {3, 1}, {4, -1e100}}, want{0.5, -1e100, 1e100, 2, 4, 1, -1e100}},
	{"sum overflows, avg does not", []pt{{1, math.MaxFloat64}, {2, math.MaxFloat64}},
		want{math.MaxFloat64, math.MaxFloat64, math.MaxFloat64, math.Inf(1), 2, math.MaxFloat64, math.MaxFloat64}},
	{"infinite value", []pt{{1, math.Inf(1)}, {2, 1}}, want{math.Inf(1), 1, math.Inf(1), math.Inf(1), 2, math.Inf(1), 1}},
	{"NaN value", []pt{{1, 1}, {2, nan}, {3, 2}}, want{nan, nan, nan, nan, 3, 1, 2}},
	{"negative zero", []pt{{1, 0}, {2, math.Copysign(0, -1)}}, want{0, math.Copysign(0, -1), 0, 0, 2, 0, math.Copysign(0, -1)}},
}

func TestAcc(t *testing.T) {
	for _, tt := range accTests {
		t.Run(tt.name, func(t *testing.T) {
			var a Acc
			for _, p := range tt.pts {
				a.Add(p.ts, p.v)
			}
			if a.N() != len(tt.pts) {
				t.Errorf("N() = %d, want %d", a.N(), len(tt.pts))
			}
			for i, agg := range aggs {
				if got := a.Result(agg); !same(got, tt.want[i]) {
					t.Errorf("Result(%s) = %v, want %v", agg, got, tt.want[i])
				}
			}
			// Reset empties it, and it starts again as new.
			a.Reset()
			if a.N() != 0 || !math.IsNaN(a.Result(Sum)) {
				t.Errorf("after Reset: N() = %d, sum %v", a.N(), a.Result(Sum))
			}
			for _, p := range tt.pts {
				a.Add(p.ts, p.v)
			}
			for i, agg := range aggs {
				if got := a.Result(agg); !same(got, tt.want[i]) {
					t.Errorf("after Reset, Result(%s) = %v, want %v", agg, got, tt.want[i])
				}
			}
		})
	}
}

// same compares floats, telling -0 from 0 and NaN equal to NaN.
func same(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
}

func TestAccResultNone(t *testing.T) {
	var a Acc
	a.Add(1, 1)
	for _, agg := range []Agg{None, "median", "AVG"} {
		if got := a.Result(agg); !math.IsNaN(got) {
			t.Errorf("Result(%q) = %v, want NaN", agg, got)
		}
	}
}

func TestAccNoAllocs(t *testing.T) {
	var a Acc
	allocs := testing.AllocsPerRun(100, func() {
		a.Add(1, 2)
		a.Add(0, 3)
		_ = a.Result(Avg) + a.Result(Last)
		a.Reset()
	})
	if allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
}

func TestIntervalStart(t *testing.T) {
	const (
		minute = 60_000
		hour   = 3600_000
		day    = 86400_000
		week   = 7 * day
	)
	tests := []struct {
		ts, every, want int64
	}{
		{0, minute, 0},
		{1, minute, 0},
		{minute - 1, minute, 0},
		{minute, minute, minute},
		{1714564800000 + 59_999, minute, 1714564800000},
		{1714567199999, hour, 1714564800000},        // 12:59:59.999 -> 12:00
		{1714564800000, day, 1714521600000},         // 2024-05-01T12:00Z -> midnight
		{1714521600000, day, 1714521600000},         // midnight itself
		{1714564800000, week, 1714608000000 - week}, // Thursday 2024-04-25T00:00Z
		{1714564800123, 1, 1714564800123},
		{1714564800123, 1000, 1714564800000},
		{1714564800123, 7, 1714564800123 - 1714564800123%7},
		{math.MaxInt64, day, math.MaxInt64 - math.MaxInt64%day},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{math.MaxInt64 - 1, math.MaxInt64, 0},
		{5, 0, 5},
		{5, -10, 5},
		{-1, minute, -minute},
		{-minute, minute, -minute},
		{-minute - 1, minute, -2 * minute},
		{math.MinInt64, day, math.MinInt64},
		{math.MinInt64 + 2, math.MaxInt64, math.MinInt64 + 1},
		{math.MinInt64, 3, math.MinInt64}, // the floor, MinInt64-1, is beyond int64
	}
	for _, tt := range tests {
		if got := IntervalStart(tt.ts, tt.every); got != tt.want {
			t.Errorf("IntervalStart(%d, %d) = %d, want %d", tt.ts, tt.every, got, tt.want)
		}
	}
}
