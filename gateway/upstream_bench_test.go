package gateway_test

// Live forward latency of the upstream bridge (issue 6; the numbers are in
// BENCHMARKS.md). A device publishes 1,000 msg/s for 10 s at QoS 1 to a real
// gateway whose upstream is Debian's Mosquitto on loopback (TLS, password)
// with the bridge rule out sensors/# → site1/, and a subscriber on that
// Mosquitto times every message from just before its publish to its
// delivery: the payload carries its send time, read from the monotonic
// clock of this process, where both ends are. Beside it in the same run,
// the same publisher and subscriber through:
//
//   - "direct": Mosquitto alone, one hop: the floor;
//   - "Mosquitto bridge": a second Mosquitto (TLS, password) bridged to the
//     first with `topic sensors/# out 1 "" site1/` over MQTT 5 and TLS: the
//     natural peer of Perch's bridge, as shipped (Nagle's algorithm on);
//   - "Mosquitto bridge, nodelay": the same with set_tcp_nodelay true.
//
// Each path has its own topic and runs alone, one after the other.
//
//	PERCH_BENCH_UPSTREAM=1 go test -count=1 -run TestReportBridgeLatency -v ./gateway/
//	go test -run '^$' -bench BridgeLatency -benchtime 1x ./gateway/
//
// They never fail on speed.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/perch-gw/perch/gateway"
	"github.com/perch-gw/perch/gateway/api"
	"github.com/perch-gw/perch/gateway/client"
	"github.com/perch-gw/perch/gateway/config"
	"github.com/perch-gw/perch/gateway/loadgen"
	"github.com/perch-gw/perch/gateway/upstream"
)

const (
	bridgeRate     = 1000 // messages per second
	bridgeDuration = 10 * time.Second
	bridgeGoalP99  = 50 * time.Millisecond
	bridgePayload  = 64 // bytes: send time, sequence number, padding
)

// bridgeCreds log a client in.
type bridgeCreds struct{ clientID, user, password string }

// bridgePath is one way from the publisher to the subscriber upstream.
type bridgePath struct {
	name   string
	addr   string // where the publisher connects
	tls    *tls.Config
	creds  bridgeCreds
	topic  string // published as: topic + "/t" (+ "/probe" to check the path)
	remote string // arrives upstream as
	// hop is the Mosquitto that is this path's extra hop (nil: none, or
	// the hop runs in this process).
	hop *loadgen.Mosquitto
}

// bridgeResult is one path's run.
type bridgeResult struct {
	path               string
	sent, received     int
	late               int // ticks more than two messages behind schedule
	elapsed            time.Duration
	p50, p90, p99, max time.Duration
	selfCPU, upCPU     time.Duration // this process (for others); the upstream Mosquitto
	hopCPU             time.Duration // the extra hop's broker, if not in this process
	dropped            int64         // Perch: messages the bridge rule dropped
	others             float64       // cores used by other processes meanwhile
}

func (r bridgeResult) rate() float64 { return float64(r.sent) / r.elapsed.Seconds() }

// bridgeBench is the upstream Mosquitto, its subscriber and the paths.
type bridgeBench struct {
	tb    testing.TB
	start time.Time // payload times are offsets from it
	up    *loadgen.Mosquitto
	sub   *benchClient
	paths []bridgePath
	gwAPI *client.Client

	mu        sync.Mutex
	topic     string // the path being measured, upstream
	samples   []time.Duration
	probes    chan string
	clientErr error
}

