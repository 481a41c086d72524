// Package upstream forwards the gateway's data to a cloud MQTT broker
// (Thinger.io, EMQX, HiveMQ, Mosquitto, another Perch) whenever the link is
// up, and loses nothing while it is down.
//
// Buckets are stored here first and forwarded from their stores: each
// forwarded bucket has a durable cursor (a hold on its store's journal, see
// gateway/store), batches are published at QoS 1 and the cursor moves only
// after the broker's PUBACK. The journal keeps whatever has not been
// acknowledged, across restarts and outages of any length within the
// bucket's retention. Delivery is at least once: a batch sent again after
// a lost PUBACK or a restart carries the same batch id, so a receiver can
// drop the copy.
//
// Bridge rules forward local topics upstream as they happen (out) and
// republish upstream topics locally (in), with prefix mapping and loop
// prevention. They are live: messages published while the link is down are
// not queued (record them in a bucket for that).
//
// One connection carries everything; it is made again with exponential
// backoff and jitter after any failure, and every failure is logged once
// (then again only when it changes, or every few minutes), never in a flood.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/perch-gw/perch/gateway/acl"
	"github.com/perch-gw/perch/gateway/broker"
	"github.com/perch-gw/perch/gateway/store"
)

// Defaults for Config's zero fields.
const (
	DefaultTopic      = "perch/{gateway}/buckets/{bucket}"
	DefaultBatchSize  = 500
	DefaultInflight   = 4
	DefaultKeepAlive  = 60 * time.Second
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 2 * time.Minute
	// HoldName is the name of the upstream's cursor in each bucket store.
	HoldName = "upstream"
)

// Config configures the upstream link. With URL empty there is none.
type Config struct {
	URL      string // mqtts://host:8883, mqtt://host:1883, wss://host/mqtt, ws://...
	ClientID string // perch-<gateway> when empty
	Username string
	Password string
	CertFile string // client certificate (PEM), with KeyFile
	KeyFile  string
	CAFile   string // the broker's CA (PEM); the system's roots when empty
	// Version is "5" (the default) or "3.1.1".
	Version   string
	KeepAlive time.Duration
	// Gateway names this gateway in topics and messages ({gateway}).
	Gateway string
	// Buckets to forward: "*" for all (also when empty: see Forward).
	Buckets []string
	// Forward is false to forward no bucket (bridge rules only).
	Forward bool
	// Topic is the template of the bucket batches' topic: {gateway} and
	// {bucket} are replaced.
	Topic string
	// BatchSize is the most records one message carries.
	BatchSize int
	// MaxRate bounds the points forwarded a second, all buckets together;
	// 0 for no bound.
	MaxRate int
	// Inflight is how many batches of one bucket may await their PUBACK.
	Inflight int
	// Bridge rules.
	Bridge []Rule

	MinBackoff, MaxBackoff time.Duration

	// Buckets and Local are the gateway's; Local may be nil without rules.
	Source Source
	Local  Local
	Logger *slog.Logger
	Clock  clockwork.Clock // nil: the real clock
}

// Rule is a live bridge rule.
type Rule struct {
	// Direction is "out" (local to upstream) or "in" (upstream to local).
	Direction string
	// Filter is the topic filter on the source side: local topics for out,
	// upstream topics for in.
	Filter string
	// LocalPrefix and RemotePrefix map topics: a topic beginning with the
	// source side's prefix has it replaced by the other side's (for out,
	// site1/ + sensors/t for sensors/t with LocalPrefix "" and RemotePrefix
	// "site1/").
	LocalPrefix  string
	RemotePrefix string
	QoS          byte
}

// Source is the gateway's buckets as the upstream reads them.
type Source interface {
	// BucketIDs lists every bucket.
	BucketIDs() []string
	// Follower returns the current store of a bucket (it changes when the
	// bucket is reopened); an error wrapping ErrGone once it is deleted.
	Follower(id string) (Follower, error)
}

// ErrGone is wrapped by Source.Follower's error for a deleted bucket.
var ErrGone = errors.New("bucket gone")

// Follower is a bucket store as the upstream follows it (see gateway/store).
type Follower interface {
	HoldOf(name string) (store.Hold, bool)
	SetHold(name string, h store.Hold) error
	Release(name string) error
	ReadAfter(after store.Pos, max int, fn func(e *store.Entry) error) (int, error)
	Backlog(after store.Pos) (points, appended int64, err error)
	Appended() int64
	Changed() <-chan struct{}
}

// Local is the gateway's broker as the bridge rules use it.
type Local interface {
	Watch(filter string, buffer int) (*broker.Watch, error)
	Publish(topic string, payload []byte, qos byte, retain bool) error
}

