package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/perch-gw/perch/gateway/config"
	"github.com/perch-gw/perch/gateway/upstream"
)

// Two real gateways: "site-a" forwards its bucket and bridges topics to a
// second Perch, the upstream, over MQTT 5 and TLS verified against the
// upstream's CA, logged in there as a device. The upstream records the
// forwarded batches record by record, with their own times and devices.
func TestUpstreamToAnotherPerch(t *testing.T) {
	up := start(t, testConfig(t))
	up.addBucket(map[string]any{"id": "fleet", "topic": "perch/+/buckets/#"})
	gwDev := up.addDevice(map[string]any{"id": "site-a"})
	watcher := up.addDevice(map[string]any{"id": "watcher"})
	caFile := filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(caFile, up.g.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(t)
	cfg.Upstream = config.Default().Upstream
	cfg.Upstream.URL = "mqtts://localhost:" + port(t, up.addr("mqtt_tls"))
	cfg.Upstream.CAFile = caFile
	cfg.Upstream.Username = up.cfg.Account
	cfg.Upstream.ClientID = gwDev.ID
	cfg.Upstream.Password = gwDev.Credentials
	cfg.Upstream.Gateway = "site-a"
	cfg.Upstream.Buckets = []string{"env"}
	cfg.Upstream.Bridge = []config.BridgeRule{
		{Direction: "out", Filter: "alerts/#", RemotePrefix: "site-a/"},
		// Commands come down and go out again: the loop the guard breaks.
		{Direction: "in", Filter: "site-a/cmd/#", RemotePrefix: "site-a/cmd/", LocalPrefix: "cmd/"},
		{Direction: "out", Filter: "cmd/#", LocalPrefix: "cmd/", RemotePrefix: "site-a/cmd/"},
	}
	a := start(t, cfg)
	a.addBucket(map[string]any{"id": "env", "topic": "sensors/#"})
	a.addBucket(map[string]any{"id": "local-only", "topic": "private/#"})
	s1 := a.mustConnect5(a.addDevice(map[string]any{"id": "s1"}))
	subscribe(t, s1, "cmd/#")
	w := up.mustConnect5(watcher)
	subscribe(t, w, "site-a/#")

	const n = 300
	for i := range n {
		publish(t, s1, "sensors/s1", fmt.Sprintf(`{"ts":%d,"t":%d,"ok":true}`, t0+int64(i)*1000, i))
	}
	publish(t, s1, "private/x", `{"v":1}`)
	eventually(t, 20*time.Second, "the upstream bucket holds every point", func() bool {
		return up.bucket("fleet").Stats.Points == 2*n
	})
	var recs []map[string]any
	if err := json.Unmarshal([]byte(up.read("/api/v1/buckets/fleet/data?from=0&limit=1000")), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("upstream bucket has %d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		if r["device"] != "site-a/s1" || r["ts"] != float64(t0+int64(i)*1000) || r["t"] != float64(i) || r["ok"] != float64(1) {
			t.Fatalf("record %d upstream: %v", i, r)
		}
	}

	// Bridge out: an alert goes up as it happens, under the prefix.
	publish(t, s1, "alerts/high", `{"t":99}`)
	if m := nextMsg(t, w, "site-a/alerts/high"); string(m.Payload) != `{"t":99}` {
		t.Errorf("alert upstream: %q", m.Payload)
	}
	// Bridge in: a command from the cloud reaches the device, once; the
	// out rule on cmd/# does not send it back up.
	publish(t, w, "site-a/cmd/led", `{"on":true}`)
	if m := nextMsg(t, s1, "cmd/led"); string(m.Payload) != `{"on":true}` {
		t.Errorf("command locally: %q", m.Payload)
	}
	// The watcher's own command comes back to it once (it subscribed to
	// site-a/#); a second copy would be the loop.
	nextMsg(t, w, "site-a/cmd/led")
	quiet(t, w, "site-a/cmd/led", 500*time.Millisecond)
	quiet(t, s1, "cmd/led", 100*time.Millisecond)
	// A device's own command on A goes up, once.
	publish(t, s1, "cmd/reply", `ok`)
	if m := nextMsg(t, w, "site-a/cmd/reply"); string(m.Payload) != "ok" {
		t.Errorf("reply upstream: %q", m.Payload)
	}

	// Changing the bucket's retention reopens its store: forwarding goes on.
	var patched map[string]any
	if err := a.api.Do(context.Background(), "PATCH", "/api/v1/buckets/env", map[string]any{"retention": "3650d"}, &patched); err != nil {
		t.Fatal(err)
	}
	for i := n; i < n+10; i++ {
		publish(t, s1, "sensors/s1", fmt.Sprintf(`{"ts":%d,"t":%d,"ok":true}`, t0+int64(i)*1000, i))
	}
	eventually(t, 20*time.Second, "points after the reopen upstream", func() bool {
		return up.bucket("fleet").Stats.Points == 2*(n+10)
	})

	// Status: API, metrics. The upstream stores a batch before it sends
	// the PUBACK: wait for the gateway to have it.
	var st upstream.Status
	eventually(t, 10*time.Second, "the last PUBACK", func() bool {
		if err := a.api.Do(context.Background(), "GET", "/api/v1/upstream", nil, &st); err != nil {
			t.Fatal(err)
		}
		return len(st.Buckets) == 1 && st.Buckets[0].LagPoints == 0
	})
	if !st.Configured || !st.Connected || len(st.Buckets) != 1 || st.Buckets[0].ID != "env" ||
		st.Buckets[0].LagPoints != 0 || st.Buckets[0].SentPoints != 2*(n+10) || st.LastError != "" {
		t.Errorf("status: %+v", st)
	}
	if len(st.Bridge) != 3 || st.Bridge[0].Messages != 1 || st.Bridge[1].Messages != 1 || st.Bridge[2].Messages != 1 {
		t.Errorf("bridge status: %+v", st.Bridge)
	}
	if strings.Contains(st.URL, gwDev.Credentials) {
		t.Error("the status shows the password")
	}
	metrics := a.read("/metrics")
	for _, want := range []string{"perch_upstream_connected 1", `perch_upstream_lag_points{bucket="env"} 0`, fmt.Sprintf(`perch_upstream_sent_points_total{bucket="env"} %d`, 2*(n+10))} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	var none map[string]any
	if err := up.api.Do(context.Background(), "GET", "/api/v1/upstream", nil, &none); err != nil || none["configured"] != false {
		t.Errorf("upstream of a gateway without one: %v %v", none, err)
	}
}

// nextMsg waits for the next message on topic, skipping others.
func nextMsg(t *testing.T, c *v5, topic string) *paho.Publish {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-c.msgs:
			if m.Topic == topic {
				return m
			}
		case <-deadline:
			t.Fatalf("no message on %s within 10 s", topic)
		}
	}
}