// newBridgeBench starts the upstream Mosquitto and its subscriber, and a
// gateway and two more Mosquittos bridged to it.
func newBridgeBench(tb testing.TB) *bridgeBench {
	tb.Helper()
	if _, err := exec.LookPath("mosquitto"); err != nil {
		tb.Skip("mosquitto is not installed (apt-get install mosquitto): it is the upstream broker of this benchmark")
	}
	bb := &bridgeBench{tb: tb, start: time.Now(), probes: make(chan string, 16)}
	ctx := context.Background()
	// Users: 0 Perch's link, 1 the subscriber, 2 the direct publisher, 3
	// and 4 the bridges of the other two Mosquittos.
	up, err := loadgen.StartMosquitto(ctx, loadgen.MosquittoConfig{Devices: 5, Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(up.Close)
	bb.up = up
	devs := up.Devices()
	cred := func(d loadgen.Device) bridgeCreds { return bridgeCreds{d.ClientID, d.Username, d.Password} }
	bb.sub = bb.dial(up.Address(), up.Target().TLS, cred(devs[1]), bb.receive)
	if _, err := bb.sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "site1/sensors/#", QoS: 1}}}); err != nil {
		tb.Fatal(err)
	}

	// Perch, bridging sensors/# to site1/.
	// As testConfig, for a testing.TB.
	cfg := config.Default()
	cfg.DataDir = filepath.Join(tb.TempDir(), "data")
	cfg.Hostname = "perch-bench"
	cfg.MQTT.TLS.Address = "127.0.0.1:0"
	cfg.API.Address = "127.0.0.1:0"
	cfg.Health.Enabled = false
	cfg.MDNS.Enabled = false
	cfg.Upstream.URL = "mqtts://" + up.Address()
	cfg.Upstream.CAFile = up.CAFile()
	cfg.Upstream.ClientID, cfg.Upstream.Username, cfg.Upstream.Password = devs[0].ClientID, devs[0].Username, devs[0].Password
	cfg.Upstream.Gateway = "site1"
	cfg.Upstream.Buckets = nil // the bridge only
	cfg.Upstream.Bridge = []config.BridgeRule{{Direction: "out", Filter: "sensors/#", RemotePrefix: "site1/", QoS: "1"}}
	gw, gwTLS := bb.startGateway(cfg)
	var d api.Device
	if err := bb.gwAPI.Do(ctx, "POST", "/api/v1/devices", map[string]any{"id": "bench-pub"}, &d); err != nil {
		tb.Fatal(err)
	}

	// Two more Mosquittos, bridged the same way, as shipped and without
	// Nagle's algorithm.
	var sites [2]*loadgen.Mosquitto
	for i := range sites {
		site, err := loadgen.StartMosquitto(ctx, loadgen.MosquittoConfig{Devices: 1, Dir: tb.TempDir(), NoDelay: i == 1})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(site.Close)
		bridgeMosquitto(tb, site, up, devs[3+i])
		sites[i] = site
	}

	bb.paths = []bridgePath{
		{name: "direct", addr: up.Address(), tls: up.Target().TLS, creds: cred(devs[2]),
			topic: "site1/sensors/direct", remote: "site1/sensors/direct"},
		{name: "Perch", addr: gw, tls: gwTLS, creds: bridgeCreds{"bench-pub", cfg.Account, d.Credentials},
			topic: "sensors/perch", remote: "site1/sensors/perch"},
		{name: "Mosquitto bridge", addr: sites[0].Address(), tls: sites[0].Target().TLS, creds: cred(sites[0].Devices()[0]),
			topic: "sensors/bridge", remote: "site1/sensors/bridge", hop: sites[0]},
		{name: "Mosquitto bridge, nodelay", addr: sites[1].Address(), tls: sites[1].Target().TLS, creds: cred(sites[1].Devices()[0]),
			topic: "sensors/nodelay", remote: "site1/sensors/nodelay", hop: sites[1]},
	}
	return bb
}

// mosquittoCPU reads a Mosquitto's CPU time (0 for none, or when unknown).
func mosquittoCPU(m *loadgen.Mosquitto) time.Duration {
	if m == nil || m.Target().Process == nil {
		return 0
	}
	d, _ := m.Target().Process.CPU()
	return d
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

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startGateway runs a gateway with cfg, logging nothing, until the
// benchmark ends, and returns its MQTT TLS address and how to trust it.
func (bb *bridgeBench) startGateway(cfg config.Config) (string, *tls.Config) {
	tb := bb.tb
	g, err := gateway.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("gateway.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("gateway.Run: %v", err)
		}
	})
	<-g.Ready()
	bb.gwAPI, err = client.New(client.Config{Socket: g.Socket()})
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(g.CAPEM())
	return g.Addrs()["mqtt_tls"], &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// bridgeMosquitto adds to site's configuration a bridge to up, logged in
