package query

import "math"

// Acc accumulates the values of one field in one interval and gives any
// aggregate of them. Its zero value is empty and ready; it does not
// allocate. Values may come in any order of time: first and last are the
// values with the earliest and the latest time, the first added winning a
// tie for first and the last added a tie for last.
//
// The sum is compensated (Neumaier), so that adding 0.1 ten times gives 1;
// beyond float64's range it is ±Inf, but avg is still right while each
// value is in range. A NaN added makes avg, sum, min and max NaN.
type Acc struct {
	n               int
	sum, comp       float64 // the sum is sum+comp
	mean            float64 // a running mean, for when sum overflows
	min, max        float64
	first, last     float64
	firstTS, lastTS int64
}

// Add adds the value v measured at ts (ms since the epoch).
func (a *Acc) Add(ts int64, v float64) {
	a.n++
	if a.n == 1 {
		*a = Acc{n: 1, sum: v, mean: v, min: v, max: v, first: v, last: v, firstTS: ts, lastTS: ts}
		return
	}
	t := a.sum + v
	if math.Abs(a.sum) >= math.Abs(v) {
		a.comp += (a.sum - t) + v
	} else {
		a.comp += (v - t) + a.sum
	}
	a.sum = t
	a.mean += (v - a.mean) / float64(a.n)
	a.min = math.Min(a.min, v)
	a.max = math.Max(a.max, v)
	if ts < a.firstTS {
		a.first, a.firstTS = v, ts
	}
	if ts >= a.lastTS {
		a.last, a.lastTS = v, ts
	}
}

// N returns the number of values added.
func (a *Acc) N() int { return a.n }

// Result returns the aggregate agg of the values added: NaN when there are
// none (for count too: no record is written for an empty interval), or
// when agg is not one of the functions.
func (a *Acc) Result(agg Agg) float64 {
	if a.n == 0 {
		return math.NaN()
	}
	switch agg {
	case Avg:
		s := a.total()
		if math.IsInf(s, 0) && !math.IsInf(a.mean, 0) && !math.IsNaN(a.mean) {
			return a.mean // the values are in range, their sum is not
		}
		return s / float64(a.n)
	case Min:
		return a.min
	case Max:
		return a.max
	case Sum:
		return a.total()
	case Count:
		return float64(a.n)
	case First:
		return a.first
	case Last:
		return a.last
	}
	return math.NaN()
}

// total is the compensated sum.
func (a *Acc) total() float64 {
	if math.IsInf(a.sum, 0) {
		return a.sum // comp is NaN or meaningless past an overflow
	}
	return a.sum + a.comp
}

// Reset empties a, for the next interval.
func (a *Acc) Reset() { *a = Acc{} }

// IntervalStart returns the start of the interval of every ms that holds
// ts: ts rounded down to a multiple of every since the Unix epoch, so that
// 1h intervals start on the hour and 1d intervals at UTC midnight. It is
// exact for any ts >= 0; below, it rounds down too, to math.MinInt64 at
// worst. An every of 0 or less returns ts.
func IntervalStart(ts, every int64) int64 {
	if every <= 0 {
		return ts
	}
	r := ts % every
	if r >= 0 {
		return ts - r
	}
	if start := ts - r; start >= math.MinInt64+every {
		return start - every
	}
	return math.MinInt64
}