// quiet fails if a message on topic arrives within d.
func quiet(t *testing.T, c *v5, topic string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-c.msgs:
			if m.Topic == topic {
				t.Fatalf("a second message on %s: %q (a loop)", topic, m.Payload)
			}
		case <-deadline:
			return
		}
	}
}

// The upstream over MQTT 3.1.1 on a secure WebSocket (wss://), as some
// cloud brokers only offer through a proxy.
func TestUpstreamOverWebSocket(t *testing.T) {
	upCfg := testConfig(t)
	upCfg.MQTT.WebSocket.Enabled = true
	upCfg.MQTT.WebSocket.Address = "127.0.0.1:0"
	up := start(t, upCfg)
	up.addBucket(map[string]any{"id": "fleet", "topic": "perch/+/buckets/#"})
	gwDev := up.addDevice(map[string]any{"id": "site-b"})
	caFile := filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(caFile, up.g.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Upstream = config.Default().Upstream
	cfg.Upstream.URL = "wss://localhost:" + port(t, up.addr("mqtt_websocket")) + "/mqtt"
	cfg.Upstream.MQTTVersion = "3.1.1"
	cfg.Upstream.CAFile = caFile
	cfg.Upstream.Username = up.cfg.Account
	cfg.Upstream.ClientID = gwDev.ID
	cfg.Upstream.Password = gwDev.Credentials
	cfg.Upstream.Gateway = "site-b"
	// MQTT 3.1.1 has no no-local subscriptions: the upstream sends our own
	// cmd/ messages back, which the gateway must recognise and drop.
	cfg.Upstream.Bridge = []config.BridgeRule{
		{Direction: "out", Filter: "cmd/#", LocalPrefix: "cmd/", RemotePrefix: "site-b/cmd/"},
		{Direction: "in", Filter: "site-b/cmd/#", RemotePrefix: "site-b/cmd/", LocalPrefix: "cmd/"},
	}
	a := start(t, cfg)
	a.addBucket(map[string]any{"id": "env", "topic": "sensors/#"})
	body := `[`
	for i := range 50 {
		if i > 0 {
			body += ","
		}
		body += fmt.Sprintf(`{"ts":%d,"v":%d}`, t0+int64(i), i)
	}
	body += `]`
	if _, _, err := a.api.Raw(context.Background(), "POST", "/api/v1/buckets/env/data?device=d9", json.RawMessage(body), "application/json"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "50 points upstream over wss", func() bool { return up.bucket("fleet").Stats.Points == 50 })
	var st upstream.Status
	if err := a.api.Do(context.Background(), "GET", "/api/v1/upstream", nil, &st); err != nil || !st.Connected || st.Version != "3.1.1" {
		t.Errorf("status %+v %v", st, err)
	}

	w := up.mustConnect5(up.addDevice(map[string]any{"id": "watcher"}))
	subscribe(t, w, "site-b/#")
	d := a.mustConnect5(a.addDevice(map[string]any{"id": "d9"}))
	subscribe(t, d, "cmd/#")
	publish(t, d, "cmd/x", "ping")
	if m := nextMsg(t, w, "site-b/cmd/x"); string(m.Payload) != "ping" {
		t.Errorf("upstream got %q", m.Payload)
	}
	nextMsg(t, d, "cmd/x") // its own message, as a subscriber
	quiet(t, d, "cmd/x", 500*time.Millisecond)
	quiet(t, w, "site-b/cmd/x", 100*time.Millisecond)
}
