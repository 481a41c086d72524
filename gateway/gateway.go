// Package gateway is Perch's composition root: it opens the data dir, makes
// or loads the TLS material, and wires the device registry, the admin
// access store, the data buckets, the dashboards, the MQTT broker and the
// admin API together.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/perch-gw/perch/gateway/access"
	"github.com/perch-gw/perch/gateway/acl"
	"github.com/perch-gw/perch/gateway/api"
	"github.com/perch-gw/perch/gateway/broker"
	"github.com/perch-gw/perch/gateway/bucket"
	"github.com/perch-gw/perch/gateway/config"
	"github.com/perch-gw/perch/gateway/console"
	"github.com/perch-gw/perch/gateway/dashboard"
	"github.com/perch-gw/perch/gateway/db"
	"github.com/perch-gw/perch/gateway/health"
	"github.com/perch-gw/perch/gateway/mdns"
	"github.com/perch-gw/perch/gateway/pki"
	"github.com/perch-gw/perch/gateway/registry"
	"github.com/perch-gw/perch/gateway/secret"
	"github.com/perch-gw/perch/gateway/throttle"
	"github.com/perch-gw/perch/gateway/upstream"
	"github.com/perch-gw/perch/gateway/version"
)

// File names inside the data dir.
const (
	DBFile     = "perch.db"
	TLSDir     = "tls"
	SocketFile = "perch.sock"
	// BucketsDir holds one store per data bucket.
	BucketsDir = "buckets"
)

// ErrDataDir is returned when the data dir cannot be used.
var ErrDataDir = errors.New("data dir unusable")

// Gateway is a configured gateway, ready to Run.
type Gateway struct {
	cfg config.Config
	log *slog.Logger

	db       *db.DB
	tls      *pki.Material
	registry *registry.Registry
	access   *access.Access
	buckets  *bucket.Manager
	boards   *dashboard.Store
	broker   *broker.Broker
	api      *api.Server
	health   *health.Monitor    // nil when disabled or it could not start
	mdns     *mdns.Advertiser   // nil when disabled or it could not start
	upstream *upstream.Upstream // nil without upstream.url

	adminPassword string
	ready         chan struct{}
	closeOnce     sync.Once
	closeErr      error
}

