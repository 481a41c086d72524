// Package broker is the gateway's MQTT broker: mochi-mqtt behind listeners
// that bound the handshake and packet size, with a hook that logs devices in
// against the registry, enforces their topic rules and records their live
// status (WatchPresence follows its changes), and an inline client through
// which the admin API publishes and watches topics (Publish, Watch).
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/perch-gw/perch/gateway/acl"
	"github.com/perch-gw/perch/gateway/config"
	"github.com/perch-gw/perch/gateway/throttle"
)

var (
	// ErrDisabled is returned by an Authenticator for a disabled device.
	ErrDisabled = errors.New("device disabled")
	// ErrUnknown is returned by an Authenticator for an unknown device.
	ErrUnknown = errors.New("unknown device")
	// ErrBadCredentials is returned by an Authenticator for a wrong password.
	ErrBadCredentials = errors.New("bad credentials")
)

// Authenticator checks a device's credentials and returns its topic rules.
// cheapOnly asks it to refuse (ErrBadCredentials) rather than run a slow
// password hash: the broker sets it for a source that is being throttled.
type Authenticator interface {
	Authenticate(ctx context.Context, deviceID, password string, cheapOnly bool) (acl.Rules, error)
	Exists(deviceID string) bool
}

// Listener ids, as reported in Status.Listener.
const (
	ListenerTLS       = "tls"
	ListenerTCP       = "tcp"
	ListenerWebSocket = "websocket"
)

// Config configures a Broker. MQTT is completed from config.Default.
type Config struct {
	Account string
	MQTT    config.MQTT
	// TLS is the server configuration for the TLS and WebSocket listeners.
	TLS      *tls.Config
	Auth     Authenticator
	Throttle *throttle.Limiter
	Logger   *slog.Logger
	// OnDisconnect is called when a device's connection ends, with the time.
	OnDisconnect func(deviceID string, at time.Time)
	// Recorder, when set, stores the messages it wants (the data buckets)
	// before they are acknowledged.
	Recorder Recorder
}

// Recorder stores published messages. Record runs on the publisher's read
// goroutine before the PUBACK: it may block to apply backpressure, and an
// error means the message was not stored, so it is not acknowledged.
//
// An error wrapping ErrRejected means the message was refused as bad (it
// is counted by the recorder): MQTT 5 publishers get a PUBACK saying so
// (0x99 payload format invalid, when also wrapping ErrBadPayload, else
// 0x83 implementation specific error); 3.1.1 has no way to say it, so they
// get a normal PUBACK and must look at the bucket's rejections.
type Recorder interface {
	Matches(topic string) bool
	Ingest(device, topic string, payload []byte, received time.Time) error
}

// ErrRejected and ErrBadPayload are what a Recorder wraps to refuse a message.
var (
	ErrRejected   = errors.New("message rejected")
	ErrBadPayload = errors.New("invalid payload")
)

// Broker is a running MQTT broker.
type Broker struct {
	cfg    Config
	log    *slog.Logger
	server *mqtt.Server
	hook   *hook

	guards      []*guardListener
	handshakers []*handshakeListener
	addrs       map[string]net.Addr
	wsSrv       *http.Server
	wsLn        net.Listener

	watches  watches
	presence presenceWatches

	started time.Time
	// runMu orders Run's start against Close: Run either starts fully
	// before closed is closed or sees it closed and starts nothing.
	runMu     sync.Mutex
	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup
}

