package upstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/jonboulle/clockwork"

	"github.com/perch-gw/perch/gateway/loadgen"
	"github.com/perch-gw/perch/gateway/payload"
	"github.com/perch-gw/perch/gateway/store"
	"github.com/perch-gw/perch/gateway/upstream"
)

// source is a set of bucket stores, as the gateway's buckets are.
type source struct {
	mu     sync.Mutex
	stores map[string]*store.Store
}

func (s *source) BucketIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.stores {
		ids = append(ids, id)
	}
	return ids
}

func (s *source) Follower(id string) (upstream.Follower, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stores[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", upstream.ErrGone, id)
	}
	return st, nil
}

func (s *source) set(id string, st *store.Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stores == nil {
		s.stores = map[string]*store.Store{}
	}
	s.stores[id] = st
}

func openStore(t *testing.T, dir string, now func() time.Time) *store.Store {
	t.Helper()
	st, err := store.Open(store.Config{Dir: dir, Now: now, SyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// writeN writes points n0..n0+count-1 of device d, one a millisecond from
// base, each with its number in the field "n".
func writeN(t *testing.T, st *store.Store, d string, base int64, n0, count int) {
	t.Helper()
	for i := n0; i < n0+count; i++ {
		err := st.Write(store.Message{Time: base + int64(i), Device: d, Topic: "env/" + d,
			Fields: []payload.Field{{Name: "n", Value: float64(i)}, {Name: "t", Value: 20 + float64(i%10)/10}}})
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}

func startMosquitto(t *testing.T) *loadgen.Mosquitto {
	t.Helper()
	if _, err := exec.LookPath("mosquitto"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mosquitto is not installed (.ci/run installs it)")
		}
		t.Skip("mosquitto is not installed: apt-get install mosquitto")
	}
	m, err := loadgen.StartMosquitto(context.Background(), loadgen.MosquittoConfig{Devices: 2, Persistence: true, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// receiver subscribes to the batches on the upstream broker with a
// persistent session, as a cloud consumer would, and checks them: a batch
// received twice must be the same batch (at least once, same id, same
// records), and every point is counted once.
type receiver struct {
	t  *testing.T
	cm *autopaho.ConnectionManager

	mu      sync.Mutex
	batches map[string][]byte
	dups    int
	bad     []string
	points  map[string]map[int]bool // bucket → n values seen
	ranges  []string
	subacks atomic.Int32 // subscriptions made, one per connection
}

func receive(t *testing.T, m *loadgen.Mosquitto, filter string) *receiver {
	t.Helper()
	r := &receiver{t: t, batches: map[string][]byte{}, points: map[string]map[int]bool{}}
	// Subscribed (SUBACK) before the test goes on: a broker stopped in
	// between would otherwise keep a session without the subscription.
	ready := make(chan struct{})
	var subscribed sync.Once
	dev := m.Devices()[1]
	u, _ := url.Parse("mqtts://" + m.Address())
	ctx, cancel := context.WithCancel(context.Background())
	cfg := autopaho.ClientConfig{
		ServerUrls: []*url.URL{u}, TlsCfg: m.Target().TLS, KeepAlive: 30,
		CleanStartOnInitialConnection: true, SessionExpiryInterval: 3600,
		ConnectUsername: dev.Username, ConnectPassword: []byte(dev.Password),
		ReconnectBackoff: func(int) time.Duration { return 50 * time.Millisecond },
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			go func() {
				if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err == nil {
					r.subacks.Add(1)
					subscribed.Do(func() { close(ready) })
				}
			}()
		},
		ClientConfig: paho.ClientConfig{
			ClientID: dev.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				r.add(pr.Packet.Topic, pr.Packet.Payload)
				return true, nil
			}},
		},
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.cm = cm
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	if err := cm.AwaitConnection(actx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case <-actx.Done():
		t.Fatal("no SUBACK within 10 s")
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		_ = cm.Disconnect(dctx)
		cancel()
	})
	return r
}

type batchMsg struct {
	Gateway string           `json:"gateway"`
	Bucket  string           `json:"bucket"`
	Batch   string           `json:"batch"`
	From    string           `json:"from"`
	To      string           `json:"to"`
	Count   int              `json:"count"`
	Points  int              `json:"points"`
	Records []map[string]any `json:"records"`
}

func (r *receiver) add(topic string, body []byte) {
	var b batchMsg
	err := json.Unmarshal(body, &b)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil:
		r.bad = append(r.bad, fmt.Sprintf("%s: %v", topic, err))
		return
	case b.Count != len(b.Records) || topic != "perch/"+b.Gateway+"/buckets/"+b.Bucket || !strings.HasPrefix(b.Batch, b.Gateway+"/"+b.Bucket+"/"):
		r.bad = append(r.bad, fmt.Sprintf("%s: inconsistent batch %.200s", topic, body))
		return
	}
	if prev, ok := r.batches[b.Batch]; ok {
		r.dups++
		if !bytes.Equal(prev, body) {
			r.bad = append(r.bad, fmt.Sprintf("batch %s sent twice with different contents", b.Batch))
		}
		return
	}
	r.batches[b.Batch] = bytes.Clone(body)
	if len(b.Records) > 0 {
		r.ranges = append(r.ranges, fmt.Sprintf("%s=%v..%v", b.Batch, b.Records[0]["n"], b.Records[len(b.Records)-1]["n"]))
	}
	if r.points[b.Bucket] == nil {
		r.points[b.Bucket] = map[int]bool{}
	}
	points := 0
	for _, rec := range b.Records {
		n, ok := rec["n"].(float64)
		if !ok {
			r.bad = append(r.bad, fmt.Sprintf("record without n: %v", rec))
			continue
		}
		if _, ok := rec["ts"].(float64); !ok || rec["device"] == nil {
			r.bad = append(r.bad, fmt.Sprintf("record without ts or device: %v", rec))
		}
		points += len(rec) - 2
		if r.points[b.Bucket][int(n)] {
			r.bad = append(r.bad, fmt.Sprintf("point %d of %s in two different batches", int(n), b.Bucket))
		}
		r.points[b.Bucket][int(n)] = true
	}
	if points != b.Points {
		r.bad = append(r.bad, fmt.Sprintf("batch %s says %d points, holds %d", b.Batch, b.Points, points))
	}
}

func (r *receiver) count(bucket string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.points[bucket])
}

// waitFor waits until bucket has n distinct points upstream.
func (r *receiver) waitFor(bucket string, n int, d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for r.count(bucket) < n {
		if time.Now().After(deadline) {
			r.mu.Lock()
			var missing []string
			for i := 0; i < n && len(missing) < 20; i++ {
				if !r.points[bucket][i] {
					j := i
					for j+1 < n && !r.points[bucket][j+1] {
						j++
					}
					missing = append(missing, fmt.Sprintf("%d-%d", i, j))
					i = j
				}
			}
			bad := r.bad
			if testing.Verbose() {
				for _, rg := range r.ranges {
					fmt.Fprintln(os.Stderr, "received", rg)
				}
			}
			r.mu.Unlock()
			r.t.Fatalf("bucket %s: %d of %d points arrived upstream within %v; missing %v; problems %v", bucket, r.count(bucket), n, d, missing, bad)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.check()
}

func (r *receiver) check() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bad {
		r.t.Error(b)
	}
}

type running struct {
	u    *upstream.Upstream
	done chan error
}

func run(t *testing.T, cfg upstream.Config) *running {
	t.Helper()
	u, err := upstream.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{u: u, done: make(chan error, 1)}
	go func() { r.done <- u.Run(context.Background()) }()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	r.u.Close()
	if err := <-r.done; err != nil {
		panic(err)
	}
	r.done <- nil
}

func config(m *loadgen.Mosquitto, src upstream.Source, version string) upstream.Config {
	dev := m.Devices()[0]
	return upstream.Config{
		URL: "mqtts://" + m.Address(), CAFile: m.CAFile(), Version: version,
		Username: dev.Username, Password: dev.Password, ClientID: dev.ClientID,
		Gateway: "gw1", Forward: true, Buckets: []string{"*"}, Source: src,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}
}

// Store and forward to Debian's Mosquitto (TLS, password file): 100 k
// points; the uplink cut mid-sync while the gateway keeps recording; the
// gateway restarted mid-sync; the broker itself restarted while the
// gateway records. Every point arrives; the only duplicates are whole
// batches sent again under the same id.
func TestForwardThroughOutagesAndRestarts(t *testing.T) {
	for _, version := range []string{"5", "3.1.1"} {
		t.Run("mqtt"+version, func(t *testing.T) {
			m := startMosquitto(t)
			rcv := receive(t, m, "perch/gw1/buckets/#")
			link := newProxy(t, m.Address())
			dir := t.TempDir()
			st := openStore(t, dir, nil)
			src := &source{}
			src.set("env", st)
			base := time.Now().UnixMilli() - 1_000_000
			const total = 100_000
			cfg := config(m, src, version)
			cfg.URL = "mqtts://" + link.addr()

			r := run(t, cfg)
			writeN(t, st, "d1", base, 0, 40_000)
			rcv.waitFor("env", 10_000, 30*time.Second)

			// The uplink goes down mid-sync (connections cut, none let
			// through); recording goes on.
			link.cut()
			writeN(t, st, "d1", base, 40_000, 20_000)
			eventually(t, 10*time.Second, "the link seen down", func() bool { return !r.u.Connected() })
			if s := r.u.Status(); s.Buckets[0].LagPoints == 0 {
				t.Errorf("no lag while down: %+v", s.Buckets[0])
			}
			link.restore()
			rcv.waitFor("env", 60_000, 60*time.Second)

			// The gateway restarts mid-sync.
			writeN(t, st, "d1", base, 60_000, 20_000)
			for rcv.count("env") < 65_000 {
				time.Sleep(time.Millisecond)
			}
			r.stop()
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			st = openStore(t, dir, nil)
			src.set("env", st)
			r = run(t, cfg)
			writeN(t, st, "d1", base, 80_000, 10_000)
			rcv.waitFor("env", 90_000, 60*time.Second)

			// The broker restarts while the gateway records.
			eventually(t, 10*time.Second, "caught up", func() bool { return r.u.Status().Buckets[0].LagPoints == 0 })
			m.Stop()
			link.cut() // held back until the cloud consumer is subscribed again
			writeN(t, st, "d1", base, 90_000, 10_000)
			subs := rcv.subacks.Load()
			if err := m.Restart(context.Background()); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "the receiver subscribed again", func() bool { return rcv.subacks.Load() > subs })
			link.restore()
			rcv.waitFor("env", total, 60*time.Second)

			eventually(t, 10*time.Second, "lag back to 0", func() bool {
				s := r.u.Status()
				return s.Connected && len(s.Buckets) == 1 && s.Buckets[0].LagPoints == 0 && s.Buckets[0].LagSeconds == 0
			})
			rcv.mu.Lock()
			t.Logf("%d batches, %d received twice", len(rcv.batches), rcv.dups)
			rcv.mu.Unlock()
		})
	}
}

// proxy is the uplink: a TCP relay the test can cut, as a flaky uplink
// or a router reboot would, while the broker stays up.
type proxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

// addr is the address to dial, as 127.0.0.1 so that the broker's
// certificate (for 127.0.0.1) matches.
func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logCounter counts log records by level and message.
type logCounter struct {
	mu   sync.Mutex
	recs []string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }

func (l *logCounter) count(prefix string) (n int, all []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n, append([]string(nil), l.recs...)
}

// Wrong credentials: a clear error naming the cause, backoff between
// attempts, and one warning, not one per attempt.
func TestWrongCredentials(t *testing.T) {
	m := startMosquitto(t)
	for _, version := range []string{"5", "3.1.1"} {
		t.Run("mqtt"+version, func(t *testing.T) {
			st := openStore(t, t.TempDir(), nil)
			src := &source{}
			src.set("env", st)
			logs := &logCounter{}
			cfg := config(m, src, version)
			cfg.Password = "wrong-password"
			cfg.MinBackoff, cfg.MaxBackoff = 5*time.Millisecond, 40*time.Millisecond
			cfg.Logger = slog.New(logs)
			r := run(t, cfg)
			start := time.Now()
			eventually(t, 20*time.Second, "20 failed attempts", func() bool { return r.u.Status().Attempts >= 20 })
			elapsed := time.Since(start)
			s := r.u.Status()
			if s.Connected || !strings.Contains(s.LastError, "refused the connection") ||
				!(strings.Contains(s.LastError, "Bad User Name or Password") || strings.Contains(s.LastError, "Not authorized")) {
				t.Errorf("status %+v: want a refusal naming the credentials", s)
			}
			if s.NextAttempt == nil {
				t.Error("no next attempt time while failing")
			}
			// Backoff: 20 attempts take at least the sum of the lower
			// halves of their waits (5, 10, 20, 40, 40... ms, halved).
			if elapsed < 200*time.Millisecond {
				t.Errorf("20 attempts in %v: no backoff", elapsed)
			}
			warns, all := logs.count("WARN upstream: no connection")
			if warns != 1 {
				t.Errorf("%d warnings for %d attempts, want 1:\n%s", warns, s.Attempts, strings.Join(all, "\n"))
			}
			for _, l := range all {
				if strings.Contains(l, "wrong-password") {
					t.Errorf("the password was logged: %s", l)
				}
			}
		})
	}
}

// A 24-hour outage on a controlled clock: the gateway records all day
// (24 storage partitions roll over), retries at most every MaxBackoff,
// reports a lag of a day, and forwards everything once the link is back.
func TestDayLongOutage(t *testing.T) {
	m := startMosquitto(t)
	rcv := receive(t, m, "perch/gw1/buckets/#")
	m.Stop()
	clock := clockwork.NewFakeClockAt(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st, err := store.Open(store.Config{Dir: t.TempDir(), Now: clock.Now, PartitionDuration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src := &source{}
	src.set("env", st)
	logs := &logCounter{}
	cfg := config(m, src, "5")
	cfg.Clock, cfg.MinBackoff, cfg.MaxBackoff = clock, time.Second, 2*time.Minute
	cfg.Logger = slog.New(logs)
	r := run(t, cfg)

	start := clock.Now()
	n := 0
	for clock.Since(start) < 24*time.Hour {
		// One point a minute, stamped with the controlled clock.
		for range 2 {
			if err := st.Write(store.Message{Time: clock.Now().UnixMilli(), Device: "d1", Topic: "env/d1",
				Fields: []payload.Field{{Name: "n", Value: float64(n)}}}); err != nil {
				t.Fatal(err)
			}
			n++
			clock.Advance(time.Minute)
		}
		clock.BlockUntil(1) // the link waits for its next attempt
		clock.Advance(cfg.MaxBackoff)
	}
	s := r.u.Status()
	if s.Connected || len(s.Buckets) != 1 {
		t.Fatalf("status after the outage: %+v", s)
	}
	b := s.Buckets[0]
	if b.LagPoints != int64(n) || b.LagSeconds < 24*3600 || b.LagSeconds > 25*3600 {
		t.Errorf("lag %d points, %.0f s; want %d points and a day", b.LagPoints, b.LagSeconds, n)
	}
	// About one attempt per 2 minutes of a day (each wait is 1 to 2 min).
	if s.Attempts < 500 || s.Attempts > 1500 {
		t.Errorf("%d attempts in a day", s.Attempts)
	}
	if warns, _ := logs.count("WARN upstream: no connection"); warns > 30 {
		t.Errorf("%d warnings in a day of retries: a log flood", warns)
	}

	subs := rcv.subacks.Load()
	if err := m.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The cloud consumer is back before the gateway: what the broker does
	// with messages for a consumer still away is not under test.
	eventually(t, 10*time.Second, "the receiver subscribed again", func() bool { return rcv.subacks.Load() > subs })
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		bc := clock.(interface {
			BlockUntilContext(context.Context, int) error
		})
		for bc.BlockUntilContext(ctx, 1) == nil {
			clock.Advance(cfg.MaxBackoff)
		}
	}()
	eventually(t, 30*time.Second, "reconnected", r.u.Connected)
	cancel()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("status at the end: %+v", r.u.Status())
		}
	})
	rcv.waitFor("env", n, 30*time.Second)
	// The receiver may see the last batch before the gateway has its PUBACK.
	eventually(t, 10*time.Second, "no lag after the catch-up", func() bool { return r.u.Status().Buckets[0].LagPoints == 0 })
}

