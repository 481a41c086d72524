package upstream_test

// Benchmarks of the store-and-forward drain (issue 6; the numbers are in
// BENCHMARKS.md), each printed beside its reference in the same run:
//
//   - BenchmarkDrain: a backlog of 1,000,000 points (500,000 messages of 2
//     fields, from 10 devices, recorded while the link was down) drained
//     from a real store to Debian's Mosquitto on loopback, over TLS with a
//     password, at QoS 1: points/s from the start of Run until every point
//     is both received by a subscriber on Mosquitto and acknowledged
//     (Status().Buckets[0].LagPoints == 0). Beside it, "ceiling": a bare
//     paho publisher (no store, no cursor, no encoding) publishing the very
//     same batch payloads, byte for byte, at QoS 1 with the same in-flight
//     window to the same Mosquitto, with the same subscriber: what the
//     broker, TLS and the MQTT client allow on this machine.
//   - TestReportDrain prints the same as a Markdown table, with
//     PERCH_BENCH_UPSTREAM=1 (about 25 s).
//
//	go test -run '^$' -bench Drain -benchtime 1x ./gateway/upstream/
//	PERCH_BENCH_UPSTREAM=1 go test -run TestReportDrain -v -count=1 ./gateway/upstream/
//
// They never fail on speed. The live bridge's latency is measured in
// gateway/upstream_bench_test.go, with a whole gateway.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/perch-gw/perch/gateway/loadgen"
	"github.com/perch-gw/perch/gateway/payload"
	"github.com/perch-gw/perch/gateway/store"
	"github.com/perch-gw/perch/gateway/upstream"
)

// benchUpstreamEnv enables the report tests.
const benchUpstreamEnv = "PERCH_BENCH_UPSTREAM"

const (
	drainDevices  = 10
	drainMessages = 500_000 // of two fields each
	drainPoints   = 2 * drainMessages
	drainGoal     = 100_000 // points/s
	drainTimeout  = 5 * time.Minute
)

// drainCase is one configuration of the drain.
type drainCase struct {
	version         string // MQTT version of the link
	batch, inflight int
}

func (c drainCase) name() string {
	return fmt.Sprintf("mqtt%s/batch%d/inflight%d", c.version, c.batch, c.inflight)
}

var drainCases = []drainCase{
	{"5", upstream.DefaultBatchSize, upstream.DefaultInflight},
	{"3.1.1", upstream.DefaultBatchSize, upstream.DefaultInflight},
	{"5", 2000, upstream.DefaultInflight},
	{"3.1.1", 2000, upstream.DefaultInflight},
}

// drainResult is one drain, by Perch or by the bare publisher.
type drainResult struct {
	points, bytes int64 // distinct points and their batches' payload bytes, received upstream
	batches, dups int   // distinct batches received, and batches received again
	elapsed       time.Duration
	selfCPU       time.Duration // this process: the publisher and the subscriber
	brokerCPU     time.Duration // Mosquitto
	write         time.Duration // Perch: recording the backlog (not timed)
	others        float64       // cores used by other processes meanwhile
}

func (r drainResult) rate() float64 { return float64(r.points) / r.elapsed.Seconds() }

func perPoint(d time.Duration, n int64) string {
	if n == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f µs", float64(d.Microseconds())/float64(n))
}

// drainBench is a Mosquitto with a subscriber counting the batches.
type drainBench struct {
	tb  testing.TB
	m   *loadgen.Mosquitto
	rcv *batchCounter
}

func newDrainBench(tb testing.TB) *drainBench {
	tb.Helper()
	m := benchMosquitto(tb)
	return &drainBench{tb: tb, m: m, rcv: countBatches(tb, m)}
}

