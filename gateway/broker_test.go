package gateway_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/perch-gw/perch/gateway/api"
)

func TestLoginMQTT5(t *testing.T) {
	tg := start(t, testConfig(t))
	good := tg.addDevice(map[string]any{"id": "sensor-1"})
	tg.addDevice(map[string]any{"id": "off", "enabled": false, "credentials": "disabled-pass"})
	acct := tg.cfg.Account

	tests := []struct {
		name, user, id, pass string
		code                 byte // 0 = accepted
	}{
		{"right parameters", acct, "sensor-1", good.Credentials, 0},
		{"wrong user name", "someone", "sensor-1", good.Credentials, 0x86},
		{"unknown device", acct, "nobody", good.Credentials, 0x86},
		{"wrong password", acct, "sensor-1", "wrong-password", 0x86},
		{"no password", acct, "sensor-1", "", 0x86},
		{"disabled device", acct, "off", "disabled-pass", 0x87},
		{"disabled device, wrong password", acct, "off", "wrong-password", 0x86},
		{"empty client id", acct, "", good.Credentials, 0x85},
		{"no user name (anonymous not allowed)", "", "anon-1", "", 0x86},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ca, err := tg.connect5(tc.user, tc.id, tc.pass)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("refused: %v (%+v)", err, ca)
				}
				c.Disconnect(&paho.Disconnect{})
				return
			}
			if err == nil {
				t.Fatal("accepted, want refusal")
			}
			if ca == nil || ca.ReasonCode != tc.code {
				t.Fatalf("connack %+v, want reason 0x%02x (err %v)", ca, tc.code, err)
			}
		})
	}
}

func TestLoginMQTT311(t *testing.T) {
	tg := start(t, testConfig(t))
	good := tg.addDevice(map[string]any{"id": "board-311"})
	tg.addDevice(map[string]any{"id": "off", "enabled": false, "credentials": "disabled-pass"})

	connect := func(user, id, pass string) error {
		opts := mqtt3.NewClientOptions().
			AddBroker("ssl://" + tg.addr("mqtt_tls")).
			SetTLSConfig(tg.tlsConfig()).
			SetProtocolVersion(4).
			SetClientID(id).SetUsername(user).SetPassword(pass).
			SetAutoReconnect(false).SetConnectRetry(false).
			SetConnectTimeout(5 * time.Second)
		c := mqtt3.NewClient(opts)
		tok := c.Connect()
		tok.Wait()
		if tok.Error() == nil {
			c.Disconnect(100)
		}
		return tok.Error()
	}
	tests := []struct {
		name, user, id, pass string
		want                 string // substring of paho's error; "" = accepted
	}{
		{"right parameters", tg.cfg.Account, good.ID, good.Credentials, ""},
		{"wrong password: code 4", tg.cfg.Account, good.ID, "bad-password", "bad user name or password"},
		{"unknown device: code 4", tg.cfg.Account, "ghost", good.Credentials, "bad user name or password"},
		{"wrong user name: code 4", "nobody", good.ID, good.Credentials, "bad user name or password"},
		{"disabled: code 5", tg.cfg.Account, "off", "disabled-pass", "not Authorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := connect(tc.user, tc.id, tc.pass)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestACL(t *testing.T) {
	tg := start(t, testConfig(t))
	// A watcher that sees everything, and a device confined to its own topics.
	watcher := tg.mustConnect5(tg.addDevice(map[string]any{"id": "watcher"}))
	if _, err := watcher.Subscribe(context.Background(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	dev := tg.addDevice(map[string]any{"id": "dev-1", "acl": map[string]any{
		"publish": []string{"sensors/%c/#"}, "subscribe": []string{"cmd/%c/#", "users/%u/+"},
	}})
	c := tg.mustConnect5(dev)
	ctx := context.Background()

	t.Run("publish", func(t *testing.T) {
		for _, tc := range []struct {
			topic string
			ok    bool
		}{
			{"sensors/dev-1/temp", true},
			{"sensors/dev-1", true},
			{"sensors/dev-2/temp", false},
			{"other", false},
			{"$SYS/broker/x", false},
		} {
			pr, err := c.Publish(ctx, &paho.Publish{Topic: tc.topic, QoS: 1, Payload: []byte("21.5")})
			if tc.ok {
				if err != nil || pr.ReasonCode >= 0x80 {
					t.Errorf("publish %s: refused (%v, %+v)", tc.topic, err, pr)
				}
				select {
				case m := <-watcher.msgs:
					if m.Topic != tc.topic {
						t.Errorf("watcher got %s, want %s", m.Topic, tc.topic)
					}
				case <-time.After(5 * time.Second):
					t.Errorf("publish to %s not delivered", tc.topic)
				}
				continue
			}
			if err == nil && pr.ReasonCode < 0x80 {
				t.Errorf("publish %s: accepted (%+v), want refusal", tc.topic, pr)
			}
		}
		select {
		case m := <-watcher.msgs:
			t.Errorf("a refused publish was delivered: %s", m.Topic)
		case <-time.After(200 * time.Millisecond):
		}
	})

	t.Run("subscribe", func(t *testing.T) {
		for _, tc := range []struct {
			filter string
			ok     bool
		}{
			{"cmd/dev-1/#", true},
			{"cmd/dev-1/led", true},
			{"cmd/dev-1/+/x", true},
			{"users/admin/inbox", true},
			{"cmd/#", false},
			{"cmd/dev-2/led", false},
			{"#", false},
			{"$SYS/#", false},
			{"$share/g/cmd/dev-1/x", true},
			{"$share/g/cmd/#", false},
		} {
			sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: tc.filter, QoS: 1}}})
			if err != nil && sa == nil {
				t.Fatalf("subscribe %s: %v", tc.filter, err)
			}
			granted := len(sa.Reasons) == 1 && sa.Reasons[0] < 0x80
			if granted != tc.ok {
				t.Errorf("subscribe %s: reasons %v, want granted=%v", tc.filter, sa.Reasons, tc.ok)
			}
		}
	})

	t.Run("deliver only what the rules allow", func(t *testing.T) {
		pub := tg.mustConnect5(tg.addDevice(map[string]any{"id": "commander"}))
		for _, topic := range []string{"cmd/dev-2/led", "cmd/dev-1/led"} {
			if _, err := pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("on")}); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case m := <-c.msgs:
			if m.Topic != "cmd/dev-1/led" {
				t.Fatalf("device received %s", m.Topic)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("command not delivered")
		}
	})
}

