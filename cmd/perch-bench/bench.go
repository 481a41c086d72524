package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/perch-gw/perch/gateway/loadgen"
)

// options are the command-line flags.
type options struct {
	quick               bool
	only, out           string
	perch, perchArgs    string
	mosquitto           string
	noDelay             bool
	duration            time.Duration
	idleConns, connects int
	rate                int
	args                []string
}

// scenarioNames returns the groups --only accepts, in the order they run.
// footprint runs first, on a broker that has done nothing yet.
func scenarioNames() []string {
	return []string{"footprint", "idle", "connect", "throughput", "latency", "ingest"}
}

// step is one scenario run against each broker.
type step struct {
	group   string
	label   string
	metrics []metric
	run     func(context.Context, loadgen.Target) (stepResult, error)
}

// stepResult is one value per metric (NaN when not measured), a line of
// details, and the CPU other processes used meanwhile (in cores, -1 if
// unknown).
type stepResult struct {
	values []float64
	detail string
	others float64
}

// plan is what a run does: the steps, and how many devices each broker
// needs for them.
type plan struct {
	steps   []step
	devices int
	fds     uint64 // open files needed
	desc    string // durations and sizes, for the report
}

func newPlan(o options) (plan, error) {
	dur, idleN, connN := 10*time.Second, 10000, 2000
	if o.quick {
		dur, idleN, connN = 2*time.Second, 500, 300
	}
	if o.duration > 0 {
		dur = o.duration
	}
	if o.idleConns > 0 {
		idleN = o.idleConns
	}
	if o.connects > 0 {
		connN = o.connects
	}
	want := map[string]bool{}
	if o.only == "" {
		for _, n := range scenarioNames() {
			want[n] = true
		}
	}
	for n := range strings.SplitSeq(o.only, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(scenarioNames(), n) {
			return plan{}, fmt.Errorf("--only %q: unknown scenario (want %s)", n, strings.Join(scenarioNames(), ", "))
		}
		want[n] = true
	}

	var p plan
	p.devices = 11 // throughput: 10 publishers + 1 subscriber, or the reverse
	var desc []string
	if want["footprint"] {
		f := loadgen.Footprint{Devices: 10, Buckets: 5, Starts: 5, Settle: 5 * time.Second, Idle: time.Minute}
		if o.quick {
			f.Starts, f.Settle, f.Idle = 3, 2*time.Second, 10*time.Second
		}
		p.steps = append(p.steps, footprintStep(f, distArm64))
		desc = append(desc, fmt.Sprintf("footprint %d starts, %s idle", f.Starts, f.Idle))
	}
	if want["idle"] {
		p.steps = append(p.steps, idleStep(loadgen.Idle{Conns: idleN, Hold: min(dur/2, 5*time.Second)}))
		p.devices = max(p.devices, idleN)
		p.fds = uint64(idleN) + 1024
		desc = append(desc, fmt.Sprintf("idle %d connections", idleN))
	}
	if want["connect"] {
		// Connections use devices no earlier scenario has logged in, so
		// every one is a first login (no cached credential check).
		offset := 0
		if want["idle"] {
			offset = idleN
		}
		p.steps = append(p.steps, connectStep(loadgen.ConnectRate{Total: connN, Concurrency: 32}, offset))
		p.devices = max(p.devices, offset+connN)
		desc = append(desc, fmt.Sprintf("connect %d, 32 at a time", connN))
	}
	if want["throughput"] {
		for _, s := range []loadgen.Throughput{
			{Publishers: 10, Subscribers: 1, QoS: 0},
			{Publishers: 10, Subscribers: 1, QoS: 1},
			{Publishers: 1, Subscribers: 10, QoS: 0},
			{Publishers: 1, Subscribers: 10, QoS: 1},
		} {
			s.Duration = dur
			p.steps = append(p.steps, throughputStep(s))
		}
		desc = append(desc, fmt.Sprintf("throughput %s each", dur))
	}
	if want["latency"] {
		for _, qos := range []byte{0, 1} {
			p.steps = append(p.steps, latencyStep(loadgen.Latency{Rate: o.rate, QoS: qos, Duration: dur}))
		}
		desc = append(desc, fmt.Sprintf("latency %d msg/s for %s", o.rate, dur))
	}
	if want["ingest"] {
		p.steps = append(p.steps, ingestStep(loadgen.Ingest{Publishers: 10, Duration: dur}))
		desc = append(desc, fmt.Sprintf("ingest %s with and without a bucket", dur))
	}
	if len(p.steps) == 0 {
		return p, errors.New("no scenario selected")
	}
	p.desc = strings.Join(desc, "; ")
	return p, nil
}

