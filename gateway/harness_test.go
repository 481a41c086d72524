package gateway_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/perch-gw/perch/gateway"
	"github.com/perch-gw/perch/gateway/api"
	"github.com/perch-gw/perch/gateway/client"
	"github.com/perch-gw/perch/gateway/config"
)

// testGateway is a real gateway on loopback ports, driven through its API.
type testGateway struct {
	t      *testing.T
	g      *gateway.Gateway
	cfg    config.Config
	api    *client.Client
	pool   *x509.CertPool
	cancel context.CancelFunc
	done   chan error
}

func testConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Hostname = "perch-test"
	cfg.MQTT.TLS.Address = "127.0.0.1:0"
	cfg.API.Address = "127.0.0.1:0"
	cfg.Log.Level = "debug"
	// Retained health reports would reach every "#" subscriber; TestHealthEndToEnd turns them on.
	cfg.Health.Enabled = false
	cfg.MDNS.Enabled = false // tests never advertise on the real interfaces
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// start runs a gateway with cfg and stops it when the test ends.
func start(t *testing.T, cfg config.Config) *testGateway {
	t.Helper()
	g, err := gateway.New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tg := &testGateway{t: t, g: g, cfg: g.Config(), cancel: cancel, done: make(chan error, 1)}
	go func() { tg.done <- g.Run(ctx) }()
	<-g.Ready()
	tg.api, err = client.New(client.Config{Socket: g.Socket()})
	if err != nil {
		t.Fatal(err)
	}
	tg.pool = x509.NewCertPool()
	tg.pool.AppendCertsFromPEM(g.CAPEM())
	t.Cleanup(tg.stop)
	return tg
}

// stop shuts the gateway down and fails the test if that takes over 5 s.
func (tg *testGateway) stop() {
	tg.cancel()
	select {
	case err := <-tg.done:
		if err != nil {
			tg.t.Errorf("gateway.Run: %v", err)
		}
		tg.done <- nil // a second stop returns at once
	case <-time.After(5 * time.Second):
		tg.t.Fatal("gateway did not stop within 5 s")
	}
}

func (tg *testGateway) addr(name string) string {
	a, ok := tg.g.Addrs()[name]
	if !ok {
		tg.t.Fatalf("no %s listener", name)
	}
	return a
}

// addDevice registers a device through the API and returns its credentials.
func (tg *testGateway) addDevice(body map[string]any) api.Device {
	tg.t.Helper()
	var d api.Device
	if err := tg.api.Do(context.Background(), "POST", "/api/v1/devices", body, &d); err != nil {
		tg.t.Fatalf("add device %v: %v", body["id"], err)
	}
	return d
}

func (tg *testGateway) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: tg.pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// v5 is an MQTT 5 client (paho.golang) with its received messages.
type v5 struct {
	*paho.Client
	msgs         chan *paho.Publish
	disconnected chan *paho.Disconnect
}

// connect5 logs in over TLS with MQTT 5 and returns the client, or the
// CONNACK and error of a refusal.
func (tg *testGateway) connect5(user, clientID, password string) (*v5, *paho.Connack, error) {
	tg.t.Helper()
	conn, err := tls.Dial("tcp", tg.addr("mqtt_tls"), tg.tlsConfig())
	if err != nil {
		tg.t.Fatalf("dial: %v", err)
	}
	return tg.connect5Conn(conn, user, clientID, password)
}

func (tg *testGateway) connect5Conn(conn net.Conn, user, clientID, password string) (*v5, *paho.Connack, error) {
	c := &v5{msgs: make(chan *paho.Publish, 1000), disconnected: make(chan *paho.Disconnect, 1)}
	c.Client = paho.NewClient(paho.ClientConfig{
		// paho writes a packet in pieces from more than one goroutine
		// (publishes, acks, pings): without the lock two packets can
		// interleave on the wire, which the broker rightly calls malformed.
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case c.msgs <- pr.Packet:
			default:
			}
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case c.disconnected <- d:
			default:
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, &paho.Connect{
		ClientID: clientID, Username: user, UsernameFlag: user != "", Password: []byte(password), PasswordFlag: password != "",
		KeepAlive: 30, CleanStart: true,
	})
	if err != nil {
		return nil, ca, err
	}
	tg.t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, ca, nil
}

// mustConnect5 connects a registered device or fails the test.
func (tg *testGateway) mustConnect5(d api.Device) *v5 {
	tg.t.Helper()
	c, ca, err := tg.connect5(tg.cfg.Account, d.ID, d.Credentials)
	if err != nil {
		tg.t.Fatalf("connect %s: %v (connack %+v)", d.ID, err, ca)
	}
	return c
}

// waitClosed waits until the peer closes conn, or fails after d.
func waitClosed(t *testing.T, conn net.Conn, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(d))
	buf := make([]byte, 512)
	for {
		_, err := conn.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v", d)
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			// a reset or TLS alert also means closed
			_ = err
		}
		return time.Since(start)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var netDialer = net.Dialer{Timeout: 5 * time.Second}

func (tg *testGateway) device(id string) api.Device {
	tg.t.Helper()
	var d api.Device
	if err := tg.api.Do(context.Background(), "GET", "/api/v1/devices/"+id, nil, &d); err != nil {
		tg.t.Fatal(err)
	}
	return d
}

func (tg *testGateway) subscriptions() int64 {
	tg.t.Helper()
	var st struct {
		MQTT struct {
			Subscriptions int64 `json:"subscriptions"`
		} `json:"mqtt"`
	}
	if err := tg.api.Do(context.Background(), "GET", "/api/v1/status", nil, &st); err != nil {
		tg.t.Fatal(err)
	}
	return st.MQTT.Subscriptions
}
