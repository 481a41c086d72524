package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/perch-gw/perch/gateway/loadgen"
)

func micros(d time.Duration) float64 {
	if d < 0 {
		return math.NaN()
	}
	return float64(d) / float64(time.Microsecond)
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "; error: " + err.Error()
}

// Each step lists its metrics with Perch's goal for each, as issue #2 sets
// them: ratios compare Perch with Mosquitto measured in the same run.

func throughputStep(s loadgen.Throughput) step {
	// An unthrottled publisher can outrun a subscriber: past its queue
	// limit a broker drops, at QoS 1 too. Perch should drop no more.
	loss := metric{"loss", fmtPercent, goal{}}
	if s.QoS > 0 {
		loss.goal = atMostRatio(1)
	}
	return step{
		group: "throughput",
		label: "throughput: " + s.Name(),
		metrics: []metric{
			{"delivered msg/s", fmtRate, atLeastRatio(1)},
			{"published msg/s", fmtRate, goal{}},
			loss,
			{"broker CPU per delivered msg", fmtMicros, goal{}},
		},
		run: func(ctx context.Context, t loadgen.Target) (stepResult, error) {
			r, err := s.Run(ctx, t)
			return stepResult{
				values: []float64{r.DeliverRate, r.PublishRate, 100 * r.Loss, micros(r.BrokerCPUPerMsg)},
				detail: fmt.Sprintf("published %d in %s, delivered %d of %d, the last %s after publishing stopped; generator CPU %.1f µs/msg%s",
					r.Published, r.Elapsed.Round(time.Millisecond), r.Delivered, r.Expected, r.Drain.Round(time.Millisecond),
					micros(r.GeneratorCPUPerMsg), errText(r.Err)),
				others: r.OtherCPU,
			}, err
		},
	}
}

func latencyStep(s loadgen.Latency) step {
	lost := metric{"lost messages", fmtCount, goal{}}
	if s.QoS > 0 {
		lost.goal = atMost(0, "0")
	}
	return step{
		group: "latency",
		label: "latency: " + s.Name(),
		metrics: []metric{
			{"p50 publish→deliver", fmtMillis, goal{}},
			{"p90", fmtMillis, goal{}},
			{"p99", fmtMillis, atMostRatio(1)},
			{"max", fmtMillis, goal{}},
			lost,
			// Below the target rate, the broker was not keeping up: the
			// percentiles were measured at this lower rate.
			{"achieved rate (msg/s)", fmtRate, atLeast(0.99*float64(s.Rate), fmt.Sprintf("%d/s", s.Rate))},
			// At a fixed rate below capacity, CPU per message compares the
			// brokers' efficiency without saturation effects.
			{"broker CPU per delivered msg", fmtMicros, goal{}},
		},
		run: func(ctx context.Context, t loadgen.Target) (stepResult, error) {
			r, err := s.Run(ctx, t)
			l := r.Latency
			return stepResult{
				values: []float64{millis(l.P50), millis(l.P90), millis(l.P99), millis(l.Max), float64(r.Lost), r.Rate, micros(r.BrokerCPUPerMsg)},
				detail: fmt.Sprintf("sent %d in %s, received %d, %d ticks behind schedule%s",
					r.Sent, r.Elapsed.Round(time.Millisecond), r.Received, r.Late, errText(r.Err)),
				others: r.OtherCPU,
			}, err
		},
	}
}

func connectStep(s loadgen.ConnectRate, offset int) step {
	return step{
		group: "connect",
		label: "connect: " + s.Name(),
		metrics: []metric{
			{"connections/s", fmtRate, atLeast(500, "500/s")},
			{"p50 connect time", fmtMillis, goal{}},
			{"p99 connect time", fmtMillis, goal{}},
			{"broker CPU per connection", fmtMicros, goal{}},
		},
		run: func(ctx context.Context, t loadgen.Target) (stepResult, error) {
			t.Devices = t.Devices.Offset(offset)
			r, err := s.Run(ctx, t)
			c := r.ConnectTime
			return stepResult{
				values: []float64{r.Rate, millis(c.P50), millis(c.P99), micros(r.BrokerCPUPerConn)},
				detail: fmt.Sprintf("%d connected, %d failed in %s; max connect time %s%s",
					r.Connected, r.Failed, r.Elapsed.Round(time.Millisecond), c.Max.Round(time.Microsecond), errText(r.Err)),
				others: r.OtherCPU,
			}, err
		},
	}
}

func idleStep(s loadgen.Idle) step {
	return step{
		group: "idle",
		label: "idle: " + s.Name(),
		metrics: []metric{
			{"broker RSS before", fmtMiB, goal{}},
			{"broker RSS holding them", fmtMiB, atMost(300<<20, "300 MiB")},
			{"memory per connection", fmtKiB, goal{}},
			{"broker CPU while holding", fmtPercent, goal{}},
			{"refused or dropped", fmtCount, atMost(0, "0")},
		},
		run: func(ctx context.Context, t loadgen.Target) (stepResult, error) {
			r, err := s.Run(ctx, t)
			cpu := math.NaN()
			if r.HoldCPU >= 0 {
				cpu = 100 * r.HoldCPU
			}
			return stepResult{
				values: []float64{float64(r.RSSBefore), float64(r.RSSAfter), r.PerConn, cpu, float64(r.Failed + r.Dropped)},
				detail: fmt.Sprintf("%d opened in %s, %d refused, %d dropped while held%s",
					r.Opened, r.OpenTime.Round(time.Millisecond), r.Failed, r.Dropped, errText(r.Err)),
				others: r.OtherCPU,
			}, err
		},
	}
}