// New prepares a gateway: everything that can fail at start (bad config,
// data dir, corrupt registry, unreadable certificate, port in use) fails
// here, before anything is served.
func New(cfg config.Config, log *slog.Logger) (_ *Gateway, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.WithDefaults()
	if cfg.Hostname == "" {
		if h, herr := os.Hostname(); herr == nil && h != "" {
			cfg.Hostname = h
		} else {
			cfg.Hostname = "perch"
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, log: log, ready: make(chan struct{})}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()

	if err := prepareDataDir(cfg.DataDir, log); err != nil {
		return nil, err
	}
	if g.db, err = db.Open(filepath.Join(cfg.DataDir, DBFile)); err != nil {
		return nil, err
	}
	g.tls, err = pki.Load(pki.Config{
		Dir:        filepath.Join(cfg.DataDir, TLSDir),
		Hostname:   cfg.Hostname,
		ExtraNames: cfg.TLS.ExtraNames,
		CertFile:   cfg.TLS.CertFile,
		KeyFile:    cfg.TLS.KeyFile,
	})
	if err != nil {
		return nil, err
	}
	if g.tls.Generated {
		log.Info("created the gateway's certificate authority", "fingerprint", g.tls.Fingerprint)
	}
	if g.tls.Issued {
		log.Info("issued a server certificate", "hostname", cfg.Hostname, "reason", g.tls.IssueReason)
	}

	verifier := secret.NewVerifier(0)
	g.registry, err = registry.New(registry.Config{
		DB:       g.db,
		Verifier: verifier,
		Logger:   log,
		OnChange: g.deviceChanged,
	})
	if err != nil {
		return nil, err
	}
	g.access, err = access.New(access.Config{
		DB: g.db, Account: cfg.Account, Verifier: verifier, SessionTTL: cfg.API.SessionTTL, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	if g.adminPassword, err = g.access.EnsureAdmin(); err != nil {
		return nil, err
	}

	g.buckets, err = bucket.New(bucket.Config{
		DB:                g.db,
		Dir:               filepath.Join(cfg.DataDir, BucketsDir),
		SyncInterval:      cfg.Storage.FsyncInterval,
		PartitionDuration: cfg.Storage.PartitionDuration,
		MaxPending:        cfg.Storage.MaxPending,
		Logger:            log,
	})
	if err != nil {
		return nil, err
	}
	if err := g.provision(); err != nil {
		return nil, err
	}
	if g.boards, err = dashboard.New(dashboard.Config{DB: g.db, Logger: log}); err != nil {
		return nil, err
	}

	tlsConf := g.tls.ServerTLSConfig()
	g.broker, err = broker.New(broker.Config{
		Recorder: recorder{g.buckets},
		Account:  cfg.Account,
		MQTT:     cfg.MQTT,
		TLS:      tlsConf,
		Auth:     deviceAuth{g.registry},
		Throttle: throttle.New(throttle.Config{}),
		Logger:   log,
		OnDisconnect: func(id string, at time.Time) {
			if err := g.registry.Seen(id, at); err != nil {
				log.Warn("could not record last seen", "device", id, "err", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}

	// Before anything is served: the upstream holds every forwarded
	// bucket's journal from here on.
	if g.upstream, err = g.newUpstream(); err != nil {
		return nil, err
	}
	g.health = g.newHealth()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerMetrics(reg, g)
	if g.upstream != nil {
		reg.MustRegister(upstreamCollector{g.upstream})
	}

	apiAddr := ""
	if cfg.API.Enabled {
		apiAddr = cfg.API.Address
	}
	// The API (and the console's streams) speak HTTP/2 where the browser
	// can: one connection carries every open stream. A copy, so that the
	// MQTT listeners keep offering no ALPN protocol of their own.
	apiTLS := tlsConf.Clone()
	apiTLS.NextProtos = []string{"h2", "http/1.1"}
	g.api, err = api.New(api.Config{
		Address:    apiAddr,
		TLS:        apiTLS,
		Console:    console.Handler(),
		Socket:     filepath.Join(cfg.DataDir, SocketFile),
		Registry:   g.registry,
		Buckets:    g.buckets,
		Dashboards: g.boards,
		Upstream:   g.apiUpstream(),
		Broker:     g.broker,
		Access:     g.access,
		Metrics:    promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Info:       g.info,
		Logger:     log,
		SessionTTL: cfg.API.SessionTTL,
		Throttle:   throttle.New(throttle.Config{}),
	})
	if err != nil {
		return nil, err
	}
	g.mdns = g.newMDNS()
	return g, nil
}

// newMDNS prepares the mDNS advertisement of the bound listeners. A
// failure is logged, never fatal: the gateway serves without it.
func (g *Gateway) newMDNS() *mdns.Advertiser {
	if !g.cfg.MDNS.Enabled {
		return nil
	}
	port := func(a net.Addr) int {
		if t, ok := a.(*net.TCPAddr); ok {
			return t.Port
		}
		return 0
	}
	a, err := mdns.New(mdns.Config{
		Instance:    g.cfg.MDNS.Instance,
		Hostname:    g.cfg.Hostname,
		Interfaces:  g.cfg.MDNS.Interfaces,
		MQTTTLSPort: port(g.broker.Addr(broker.ListenerTLS)),
		MQTTPort:    port(g.broker.Addr(broker.ListenerTCP)),
		HTTPSPort:   port(g.api.Addr()),
		Version:     version.String(),
		Account:     g.cfg.Account,
		Fingerprint: g.tls.Fingerprint,
		Logger:      g.log,
	})
	if err != nil {
		g.log.Warn("not advertising over mDNS", "err", err)
		return nil
	}
	return a
}

// prepareDataDir creates the data dir with mode 0700, tightens a looser
// one, and proves it writable.
func prepareDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDataDir, dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDataDir, dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrDataDir, dir)
	}
	if st.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("%w: %s: mode %v, cannot set 0700: %w", ErrDataDir, dir, st.Mode().Perm(), err)
		}
		log.Info("tightened data dir permissions to 0700", "dir", dir, "was", st.Mode().Perm().String())
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("%w: %s is not writable: %w", ErrDataDir, dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// deviceChanged cuts off or updates a device's live session when its
// registration changes.
func (g *Gateway) deviceChanged(c registry.Change) {
	if g.broker == nil {
		return
	}
	switch {
	case c.Kind == "deleted", c.Kind == "credentials", !c.Device.Enabled:
		if g.broker.Disconnect(c.Device.ID) {
			g.log.Info("disconnected device", "device", c.Device.ID, "reason", c.Kind)
		}
	default:
		g.broker.SetRules(c.Device.ID, c.Device.ACL)
	}
}

// recorder adapts the buckets to the broker's Recorder.
type recorder struct{ m *bucket.Manager }

func (r recorder) Matches(topic string) bool { return r.m.Matches(topic) }

func (r recorder) Ingest(device, topic string, payload []byte, received time.Time) error {
	err := r.m.Ingest(device, topic, payload, received)
	switch {
	case errors.Is(err, bucket.ErrPayload):
		return fmt.Errorf("%w: %w: %w", broker.ErrRejected, broker.ErrBadPayload, err)
	case errors.Is(err, bucket.ErrRejected):
		return fmt.Errorf("%w: %w", broker.ErrRejected, err)
	}
	return err
}

// deviceAuth adapts the registry to the broker's Authenticator.
type deviceAuth struct{ r *registry.Registry }

func (a deviceAuth) Authenticate(ctx context.Context, id, password string, cheapOnly bool) (acl.Rules, error) {
	d, err := a.r.Authenticate(ctx, id, password, cheapOnly)
	switch {
	case err == nil:
		return d.ACL, nil
	case errors.Is(err, registry.ErrDisabled):
		return acl.Rules{}, broker.ErrDisabled
	case errors.Is(err, registry.ErrNotFound):
		return acl.Rules{}, broker.ErrUnknown
	case errors.Is(err, registry.ErrBadCredentials):
		return acl.Rules{}, broker.ErrBadCredentials
	}
	return acl.Rules{}, err
}

func (a deviceAuth) Exists(id string) bool {
	_, err := a.r.Get(id)
	return err == nil
}

// Run serves until ctx is done or a part fails, then shuts everything down.
// It returns nil after a requested shutdown.
func (g *Gateway) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { return g.broker.Run(ctx) })
	eg.Go(func() error { return g.api.Run(ctx) })
	if g.health != nil {
		eg.Go(func() error { return g.health.Run(ctx) })
	}
	if g.mdns != nil {
		eg.Go(func() error { return g.mdns.Run(ctx) })
	}
	if g.upstream != nil {
		eg.Go(func() error { return g.upstream.Run(ctx) })
	}
	close(g.ready)
	err := eg.Wait()
	if cerr := g.Close(); err == nil {
		err = cerr
	}
	return err
}

// Ready is closed once Run has started serving.
func (g *Gateway) Ready() <-chan struct{} { return g.ready }

// Close stops everything and closes the database. It is safe to call more
// than once.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		if g.mdns != nil {
			g.mdns.Close() // goodbyes while the listeners still answer
		}
		if g.health != nil {
			g.health.Close()
		}
		if g.upstream != nil {
			g.upstream.Close()
		}
		if g.api != nil {
			g.api.Close()
		}
		if g.broker != nil {
			g.broker.Close()
		}
		if g.buckets != nil {
			if err := g.buckets.Close(); err != nil {
				g.log.Error("closing the buckets", "err", err)
				g.closeErr = err
			}
		}
		if g.db != nil {
			if err := g.db.Close(); g.closeErr == nil {
				g.closeErr = err
			}
		}
	})
	return g.closeErr
}

