package store

// Benchmarks for the product's storage questions, each printed beside its
// reference in the same run:
//
//   - BenchmarkBytesPerPoint: bytes on disk per point for the sensor
//     profiles in testdata/profiles, for raw tstorage (ns and ms precision)
//     and for this store (Resolution 1 ms and 1 s), split into timestamps,
//     values and meta.json, with the Gorilla paper's 1.37 B/point beside
//     them; for the store also the bytes written per point (SD-card wear).
//     TestReportBytesPerPoint prints the same as a table, with
//     PERCH_BENCH_REPORT=1.
//   - BenchmarkWriteAmplification: bytes written per point at steady state
//     (a day at a time, with 7 days retained).
//   - BenchmarkAggregate7Days: avg of a week of 1 Hz data in 1,000
//     intervals, against raw tstorage's Select and a hand loop.
//   - BenchmarkExportCSV1M: Scan into the CSV export writer, rows/s and
//     peak heap for 100k and 1M rows.
//
// Run them with
//
//	go test -run '^$' -bench . -benchtime 3x ./gateway/store/
//	PERCH_BENCH_REPORT=1 go test -run TestReportBytesPerPoint -v -count=1 ./gateway/store/

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/nakabonne/tstorage"

	"github.com/perch-gw/perch/gateway/export"
	"github.com/perch-gw/perch/gateway/payload"
	"github.com/perch-gw/perch/gateway/query"
)

// benchGorilla is what the Gorilla paper (Pelkonen et al., VLDB 2015)
// reports for Facebook's production data: 1.37 bytes per point.
const benchGorilla = 1.37

// benchReportEnv enables TestReportBytesPerPoint.
const benchReportEnv = "PERCH_BENCH_REPORT"

// ---- Sensor profiles ----

// benchProfile is a sensor profile: a small deterministic spec from which
// benchGen generates the readings and their arrival times.
type benchProfile struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Seed        uint64       `json:"seed"`
	Start       time.Time    `json:"start"`
	DurationS   int64        `json:"duration_s"` // samples generated for a measurement
	PeriodMs    int64        `json:"period_ms"`
	PhaseMs     float64      `json:"phase_ms"`  // where in the gateway's second the device ticks
	DriftPPM    float64      `json:"drift_ppm"` // > 0: the device's clock runs fast
	Jitter      *benchJitter `json:"jitter"`    // nil: no arrival delay
	Device      string       `json:"device"`
	Topic       string       `json:"topic"`
	Fields      []benchField `json:"fields"`
}

// benchJitter is the arrival delay of a reading, in ms.
type benchJitter struct {
	Kind string `json:"kind"` // "uniform" or "wifi"
	// uniform: MinMs + U(0,1) × (MaxMs - MinMs)
	MinMs float64 `json:"min_ms"`
	MaxMs float64 `json:"max_ms"`
	// wifi: BaseMs + Exp(MeanMs), plus U(0, BeaconMs) with BeaconProb
	// (waiting for a power-saving station's next beacon), plus
	// U(RetryMinMs, RetryMaxMs) with RetryProb (retransmissions).
	BaseMs     float64 `json:"base_ms"`
	MeanMs     float64 `json:"mean_ms"`
	BeaconProb float64 `json:"beacon_prob"`
	BeaconMs   float64 `json:"beacon_ms"`
	RetryProb  float64 `json:"retry_prob"`
	RetryMinMs float64 `json:"retry_min_ms"`
	RetryMaxMs float64 `json:"retry_max_ms"`
}

// benchField is one reading of the sensor: start + a random walk of ±Step
// (taken with probability StepProb each sample) + DriftPerDay × days + a
// sine Cycle + white Noise, rounded to Resolution and given as the float64
// that decoding its decimal text (21.53) gives.
type benchField struct {
	Name        string      `json:"name"`
	Start       float64     `json:"start"`
	Resolution  float64     `json:"resolution"`
	Step        float64     `json:"step"`
	StepProb    float64     `json:"step_prob"`
	DriftPerDay float64     `json:"drift_per_day"`
	Cycle       *benchCycle `json:"cycle"`
	Noise       float64     `json:"noise"`
}

type benchCycle struct {
	Amplitude float64 `json:"amplitude"`
	PeriodS   float64 `json:"period_s"`
	PhaseS    float64 `json:"phase_s"`
}

func benchProfileDir() string { return filepath.Join("..", "..", "testdata", "profiles") }

func loadBenchProfiles(tb testing.TB) []*benchProfile {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(benchProfileDir(), "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no profiles in %s (%v)", benchProfileDir(), err)
	}
	var ps []*benchProfile
	for _, f := range files {
		ps = append(ps, loadBenchProfileFile(tb, f))
	}
	// The goal's profiles first, in this order; others after, by name.
	order := []string{"exact", "jitter", "wifi", "noisy"}
	rank := func(p *benchProfile) int {
		if i := slices.Index(order, p.Name); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(ps, func(a, b *benchProfile) int { return rank(a) - rank(b) })
	return ps
}