// New binds every enabled listener, so that a port in use fails here, and
// prepares the broker. Run starts serving.
func New(cfg Config) (*Broker, error) {
	if cfg.Auth == nil {
		return nil, errors.New("broker: no authenticator")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Throttle == nil {
		cfg.Throttle = throttle.New(throttle.Config{})
	}
	if cfg.Account == "" {
		cfg.Account = config.Default().Account
	}
	cfg.MQTT = config.Config{MQTT: cfg.MQTT}.WithDefaults().MQTT

	b := &Broker{
		cfg:     cfg,
		log:     cfg.Logger,
		addrs:   make(map[string]net.Addr),
		started: time.Now(),
		closed:  make(chan struct{}),
	}
	b.server = mqtt.New(b.options())
	detachInline(b.server)
	b.watches.set = make(map[*Watch]struct{})
	b.hook = &hook{b: b}
	if err := b.server.AddHook(b.hook, nil); err != nil {
		return nil, fmt.Errorf("broker: add hook: %w", err)
	}
	if err := b.listen(); err != nil {
		b.closeListeners()
		return nil, err
	}
	return b, nil
}

func (b *Broker) options() *mqtt.Options {
	m := b.cfg.MQTT
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = uint32(m.MaxPacketSize)
	caps.MaximumClientWritesPending = int32(m.MaxQueued)
	caps.MaximumInflight = uint16(min(m.MaxInflight, math.MaxUint16))
	caps.ReceiveMaximum = caps.MaximumInflight
	caps.MaximumSessionExpiryInterval = uint32(min(m.SessionExpiry/time.Second, math.MaxUint32))
	caps.TopicAliasMaximum = 64
	if m.MaxClients > 0 {
		caps.MaximumClients = int64(m.MaxClients)
	}
	return &mqtt.Options{
		Capabilities:             caps,
		Logger:                   slog.New(quietHandler{b.log.Handler().WithAttrs([]slog.Attr{slog.String("component", "mqtt")})}),
		SysTopicResendInterval:   int64(max(m.SysInterval/time.Second, 1)),
		ClientNetReadBufferSize:  2048,
		ClientNetWriteBufferSize: 2048,
		// The admin API publishes and watches through it (inline.go).
		InlineClient: true,
	}
}

func (b *Broker) listen() error {
	m := b.cfg.MQTT
	type spec struct {
		id  string
		l   config.Listener
		tls bool
	}
	for _, s := range []spec{{ListenerTLS, m.TLS, true}, {ListenerTCP, m.TCP, false}} {
		if !s.l.Enabled {
			continue
		}
		if s.tls && b.cfg.TLS == nil {
			return fmt.Errorf("broker: listener %s: no TLS configuration", s.id)
		}
		ln, err := net.Listen("tcp", s.l.Address)
		if err != nil {
			return fmt.Errorf("broker: listen mqtt %s on %s: %w", s.id, s.l.Address, err)
		}
		b.addrs[s.id] = ln.Addr()
		g := newGuardListener(ln, m.ConnectTimeout)
		b.guards = append(b.guards, g)
		var served net.Listener = g
		if s.tls {
			h := newHandshakeListener(g, b.cfg.TLS)
			b.handshakers = append(b.handshakers, h)
			served = h
		}
		if err := b.server.AddListener(listeners.NewNet(s.id, served)); err != nil {
			return fmt.Errorf("broker: add listener %s: %w", s.id, err)
		}
	}
	if m.WebSocket.Enabled {
		if b.cfg.TLS == nil {
			return errors.New("broker: websocket listener: no TLS configuration")
		}
		ln, err := net.Listen("tcp", m.WebSocket.Address)
		if err != nil {
			return fmt.Errorf("broker: listen mqtt websocket on %s: %w", m.WebSocket.Address, err)
		}
		b.addrs[ListenerWebSocket] = ln.Addr()
		g := newGuardListener(ln, m.ConnectTimeout)
		b.guards = append(b.guards, g)
		b.wsLn = tls.NewListener(g, b.cfg.TLS)
		cl := newChanListener(ln.Addr())
		b.wsSrv = &http.Server{
			Handler:           b.wsHandler(cl),
			ReadHeaderTimeout: m.ConnectTimeout,
			ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelDebug),
		}
		if err := b.server.AddListener(listeners.NewNet(ListenerWebSocket, cl)); err != nil {
			return fmt.Errorf("broker: add listener websocket: %w", err)
		}
	}
	return nil
}

