package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// link is one connection to the upstream broker, MQTT 5 or 3.1.1. It is
// never reconnected: the supervisor makes a new one.
type link interface {
	// publish sends a message; at QoS 1 it returns once the broker has
	// acknowledged it (an error when it refused it or the link broke).
	publish(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error
	// subscribe subscribes to filters; messages go to the handler given to
	// connect. With MQTT 5 the broker does not echo our own messages.
	subscribe(ctx context.Context, subs []subscription) error
	// done is closed when the link is down; err then says why.
	done() <-chan struct{}
	err() error
	close()
}

type subscription struct {
	filter string
	qos    byte
}

// handler receives the messages of the link's subscriptions, on the
// link's goroutine.
type handler func(topic string, payload []byte, qos byte, retain bool)

// ackTimeout bounds the wait for a PUBACK or SUBACK: a broker that has
// stopped answering on a connection that still looks open is treated as
// gone.
const ackTimeout = 30 * time.Second

// dialer makes the network connection for a URL.
type dialer struct {
	u   *url.URL
	tls *tls.Config // nil for mqtt:// and ws://
}

// Default ports of the URL schemes.
var defaultPorts = map[string]string{"mqtt": "1883", "tcp": "1883", "mqtts": "8883", "ssl": "8883", "tls": "8883", "ws": "80", "wss": "443"}

// newDialer checks the URL and loads the TLS material.
func newDialer(cfg Config) (*dialer, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", cfg.URL, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if _, ok := defaultPorts[u.Scheme]; !ok {
		return nil, fmt.Errorf("url %q: scheme %q is not mqtt, mqtts, ws or wss", cfg.URL, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("url %q: no host", cfg.URL)
	}
	d := &dialer{u: u}
	secure := u.Scheme == "mqtts" || u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "wss"
	if !secure {
		if cfg.CAFile != "" || cfg.CertFile != "" {
			return nil, fmt.Errorf("url %q: ca_file and cert_file need a TLS URL (mqtts:// or wss://)", cfg.URL)
		}
		return d, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	switch {
	case cfg.CertFile != "" && cfg.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case cfg.CertFile != "" || cfg.KeyFile != "":
		return nil, errors.New("cert_file and key_file go together")
	}
	d.tls = tc
	return d, nil
}

func (d *dialer) hostPort() string {
	if d.u.Port() != "" {
		return d.u.Host
	}
	return net.JoinHostPort(d.u.Hostname(), defaultPorts[d.u.Scheme])
}

// dial opens the connection; ctx bounds the dial and handshake only.
func (d *dialer) dial(ctx context.Context) (net.Conn, error) {
	switch d.u.Scheme {
	case "ws", "wss":
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: d.tls, Proxy: http.ProxyFromEnvironment}}
		c, _, err := websocket.Dial(ctx, d.u.String(), &websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{"mqtt"}})
		if err != nil {
			return nil, err
		}
		c.SetReadLimit(-1) // MQTT frames its own packets
		// The context of NetConn is the connection's life, not the dial's.
		return websocket.NetConn(context.Background(), c, websocket.MessageBinary), nil
	}
	var nd net.Dialer
	if d.tls == nil {
		return nd.DialContext(ctx, "tcp", d.hostPort())
	}
	td := tls.Dialer{NetDialer: &nd, Config: d.tls}
	return td.DialContext(ctx, "tcp", d.hostPort())
}

// connect dials and logs in with the configured MQTT version.
func connect(ctx context.Context, cfg Config, d *dialer, h handler) (link, error) {
	conn, err := d.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", d.hostPort(), err)
	}
	if cfg.Version == "3.1.1" {
		return connect3(ctx, cfg, conn, h)
	}
	return connect5(ctx, cfg, conn, h)
}

// link5 is an MQTT 5 link, on paho.golang.
type link5 struct {
	c       *paho.Client
	conn    net.Conn
	mu      sync.Mutex
	lastErr error
}

func connect5(ctx context.Context, cfg Config, conn net.Conn, h handler) (link, error) {
	l := &link5{conn: conn}
	l.c = paho.NewClient(paho.ClientConfig{
		Conn:          packets.NewThreadSafeConn(conn),
		PacketTimeout: ackTimeout,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				p := pr.Packet
				h(p.Topic, p.Payload, p.QoS, p.Retain)
				return true, nil
			},
		},
		OnClientError: func(err error) { l.setErr(err) },
		OnServerDisconnect: func(d *paho.Disconnect) {
			reason := ""
			if d.Properties != nil {
				reason = d.Properties.ReasonString
			}
			l.setErr(fmt.Errorf("the broker disconnected us: reason code 0x%02x %s", d.ReasonCode, reason))
		},
	})
	cp := &paho.Connect{
		ClientID:   cfg.ClientID,
		KeepAlive:  uint16(cfg.KeepAlive / time.Second),
		CleanStart: true, // our cursor, not the broker's session, says what to resend
	}
	if cfg.Username != "" {
		cp.Username, cp.UsernameFlag = cfg.Username, true
	}
	if cfg.Password != "" {
		cp.Password, cp.PasswordFlag = []byte(cfg.Password), true
	}
	ca, err := l.c.Connect(ctx, cp)
	if err != nil {
		conn.Close()
		if ca != nil && ca.ReasonCode >= 0x80 {
			return nil, &RefusedError{Code: ca.ReasonCode, Reason: connackReason5(ca)}
		}
		return nil, fmt.Errorf("mqtt 5 connect: %w", err)
	}
	return l, nil
}