// AdminPassword is the admin password generated at this start, or "" when
// it existed before: it is shown once, in the banner.
func (g *Gateway) AdminPassword() string { return g.adminPassword }

// Fingerprint is the SHA-256 fingerprint of the gateway's CA.
func (g *Gateway) Fingerprint() string { return g.tls.Fingerprint }

// CAPEM is the gateway's CA certificate.
func (g *Gateway) CAPEM() []byte { return g.tls.CAPEM }

// Config is the effective configuration.
func (g *Gateway) Config() config.Config { return g.cfg }

// Addrs maps each listener ("mqtt_tls", "mqtt_tcp", "mqtt_websocket",
// "api") to its bound address.
func (g *Gateway) Addrs() map[string]string {
	out := make(map[string]string)
	for _, l := range []string{broker.ListenerTLS, broker.ListenerTCP, broker.ListenerWebSocket} {
		if a := g.broker.Addr(l); a != nil {
			out["mqtt_"+l] = a.String()
		}
	}
	if a := g.api.Addr(); a != nil {
		out["api"] = a.String()
	}
	return out
}

// Socket is the path of the local control socket.
func (g *Gateway) Socket() string { return filepath.Join(g.cfg.DataDir, SocketFile) }

func (g *Gateway) info() api.Info {
	return api.Info{
		Account:     g.cfg.Account,
		Hostname:    g.cfg.Hostname,
		Fingerprint: g.tls.Fingerprint,
		CAPEM:       g.tls.CAPEM,
		Listeners:   g.Addrs(),
	}
}

// Banner is the start message: where to connect and how to log in.
func (g *Gateway) Banner() string {
	var b strings.Builder
	addrs := g.Addrs()
	keys := make([]string, 0, len(addrs))
	for k := range addrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "Perch gateway %q is up.\n", g.cfg.Hostname)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-16s %s\n", k, displayAddr(addrs[k], g.cfg.Hostname))
	}
	fmt.Fprintf(&b, "  %-16s %s\n", "account id", g.cfg.Account)
	fmt.Fprintf(&b, "  %-16s %s\n", "CA fingerprint", g.tls.Fingerprint)
	fmt.Fprintf(&b, "  %-16s %s\n", "data dir", g.cfg.DataDir)
	if g.adminPassword != "" {
		fmt.Fprintf(&b, "\n  First start: the admin password is  %s\n", g.adminPassword)
		b.WriteString("  It is shown only this once. Change it with: perch admin password\n")
	}
	b.WriteString("\n  Add a device:  perch device add my-sensor\n")
	return b.String()
}

// displayAddr turns ":8883" into "hostname.local:8883" for people.
func displayAddr(addr, host string) string {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
		return net.JoinHostPort(host+".local", p) + "  (" + addr + ")"
	}
	return addr
}