func loadBenchProfile(tb testing.TB, name string) *benchProfile {
	tb.Helper()
	return loadBenchProfileFile(tb, filepath.Join(benchProfileDir(), name+".json"))
}

func loadBenchProfileFile(tb testing.TB, path string) *benchProfile {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var p benchProfile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	switch {
	case p.Name == "" || p.PeriodMs <= 0 || p.DurationS <= 0 || len(p.Fields) == 0 || p.Device == "":
		tb.Fatalf("%s: name, period_ms, duration_s, device and fields are required", path)
	case p.Jitter != nil && p.Jitter.Kind != "uniform" && p.Jitter.Kind != "wifi":
		tb.Fatalf("%s: jitter kind %q (want uniform or wifi)", path, p.Jitter.Kind)
	}
	for _, f := range p.Fields {
		if _, _, ok := benchDecimal(f.Resolution); !ok {
			tb.Fatalf("%s: field %s: resolution %v is not a decimal step", path, f.Name, f.Resolution)
		}
	}
	return &p
}

// samples is how many readings a measurement generates: the spec's
// duration at its period.
func (p *benchProfile) samples() int64 { return p.DurationS * 1000 / p.PeriodMs }

func (p *benchProfile) startMs() int64 { return p.Start.UnixMilli() }

func (p *benchProfile) labels() []tstorage.Label {
	return []tstorage.Label{{Name: "device", Value: p.Device}, {Name: "topic", Value: p.Topic}}
}

// benchDecimal writes res as r / 10^k.
func benchDecimal(res float64) (r int64, k int, ok bool) {
	if res <= 0 {
		return 0, 0, false
	}
	for k = 0; k <= maxScale; k++ {
		x := res * pow10[k]
		if rx := math.Round(x); rx >= 1 && math.Abs(x-rx) < 1e-9*rx {
			return int64(rx), k, true
		}
	}
	return 0, 0, false
}

// benchGen generates a profile's readings in order. Arrival times and
// values come from separate random streams, so a run with constant values
// has exactly the timestamps of the real run.
type benchGen struct {
	p        *benchProfile
	constant bool
	rt, rv   *rand.Rand
	i        int64
	startNs  int64
	periodNs float64
	phaseNs  float64
	res      []int64 // per field: resolution = res / 10^scale
	scale    []int
	walk     []float64
	vals     []float64
}

// gen starts generating p's readings; with constant, every value stays at
// its field's start.
func (p *benchProfile) gen(constant bool) *benchGen {
	g := &benchGen{
		p:        p,
		constant: constant,
		rt:       rand.New(rand.NewPCG(p.Seed, 1)),
		rv:       rand.New(rand.NewPCG(p.Seed, 2)),
		startNs:  p.Start.UnixNano(),
		periodNs: float64(p.PeriodMs) * 1e6 * (1 - p.DriftPPM*1e-6),
		phaseNs:  p.PhaseMs * 1e6,
		res:      make([]int64, len(p.Fields)),
		scale:    make([]int, len(p.Fields)),
		walk:     make([]float64, len(p.Fields)),
		vals:     make([]float64, len(p.Fields)),
	}
	for i, f := range p.Fields {
		g.res[i], g.scale[i], _ = benchDecimal(f.Resolution)
	}
	return g
}

// next returns the next reading's arrival time (ns since the epoch) and its
// values (reused by the next call).
func (g *benchGen) next() (int64, []float64) {
	p := g.p
	delayMs := 0.0
	if j := p.Jitter; j != nil {
		switch j.Kind {
		case "uniform":
			delayMs = j.MinMs + g.rt.Float64()*(j.MaxMs-j.MinMs)
		case "wifi":
			delayMs = j.BaseMs + g.rt.ExpFloat64()*j.MeanMs
			if g.rt.Float64() < j.BeaconProb {
				delayMs += g.rt.Float64() * j.BeaconMs
			}
			if g.rt.Float64() < j.RetryProb {
				delayMs += j.RetryMinMs + g.rt.Float64()*(j.RetryMaxMs-j.RetryMinMs)
			}
		}
	}
	ts := g.startNs + int64(math.Round(float64(g.i)*g.periodNs+g.phaseNs+delayMs*1e6))
	t := float64(g.i*p.PeriodMs) / 1000 // the sample's own time, s
	for k, f := range p.Fields {
		v := f.Start
		if !g.constant {
			if f.StepProb > 0 && g.rv.Float64() < f.StepProb {
				if g.rv.Float64() < 0.5 {
					g.walk[k] -= f.Step
				} else {
					g.walk[k] += f.Step
				}
			}
			v += g.walk[k] + f.DriftPerDay*t/86400
			if c := f.Cycle; c != nil && c.PeriodS > 0 {
				v += c.Amplitude * math.Sin(2*math.Pi*(t+c.PhaseS)/c.PeriodS)
			}
			if f.Noise > 0 {
				v += f.Noise * g.rv.NormFloat64()
			}
		}
		m := math.Round(v/f.Resolution) * float64(g.res[k])
		g.vals[k] = m / pow10[g.scale[k]] // what parsing the decimal text gives
	}
	g.i++
	return ts, g.vals
}