// wsHandler upgrades requests on /mqtt (or /) with the "mqtt" subprotocol
// and hands the connection to mochi as a net.Conn.
func (b *Broker) wsHandler(cl *chanListener) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/mqtt" && r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"mqtt"}})
		if err != nil {
			return // Accept has written the HTTP error
		}
		// NetConn streams frames without buffering whole messages (it lifts
		// the read limit), so mochi's packet size check applies as on TCP.
		// The request context ends when the handler returns; the conn must
		// outlive it, so it gets its own, cancelled when mochi closes it.
		ctx, cancel := context.WithCancel(context.Background())
		nc := &wsConn{Conn: websocket.NetConn(ctx, c, websocket.MessageBinary), cancel: cancel, remote: r.RemoteAddr}
		_ = nc.SetDeadline(time.Now().Add(b.cfg.MQTT.ConnectTimeout))
		if !cl.offer(nc) {
			nc.Close()
		}
	})
}

type wsConn struct {
	net.Conn
	cancel context.CancelFunc
	remote string
}

func (c *wsConn) Close() error { c.cancel(); return c.Conn.Close() }

func (c *wsConn) RemoteAddr() net.Addr {
	if a, err := net.ResolveTCPAddr("tcp", c.remote); err == nil {
		return a
	}
	return c.Conn.RemoteAddr()
}

// Addr returns the bound address of a listener (ListenerTLS, ...), or nil.
func (b *Broker) Addr(listener string) net.Addr { return b.addrs[listener] }

// Run serves until ctx is done, then shuts down. It returns nil on shutdown.
func (b *Broker) Run(ctx context.Context) error {
	if err := b.start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-b.closed:
	}
	return b.Close()
}

// start begins serving unless Close came first.
func (b *Broker) start() error {
	b.runMu.Lock()
	defer b.runMu.Unlock()
	select {
	case <-b.closed:
		return nil
	default:
	}
	if err := b.server.Serve(); err != nil {
		return fmt.Errorf("broker: serve: %w", err)
	}
	if b.wsSrv != nil {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			if err := b.wsSrv.Serve(b.wsLn); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				b.log.Error("mqtt websocket listener stopped", "err", err)
			}
		}()
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.hook.rates.run(b.closed, b.server)
	}()
	return nil
}

// shutdownGrace bounds how long Close waits for clients to go.
const shutdownGrace = 3 * time.Second

// Close disconnects every client, stops the listeners and waits for the
// broker's goroutines. It is safe to call more than once and from any
// goroutine.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.runMu.Lock()
		close(b.closed)
		b.runMu.Unlock()
		b.closeWatches()
		b.closePresence()
		deadline := time.Now().Add(shutdownGrace)
		// Stop accepting first, so no client is added while mochi walks its
		// client list (#541); then tell every client, then cut the rest.
		b.closeListeners()
		b.hook.sessions.Range(func(_, v any) bool {
			s := v.(*session)
			_ = b.server.DisconnectClient(s.cl, packetsServerShuttingDown)
			return true
		})
		for _, g := range b.guards {
			g.closeConns()
		}
		for _, h := range b.handshakers {
			h.wait()
		}
		for _, g := range b.guards {
			if !g.wait(deadline) {
				b.log.Warn("mqtt clients still open at shutdown deadline")
			}
		}
		// With no client left, mochi's Close cannot race Clients.Add/Delete
		// (#488). Bound it anyway: a stuck Close must not hang shutdown.
		done := make(chan struct{})
		go func() { defer close(done); _ = b.server.Close() }()
		select {
		case <-done:
		case <-time.After(time.Until(deadline) + time.Second):
			b.log.Warn("mqtt server close timed out")
		}
		b.wg.Wait()
	})
	return nil
}

func (b *Broker) closeListeners() {
	if b.wsSrv != nil {
		_ = b.wsSrv.Close()
	}
	for _, g := range b.guards {
		_ = g.Close()
	}
	for _, h := range b.handshakers {
		_ = h.Close()
	}
}

// Disconnect cuts off a device's live connection, if any, telling an MQTT 5
// client that it was an administrative action.
func (b *Broker) Disconnect(deviceID string) bool {
	v, ok := b.hook.sessions.Load(deviceID)
	if !ok {
		return false
	}
	s := v.(*session)
	_ = b.server.DisconnectClient(s.cl, packetsAdministrativeAction)
	return true
}