func TestCutOff(t *testing.T) {
	tg := start(t, testConfig(t))
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		action func(id string) error
	}{
		{"disable", func(id string) error {
			return tg.api.Do(ctx, "PATCH", "/api/v1/devices/"+id, map[string]any{"enabled": false}, nil)
		}},
		{"rotate", func(id string) error {
			return tg.api.Do(ctx, "POST", "/api/v1/devices/"+id+"/credentials", nil, nil)
		}},
		{"delete", func(id string) error { return tg.api.Do(ctx, "DELETE", "/api/v1/devices/"+id, nil, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tg.addDevice(map[string]any{"id": "cut-" + tc.name})
			c := tg.mustConnect5(d)
			if err := tc.action(d.ID); err != nil {
				t.Fatal(err)
			}
			select {
			case disc := <-c.disconnected:
				if disc.ReasonCode != 0x98 {
					t.Errorf("disconnect reason 0x%02x, want 0x98 (administrative action)", disc.ReasonCode)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("device still connected 2 s after " + tc.name)
			}
			<-c.Done()
			// and the old credentials no longer work
			if _, _, err := tg.connect5(tg.cfg.Account, d.ID, d.Credentials); err == nil {
				t.Fatal("old credentials still accepted")
			}
		})
	}
}

func TestLiveStatus(t *testing.T) {
	tg := start(t, testConfig(t))
	d := tg.addDevice(map[string]any{"id": "live"})
	get := func() api.Device {
		var out api.Device
		if err := tg.api.Do(context.Background(), "GET", "/api/v1/devices/live", nil, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if s := get().Status; s.Connected || s.LastSeen != nil {
		t.Fatalf("before connecting: %+v", s)
	}
	c := tg.mustConnect5(d)
	for i := 0; i < 3; i++ {
		if _, err := c.Publish(context.Background(), &paho.Publish{Topic: "live/x", QoS: 1, Payload: []byte("1")}); err != nil {
			t.Fatal(err)
		}
	}
	s := get().Status
	if !s.Connected || s.ProtocolVersion != 5 || s.MessagesIn != 3 || s.BytesIn == 0 || s.BytesOut == 0 ||
		!strings.HasPrefix(s.Remote, "127.0.0.1:") || s.Listener != "tls" || s.Since == nil {
		t.Fatalf("connected status: %+v", s)
	}
	c.Disconnect(&paho.Disconnect{})
	eventually(t, 5*time.Second, "offline with last seen", func() bool {
		s := get().Status
		return !s.Connected && s.LastSeen != nil
	})
}

// A device that reconnects (takeover) stays online when the old connection
// goes away afterwards (mochi #483).
func TestTakeoverKeepsStatus(t *testing.T) {
	tg := start(t, testConfig(t))
	d := tg.addDevice(map[string]any{"id": "flappy"})
	first := tg.mustConnect5(d)
	second := tg.mustConnect5(d)
	<-first.Done()
	var out api.Device
	eventually(t, 2*time.Second, "status settles", func() bool {
		_ = tg.api.Do(context.Background(), "GET", "/api/v1/devices/flappy", nil, &out)
		return out.Status.Connected
	})
	time.Sleep(100 * time.Millisecond) // let the old connection's teardown finish, then re-check
	_ = tg.api.Do(context.Background(), "GET", "/api/v1/devices/flappy", nil, &out)
	if !out.Status.Connected {
		t.Fatal("device shown offline after a takeover")
	}
	_ = second
}

func TestAnonymousListener(t *testing.T) {
	cfg := testConfig(t)
	cfg.MQTT.TCP.Enabled = true
	cfg.MQTT.TCP.Address = "127.0.0.1:0"
	cfg.MQTT.TCP.AllowAnonymous = true
	tg := start(t, cfg)
	tg.addDevice(map[string]any{"id": "registered"})

	connect := func(id string) error {
		opts := mqtt3.NewClientOptions().AddBroker("tcp://" + tg.addr("mqtt_tcp")).SetClientID(id).
			SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
		c := mqtt3.NewClient(opts)
		tok := c.Connect()
		tok.Wait()
		if tok.Error() == nil {
			c.Disconnect(100)
		}
		return tok.Error()
	}
	if err := connect("anon-board"); err != nil {
		t.Fatalf("anonymous login on the opt-in listener: %v", err)
	}
	if err := connect("registered"); err == nil {
		t.Fatal("anonymous login with a registered device id accepted")
	}
	// The TLS listener still requires credentials.
	if _, _, err := tg.connect5("", "anon-board", ""); err == nil {
		t.Fatal("anonymous login accepted on the TLS listener")
	}
}

// Logins from a source that keeps failing are throttled without hashing,
// so a flood of bad logins does not delay a good one.
func TestBruteForceDoesNotDelayGoodLogin(t *testing.T) {
	tg := start(t, testConfig(t))
	// The victim has a user-chosen password (the slow hash).
	tg.addDevice(map[string]any{"id": "victim", "credentials": "weak-password"})
	good := tg.addDevice(map[string]any{"id": "good"})

	// TLS handshakes are done first: what is measured is login work, which
	// is what a guesser can make expensive.
	dial := func() net.Conn {
		conn, err := tls.Dial("tcp", tg.addr("mqtt_tls"), tg.tlsConfig())
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	conns := make([]net.Conn, 100)
	for i := range conns {
		conns[i] = dial()
	}
	goodConn := dial()

	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Add(1)
		go func(i int, conn net.Conn) {
			defer wg.Done()
			c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn)})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if _, err := c.Connect(ctx, &paho.Connect{ClientID: "victim", Username: tg.cfg.Account, UsernameFlag: true,
				Password: []byte(fmt.Sprintf("guess-%d", i)), PasswordFlag: true, KeepAlive: 30}); err == nil {
				t.Error("a guess was accepted")
			}
		}(i, conn)
	}
	time.Sleep(50 * time.Millisecond) // let the flood start
	begin := time.Now()
	c, ca, err := tg.connect5Conn(goodConn, tg.cfg.Account, good.ID, good.Credentials)
	took := time.Since(begin)
	if err != nil {
		t.Fatalf("good login refused: %v %+v", err, ca)
	}
	wg.Wait()
	if took > time.Second {
		t.Fatalf("good login took %v during the flood, want under 1 s", took)
	}
	t.Logf("good login took %v during 100 bad logins", took)
	_ = c
	var st map[string]any
	if err := tg.api.Do(context.Background(), "GET", "/api/v1/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	m := st["mqtt"].(map[string]any)
	if m["auth_failures"].(float64) < 100 || m["auth_throttled"].(float64) == 0 {
		t.Fatalf("failures not counted or not throttled: %v", m)
	}
}

// mochi has no deadline before CONNECT: a socket that never sends one must
// still be closed.
func TestSilentSocketClosed(t *testing.T) {
	cfg := testConfig(t)
	cfg.MQTT.ConnectTimeout = time.Second
	tg := start(t, cfg)
	t.Run("tcp, no TLS handshake", func(t *testing.T) {
		conn, err := (&netDialer).Dial("tcp", tg.addr("mqtt_tls"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if took := waitClosed(t, conn, 5*time.Second); took < 900*time.Millisecond {
			t.Fatalf("closed after %v, before the deadline", took)
		}
	})
	t.Run("TLS done, no CONNECT", func(t *testing.T) {
		conn, err := tls.Dial("tcp", tg.addr("mqtt_tls"), tg.tlsConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		waitClosed(t, conn, 5*time.Second)
	})
}

// mochi allocates a packet's buffer from the length its header claims; with
// our maximum packet size a 200 MB claim is refused before any allocation.
func TestHugeHeaderDoesNotGrowHeap(t *testing.T) {
	tg := start(t, testConfig(t))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	// CONNECT, remaining length 200,000,000 as an MQTT varint.
	header := []byte{0x10}
	for n := 200_000_000; ; {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			header = append(header, b|0x80)
			continue
		}
		header = append(header, b)
		break
	}
	var conns []*tls.Conn
	for i := 0; i < 4; i++ {
		conn, err := tls.Dial("tcp", tg.addr("mqtt_tls"), tg.tlsConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write(append(header, 0, 4, 'M', 'Q', 'T', 'T')); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	for _, c := range conns {
		waitClosed(t, c, 5*time.Second)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 20<<20 {
		t.Fatalf("heap grew by %d MB", grow>>20)
	}
}

func TestGracefulStop(t *testing.T) {
	tg := start(t, testConfig(t))
	var clients []*v5
	for i := 0; i < 20; i++ {
		clients = append(clients, tg.mustConnect5(tg.addDevice(map[string]any{"id": fmt.Sprintf("d%d", i)})))
	}
	begin := time.Now()
	tg.stop()
	if took := time.Since(begin); took > 5*time.Second {
		t.Fatalf("stop took %v", took)
	}
	for _, c := range clients {
		select {
		case <-c.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("a client is still connected after stop")
		}
	}
}

// Stopping while clients connect and disconnect must neither panic nor
// deadlock (mochi #488, #541) and must finish within 5 s.
func TestStopDuringConnectStorm(t *testing.T) {
	tg := start(t, testConfig(t))
	d := tg.addDevice(map[string]any{"id": "stormy"})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				conn, err := tls.Dial("tcp", tg.addr("mqtt_tls"), tg.tlsConfig())
				if err != nil {
					continue // the listener is closing
				}
				c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn)})
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				id := d.ID
				if n%2 == 1 {
					id = fmt.Sprintf("ghost-%d", i) // a refused login
				}
				if _, err := c.Connect(ctx, &paho.Connect{ClientID: id, Username: tg.cfg.Account, UsernameFlag: true,
					Password: []byte(d.Credentials), PasswordFlag: true, KeepAlive: 30, CleanStart: n%3 == 0}); err == nil {
					_ = c.Disconnect(&paho.Disconnect{})
				}
				cancel()
				conn.Close()
			}
		}(i)
	}
	time.Sleep(300 * time.Millisecond) // let the storm build
	begin := time.Now()
	tg.stop()
	if took := time.Since(begin); took > 5*time.Second {
		t.Fatalf("stop took %v", took)
	}
	close(stop)
	wg.Wait()
}