// benchProfileStats describes what a profile generates: how often each
// value changes, and how regular its timestamps are at each precision.
type benchProfileStats struct {
	samples int64
	changes []int64 // per field: readings that differ from the one before
	// per unit (ns, ms, s): delta-of-deltas that are not 0 (cost more than
	// a bit each), and repeated timestamps (two readings in one unit)
	irregular, repeated map[int64]int64
}

var benchUnits = []int64{1, 1e6, 1e9}

func (p *benchProfile) stats(n int64) benchProfileStats {
	st := benchProfileStats{samples: n, changes: make([]int64, len(p.Fields)), irregular: map[int64]int64{}, repeated: map[int64]int64{}}
	g := p.gen(false)
	prev := make([]float64, len(p.Fields))
	type tsState struct{ t, d int64 }
	states := make([]tsState, len(benchUnits))
	for i := range n {
		ts, vals := g.next()
		for k, v := range vals {
			if i > 0 && v != prev[k] {
				st.changes[k]++
			}
			prev[k] = v
		}
		for u, unit := range benchUnits {
			t := ts / unit
			s := &states[u]
			if i > 0 {
				d := t - s.t
				if d == 0 {
					st.repeated[unit]++
				}
				if i > 1 && d != s.d {
					st.irregular[unit]++
				}
				s.d = d
			}
			s.t = t
		}
	}
	return st
}

// ---- Measuring ----

// benchConfig is one way of storing a profile.
type benchConfig struct {
	name string
	raw  bool                        // raw tstorage, WAL off, 1 h partitions
	prec tstorage.TimestampPrecision // raw: its precision
	unit int64                       // ns per timestamp unit
	res  time.Duration               // store: Config.Resolution
}

var benchConfigs = []benchConfig{
	{name: "tstorage-ns", raw: true, prec: tstorage.Nanoseconds, unit: 1},
	{name: "tstorage-ms", raw: true, prec: tstorage.Milliseconds, unit: 1e6},
	{name: "store-1ms", res: time.Millisecond, unit: 1e6},
	{name: "store-1s", res: time.Second, unit: 1e9},
}

// benchUsage is what the engine's partitions hold on disk.
type benchUsage struct {
	parts      int
	data, meta int64
}

func (u benchUsage) total() int64 { return u.data + u.meta }

// benchPartitionUsage sums the data and meta.json files of the partitions in dir.
func benchPartitionUsage(tb testing.TB, dir string) benchUsage {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var u benchUsage
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "p-") {
			continue
		}
		u.parts++
		u.data += benchFileSize(filepath.Join(dir, e.Name(), "data"))
		u.meta += benchFileSize(filepath.Join(dir, e.Name(), "meta.json"))
	}
	return u
}

func benchFileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// benchProcIO returns a counter of /proc/self/io: wchar is the bytes this process
// has passed to write(2) and its kin, write_bytes the bytes of page cache it
// has dirtied (what the block device will be sent, a page at a time). It
// returns -1 where that is not available.
func benchProcIO(field string) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

func benchWchar() int64 { return benchProcIO("wchar") }

// benchRun is the outcome of storing n readings of a profile.
type benchRun struct {
	points int64
	disk   benchUsage
	// the store only
	written   int64 // wchar from Open to Close; -1 if unknown
	journal   int64 // bytes appended to the journal, framing included
	seriesLog int64
}

func benchIngest(tb testing.TB, dir string, p *benchProfile, c benchConfig, n int64, constant bool) benchRun {
	tb.Helper()
	if c.raw {
		return benchRawIngest(tb, dir, p, c, n, constant, len(p.Fields))
	}
	return benchStoreIngest(tb, dir, p, c.res, n, constant)
}

// benchRoller mirrors the engine's partitioning of in-order inserts, so that
// benchRawIngest can wait for each flush.
type benchRoller struct {
	dur, minT, maxT int64
	open            bool
	parts           int
}

// insert reports whether an insert at ts starts a partition after the first.
func (r *benchRoller) insert(ts int64) bool {
	rolled := false
	if r.parts == 0 {
		r.parts = 1
	}
	if r.open && r.maxT-r.minT+1 >= r.dur {
		r.parts++
		r.open, rolled = false, true
	}
	if !r.open {
		r.minT, r.maxT, r.open = ts, ts, true
	}
	r.maxT = max(r.maxT, ts)
	return rolled
}

// benchRawIngest stores n readings (their first nf fields) in raw tstorage, one
// InsertRows a reading as a gateway would, and closes it.
func benchRawIngest(tb testing.TB, dir string, p *benchProfile, c benchConfig, n int64, constant bool, nf int) benchRun {
	tb.Helper()
	eng := benchRawFill(tb, dir, p, c, n, constant, nf)
	if err := eng.Close(); err != nil {
		tb.Fatal(err)
	}
	return benchRun{points: n * int64(nf), disk: benchPartitionUsage(tb, dir), written: -1}
}