// as dev, forwarding sensors/# as site1/sensors/#, and restarts it.
func bridgeMosquitto(tb testing.TB, site, up *loadgen.Mosquitto, dev loadgen.Device) {
	tb.Helper()
	conf := filepath.Join(filepath.Dir(site.CAFile()), "mosquitto.conf")
	old, err := os.ReadFile(conf)
	if err != nil || string(old) != site.Config() {
		tb.Fatalf("cannot find the second Mosquitto's configuration file at %s (%v): loadgen changed where it keeps it", conf, err)
	}
	bridge := strings.Join([]string{
		"connection upstream",
		"address " + up.Address(),
		"bridge_protocol_version mqttv50",
		"bridge_cafile " + up.CAFile(),
		"remote_clientid " + dev.ClientID,
		"remote_username " + dev.Username,
		"remote_password " + dev.Password,
		"cleansession true",
		"notifications false",
		"start_type automatic",
		"restart_timeout 1",
		`topic sensors/# out 1 "" site1/`,
		"",
	}, "\n")
	if err := os.WriteFile(conf, append(old, bridge...), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := site.Restart(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

// benchClient is a paho client whose errors after close are not the
// benchmark's.
type benchClient struct {
	*paho.Client
	closing atomic.Bool
}

func (c *benchClient) close() {
	if !c.closing.Swap(true) {
		_ = c.Disconnect(&paho.Disconnect{})
	}
}

// dial connects an MQTT 5 client over TLS, as a device would.
func (bb *bridgeBench) dial(addr string, tc *tls.Config, c bridgeCreds, onPublish func(*paho.Publish)) *benchClient {
	tb := bb.tb
	tb.Helper()
	conn, err := tls.Dial("tcp", addr, tc)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	bc := &benchClient{}
	cc := paho.ClientConfig{
		Conn:          packets.NewThreadSafeConn(conn),
		PacketTimeout: 10 * time.Second,
		OnClientError: func(err error) {
			if bc.closing.Load() {
				return
			}
			bb.mu.Lock()
			bb.clientErr = fmt.Errorf("%s: %w", c.clientID, err)
			bb.mu.Unlock()
		},
	}
	if onPublish != nil {
		cc.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			onPublish(pr.Packet)
			return true, nil
		}}
	}
	bc.Client = paho.NewClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := bc.Connect(ctx, &paho.Connect{
		ClientID: c.clientID, Username: c.user, UsernameFlag: true, Password: []byte(c.password), PasswordFlag: true,
		KeepAlive: 60, CleanStart: true,
	}); err != nil {
		tb.Fatalf("connect to %s as %s: %v", addr, c.clientID, err)
	}
	tb.Cleanup(bc.close)
	return bc
}

// receive is the subscriber's handler.
func (bb *bridgeBench) receive(p *paho.Publish) {
	now := time.Since(bb.start)
	if strings.HasSuffix(p.Topic, "/probe") {
		select {
		case bb.probes <- p.Topic:
		default:
		}
		return
	}
	if len(p.Payload) < 8 {
		return
	}
	sent := time.Duration(binary.BigEndian.Uint64(p.Payload))
	bb.mu.Lock()
	if p.Topic == bb.topic+"/t" {
		bb.samples = append(bb.samples, now-sent)
	}
	bb.mu.Unlock()
}

func (bb *bridgeBench) received() int {
	bb.mu.Lock()
	defer bb.mu.Unlock()
	return len(bb.samples)
}

// probe publishes on the path until a message gets through (the link or
// bridge is up), for at most 20 s.
func (bb *bridgeBench) probe(c *benchClient, p bridgePath) {
	tb := bb.tb
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.Publish(ctx, &paho.Publish{Topic: p.topic + "/probe", QoS: 1, Payload: []byte("probe")})
		cancel()
		if err != nil {
			tb.Fatalf("%s: probe: %v", p.name, err)
		}
		wait := time.After(200 * time.Millisecond)
	drain:
		for {
			select {
			case got := <-bb.probes:
				if got == p.remote+"/probe" {
					return
				}
			case <-wait:
				break drain
			}
		}
	}
	tb.Fatalf("%s: nothing got through to %s within 20 s", p.name, p.remote)
}