// Validate checks a Config the way New does, without starting anything.
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, err := newDialer(c); err != nil {
		return err
	}
	if c.Version != "5" && c.Version != "3.1.1" {
		return fmt.Errorf("mqtt_version %q is not 5 or 3.1.1", c.Version)
	}
	if !strings.Contains(c.Topic, "{bucket}") {
		return fmt.Errorf("topic %q: needs {bucket}, or every bucket's batches share one topic", c.Topic)
	}
	if err := acl.ValidTopic(strings.NewReplacer("{gateway}", "g", "{bucket}", "b").Replace(c.Topic)); err != nil {
		return fmt.Errorf("topic %q: %w", c.Topic, err)
	}
	for i, r := range c.Bridge {
		if err := r.validate(); err != nil {
			return fmt.Errorf("bridge[%d]: %w", i, err)
		}
	}
	return nil
}

func (r Rule) validate() error {
	if r.Direction != "in" && r.Direction != "out" {
		return fmt.Errorf("direction %q is not in or out", r.Direction)
	}
	if err := acl.ValidFilter(r.Filter); err != nil {
		return err
	}
	if strings.HasPrefix(r.Filter, "$") {
		return fmt.Errorf("filter %q: topics beginning with $ belong to the broker", r.Filter)
	}
	for _, p := range []string{r.LocalPrefix, r.RemotePrefix} {
		if strings.ContainsAny(p, "+#") {
			return fmt.Errorf("prefix %q contains a wildcard", p)
		}
	}
	if r.QoS > 1 {
		return fmt.Errorf("qos %d: the bridge forwards at QoS 0 or 1", r.QoS)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Version == "" {
		c.Version = "5"
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.Gateway == "" {
		c.Gateway = "perch"
	}
	if c.ClientID == "" {
		c.ClientID = "perch-" + c.Gateway
	}
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Inflight <= 0 {
		c.Inflight = DefaultInflight
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = clockwork.NewRealClock()
	}
	return c
}

// Upstream is the link to the upstream broker.
type Upstream struct {
	cfg   Config
	log   *slog.Logger
	clock clockwork.Clock
	dial  *dialer
	rate  *limiter
	loops *loopGuard

	mu        sync.Mutex
	fwd       map[string]*forwarder
	rules     []*ruleState
	connected bool
	since     time.Time
	lastErr   string
	lastErrAt time.Time
	attempts  int // failed connection attempts since the last success
	next      time.Time
	cur       link // nil while down

	closeOnce sync.Once
	stop      context.CancelFunc
	closed    chan struct{}
	wg        sync.WaitGroup
}

// New checks cfg and prepares the link; Run connects.
func New(cfg Config) (*Upstream, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	if cfg.Source == nil && cfg.Forward {
		return nil, errors.New("upstream: forwarding buckets needs a source")
	}
	if cfg.Local == nil && len(cfg.Bridge) > 0 {
		return nil, errors.New("upstream: bridge rules need the local broker")
	}
	d, _ := newDialer(cfg)
	u := &Upstream{
		cfg: cfg, log: cfg.Logger.With("upstream", d.u.Redacted()), clock: cfg.Clock, dial: d,
		rate: newLimiter(cfg.MaxRate, cfg.Clock), loops: newLoopGuard(cfg.Clock),
		fwd: map[string]*forwarder{}, closed: make(chan struct{}),
	}
	for _, r := range cfg.Bridge {
		u.rules = append(u.rules, &ruleState{Rule: r})
	}
	// Hold every forwarded bucket's journal now, before anything is
	// recorded, so that nothing accepted from here on can be trimmed
	// before it is forwarded.
	u.attach()
	return u, nil
}

// Forwards says whether bucket id is forwarded.
func (u *Upstream) Forwards(id string) bool {
	if !u.cfg.Forward {
		return false
	}
	return len(u.cfg.Buckets) == 0 || slices.Contains(u.cfg.Buckets, "*") || slices.Contains(u.cfg.Buckets, id)
}

// attachEvery is how often Run looks for created and deleted buckets.
const attachEvery = 2 * time.Second

// attach makes a forwarder, holding the journal, for every forwarded
// bucket, releases the holds of buckets no longer forwarded and drops the
// forwarders of deleted buckets.
func (u *Upstream) attach() {
	if u.cfg.Source == nil {
		return
	}
	ids := u.cfg.Source.BucketIDs()
	live := map[string]bool{}
	for _, id := range ids {
		live[id] = true
		if !u.Forwards(id) {
			if f, err := u.cfg.Source.Follower(id); err == nil {
				if _, held := f.HoldOf(HoldName); held {
					if err := f.Release(HoldName); err != nil {
						u.log.Warn("upstream: could not release a bucket no longer forwarded", "bucket", id, "err", err)
					} else {
						u.log.Info("upstream: bucket no longer forwarded; its journal is no longer kept for the upstream", "bucket", id)
					}
				}
			}
			continue
		}
		u.mu.Lock()
		_, ok := u.fwd[id]
		u.mu.Unlock()
		if ok {
			continue
		}
		fw, err := newForwarder(u, id)
		if err != nil {
			u.log.Warn("upstream: cannot forward bucket", "bucket", id, "err", err)
			continue
		}
		u.mu.Lock()
		u.fwd[id] = fw
		u.mu.Unlock()
	}
	u.mu.Lock()
	for id, fw := range u.fwd {
		if !live[id] {
			fw.gone()
			delete(u.fwd, id)
		}
	}
	u.mu.Unlock()
}

// Run connects and forwards until ctx is done or Close is called. It
// returns nil then.
func (u *Upstream) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	u.mu.Lock()
	u.stop = cancel
	u.mu.Unlock()
	defer cancel()
	select {
	case <-u.closed:
		return nil
	default:
	}
	watches, err := u.watchOut()
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	for _, w := range watches {
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			u.forwardOut(ctx, w)
		}()
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		t := time.NewTicker(attachEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				u.attach()
			}
		}
	}()
	u.supervise(ctx)
	for _, w := range watches {
		w.w.Close()
	}
	u.wg.Wait()
	return nil
}