func benchRawFill(tb testing.TB, dir string, p *benchProfile, c benchConfig, n int64, constant bool, nf int) tstorage.Storage {
	tb.Helper()
	eng, err := tstorage.NewStorage(
		tstorage.WithDataPath(dir),
		tstorage.WithTimestampPrecision(c.prec),
		tstorage.WithWALBufferedSize(-1),
	)
	if err != nil {
		tb.Fatal(err)
	}
	labels := p.labels()
	rows := make([]tstorage.Row, nf)
	for i := range rows {
		rows[i].Metric, rows[i].Labels = p.Fields[i].Name, labels
	}
	roll := benchRoller{dur: int64(time.Hour) / c.unit}
	g := p.gen(constant)
	for range n {
		tns, vals := g.next()
		ts := tns / c.unit
		for i := range rows {
			rows[i].Timestamp, rows[i].Value = ts, vals[i]
		}
		rolled := roll.insert(ts)
		if err := eng.InsertRows(rows); err != nil {
			tb.Fatal(err)
		}
		if rolled && roll.parts > 2 {
			// The roll started a flush on a goroutine of the engine's;
			// let it finish before another can start on the same
			// partition (the engine does not guard against that).
			benchWaitRawFlushed(tb, dir, roll.parts-2)
		}
	}
	return eng
}

