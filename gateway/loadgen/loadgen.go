// Package loadgen drives MQTT load against a broker over TLS and measures it.
//
// Clients are paho.golang MQTT 5 clients over TLS. Each one writes through a
// connection that gathers every packet into a single write (one TLS record
// per packet) and has a modest socket send buffer, so that the generator
// measures the broker rather than its own overhead.
//
// The scenarios are [Throughput], [Latency], [ConnectRate] and [Idle]; each
// runs against a [Target] and returns a result. When the target names the
// broker's [Process], results include the broker's CPU time per message
// (from /proc/<pid>/stat) or its resident memory (from /proc/<pid>/status):
// on a small machine the generator and the broker share the CPU, and
// messages per second alone understate a more efficient broker.
//
// [StartMosquitto] and [StartPerch] run the two brokers under comparison on
// loopback addresses. Load is only ever sent to loopback addresses; the one
// exception is [Sim], the device simulator behind `perch sim`, which paces
// its messages as boards do and so may reach a gateway on the network.
package loadgen

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

var (
	// ErrNotLoopback is returned for a target whose address is not a
	// loopback address: load is never sent anywhere else.
	ErrNotLoopback = errors.New("loadgen: target is not a loopback address")
	// ErrNoDevice is returned when a scenario needs more devices than the
	// target's Devices gives.
	ErrNoDevice = errors.New("loadgen: no device for client")
	// ErrNoProcess is returned when measuring a broker whose process is not known.
	ErrNoProcess = errors.New("loadgen: broker process not known")
	// ErrProcFormat is returned for a /proc file that cannot be parsed.
	ErrProcFormat = errors.New("loadgen: unexpected /proc format")
	// ErrFileLimit is returned when RLIMIT_NOFILE cannot be raised far enough.
	ErrFileLimit = errors.New("loadgen: open file limit too low")
	// ErrInvalid is returned for a scenario with invalid settings.
	ErrInvalid = errors.New("loadgen: invalid scenario")
	// ErrBroker is returned when a broker cannot be started or stopped.
	ErrBroker = errors.New("loadgen: broker")
)

// Client settings shared by every scenario.
const (
	// sendBuffer is each client's socket send buffer: modest, so that an
	// unthrottled publisher queues in the broker rather than in its own
	// kernel buffer.
	sendBuffer = 64 << 10
	// connectTimeout bounds a TCP connect, TLS handshake and CONNACK.
	connectTimeout = 10 * time.Second
	// packetTimeout bounds the wait for a SUBACK or PUBACK.
	packetTimeout = 10 * time.Second
	// closeTimeout bounds a DISCONNECT write.
	closeTimeout = 2 * time.Second
	// keepAlive is the MQTT keep alive of every client.
	keepAlive = 60
)

// Device holds the credentials of one client: Perch authenticates the
// account in Username, the device in ClientID and its secret in Password;
// Mosquitto checks Username and Password.
type Device struct {
	ClientID string
	Username string
	Password string
}

// Devices gives the credentials of client i (i from 0), and false when
// there is none.
type Devices func(i int) (Device, bool)

// DeviceList returns Devices giving list[i].
func DeviceList(list []Device) Devices {
	return func(i int) (Device, bool) {
		if i < 0 || i >= len(list) {
			return Device{}, false
		}
		return list[i], true
	}
}

// Offset returns Devices giving d(i+n): scenarios that must not reuse
// devices seen by an earlier one take a later range.
func (d Devices) Offset(n int) Devices {
	return func(i int) (Device, bool) { return d(i + n) }
}

// Target is a broker under test.
type Target struct {
	// Name labels the broker in logs.
	Name string
	// Address is the broker's MQTT over TLS listener, a loopback host:port.
	Address string
	// TLS holds RootCAs and ServerName. Session resumption is always
	// disabled on top of it: every connection makes a full handshake.
	TLS *tls.Config
	// Devices gives each client's credentials.
	Devices Devices
	// Process is the broker's process, for CPU and memory; nil measures
	// neither.
	Process *Process
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Buckets is the broker's data buckets, if it has them.
	Buckets Buckets
	// Binary is the broker's executable, for its size; empty if unknown.
	Binary string
	// Starts starts fresh copies of the broker, for start-up times; nil if
	// it cannot.
	Starts StartTimer
}

func (t Target) log() *slog.Logger {
	if t.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return t.Logger.With("broker", t.Name)
}

// checkLoopback returns ErrNotLoopback unless addr is a loopback IP and port.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrNotLoopback, addr, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	return nil
}

// clientOptions configures one client.
type clientOptions struct {
	// receiveMax is the client's Receive Maximum, which also sizes paho's
	// queue of received messages (a pointer per slot); 0 keeps paho's 65535.
	receiveMax uint16
	// onPublish is called for every received message, on the client's
	// single delivery goroutine.
	onPublish func(*paho.Publish)
	// anyAddress lets the target be other than a loopback address: only
	// the device simulator, which sends at a board's pace, sets it.
	anyAddress bool
}

// client is a connected paho client and its connection.
type client struct {
	mqtt    *paho.Client
	conn    *packetConn
	closing atomic.Bool
	// lost is set when the connection failed other than by our own close.
	lost atomic.Pointer[error]
}