// supervise keeps one link up at a time until ctx is done.
func (u *Upstream) supervise(ctx context.Context) {
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, ackTimeout)
		lk, err := connect(dctx, u.cfg, u.dial, u.receive)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !u.wait(ctx, u.failed(err)) {
				return
			}
			continue
		}
		lasted := u.session(ctx, lk)
		if ctx.Err() != nil {
			return
		}
		// A link that worked for a while is retried at once (with the
		// smallest backoff), not after the backoff of earlier failures.
		if lasted > u.cfg.MaxBackoff {
			u.mu.Lock()
			u.attempts = 0
			u.mu.Unlock()
		}
		if !u.wait(ctx, u.failed(lk.err())) {
			return
		}
	}
}

// wait sleeps d on the clock; false when ctx ended first.
func (u *Upstream) wait(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-u.clock.After(d):
		return true
	}
}

// logAgain is how often an unchanged connection failure is logged again
// (as a warning; every attempt is logged at debug level).
const logAgain = time.Hour

// failed records a failure and returns the backoff before the next try:
// exponential from MinBackoff to MaxBackoff, with jitter (half fixed, half
// random) so that many gateways cut off together do not return together.
func (u *Upstream) failed(err error) time.Duration {
	now := u.clock.Now()
	u.mu.Lock()
	msg := err.Error()
	repeat := msg == u.lastErr && now.Sub(u.lastErrAt) < logAgain
	if !repeat {
		u.lastErrAt = now
	}
	u.lastErr = msg
	u.attempts++
	n := u.attempts
	d := u.cfg.MinBackoff << min(n-1, 30)
	if d > u.cfg.MaxBackoff || d <= 0 {
		d = u.cfg.MaxBackoff
	}
	d = d/2 + rand.N(d/2+1)
	u.next = now.Add(d)
	u.mu.Unlock()
	if repeat {
		u.log.Debug("upstream: still failing", "err", err, "attempts", n, "retry_in", d.Round(time.Millisecond))
	} else {
		attrs := []any{"err", err, "attempts", n, "retry_in", d.Round(time.Millisecond)}
		if re := (*RefusedError)(nil); errors.As(err, &re) {
			attrs = append(attrs, "hint", "check upstream.username, upstream.password and upstream.client_id")
		}
		u.log.Warn("upstream: no connection", attrs...)
	}
	return d
}

// session runs the forwarders and bridge on one link until it goes down
// or ctx is done, and returns how long it lasted.
func (u *Upstream) session(ctx context.Context, lk link) time.Duration {
	start := u.clock.Now()
	if err := u.subscribeIn(ctx, lk); err != nil {
		u.log.Warn("upstream: bridge subscriptions failed", "err", err)
	}
	u.mu.Lock()
	u.connected, u.since, u.cur, u.next = true, start, lk, time.Time{}
	u.mu.Unlock()
	u.log.Info("upstream: connected", "client_id", u.cfg.ClientID, "mqtt", u.cfg.Version)

	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	broken := make(chan error, 1)
	started := map[*forwarder]bool{}
	startForwarders := func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		for _, fw := range u.fwd {
			if started[fw] {
				continue
			}
			started[fw] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fw.run(sctx, lk); err != nil && sctx.Err() == nil {
					select {
					case broken <- err:
					default:
					}
				}
			}()
		}
	}
	startForwarders()
	t := time.NewTicker(attachEvery)
	var why error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-lk.done():
			break loop
		case why = <-broken:
			break loop
		case <-t.C:
			startForwarders()
		}
	}
	t.Stop()
	u.mu.Lock()
	u.connected, u.cur = false, nil
	u.mu.Unlock()
	cancel()
	wg.Wait()
	lk.close()
	if ctx.Err() == nil {
		if why == nil {
			why = lk.err()
		}
		u.log.Warn("upstream: connection lost", "err", why, "after", u.clock.Since(start).Round(time.Second))
	}
	return u.clock.Since(start)
}