// benchMosquitto starts Debian's Mosquitto (TLS, password file) with two
// users: the publisher and the subscriber.
func benchMosquitto(tb testing.TB) *loadgen.Mosquitto {
	tb.Helper()
	if _, err := exec.LookPath("mosquitto"); err != nil {
		tb.Skip("mosquitto is not installed (apt-get install mosquitto): it is the upstream broker of these benchmarks")
	}
	m, err := loadgen.StartMosquitto(context.Background(), loadgen.MosquittoConfig{Devices: 2, Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Close)
	return m
}

// batchCounter is the cloud side: a paho MQTT 5 subscriber at QoS 1 that
// counts the distinct batches and their points from each batch's header
// (its "batch" id and "points"), cheaply, so that it takes as little CPU
// from the publisher as it can; it is the same for Perch and the ceiling.
type batchCounter struct {
	c *paho.Client

	mu       sync.Mutex
	seen     map[string]bool
	res      drainResult
	bad      []string
	capture  bool
	payloads [][]byte
	lost     error
}

func countBatches(tb testing.TB, m *loadgen.Mosquitto) *batchCounter {
	tb.Helper()
	r := &batchCounter{seen: map[string]bool{}}
	dev := m.Devices()[1]
	conn, err := tls.Dial("tcp", m.Address(), m.Target().TLS)
	if err != nil {
		tb.Fatal(err)
	}
	r.c = paho.NewClient(paho.ClientConfig{
		Conn:          packets.NewThreadSafeConn(conn),
		PacketTimeout: 30 * time.Second,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			r.add(pr.Packet.Payload)
			return true, nil
		}},
		OnClientError: func(err error) {
			r.mu.Lock()
			r.lost = err
			r.mu.Unlock()
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.c.Connect(ctx, &paho.Connect{
		ClientID: dev.ClientID, Username: dev.Username, UsernameFlag: true, Password: []byte(dev.Password), PasswordFlag: true,
		KeepAlive: 60, CleanStart: true,
	}); err != nil {
		tb.Fatal(err)
	}
	if _, err := r.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "perch/+/buckets/#", QoS: 1}}}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = r.c.Disconnect(&paho.Disconnect{}) })
	return r
}

// batchHeader reads a batch's id and point count from its first bytes:
// {"gateway":"gw1","bucket":"env","batch":"gw1/env/1:0",...,"points":1000,"records":[...
func batchHeader(p []byte) (id string, points int64, ok bool) {
	head := p[:min(len(p), 512)]
	_, rest, ok := bytes.Cut(head, []byte(`"batch":"`))
	if !ok {
		return "", 0, false
	}
	idb, _, ok := bytes.Cut(rest, []byte(`"`))
	if !ok {
		return "", 0, false
	}
	_, rest, ok = bytes.Cut(head, []byte(`"points":`))
	if !ok {
		return "", 0, false
	}
	end := bytes.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return string(idb), n, err == nil
}

func (r *batchCounter) add(p []byte) {
	id, points, ok := batchHeader(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !ok:
		r.bad = append(r.bad, fmt.Sprintf("not a batch: %.100s", p))
	case r.seen[id]:
		r.res.dups++
	default:
		r.seen[id] = true
		r.res.batches++
		r.res.points += points
		r.res.bytes += int64(len(p))
		if r.capture {
			r.payloads = append(r.payloads, bytes.Clone(p))
		}
	}
}

// reset forgets what was received; with capture, the payloads are kept.
func (r *batchCounter) reset(capture bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.seen)
	r.res, r.bad, r.capture, r.payloads = drainResult{}, nil, capture, nil
}

func (r *batchCounter) points() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res.points
}

// check fails on a lost connection or a message that is not a batch.
func (r *batchCounter) check(tb testing.TB) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lost != nil {
		tb.Fatalf("the subscriber lost its connection: %v", r.lost)
	}
	for _, b := range r.bad {
		tb.Error(b)
	}
}

// result is what was received since reset.
func (r *batchCounter) result() (drainResult, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res, r.payloads
}

// cpuClock reads this process's, Mosquitto's and the machine's CPU time.
func (d *drainBench) cpuClock() (self, broker, machine time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if p := d.m.Target().Process; p != nil {
		broker, _ = p.CPU()
	}
	return self, broker, machineBusy()
}