func benchWaitRawFlushed(tb testing.TB, dir string, want int) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		entries, err := os.ReadDir(dir)
		if err != nil {
			tb.Fatal(err)
		}
		got := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "p-") && benchFileSize(filepath.Join(dir, e.Name(), "meta.json")) > 0 {
				got++
			}
		}
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("tstorage flushed %d partitions in a minute, want %d", got, want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// benchOpen opens a store whose clock stands at now.
func benchOpen(tb testing.TB, dir string, res time.Duration, now int64) *Store {
	tb.Helper()
	s, err := Open(Config{Dir: dir, Resolution: res, SyncInterval: time.Second, Now: func() time.Time { return time.UnixMilli(now) }})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// benchWrite writes n readings from g (their first nf fields) through
// Store.Write, as the broker does: one message a reading.
func benchWrite(tb testing.TB, s *Store, g *benchGen, n int64, nf int, after func(ms int64)) {
	tb.Helper()
	p := g.p
	m := Message{Device: p.Device, Topic: p.Topic, Fields: make([]payload.Field, nf)}
	for i := range m.Fields {
		m.Fields[i].Name = p.Fields[i].Name
	}
	for range n {
		tns, vals := g.next()
		m.Time = tns / 1e6
		for i := range m.Fields {
			m.Fields[i].Value = vals[i]
		}
		if err := s.Write(m); err != nil {
			tb.Fatal(err)
		}
		if after != nil {
			after(m.Time)
		}
	}
}

// benchStoreIngest stores n readings in a new store and closes it, measuring the
// bytes the process writes meanwhile.
func benchStoreIngest(tb testing.TB, dir string, p *benchProfile, res time.Duration, n int64, constant bool) benchRun {
	tb.Helper()
	nf := len(p.Fields)
	w0 := benchWchar()
	s := benchOpen(tb, dir, res, p.startMs()+n*p.PeriodMs+time.Hour.Milliseconds())
	benchWrite(tb, s, p.gen(constant), n, nf, nil)
	js, ss := s.j.Stats().Bytes, s.sj.Stats().Bytes
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	w1 := benchWchar()
	r := benchRun{points: n * int64(nf), disk: benchPartitionUsage(tb, filepath.Join(dir, "ts")), written: -1, journal: int64(js), seriesLog: int64(ss)}
	if w0 >= 0 && w1 >= 0 {
		r.written = w1 - w0
	}
	if st := s.Stats(); st.Points != r.points {
		tb.Fatalf("store holds %d points, want %d", st.Points, r.points)
	}
	return r
}

// benchBytes is one row of the bytes-per-point table.
type benchBytes struct {
	profile, config string
	real, flat      benchRun // the profile's values, and constant values
	changes         int64    // values that differ from their predecessor
}

func (r benchBytes) perPoint(n int64) float64 { return float64(n) / float64(r.real.points) }

// total, timestamps, values, meta: bytes per point. The timestamps' share
// is the data of the same timestamps with constant values less the one bit
// the encoder writes for each unchanged value (a value cost, counted with
// the values); the values' share is the rest of the data.
func (r benchBytes) total() float64  { return r.perPoint(r.real.disk.total()) }
func (r benchBytes) ts() float64     { return r.perPoint(r.flat.disk.data) - 1.0/8 }
func (r benchBytes) values() float64 { return r.perPoint(r.real.disk.data-r.flat.disk.data) + 1.0/8 }
func (r benchBytes) meta() float64   { return r.perPoint(r.real.disk.meta) }

// bitsPerChange is what a changed value costs: the bit of an unchanged one
// plus what the real values added over constant ones, per change.
func (r benchBytes) bitsPerChange() float64 {
	if r.changes == 0 {
		return 0
	}
	return 1 + float64(r.real.disk.data-r.flat.disk.data)*8/float64(r.changes)
}

func (r benchBytes) writtenPerPoint() float64 { return r.perPoint(r.real.written) }

func (r benchBytes) amplification() float64 {
	return float64(r.real.written) / float64(r.real.disk.total())
}

func benchMeasureBytes(tb testing.TB, p *benchProfile, c benchConfig, st benchProfileStats) benchBytes {
	tb.Helper()
	root := tb.TempDir()
	r := benchBytes{profile: p.Name, config: c.name}
	r.real = benchIngest(tb, filepath.Join(root, "real"), p, c, st.samples, false)
	r.flat = benchIngest(tb, filepath.Join(root, "flat"), p, c, st.samples, true)
	for _, n := range st.changes {
		r.changes += n
	}
	return r
}

// ---- A: bytes per point ----

// BenchmarkBytesPerPoint stores a day of each profile (one op: ingest and
// Close) in each configuration and reports bytes on disk per point: total
// (data + meta.json of the partitions after Close), the timestamps' share,
// the values' share (see benchBytes.ts) and meta.json's (the per-series,
// per-partition overhead). For the store also the bytes written
// per point from Open to Close (wchar: journal, series log, manifest,
// partitions) and their ratio to the bytes on disk.
func BenchmarkBytesPerPoint(b *testing.B) {
	b.Run("gorilla-paper", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(benchGorilla, "B/point")
	})
	for _, p := range loadBenchProfiles(b) {
		st := p.stats(p.samples())
		for _, c := range benchConfigs {
			b.Run(p.Name+"/"+c.name, func(b *testing.B) {
				root := b.TempDir()
				var run benchRun
				for i := range b.N {
					run = benchIngest(b, filepath.Join(root, strconv.Itoa(i)), p, c, st.samples, false)
				}
				b.StopTimer()
				r := benchBytes{profile: p.Name, config: c.name, real: run}
				r.flat = benchIngest(b, filepath.Join(root, "flat"), p, c, st.samples, true)
				b.ReportMetric(r.total(), "B/point")
				b.ReportMetric(r.ts(), "ts-B/point")
				b.ReportMetric(r.values(), "val-B/point")
				b.ReportMetric(r.meta(), "meta-B/point")
				if !c.raw && r.real.written >= 0 {
					b.ReportMetric(r.writtenPerPoint(), "wr-B/point")
					b.ReportMetric(r.amplification(), "wr/disk")
				}
			})
		}
	}
}

// TestReportBytesPerPoint prints BenchmarkBytesPerPoint's measurements as
// tables, and the write amplification at steady state. It takes a minute
// or so: it runs only with PERCH_BENCH_REPORT=1.
func TestReportBytesPerPoint(t *testing.T) {
	if os.Getenv(benchReportEnv) != "1" {
		t.Skip("set " + benchReportEnv + "=1 to measure bytes per point")
	}
	var out strings.Builder
	for _, p := range loadBenchProfiles(t) {
		st := p.stats(p.samples())
		var results []benchBytes
		for _, c := range benchConfigs {
			results = append(results, benchMeasureBytes(t, p, c, st))
		}
		benchWriteTable(&out, p, st, results)
	}
	t.Log("bytes on disk per point\n\n" + out.String())

	out.Reset()
	p := loadBenchProfile(t, "jitter")
	ss := benchOpenSteady(t, t.TempDir(), p, time.Second, 7*24*time.Hour)
	ss.write(t, 7*86400) // fill the retention
	fmt.Fprintf(&out, "profile %s, store-1s, retention 7 days, after 7 days of data; one more day at a time:\n\n", p.Name)
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "day\twritten B/point\tjournal\tpartitions\tseries log\tmanifest+other\ton disk B/point\twritten/on disk\tmanifest bytes\t~manifest saves\tpartitions kept\t")
	for day := 8; day <= 9; day++ {
		d := ss.day(t)
		pp := func(n int64) string { return fmt.Sprintf("%.2f", float64(n)/float64(d.points)) }
		other := d.written - d.journal - d.parts - d.seriesLog
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.2fx\t%d\t%.0f\t%d\t\n", day, pp(d.written), pp(d.journal), pp(d.parts), pp(d.seriesLog),
			pp(other), d.diskPerPoint, float64(d.written)/float64(d.points)/d.diskPerPoint, d.manifest, float64(other)/float64(d.manifest), d.kept)
	}
	tw.Flush()
	ss.close(t)
	const seconds = 20
	wchar, journal, dirtied := benchRealtimeWear(t, t.TempDir(), p, seconds)
	fmt.Fprintf(&out, "\nin real time (%d readings at 1 Hz, SyncInterval 1 s, before any partition is flushed): %.1f B/point passed to write(2) "+
		"(journal %.1f), %.0f B/point of page cache dirtied (sent to the card)\n", seconds, wchar, journal, dirtied)
	t.Log("bytes written per stored point at steady state (SD-card wear), goal <= 4x the bytes on disk\n\n" + out.String())
}