// connect dials the target's client i: TCP, a full TLS handshake, CONNECT
// with device i's credentials, and waits for CONNACK.
func (t Target) connect(ctx context.Context, i int, o clientOptions) (*client, error) {
	if !o.anyAddress {
		if err := checkLoopback(t.Address); err != nil {
			return nil, err
		}
	}
	dev, ok := t.Devices(i)
	if !ok {
		return nil, fmt.Errorf("%w: index %d", ErrNoDevice, i)
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()

	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", t.Address)
	if err != nil {
		return nil, fmt.Errorf("loadgen: dial %s: %w", t.Address, err)
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(sendBuffer)
	}
	cfg := t.TLS.Clone()
	cfg.SessionTicketsDisabled = true
	cfg.ClientSessionCache = nil
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("loadgen: TLS handshake with %s: %w", t.Address, err)
	}

	c := &client{conn: newPacketConn(tc)}
	var handlers []func(paho.PublishReceived) (bool, error)
	if o.onPublish != nil {
		f := o.onPublish
		handlers = append(handlers, func(pr paho.PublishReceived) (bool, error) {
			f(pr.Packet)
			return true, nil
		})
	} else {
		handlers = append(handlers, func(paho.PublishReceived) (bool, error) { return true, nil })
	}
	c.mqtt = paho.NewClient(paho.ClientConfig{
		Conn:              c.conn,
		OnPublishReceived: handlers,
		PacketTimeout:     packetTimeout,
		OnClientError: func(err error) {
			if !c.closing.Load() {
				c.lost.CompareAndSwap(nil, &err)
			}
		},
		OnServerDisconnect: func(d *paho.Disconnect) {
			if !c.closing.Load() {
				err := fmt.Errorf("loadgen: server sent DISCONNECT, reason %#x", d.ReasonCode)
				c.lost.CompareAndSwap(nil, &err)
			}
		},
	})
	cp := &paho.Connect{
		ClientID:     dev.ClientID,
		Username:     dev.Username,
		UsernameFlag: true,
		Password:     []byte(dev.Password),
		PasswordFlag: true,
		KeepAlive:    keepAlive,
		CleanStart:   true,
	}
	if o.receiveMax > 0 {
		rm := o.receiveMax
		cp.Properties = &paho.ConnectProperties{ReceiveMaximum: &rm}
	}
	ca, err := c.mqtt.Connect(ctx, cp)
	if err != nil {
		_ = tc.Close() // paho closes it too; this covers a Connect that did not
		if ca != nil {
			return nil, &RefusedError{ClientID: dev.ClientID, Reason: ca.ReasonCode, Err: err}
		}
		return nil, fmt.Errorf("loadgen: CONNECT as %q: %w", dev.ClientID, err)
	}
	return c, nil
}

// RefusedError is a CONNECT that the broker answered with a CONNACK
// refusing it.
type RefusedError struct {
	ClientID string
	Reason   byte  // the CONNACK's MQTT 5 reason code
	Err      error // paho's error
}

// connackReasons names the MQTT 5 CONNACK reason codes a broker refuses a
// client with.
var connackReasons = map[byte]string{
	0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error", 0x84: "unsupported protocol version",
	0x85: "client identifier not valid", 0x86: "bad user name or password", 0x87: "not authorized",
	0x88: "server unavailable", 0x89: "server busy", 0x8a: "banned", 0x97: "quota exceeded", 0x9f: "connection rate exceeded",
}

func (e *RefusedError) Error() string {
	why := connackReasons[e.Reason]
	if why == "" {
		why = "refused"
	}
	return fmt.Sprintf("loadgen: CONNECT as %q refused with reason %#x: %s", e.ClientID, e.Reason, why)
}

// Unwrap returns paho's error.
func (e *RefusedError) Unwrap() error { return e.Err }

// err returns why the connection was lost, or nil.
func (c *client) err() error {
	if p := c.lost.Load(); p != nil {
		return *p
	}
	return nil
}

// alive reports whether the connection is still up.
func (c *client) alive() bool {
	select {
	case <-c.mqtt.Done():
		return false
	default:
		return c.err() == nil
	}
}

// abort closes the connection at once; a later close still waits for
// paho's goroutines.
func (c *client) abort() {
	c.closing.Store(true)
	_ = c.conn.Close()
}

// close sends DISCONNECT (bounded by closeTimeout) and waits until paho's
// goroutines have ended.
func (c *client) close() {
	c.closing.Store(true)
	_ = c.conn.SetWriteDeadline(time.Now().Add(closeTimeout))
	_ = c.mqtt.Disconnect(&paho.Disconnect{ReasonCode: 0})
}

// closeAll closes every non-nil client, up to `parallel` at a time.
func closeAll(clients []*client, parallel int) {
	forEach(len(clients), parallel, func(i int) {
		if c := clients[i]; c != nil {
			c.close()
		}
	})
}

// newTopic returns a topic unique to this run of a scenario, so that runs
// never see each other's messages.
func newTopic(scenario string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "perch-bench/" + scenario + "/" + hex.EncodeToString(b[:])
}
