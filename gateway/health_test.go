package gateway_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// The health report reaches a real MQTT subscriber and the built-in
// bucket "health"; Close stops it with the gateway.
func TestHealthEndToEnd(t *testing.T) {
	cfg := testConfig(t)
	cfg.Health.Enabled = true
	cfg.Health.Interval = 5 * time.Second
	tg := start(t, cfg)
	if b := tg.bucket("health"); b.Topic != "perch/+/health" {
		t.Fatalf("health bucket topic %q", b.Topic)
	}
	d := tg.addDevice(map[string]any{"id": "watcher", "credentials": "watcher-secret-1"})
	_ = d
	c, _, err := tg.connect5(tg.cfg.Account, "watcher", "watcher-secret-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(context.Background(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "perch/+/health"}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-c.msgs:
		if m.Topic != "perch/perch-test/health" {
			t.Errorf("topic %s", m.Topic)
		}
		var r map[string]any
		if err := json.Unmarshal(m.Payload, &r); err != nil {
			t.Fatalf("payload %s: %v", m.Payload, err)
		}
		for _, k := range []string{"gateway_uptime_s", "clients", "disk_free_bytes"} {
			if _, ok := r[k]; !ok {
				t.Errorf("report has no %s: %s", k, m.Payload)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no health report")
	}
	eventually(t, 10*time.Second, "a point in the health bucket", func() bool {
		return strings.Contains(tg.read("/api/v1/buckets/health/data?format=csv"), "clients")
	})
}