// machineBusy is the CPU time every process has used since boot, from
// /proc/stat (0 where there is none): user, nice, system, irq, softirq and
// steal, in USER_HZ (100 a second).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// measured fills in the times of a drain that took elapsed.
func (r *drainResult) measured(elapsed, self0, broker0, machine0, self1, broker1, machine1 time.Duration) {
	r.elapsed, r.selfCPU, r.brokerCPU = elapsed, self1-self0, broker1-broker0
	if machine0 > 0 {
		r.others = max(0, (machine1-machine0-r.selfCPU-r.brokerCPU).Seconds()/elapsed.Seconds())
	}
}

// writeBacklog records drainMessages messages of two fields in st: 10
// devices, a reading a second each, ending now (a 14-hour outage), at a
// sensor's resolution (0.01 °C, 0.1 %).
func writeBacklog(tb testing.TB, st *store.Store) time.Duration {
	tb.Helper()
	start := time.Now()
	const each = drainMessages / drainDevices
	base := start.Add(-each*time.Second).UnixMilli() - 1000
	var devices [drainDevices]string
	for d := range devices {
		devices[d] = fmt.Sprintf("d%02d", d+1)
	}
	fields := make([]payload.Field, 2)
	for i := range each {
		x := float64(i)
		for d := range drainDevices {
			dev := devices[d]
			fields[0] = payload.Field{Name: "temp", Value: math.Round((21+3*math.Sin(x/3000)+float64(d)/10)*100) / 100}
			fields[1] = payload.Field{Name: "hum", Value: math.Round((45+10*math.Cos(x/5000))*10) / 10}
			if err := st.Write(store.Message{Time: base + int64(i)*1000, Device: dev, Topic: "env/" + dev, Fields: fields}); err != nil {
				tb.Fatalf("recording the backlog: %v", err)
			}
		}
	}
	// Let the store hand every point to its engine first, so that this
	// work does not run during the drain.
	for st.Stats().Pending > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// waitPoints waits until the subscriber has every point and done says
// the publisher is done too.
func (d *drainBench) waitPoints(what string, done func() bool) {
	d.tb.Helper()
	deadline := time.Now().Add(drainTimeout)
	for d.rcv.points() < drainPoints || !done() {
		if time.Now().After(deadline) {
			d.tb.Fatalf("%s: %d of %d points received within %v", what, d.rcv.points(), drainPoints, drainTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// perch drains a backlog recorded while the link was down: a fresh store,
// an Upstream made (and so holding the journal) before the backlog is
// written, as a gateway's is, and timed from Run until the backlog is
// received and acknowledged. It returns the batches received.
func (d *drainBench) perch(c drainCase) (drainResult, [][]byte) {
	tb := d.tb
	tb.Helper()
	st, err := store.Open(store.Config{Dir: tb.TempDir(), SyncInterval: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	src := &source{}
	src.set("env", st)
	cfg := config(d.m, src, c.version)
	cfg.BatchSize, cfg.Inflight = c.batch, c.inflight
	u, err := upstream.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	write := writeBacklog(tb, st)
	if s := u.Status(); len(s.Buckets) != 1 || s.Buckets[0].LagPoints != drainPoints {
		tb.Fatalf("before the drain: %+v, want a lag of %d points", s.Buckets, drainPoints)
	}

	d.rcv.reset(true)
	runtime.GC()
	self0, broker0, machine0 := d.cpuClock()
	start := time.Now()
	ran := make(chan error, 1)
	go func() { ran <- u.Run(context.Background()) }()
	d.waitPoints("perch "+c.name(), func() bool {
		_, lag := u.Summary()
		return lag == 0
	})
	elapsed := time.Since(start)
	self1, broker1, machine1 := d.cpuClock()
	s := u.Status()
	u.Close()
	if err := <-ran; err != nil {
		tb.Fatal(err)
	}
	d.rcv.check(tb)
	if b := s.Buckets[0]; b.LagPoints != 0 || b.SentPoints != drainPoints {
		tb.Fatalf("after the drain: %+v, want no lag and %d points sent", b, drainPoints)
	}
	res, payloads := d.rcv.result()
	if res.points != drainPoints {
		tb.Fatalf("%d points received, want %d", res.points, drainPoints)
	}
	// One batch decoded in full: its header tells the truth.
	var b batchMsg
	if err := json.Unmarshal(payloads[0], &b); err != nil || b.Count != len(b.Records) || b.Count > c.batch || b.Points != 2*b.Count {
		tb.Fatalf("batch %.300s: %v", payloads[0], err)
	}
	res.measured(elapsed, self0, broker0, machine0, self1, broker1, machine1)
	res.write = write
	return res, payloads
}

// publisher is a bare MQTT client publishing at QoS 1.
type publisher interface {
	publish(ctx context.Context, topic string, payload []byte) error
	close()
}

type pub5 struct{ c *paho.Client }

func (p pub5) publish(ctx context.Context, topic string, payload []byte) error {
	_, err := p.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload})
	return err
}

func (p pub5) close() { _ = p.c.Disconnect(&paho.Disconnect{}) }

type pub3 struct{ c mqtt3.Client }

func (p pub3) publish(ctx context.Context, topic string, payload []byte) error {
	tok := p.c.Publish(topic, 1, false, payload)
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p pub3) close() { p.c.Disconnect(100) }

// dialPublisher connects as the upstream's user, over TLS, with the MQTT
// libraries the upstream link uses (paho.golang for 5, paho.mqtt.golang
// for 3.1.1) and the same connection set-up.
func dialPublisher(ctx context.Context, m *loadgen.Mosquitto, version string) (publisher, error) {
	dev := m.Devices()[0]
	tc := m.Target().TLS.Clone()
	conn, err := (&tls.Dialer{Config: tc}).DialContext(ctx, "tcp", m.Address())
	if err != nil {
		return nil, err
	}
	if version == "3.1.1" {
		opts := mqtt3.NewClientOptions().AddBroker("tcp://upstream").
			SetCustomOpenConnectionFn(func(*url.URL, mqtt3.ClientOptions) (net.Conn, error) { return conn, nil }).
			SetProtocolVersion(4).SetClientID(dev.ClientID).SetUsername(dev.Username).SetPassword(dev.Password).
			SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).SetKeepAlive(60 * time.Second).
			SetOrderMatters(true)
		c := mqtt3.NewClient(opts)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			conn.Close()
			return nil, fmt.Errorf("mqtt 3.1.1 connect: %v", tok.Error())
		}
		return pub3{c}, nil
	}
	c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn), PacketTimeout: 30 * time.Second})
	if _, err := c.Connect(ctx, &paho.Connect{
		ClientID: dev.ClientID, Username: dev.Username, UsernameFlag: true, Password: []byte(dev.Password), PasswordFlag: true,
		KeepAlive: 60, CleanStart: true,
	}); err != nil {
		conn.Close()
		return nil, err
	}
	return pub5{c}, nil
}