func benchWriteTable(w io.Writer, p *benchProfile, st benchProfileStats, results []benchBytes) {
	fmt.Fprintf(w, "profile %s: %d readings x %d fields = %d points\n", p.Name, st.samples, len(p.Fields), st.samples*int64(len(p.Fields)))
	var changes []string
	var all int64
	for i, f := range p.Fields {
		changes = append(changes, fmt.Sprintf("%s %.1f%%", f.Name, 100*float64(st.changes[i])/float64(st.samples-1)))
		all += st.changes[i]
	}
	fmt.Fprintf(w, "  values that change from one reading to the next: %s; all %.1f%%\n", strings.Join(changes, ", "),
		100*float64(all)/float64((st.samples-1)*int64(len(p.Fields))))
	var regular []string
	for _, u := range benchUnits {
		name := map[int64]string{1: "ns", 1e6: "ms", 1e9: "s"}[u]
		regular = append(regular, fmt.Sprintf("%s %.2f%% (%d repeated)", name, 100*float64(st.irregular[u])/float64(st.samples-2), st.repeated[u]))
	}
	fmt.Fprintf(w, "  timestamps with a delta-of-delta other than 0, by unit (repeated: two readings in one unit, of which Scan shows one): %s\n\n",
		strings.Join(regular, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "config\tB/point\ttimestamps\tvalues\tmeta.json\tpartitions\tbits/changed value\twritten B/point\tof which journal\twritten/on disk\t")
	for _, r := range results {
		wr, jr, amp := "-", "-", "-"
		if r.real.written >= 0 {
			wr, jr, amp = fmt.Sprintf("%.2f", r.writtenPerPoint()), fmt.Sprintf("%.2f", r.perPoint(r.real.journal)), fmt.Sprintf("%.2fx", r.amplification())
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%.1f\t%s\t%s\t%s\t\n", r.config, r.total(), r.ts(), r.values(), r.meta(), r.real.disk.parts,
			r.bitsPerChange(), wr, jr, amp)
	}
	fmt.Fprintf(tw, "gorilla paper\t%.3f\t\t\t\t\t\t\t\t\t\n", benchGorilla)
	tw.Flush()
	fmt.Fprintln(w)
}

// ---- Write amplification at steady state ----

// benchSteady is a store fed a profile continuously, its clock following
// the data, so that retention drops partitions as new ones come.
type benchSteady struct {
	s   *Store
	p   *benchProfile
	g   *benchGen
	now atomic.Int64
	dir string
}

func benchOpenSteady(tb testing.TB, dir string, p *benchProfile, res time.Duration, retention time.Duration) *benchSteady {
	tb.Helper()
	ss := &benchSteady{p: p, g: p.gen(false), dir: dir}
	ss.now.Store(p.startMs())
	s, err := Open(Config{Dir: dir, Resolution: res, Retention: retention, SyncInterval: time.Second,
		Now: func() time.Time { return time.UnixMilli(ss.now.Load()) }})
	if err != nil {
		tb.Fatal(err)
	}
	ss.s = s
	return ss
}

func (ss *benchSteady) close(tb testing.TB) {
	if err := ss.s.Close(); err != nil {
		tb.Error(err)
	}
}

func (ss *benchSteady) write(tb testing.TB, n int64) {
	tb.Helper()
	benchWrite(tb, ss.s, ss.g, n, len(ss.p.Fields), func(ms int64) { ss.now.Store(ms) })
}

// benchDay is what one more day of data cost.
type benchDay struct {
	points                             int64
	written, journal, parts, seriesLog int64 // bytes written
	diskPerPoint                       float64
	manifest                           int64 // its size at the end
	kept                               int   // partitions on disk
}

func (ss *benchSteady) manifestParts() []partInfo {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	return slices.Clone(ss.s.man.Partitions)
}

// drain waits until the writer has moved every point into the engine and
// recorded every partition the engine flushed: Write runs ahead of it by up
// to MaxPending points, hours of data at the speed a benchmark writes.
func (ss *benchSteady) drain(tb testing.TB) {
	tb.Helper()
	s := ss.s
	deadline := time.Now().Add(time.Minute)
	for {
		s.mu.Lock()
		busy := len(s.pending) + len(s.held) + len(s.older)
		s.mu.Unlock()
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the writer still has %d points or partitions to handle after a minute", busy)
		}
		time.Sleep(time.Millisecond)
	}
}