func connackReason5(ca *paho.Connack) string {
	r := (&packets.Connack{ReasonCode: ca.ReasonCode}).Reason()
	if i := strings.Index(r, " - "); i > 0 {
		r = r[:i]
	}
	if ca.Properties != nil && ca.Properties.ReasonString != "" {
		r += ": " + ca.Properties.ReasonString
	}
	return r
}

func (l *link5) setErr(err error) {
	l.mu.Lock()
	if l.lastErr == nil {
		l.lastErr = err
	}
	l.mu.Unlock()
}

func (l *link5) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastErr == nil {
		return errors.New("connection closed")
	}
	return l.lastErr
}

func (l *link5) publish(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error {
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	_, err := l.c.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: qos, Retain: retain})
	return err
}

func (l *link5) subscribe(ctx context.Context, subs []subscription) error {
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	s := &paho.Subscribe{}
	for _, sub := range subs {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: sub.filter, QoS: sub.qos, NoLocal: true})
	}
	sa, err := l.c.Subscribe(ctx, s)
	if err != nil {
		return err
	}
	for i, code := range sa.Reasons {
		if code >= 0x80 && i < len(subs) {
			return fmt.Errorf("the broker refused the subscription to %q: reason code 0x%02x", subs[i].filter, code)
		}
	}
	return nil
}

func (l *link5) done() <-chan struct{} { return l.c.Done() }

func (l *link5) close() {
	_ = l.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	l.conn.Close()
	<-l.c.Done()
}

// link3 is an MQTT 3.1.1 link, on paho.mqtt.golang.
type link3 struct {
	c       mqtt3.Client
	h       handler
	doneC   chan struct{}
	once    sync.Once
	mu      sync.Mutex
	lastErr error
}

func connect3(ctx context.Context, cfg Config, conn net.Conn, h handler) (link, error) {
	l := &link3{h: h, doneC: make(chan struct{})}
	var used bool
	opts := mqtt3.NewClientOptions().
		AddBroker("tcp://upstream"). // the connection is ours, already open
		SetCustomOpenConnectionFn(func(*url.URL, mqtt3.ClientOptions) (net.Conn, error) {
			if used {
				return nil, errors.New("link closed")
			}
			used = true
			return conn, nil
		}).
		SetProtocolVersion(4).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(cfg.KeepAlive).
		SetConnectTimeout(ackTimeout).
		SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) {
			h(m.Topic(), m.Payload(), m.Qos(), m.Retained())
		}).
		SetConnectionLostHandler(func(_ mqtt3.Client, err error) {
			l.fail(err)
		})
	l.c = mqtt3.NewClient(opts)
	tok := l.c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		conn.Close()
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		conn.Close()
		if ct, ok := tok.(*mqtt3.ConnectToken); ok && ct.ReturnCode() != 0 {
			return nil, &RefusedError{Code: ct.ReturnCode(), Reason: connackReason3(ct.ReturnCode())}
		}
		return nil, fmt.Errorf("mqtt 3.1.1 connect: %w", err)
	}
	return l, nil
}

func connackReason3(code byte) string {
	switch code {
	case 1:
		return "Unacceptable protocol version"
	case 2:
		return "Client identifier rejected"
	case 3:
		return "Server unavailable"
	case 4:
		return "Bad User Name or Password"
	case 5:
		return "Not authorized"
	}
	return fmt.Sprintf("return code %d", code)
}

func (l *link3) fail(err error) {
	l.mu.Lock()
	if l.lastErr == nil {
		l.lastErr = err
	}
	l.mu.Unlock()
	l.once.Do(func() { close(l.doneC) })
}

func (l *link3) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastErr == nil {
		return errors.New("connection closed")
	}
	return l.lastErr
}

// wait waits for a token, the link going down, or ctx.
func (l *link3) wait(ctx context.Context, tok mqtt3.Token) error {
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-l.doneC:
		return fmt.Errorf("connection lost: %w", l.err())
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *link3) publish(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error {
	return l.wait(ctx, l.c.Publish(topic, qos, retain, payload))
}

func (l *link3) subscribe(ctx context.Context, subs []subscription) error {
	m := make(map[string]byte, len(subs))
	for _, s := range subs {
		m[s.filter] = s.qos
	}
	tok := l.c.SubscribeMultiple(m, nil)
	if err := l.wait(ctx, tok); err != nil {
		return err
	}
	st, _ := tok.(*mqtt3.SubscribeToken)
	if st != nil {
		for f, code := range st.Result() {
			if code >= 0x80 {
				return fmt.Errorf("the broker refused the subscription to %q", f)
			}
		}
	}
	return nil
}

func (l *link3) done() <-chan struct{} { return l.doneC }

func (l *link3) close() {
	l.c.Disconnect(100)
	l.fail(errors.New("closed"))
}

// RefusedError is a CONNECT the upstream broker refused: wrong user name,
// password or client id, most often, which retrying does not fix.
type RefusedError struct {
	Code   byte
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the upstream broker refused the connection: %s (CONNACK code 0x%02x)", e.Reason, e.Code)
}
