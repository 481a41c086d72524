package gateway_test

import (
	"context"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/paho"
)

func TestWebSocketListener(t *testing.T) {
	cfg := testConfig(t)
	cfg.MQTT.WebSocket.Enabled = true
	cfg.MQTT.WebSocket.Address = "127.0.0.1:0"
	tg := start(t, cfg)
	d := tg.addDevice(map[string]any{"id": "browser"})

	dial := func(password string) (*v5, *paho.Connack, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "wss://"+tg.addr("mqtt_websocket")+"/mqtt", &websocket.DialOptions{
			HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: tg.tlsConfig()}},
			Subprotocols: []string{"mqtt"},
		})
		if err != nil {
			t.Fatalf("websocket dial: %v", err)
		}
		conn := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
		return tg.connect5Conn(conn, tg.cfg.Account, d.ID, password)
	}
	c, ca, err := dial(d.Credentials)
	if err != nil {
		t.Fatalf("connect over websocket: %v %+v", err, ca)
	}
	if _, err := c.Subscribe(context.Background(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "ws/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(context.Background(), &paho.Publish{Topic: "ws/echo", QoS: 1, Payload: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-c.msgs:
		if string(m.Payload) != "hi" {
			t.Fatalf("got %q", m.Payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message over websocket")
	}
	if st := tg.device("browser").Status; !st.Connected || st.Listener != "websocket" {
		t.Fatalf("status %+v", st)
	}
	if _, _, err := dial("wrong-password"); err == nil {
		t.Fatal("wrong password accepted over websocket")
	}
}

// A CONNECT header claiming 200 MB over WebSocket is refused before any
// buffer is allocated, as on TCP.
func TestWebSocketHugeHeader(t *testing.T) {
	cfg := testConfig(t)
	cfg.MQTT.WebSocket.Enabled = true
	cfg.MQTT.WebSocket.Address = "127.0.0.1:0"
	tg := start(t, cfg)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 4; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ws, _, err := websocket.Dial(ctx, "wss://"+tg.addr("mqtt_websocket")+"/mqtt", &websocket.DialOptions{
			HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: tg.tlsConfig()}},
			Subprotocols: []string{"mqtt"},
		})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		// CONNECT with remaining length 200,000,000.
		_ = ws.Write(ctx, websocket.MessageBinary, []byte{0x10, 0x80, 0x84, 0xaf, 0x5f, 0, 4, 'M', 'Q', 'T', 'T'})
		if _, _, err := ws.Read(ctx); err == nil {
			t.Error("broker answered a 200 MB CONNECT")
		}
		cancel()
		ws.CloseNow()
	}
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 20<<20 {
		t.Fatalf("heap grew by %d MB", grow>>20)
	}
}