// run publishes bridgeRate messages a second for bridgeDuration on p (a 1
// ms ticker; the messages due at each tick are sent together, catching up
// after a late tick), at QoS 1 without waiting for each PUBACK (paho bounds
// them by the broker's Receive Maximum), then waits for the last
// deliveries.
func (bb *bridgeBench) run(p bridgePath) bridgeResult {
	tb := bb.tb
	tb.Helper()
	c := bb.dial(p.addr, p.tls, p.creds, nil)
	bb.probe(c, p)
	bb.mu.Lock()
	bb.topic, bb.samples = p.remote, make([]time.Duration, 0, bridgeRate*int(bridgeDuration/time.Second))
	bb.mu.Unlock()
	runtime.GC()
	res := bridgeResult{path: p.name}
	self0, up0, hop0, busy0 := selfCPU(), mosquittoCPU(bb.up), mosquittoCPU(p.hop), machineBusy()

	total := bridgeRate * int(bridgeDuration/time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	opts := paho.PublishOptions{Method: paho.PublishMethod_AsyncSend}
	ctx := context.Background()
	begin := time.Now()
	for res.sent < total {
		<-tick.C
		due := min(int(float64(bridgeRate)*time.Since(begin).Seconds()), total)
		if due-res.sent > 2 {
			res.late++
		}
		for ; res.sent < due; res.sent++ {
			payload := make([]byte, bridgePayload)
			binary.BigEndian.PutUint64(payload, uint64(time.Since(bb.start)))
			binary.BigEndian.PutUint64(payload[8:], uint64(res.sent))
			if _, err := c.PublishWithOptions(ctx, &paho.Publish{Topic: p.topic + "/t", QoS: 1, Payload: payload}, opts); err != nil {
				tb.Fatalf("%s: publish: %v", p.name, err)
			}
		}
	}
	res.elapsed = time.Since(begin)
	// The last deliveries: until every message is in, or none came for 2 s.
	last, lastAt := bb.received(), time.Now()
	for n := last; n < res.sent && time.Since(lastAt) < 2*time.Second; n = bb.received() {
		if n != last {
			last, lastAt = n, time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	res.selfCPU, res.upCPU, res.hopCPU = selfCPU()-self0, mosquittoCPU(bb.up)-up0, mosquittoCPU(p.hop)-hop0
	if busy0 > 0 {
		res.others = max(0, (machineBusy()-busy0-res.selfCPU-res.upCPU-res.hopCPU).Seconds()/time.Since(begin).Seconds())
	}
	bb.mu.Lock()
	s := slices.Clone(bb.samples)
	err := bb.clientErr
	bb.topic = ""
	bb.mu.Unlock()
	if err != nil {
		tb.Fatalf("a client lost its connection: %v", err)
	}
	c.close()
	res.received = len(s)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		if len(s) == 0 {
			return 0
		}
		return s[min(len(s)-1, int(q*float64(len(s))))]
	}
	res.p50, res.p90, res.p99, res.max = at(0.50), at(0.90), at(0.99), at(1)
	if p.name == "Perch" {
		var st upstream.Status
		if err := bb.gwAPI.Do(ctx, "GET", "/api/v1/upstream", nil, &st); err == nil && len(st.Bridge) == 1 {
			res.dropped = st.Bridge[0].Dropped
		}
	}
	return res
}

// BenchmarkBridgeLatency reports the percentiles of each path's latency
// at 1,000 msg/s (goal for Perch: p99 ≤ 50 ms). One op is a whole 10 s
// run: use -benchtime 1x.
func BenchmarkBridgeLatency(b *testing.B) {
	bb := newBridgeBench(b)
	for _, p := range bb.paths {
		b.Run(strings.NewReplacer(" ", "-", ",", "").Replace(p.name), func(b *testing.B) {
			bb.tb = b
			for range b.N {
				r := bb.run(p)
				b.ReportMetric(float64(r.p50.Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(r.p90.Microseconds())/1000, "p90-ms")
				b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(r.max.Microseconds())/1000, "max-ms")
				b.ReportMetric(float64(r.sent-r.received), "lost")
				b.ReportMetric(r.others, "other-cores")
				b.ReportMetric(0, "ns/op")
			}
		})
	}
}

// TestReportBridgeLatency prints BenchmarkBridgeLatency's measurements as
// a table. It takes about a minute: it runs only with PERCH_BENCH_UPSTREAM=1.
func TestReportBridgeLatency(t *testing.T) {
	if os.Getenv("PERCH_BENCH_UPSTREAM") != "1" {
		t.Skip("set PERCH_BENCH_UPSTREAM=1 to measure the bridge's latency (about a minute)")
	}
	bb := newBridgeBench(t)
	var rs []bridgeResult
	for _, p := range bb.paths {
		rs = append(rs, bb.run(p))
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	us := func(d time.Duration, n int) string {
		if n == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f µs", float64(d.Nanoseconds())/1000/float64(n))
	}
	var out strings.Builder
	fmt.Fprintf(&out, "%d msg/s for %v, QoS 1, %d-byte payloads; Mosquitto %s upstream on 127.0.0.1 (TLS, password); %d CPUs, %s\n\n",
		bridgeRate, bridgeDuration, bridgePayload, bb.up.Version(), runtime.NumCPU(), runtime.Version())
	fmt.Fprint(&out, "| publish → delivered upstream |")
	for _, r := range rs {
		fmt.Fprintf(&out, " %s |", r.path)
	}
	fmt.Fprintln(&out, " goal (Perch) |")
	fmt.Fprintln(&out, "|---|"+strings.Repeat("--:|", len(rs))+"---|")
	row := func(name string, f func(r bridgeResult) string, goal string) {
		fmt.Fprintf(&out, "| %s |", name)
		for _, r := range rs {
			fmt.Fprintf(&out, " %s |", f(r))
		}
		fmt.Fprintf(&out, " %s |\n", goal)
	}
	perch := rs[1]
	mark := "✅"
	if perch.p99 > bridgeGoalP99 || perch.received < perch.sent {
		mark = "❌"
	}
	row("p50", func(r bridgeResult) string { return ms(r.p50) }, "—")
	row("p90", func(r bridgeResult) string { return ms(r.p90) }, "—")
	row("p99", func(r bridgeResult) string { return ms(r.p99) }, "≤ 50 ms "+mark)
	row("max", func(r bridgeResult) string { return ms(r.max) }, "—")
	row("sent / received", func(r bridgeResult) string { return fmt.Sprintf("%d / %d", r.sent, r.received) }, "none lost")
	row("achieved rate (msg/s)", func(r bridgeResult) string { return fmt.Sprintf("%.0f", r.rate()) }, "—")
	row("late ticks", func(r bridgeResult) string { return fmt.Sprint(r.late) }, "—")
	row("CPU/msg, the bridging Mosquitto", func(r bridgeResult) string {
		switch r.path {
		case "direct":
			return "—"
		case "Perch":
			return "(in this process)"
		}
		return us(r.hopCPU, r.received)
	}, "—")
	row("CPU/msg, the upstream Mosquitto", func(r bridgeResult) string { return us(r.upCPU, r.received) }, "—")
	row("other processes meanwhile (cores)", func(r bridgeResult) string { return fmt.Sprintf("%.2f", r.others) }, "—")
	t.Log("bridge latency\n\n" + out.String())
	t.Logf("Perch's bridge rule dropped %d messages", perch.dropped)
}