// ceiling publishes payloads (the batches Perch sent) with c.inflight
// publishers of one connection, each waiting for its PUBACK, timed from
// the dial until every point is received.
func (d *drainBench) ceiling(c drainCase, payloads [][]byte) drainResult {
	tb := d.tb
	tb.Helper()
	d.rcv.reset(false)
	runtime.GC()
	self0, broker0, machine0 := d.cpuClock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	p, err := dialPublisher(ctx, d.m, c.version)
	if err != nil {
		tb.Fatal(err)
	}
	topic := "perch/gw1/buckets/env"
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c.inflight)
	for range c.inflight {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(payloads) {
					return
				}
				if err := p.publish(ctx, topic, payloads[i]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var published atomic.Bool
	go func() { wg.Wait(); published.Store(true) }()
	d.waitPoints("ceiling "+c.name(), published.Load)
	elapsed := time.Since(start)
	self1, broker1, machine1 := d.cpuClock()
	p.close()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatal(err)
	}
	d.rcv.check(tb)
	res, _ := d.rcv.result()
	res.measured(elapsed, self0, broker0, machine0, self1, broker1, machine1)
	return res
}

// BenchmarkDrain reports the points/s of Perch's drain of a 1 M-point
// backlog (goal ≥ 100,000/s) and, as "ceiling", those of a bare publisher
// sending the same payloads. One op is one whole drain: run with
// -benchtime 1x.
func BenchmarkDrain(b *testing.B) {
	d := newDrainBench(b)
	for _, c := range drainCases {
		var payloads [][]byte
		b.Run(c.name()+"/perch", func(b *testing.B) {
			d.tb = b
			for range b.N {
				var res drainResult
				res, payloads = d.perch(c)
				reportDrain(b, res)
			}
		})
		if payloads == nil {
			continue
		}
		b.Run(c.name()+"/ceiling", func(b *testing.B) {
			d.tb = b
			for range b.N {
				reportDrain(b, d.ceiling(c, payloads))
			}
		})
	}
}