// brokerRun holds one broker's results: values[i][j] is step i's metric j.
type brokerRun struct {
	name, version string
	values        [][]float64
	details       []string
	maxOthers     float64 // the most CPU other processes used during a step, in cores
	err           error   // the broker could not be started
}

func newBrokerRun(name string, p plan) *brokerRun {
	b := &brokerRun{name: name, values: make([][]float64, len(p.steps)), details: make([]string, len(p.steps))}
	for i, s := range p.steps {
		b.values[i] = nanSlice(len(s.metrics))
	}
	return b
}

func nanSlice(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

// runSteps runs every step against t. A failed step is recorded and the
// next one runs; it returns the first failure.
func (b *brokerRun) runSteps(ctx context.Context, p plan, t loadgen.Target, log *slog.Logger) error {
	var first error
	for i, s := range p.steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		log.Info("running", "broker", b.name, "scenario", s.label)
		r, err := s.run(ctx, t)
		b.details[i] = r.detail
		if r.others >= 0 {
			b.details[i] += fmt.Sprintf("; other processes %.2f cores", r.others)
			b.maxOthers = max(b.maxOthers, r.others)
		}
		if err == nil && len(r.values) == len(s.metrics) {
			b.values[i] = r.values
		}
		if err != nil {
			log.Error("scenario failed", "broker", b.name, "scenario", s.label, "err", err)
			b.details[i] += "; FAILED: " + err.Error()
			first = cmpOr(first, fmt.Errorf("%s %s: %w", b.name, s.label, err))
		}
	}
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// run executes the plan against Mosquitto, then Perch, and writes the report.
func run(ctx context.Context, o options, log *slog.Logger) error {
	p, err := newPlan(o)
	if err != nil {
		return err
	}
	if p.fds > 0 {
		// Before any broker starts, so that the brokers inherit it.
		if _, err := loadgen.RaiseFileLimit(p.fds); err != nil {
			return err
		}
	}
	started := time.Now()
	var runs []*brokerRun
	var errs []error

	if o.mosquitto != "none" {
		b := newBrokerRun("Mosquitto", p)
		runs = append(runs, b)
		errs = append(errs, runMosquitto(ctx, o, p, b, log))
	}
	if o.perch != "none" {
		b := newBrokerRun("Perch", p)
		runs = append(runs, b)
		errs = append(errs, runPerch(ctx, o, p, b, log))
	}
	if len(runs) == 0 {
		return errors.New("both brokers skipped")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	report := renderReport(p, runs, reportInfo{
		machine: machine(),
		started: started,
		elapsed: time.Since(started),
		args:    o.args,
		noDelay: o.noDelay,
	})
	fmt.Print(report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func runMosquitto(ctx context.Context, o options, p plan, b *brokerRun, log *slog.Logger) error {
	m, err := loadgen.StartMosquitto(ctx, loadgen.MosquittoConfig{
		Binary:  o.mosquitto,
		Devices: p.devices,
		NoDelay: o.noDelay,
		Logger:  log,
	})
	if err != nil {
		b.err = err
		return err
	}
	defer m.Close()
	b.version = "Mosquitto " + m.Version()
	return b.runSteps(ctx, p, m.Target(), log)
}

func runPerch(ctx context.Context, o options, p plan, b *brokerRun, log *slog.Logger) error {
	bin := o.perch
	if bin == "" {
		dir, err := os.MkdirTemp("", "perch-bench-build-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		log.Info("building ./cmd/perch")
		if bin, err = loadgen.BuildPerch(ctx, dir); err != nil {
			b.err = err
			return err
		}
	}
	g, err := loadgen.StartPerch(ctx, loadgen.PerchConfig{
		Binary:  bin,
		Args:    strings.Fields(o.perchArgs),
		Devices: p.devices,
		Logger:  log,
	})
	if err != nil {
		b.err = err
		return err
	}
	defer g.Close()
	b.version = "Perch " + g.Version()
	return b.runSteps(ctx, p, g.Target(), log)
}