// ingestStep publishes 10-field JSON at QoS 1, first with no bucket and
// then (on Perch) into a bucket, back to back, so the slowdown the bucket
// costs is measured in one run (issue #3).
func ingestStep(s loadgen.Ingest) step {
	return step{
		group: "ingest",
		label: "ingest: " + s.Name(),
		metrics: []metric{
			{"acked msg/s, no bucket", fmtRate, goal{}},
			{"acked msg/s, into a bucket", fmtRate, atLeast(20000, "20,000/s")},
			{"points stored/s", fmtRate, atLeast(200000, "200,000/s")},
			{"slowdown from the bucket", fmtPercent, atMost(20, "20 %")},
			{"all points queryable after", fmtMillis, goal{}},
			{"bytes written per point", fmtBytes, goal{}},
			{"bytes on disk per point", fmtBytes, goal{}},
			{"write amplification", fmtRatio, atMost(4, "4×")},
			{"broker CPU per msg, into a bucket", fmtMicros, goal{}},
		},
		run: func(ctx context.Context, t loadgen.Target) (stepResult, error) {
			plain := s
			plain.Bucket = false
			r0, err := plain.Run(ctx, t)
			vals := []float64{r0.PublishRate, math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}
			detail := fmt.Sprintf("no bucket: %d acknowledged in %s%s", r0.Published, r0.Elapsed.Round(time.Millisecond), errText(r0.Err))
			if err != nil || t.Buckets == nil {
				return stepResult{values: vals, detail: detail, others: r0.OtherCPU}, err
			}
			with := s
			with.Bucket = true
			r1, err := with.Run(ctx, t)
			points := float64(r1.Stored)
			vals[1] = r1.PublishRate
			vals[2] = perSec(points, r1.Elapsed+r1.Queryable)
			vals[3] = 100 * (1 - r1.PublishRate/r0.PublishRate)
			vals[4] = millis(r1.Queryable)
			if points > 0 {
				vals[5] = float64(r1.Written) / points
				vals[6] = float64(r1.DiskBytes) / points
				vals[7] = vals[5] / vals[6]
			}
			vals[8] = micros(r1.BrokerCPUPerMsg)
			detail += fmt.Sprintf("; into a bucket: %d acknowledged in %s, %d points stored, %d bytes written, %d on disk%s",
				r1.Published, r1.Elapsed.Round(time.Millisecond), r1.Stored, r1.Written, r1.DiskBytes, errText(r1.Err))
			return stepResult{values: vals, detail: detail, others: max(r0.OtherCPU, r1.OtherCPU)}, err
		},
	}
}

func perSec(n float64, d time.Duration) float64 {
	if d <= 0 {
		return math.NaN()
	}
	return n / d.Seconds()
}

// distArm64 is the cross-built arm64 binary (`make cross`), whose size
// issue #5 bounds.
const distArm64 = "dist/perch_linux_arm64"

// footprintStep measures what Perch costs a Raspberry Pi (issue #5): sizes
// in MB (10⁶ bytes), start-up to a TLS handshake, RSS with idle devices
// and buckets, and the bytes written per idle hour.
func footprintStep(s loadgen.Footprint, arm64 string) step {
	return step{
		group: "footprint",
		label: "footprint: " + s.Name(),
		metrics: []metric{
			{"executable size (this run's binary)", fmtMB, goal{}},
			{"arm64 binary (" + arm64 + ")", fmtMB, atMost(20e6, "20 MB")},
			{"cold start to TLS handshake (median)", fmtMillis, atMost(300, "300 ms")},
			{"warm start to TLS handshake (median)", fmtMillis, goal{}},
			{"idle RSS with the devices (and buckets)", fmtMB, atMost(30e6, "30 MB")},
			{"bytes written per idle hour (wchar)", fmtKB, atMost(1e6, "1 MB")},
		},
		run: func(ctx context.Context, t loadgen.Target) (stepResult, error) {
			r, err := s.Run(ctx, t)
			vals := nanSlice(6)
			if r.BinarySize >= 0 {
				vals[0] = float64(r.BinarySize)
			}
			arm := ""
			if t.Name == "mosquitto" {
				arm = " (dynamically linked: its libraries, libmosquitto and OpenSSL among them, are not counted; " +
					"it keeps no state, so a warm start is a second cold one)"
			}
			if t.Name == "perch" {
				if fi, err := os.Stat(arm64); err == nil {
					vals[1] = float64(fi.Size())
				} else {
					arm = "; no " + arm64 + " (run make cross)"
				}
			}
			if r.ColdStart >= 0 {
				vals[2], vals[3] = millis(r.ColdStart), millis(r.WarmStart)
			}
			if r.RSS > 0 {
				vals[4] = float64(r.RSS)
			}
			if r.Written >= 0 {
				vals[5] = r.PerHour
			}
			detail := fmt.Sprintf("%s %s%s; cold starts %s, warm starts %s (exec to first TLS handshake on loopback, polled every 2 ms); "+
				"%d devices connected, %d buckets, RSS after %s; %d bytes written in %s idle (wchar counts write system calls, "+
				"logs included: the page cache may write fewer or more bytes to the card)%s",
				t.Name, t.Binary, arm, durations(r.ColdStarts), durations(r.WarmStarts),
				r.Connected, r.Buckets, s.Settle, r.Written, r.IdleTime.Round(100*time.Millisecond), errText(r.Err))
			return stepResult{values: vals, detail: detail, others: r.OtherCPU}, err
		},
	}
}

func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmt.Sprintf("%.1f", millis(d))
	}
	return strings.Join(s, ", ") + " ms"
}