// day writes one more day and measures what the process wrote for it.
func (ss *benchSteady) day(tb testing.TB) benchDay {
	tb.Helper()
	s := ss.s
	ss.drain(tb)
	before := ss.manifestParts()
	j0, sj0 := s.j.Stats().Bytes, s.sj.Stats().Bytes
	w0 := benchWchar()
	ss.write(tb, 86400*1000/ss.p.PeriodMs)
	ss.drain(tb)
	w1 := benchWchar()
	d := benchDay{
		points:    86400 * 1000 / ss.p.PeriodMs * int64(len(ss.p.Fields)),
		written:   w1 - w0,
		journal:   int64(s.j.Stats().Bytes - j0),
		seriesLog: int64(s.sj.Stats().Bytes - sj0),
		manifest:  benchFileSize(filepath.Join(ss.dir, manifestName)),
	}
	after := ss.manifestParts()
	var onDisk, points int64
	for _, p := range after {
		size := p.DataSize + benchFileSize(filepath.Join(ss.dir, "ts", p.Name, "meta.json"))
		onDisk += size
		points += p.Points
		if !slices.ContainsFunc(before, func(q partInfo) bool { return q.Name == p.Name }) {
			d.parts += size
		}
	}
	d.kept = len(after)
	d.diskPerPoint = float64(onDisk) / float64(points)
	return d
}