// SetRules replaces the topic rules of a device's live session.
func (b *Broker) SetRules(deviceID string, r acl.Rules) {
	if v, ok := b.hook.sessions.Load(deviceID); ok {
		s := v.(*session)
		s.rules.Store(acl.Compile(r, s.id, b.cfg.Account))
	}
}

// Status is the live status of one connected client.
type Status struct {
	ClientID        string    `json:"client_id"`
	Anonymous       bool      `json:"anonymous,omitempty"`
	Connected       bool      `json:"connected"`
	Since           time.Time `json:"since"`
	Remote          string    `json:"remote_addr"`
	Listener        string    `json:"listener"`
	ProtocolVersion byte      `json:"protocol_version"`
	MessagesIn      uint64    `json:"messages_in"`
	MessagesOut     uint64    `json:"messages_out"`
	BytesIn         uint64    `json:"bytes_in"`
	BytesOut        uint64    `json:"bytes_out"`
	LastSeen        time.Time `json:"last_seen"`
}

// Status returns the live status of a connected client.
func (b *Broker) Status(clientID string) (Status, bool) {
	v, ok := b.hook.sessions.Load(clientID)
	if !ok {
		return Status{}, false
	}
	return v.(*session).status(), true
}

// Statuses returns the live status of every connected client.
func (b *Broker) Statuses() []Status {
	var out []Status
	b.hook.sessions.Range(func(_, v any) bool {
		out = append(out, v.(*session).status())
		return true
	})
	return out
}

// Stats are broker-wide counters.
type Stats struct {
	Uptime           time.Duration `json:"-"`
	ClientsConnected int64         `json:"clients_connected"`
	Sessions         int64         `json:"sessions"`
	Subscriptions    int64         `json:"subscriptions"`
	Retained         int64         `json:"retained"`
	MessagesIn       int64         `json:"messages_in"`
	MessagesOut      int64         `json:"messages_out"`
	MessagesDropped  int64         `json:"messages_dropped"`
	BytesIn          int64         `json:"bytes_in"`
	BytesOut         int64         `json:"bytes_out"`
	InRate           float64       `json:"messages_in_per_second"`
	OutRate          float64       `json:"messages_out_per_second"`
	AuthFailures     int64         `json:"auth_failures"`
	Throttled        int64         `json:"auth_throttled"`
	// StoreFailures counts messages not acknowledged because a bucket's
	// store failed (a full disk, say).
	StoreFailures int64 `json:"store_failures"`
	// Streams counts the API's open topic streams (Watch); they are not
	// MQTT subscriptions and not in Subscriptions.
	Streams int64 `json:"streams"`
	// StreamsDropped counts messages the streams lost to slow readers.
	StreamsDropped int64 `json:"streams_dropped"`
}

// Stats returns broker-wide counters and recent message rates.
func (b *Broker) Stats() Stats {
	info := b.server.Info
	in, out := b.hook.rates.get()
	return Stats{
		Uptime:           time.Since(b.started),
		ClientsConnected: atomic.LoadInt64(&info.ClientsConnected),
		Sessions:         int64(b.server.Clients.Len()),
		Subscriptions:    atomic.LoadInt64(&info.Subscriptions),
		Retained:         atomic.LoadInt64(&info.Retained),
		MessagesIn:       atomic.LoadInt64(&info.MessagesReceived),
		MessagesOut:      atomic.LoadInt64(&info.MessagesSent),
		// mochi counts queue overflows and in-flight-window overflows apart.
		MessagesDropped: atomic.LoadInt64(&info.MessagesDropped) + atomic.LoadInt64(&info.InflightDropped),
		BytesIn:         atomic.LoadInt64(&info.BytesReceived),
		BytesOut:        atomic.LoadInt64(&info.BytesSent),
		InRate:          in,
		OutRate:         out,
		AuthFailures:    b.hook.authFailures.Load(),
		StoreFailures:   b.hook.recordFailures.Load(),
		Throttled:       b.hook.throttled.Load(),
		Streams:         b.streams(),
		StreamsDropped:  b.watches.dropped.Load(),
	}
}
