package loadgen

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Percentiles summarises a set of durations.
type Percentiles struct {
	Count              int
	P50, P90, P99, Max time.Duration
}

// percentiles sorts samples in place and returns their nearest-rank
// percentiles. No samples give the zero value.
func percentiles(samples []time.Duration) Percentiles {
	if len(samples) == 0 {
		return Percentiles{}
	}
	slices.Sort(samples)
	at := func(p float64) time.Duration {
		// nearest rank: the smallest sample with at least p of them at or below it
		k := int(math.Ceil(p*float64(len(samples)))) - 1
		return samples[min(max(k, 0), len(samples)-1)]
	}
	return Percentiles{
		Count: len(samples),
		P50:   at(0.50),
		P90:   at(0.90),
		P99:   at(0.99),
		Max:   samples[len(samples)-1],
	}
}

// forEach calls f(i) for every i in [0, n) from at most parallel
// goroutines and returns once every call has returned.
func forEach(n, parallel int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(max(parallel, 1), n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// perSecond returns n per second of d, or 0 for an empty interval.
func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// perItem returns d divided by n, or -1 when d is negative (not measured)
// or n is 0.
func perItem(d time.Duration, n uint64) time.Duration {
	if d < 0 || n == 0 {
		return -1
	}
	return d / time.Duration(n)
}

// waitDrained polls count until it reaches want, stops growing for
// `quiet`, or limit passes, whichever is first, and returns the last count.
func waitDrained(stop <-chan struct{}, count func() uint64, want uint64, quiet, limit time.Duration) uint64 {
	const every = 10 * time.Millisecond
	tick := time.NewTicker(every)
	defer tick.Stop()
	deadline := time.Now().Add(limit)
	last, lastChange := count(), time.Now()
	for last < want && time.Now().Before(deadline) && time.Since(lastChange) < quiet {
		select {
		case <-stop:
			return count()
		case <-tick.C:
		}
		if n := count(); n != last {
			last, lastChange = n, time.Now()
		}
	}
	return count()
}