func reportDrain(b *testing.B, r drainResult) {
	b.ReportMetric(r.rate(), "points/s")
	b.ReportMetric(float64(r.selfCPU.Nanoseconds())/float64(r.points), "self-ns/point")
	b.ReportMetric(float64(r.brokerCPU.Nanoseconds())/float64(r.points), "broker-ns/point")
	b.ReportMetric(float64(r.bytes)/float64(r.points), "B/point")
	b.ReportMetric(r.others, "other-cores")
	b.ReportMetric(0, "ns/op") // one op is a whole drain: points/s says it
}

// TestReportDrain prints BenchmarkDrain's measurements as a table. It
// takes about 25 s: it runs only with PERCH_BENCH_UPSTREAM=1.
func TestReportDrain(t *testing.T) {
	if os.Getenv(benchUpstreamEnv) != "1" {
		t.Skip("set " + benchUpstreamEnv + "=1 to measure the upstream drain (about 25 s)")
	}
	d := newDrainBench(t)
	var out strings.Builder
	fmt.Fprintf(&out, "backlog: %d points (%d messages × 2 fields, %d devices), Mosquitto %s on 127.0.0.1, TLS + password, QoS 1; %d CPUs, %s\n\n",
		drainPoints, drainMessages, drainDevices, d.m.Version(), runtime.NumCPU(), runtime.Version())
	fmt.Fprintln(&out, "| link | batch (records) | in flight | Perch points/s | ceiling points/s | Perch/ceiling | Perch drain time | batches (resent) | payload B/point | CPU/point, this process: Perch / ceiling | Mosquitto CPU/point: Perch / ceiling | other processes (cores): Perch / ceiling | goal ≥ 100,000/s |")
	fmt.Fprintln(&out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, c := range drainCases {
		p, payloads := d.perch(c)
		r := d.ceiling(c, payloads)
		mark := "✅"
		if p.rate() < drainGoal {
			mark = "❌"
		}
		fmt.Fprintf(&out, "| MQTT %s | %d | %d | %s | %s | %.2f× | %.2f s | %d (%d) | %.1f | %s / %s | %s / %s | %.2f / %.2f | %s |\n",
			c.version, c.batch, c.inflight, thousands(p.rate()), thousands(r.rate()), p.rate()/r.rate(), p.elapsed.Seconds(),
			p.batches, p.dups, float64(p.bytes)/float64(p.points),
			perPoint(p.selfCPU, p.points), perPoint(r.selfCPU, r.points), perPoint(p.brokerCPU, p.points), perPoint(r.brokerCPU, r.points), p.others, r.others, mark)
		t.Logf("%s: backlog recorded in %v; Perch %v, ceiling %v", c.name(), p.write.Round(time.Millisecond), p.elapsed.Round(time.Millisecond), r.elapsed.Round(time.Millisecond))
	}
	t.Log("drain of a 1 M-point backlog\n\n" + out.String())
}

// thousands writes n rounded, with thin spaces between thousands.
func thousands(n float64) string {
	s := strconv.FormatInt(int64(math.Round(n)), 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