// benchRealtimeWear writes the profile's readings at their real pace (one a
// period) for n periods into a store with the product's settings
// (SyncInterval 1 s), stamped with the real time, and returns, per point,
// what the process passed to write(2), what of it the journal appended, and
// what it dirtied in the page cache: every fsync of the journal sends its
// last page to the card again.
func benchRealtimeWear(tb testing.TB, dir string, p *benchProfile, n int) (wchar, journal, dirtied float64) {
	tb.Helper()
	s, err := Open(Config{Dir: dir, Resolution: time.Second, SyncInterval: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	g := p.gen(false)
	m := Message{Device: p.Device, Topic: p.Topic, Fields: make([]payload.Field, len(p.Fields))}
	write := func() {
		_, vals := g.next()
		m.Time = time.Now().UnixMilli()
		for i, f := range p.Fields {
			m.Fields[i] = payload.Field{Name: f.Name, Value: vals[i]}
		}
		if err := s.Write(m); err != nil {
			tb.Fatal(err)
		}
	}
	synced := func() { // waits for the journal's fsync of every record
		deadline := time.Now().Add(time.Minute)
		for st := s.j.Stats(); st.Synced < st.Records; st = s.j.Stats() {
			if time.Now().After(deadline) {
				tb.Fatal("the journal did not fsync within a minute")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	write() // creates the series and the journal segment
	synced()
	w0, d0, j0 := benchProcIO("wchar"), benchProcIO("write_bytes"), s.j.Stats().Bytes
	tick := time.NewTicker(time.Duration(p.PeriodMs) * time.Millisecond)
	defer tick.Stop()
	for range n {
		<-tick.C
		write()
	}
	synced()
	w1, d1, j1 := benchProcIO("wchar"), benchProcIO("write_bytes"), s.j.Stats().Bytes
	points := float64(n * len(p.Fields))
	return float64(w1-w0) / points, float64(j1-j0) / points, float64(d1-d0) / points
}

// BenchmarkWriteAmplification writes a day of the jitter profile per op
// into a store (Resolution 1 s, retention 7 days) that already holds 7
// days, and reports the bytes the process wrote per point stored (wchar:
// journal, series log, manifest rewrites, partitions) beside the bytes on
// disk per point: the goal is at most 4 times.
func BenchmarkWriteAmplification(b *testing.B) {
	p := loadBenchProfile(b, "jitter")
	ss := benchOpenSteady(b, b.TempDir(), p, time.Second, 7*24*time.Hour)
	defer ss.close(b)
	ss.write(b, 7*86400)
	b.Run("retain=7d/day", func(b *testing.B) {
		if benchWchar() < 0 {
			b.Skip("no /proc/self/io")
		}
		var sum benchDay
		for range b.N {
			d := ss.day(b)
			sum.points += d.points
			sum.written += d.written
			sum.journal += d.journal
			sum.diskPerPoint = d.diskPerPoint
		}
		wr := float64(sum.written) / float64(sum.points)
		b.ReportMetric(wr, "wr-B/point")
		b.ReportMetric(float64(sum.journal)/float64(sum.points), "journal-B/point")
		b.ReportMetric(sum.diskPerPoint, "disk-B/point")
		b.ReportMetric(wr/sum.diskPerPoint, "wr/disk")
	})
}

// ---- B: aggregation ----

// BenchmarkAggregate7Days averages a week of 1 Hz readings of one field
// (604,800 points, in 168 partitions of an hour, read from disk after a
// Close and reopen) into 1,000 intervals with Scan, and does the same with
// raw tstorage's Select over the whole range and a hand loop.
func BenchmarkAggregate7Days(b *testing.B) {
	p := loadBenchProfile(b, "exact")
	const n = 7 * 86400
	const intervals = 1000
	from := p.startMs()
	span := n * p.PeriodMs
	every := span / intervals
	to := from + span - 1
	root := b.TempDir()

	// The store: written through Write, closed, reopened.
	now := to + time.Hour.Milliseconds()
	s := benchOpen(b, filepath.Join(root, "store"), 0, now)
	benchWrite(b, s, p.gen(false), n, 1, nil)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	s = benchOpen(b, filepath.Join(root, "store"), 0, now)
	defer s.Close()

	// The reference: the same points in raw tstorage at ms precision,
	// closed and reopened.
	rawDir := filepath.Join(root, "raw")
	msConfig := benchConfig{prec: tstorage.Milliseconds, unit: 1e6}
	if err := benchRawFill(b, rawDir, p, msConfig, n, false, 1).Close(); err != nil {
		b.Fatal(err)
	}
	eng, err := tstorage.NewStorage(tstorage.WithDataPath(rawDir), tstorage.WithTimestampPrecision(tstorage.Milliseconds),
		tstorage.WithWALBufferedSize(-1))
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()

	field := p.Fields[0].Name
	q := Query{From: from, To: to, Fields: []string{field}, Agg: query.Avg, Every: every}
	labels := p.labels()
	storeAgg := func(dst []point) []point {
		dst = dst[:0]
		err := s.Scan(q, func([]string) error { return nil }, func(r *Record) error {
			dst = append(dst, point{r.Time, r.Values[0]})
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		return dst
	}
	sums := make([]float64, intervals)
	counts := make([]int, intervals)
	rawAgg := func(dst []point) []point {
		dst = dst[:0]
		pts, err := eng.Select(field, labels, from, to+1)
		if err != nil {
			b.Fatal(err)
		}
		clear(sums)
		clear(counts)
		for _, pt := range pts {
			k := (pt.Timestamp - from) / every
			sums[k] += pt.Value
			counts[k]++
		}
		for k := range sums {
			if counts[k] > 0 {
				dst = append(dst, point{from + int64(k)*every, sums[k] / float64(counts[k])})
			}
		}
		return dst
	}

	got, want := storeAgg(nil), rawAgg(nil)
	if len(got) != intervals || len(want) != intervals {
		b.Fatalf("store gave %d intervals, tstorage %d; want %d", len(got), len(want), intervals)
	}
	for i := range got {
		if got[i].ts != want[i].ts || math.Abs(got[i].val-want[i].val) > 1e-9*math.Abs(want[i].val) {
			b.Fatalf("interval %d: store %v, tstorage %v", i, got[i], want[i])
		}
	}

	for _, c := range []struct {
		name string
		agg  func([]point) []point
	}{{"store", storeAgg}, {"tstorage-select", rawAgg}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []point
			for b.Loop() {
				buf = c.agg(buf)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
		})
	}
}

// ---- C: export ----

// benchHeapSampler records the peak of the heap every 10 ms until stopped.
type benchHeapSampler struct {
	stop, done chan struct{}
	peak, live uint64 // heap objects (live and not yet swept), live heap at the last GC
}

var benchHeapMetrics = []string{"/memory/classes/heap/objects:bytes", "/gc/heap/live:bytes"}

func benchHeapNow() (objects, live uint64) {
	s := []metrics.Sample{{Name: benchHeapMetrics[0]}, {Name: benchHeapMetrics[1]}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

func benchStartHeapSampler() *benchHeapSampler {
	h := &benchHeapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			o, l := benchHeapNow()
			h.peak, h.live = max(h.peak, o), max(h.live, l)
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

// Stop stops the sampler and returns the peaks.
func (h *benchHeapSampler) Stop() (peak, live uint64) {
	close(h.stop)
	<-h.done
	return h.peak, h.live
}

// BenchmarkExportCSV1M exports 100k and 1M rows (one device, four fields,
// 1 Hz, read from disk after a Close and reopen) with Scan into the CSV
// writer to io.Discard, and reports rows/s and the peak heap during the
// export, sampled every 10 ms: it should not grow with the rows.
func BenchmarkExportCSV1M(b *testing.B) {
	p := loadBenchProfile(b, "exact")
	const n = 1_000_000
	from := p.startMs()
	now := from + n*p.PeriodMs + time.Hour.Milliseconds()
	dir := b.TempDir()
	s := benchOpen(b, dir, 0, now)
	benchWrite(b, s, p.gen(false), n, len(p.Fields), nil)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	s = benchOpen(b, dir, 0, now)
	defer s.Close()

	for _, rows := range []int64{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%dk", rows/1000), func(b *testing.B) {
			q := Query{From: from, To: from + rows*p.PeriodMs - 1}
			runtime.GC()
			base, _ := benchHeapNow()
			h := benchStartHeapSampler()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if got := benchExportCSV(b, s, q); got != rows {
					b.Fatalf("exported %d rows, want %d", got, rows)
				}
			}
			b.StopTimer()
			peak, live := h.Stop()
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(live)/(1<<20), "peak-live-MB")
			b.ReportMetric(float64(base)/(1<<20), "base-heap-MB")
		})
	}
}

// benchExportCSV writes q's records as CSV to io.Discard, as the export endpoint
// does, and returns how many it wrote.
func benchExportCSV(tb testing.TB, s *Store, q Query) int64 {
	w, err := export.New(io.Discard, export.Options{Format: "csv", TSFormat: "ms"})
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	var rec export.Record
	err = s.Scan(q, w.Begin, func(r *Record) error {
		rec.Time, rec.Device, rec.Values = r.Time, r.Device, r.Values
		n++
		return w.Write(&rec)
	})
	if err == nil {
		err = w.End()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