// link returns the current link, nil while down.
func (u *Upstream) link() link {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.cur
}

// Close stops the link. It is safe to call more than once.
func (u *Upstream) Close() {
	u.closeOnce.Do(func() {
		close(u.closed)
		u.mu.Lock()
		stop := u.stop
		u.mu.Unlock()
		if stop != nil {
			stop()
		}
		u.wg.Wait()
	})
}

// Status is the link's state as the CLI, API and metrics show it.
type Status struct {
	Configured  bool           `json:"configured"` // always true: see the API
	URL         string         `json:"url"`
	ClientID    string         `json:"client_id"`
	Version     string         `json:"mqtt_version"`
	Connected   bool           `json:"connected"`
	Since       *time.Time     `json:"since,omitempty"` // connected since
	LastError   string         `json:"last_error,omitempty"`
	LastErrorAt *time.Time     `json:"last_error_at,omitempty"`
	Attempts    int            `json:"failed_attempts"`
	NextAttempt *time.Time     `json:"next_attempt,omitempty"`
	Buckets     []BucketStatus `json:"buckets"`
	Bridge      []RuleStatus   `json:"bridge"`
}

// BucketStatus is one forwarded bucket.
type BucketStatus struct {
	ID          string     `json:"id"`
	LagPoints   int64      `json:"lag_points"`
	LagSeconds  float64    `json:"lag_seconds"` // by the points' own timestamps
	SentPoints  int64      `json:"sent_points"` // acknowledged since the gateway started
	SentBatches int64      `json:"sent_batches"`
	Cursor      string     `json:"cursor"`
	LastSent    *time.Time `json:"last_sent,omitempty"`
	Error       string     `json:"error,omitempty"`
}

// RuleStatus is one bridge rule.
type RuleStatus struct {
	Direction string `json:"direction"`
	Filter    string `json:"filter"`
	Messages  int64  `json:"messages"`
	Dropped   int64  `json:"dropped"` // out: while the link was down or behind
}

// Status reports the link and every forwarded bucket.
func (u *Upstream) Status() Status {
	u.mu.Lock()
	s := Status{
		Configured: true, URL: u.dial.u.Redacted(), ClientID: u.cfg.ClientID, Version: u.cfg.Version,
		Connected: u.connected, LastError: u.lastErr, Attempts: u.attempts,
	}
	t := func(v time.Time) *time.Time {
		if v.IsZero() {
			return nil
		}
		v = v.UTC()
		return &v
	}
	if u.connected {
		s.Since = t(u.since)
	} else {
		s.NextAttempt = t(u.next)
	}
	s.LastErrorAt = t(u.lastErrAt)
	fws := make([]*forwarder, 0, len(u.fwd))
	for _, fw := range u.fwd {
		fws = append(fws, fw)
	}
	for _, r := range u.rules {
		s.Bridge = append(s.Bridge, RuleStatus{Direction: r.Direction, Filter: r.Filter, Messages: r.messages.Load(), Dropped: r.dropped.Load()})
	}
	u.mu.Unlock()
	slices.SortFunc(fws, func(a, b *forwarder) int { return strings.Compare(a.id, b.id) })
	s.Buckets = []BucketStatus{}
	for _, fw := range fws {
		s.Buckets = append(s.Buckets, fw.status())
	}
	if s.Bridge == nil {
		s.Bridge = []RuleStatus{}
	}
	return s
}

// Connected says whether the link is up.
func (u *Upstream) Connected() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.connected
}

// Summary is the link's state and the points not yet acknowledged, all
// buckets together: Status without its per-bucket reads.
func (u *Upstream) Summary() (connected bool, lagPoints int64) {
	u.mu.Lock()
	connected = u.connected
	fws := make([]*forwarder, 0, len(u.fwd))
	for _, fw := range u.fwd {
		fws = append(fws, fw)
	}
	u.mu.Unlock()
	for _, fw := range fws {
		lagPoints += fw.lag()
	}
	return connected, lagPoints
}