// Wide records: a batch stops at about 128 KiB whatever batch_size says,
// so it stays under a broker's packet limit (this Mosquitto's is 256 KiB,
// as Perch's own).
func TestBatchByteLimit(t *testing.T) {
	m := startMosquitto(t)
	rcv := receive(t, m, "perch/gw1/buckets/#")
	st := openStore(t, t.TempDir(), nil)
	src := &source{}
	src.set("wide", st)
	base := time.Now().UnixMilli() - 100_000
	const n = 600
	for i := range n {
		fs := []payload.Field{{Name: "n", Value: float64(i)}}
		for f := range 60 {
			fs = append(fs, payload.Field{Name: fmt.Sprintf("sensor_%02d_temperature", f), Value: 20.123456 + float64(f)})
		}
		if err := st.Write(store.Message{Time: base + int64(i), Device: "d1", Topic: "wide/d1", Fields: fs}); err != nil {
			t.Fatal(err)
		}
	}
	run(t, config(m, src, "5"))
	rcv.waitFor("wide", n, 30*time.Second)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.batches) < 8 {
		t.Errorf("%d batches for %d records of 61 fields: not cut by size", len(rcv.batches), n)
	}
	for id, b := range rcv.batches {
		if len(b) > 160<<10 {
			t.Errorf("batch %s is %d bytes", id, len(b))
		}
	}
}
