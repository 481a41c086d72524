package gateway_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// openEvents opens GET /api/v1/events+query with a bearer token; the
// stream ends with the test.
func (tg *testGateway) openEvents(token, query string) <-chan sse {
	tg.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tg.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", tg.url("/api/v1/events"+query), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := tg.https(nil).Do(req)
	if err != nil {
		tg.t.Fatal(err)
	}
	tg.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		tg.t.Fatalf("events%s: %d %q", query, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return events(resp.Body)
}

// until reads events up to and including the first that stop accepts.
func until(t *testing.T, ch <-chan sse, stop func(sse) bool) []sse {
	t.Helper()
	var out []sse
	for {
		ev := nextEvent(t, ch, 5*time.Second)
		out = append(out, ev)
		if stop(ev) {
			return out
		}
	}
}

func isWrite(device string, value float64) func(sse) bool {
	return func(ev sse) bool {
		v, _ := ev.data["values"].(map[string]any)
		return ev.data["type"] == "bucket_write" && ev.data["device"] == device && v["t"] == value
	}
}

// types lists the events' types and devices, as "device_connected d1".
func types(evs []sse) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.name+ev.data["type"].(string)+" "+ev.data["device"].(string))
	}
	return out
}

// GET /api/v1/events streams devices connecting and disconnecting and the
// points stored in buckets, in the order they happen: a device's
// connection before the points it then writes, a connection taken over by
// the same device with no disconnection between. ?type=, ?device= and
// ?bucket= narrow it down; bad parameters are errors naming them; a
// read-only token may watch; the stream ends with the gateway.
func TestEventsAPI(t *testing.T) {
	tg := start(t, testConfig(t))
	tg.addBucket(map[string]any{"id": "env", "topic": "sensors/+/env"})
	tg.addBucket(map[string]any{"id": "other"})
	d1 := tg.addDevice(map[string]any{"id": "d1"})
	d2 := tg.addDevice(map[string]any{"id": "d2"})
	ro := tg.token("ro", true)
	c := tg.https(nil)

	if res := call(t, c, "GET", tg.url("/api/v1/events"), nil, ""); res.status != 401 {
		t.Errorf("without a token: %d %s", res.status, res.raw)
	}
	for _, tc := range []struct {
		query, field string
		status       int
	}{
		{"?type=nope", "type", 400}, {"?type=", "type", 400}, {"?type=bucket_write,", "type", 400},
		{"?type=bucket_write&type=device_connected", "type", 400}, {"?colour=red", "colour", 400},
		{"?device=", "device", 400}, {"?bucket=", "bucket", 400}, {"?bucket=nope", "bucket", 404},
		{"?bucket=env&type=device_connected", "bucket", 400},
	} {
		res := call(t, c, "GET", tg.url("/api/v1/events"+tc.query), map[string]string{"Authorization": "Bearer " + ro}, "")
		if res.status != tc.status || errField(res, "field") != tc.field {
			t.Errorf("events%s: %d %s, want %d naming %s", tc.query, res.status, res.raw, tc.status, tc.field)
		}
	}

	all := tg.openEvents(ro, "")
	onlyD2 := tg.openEvents(ro, "?type=device_connected,bucket_write&device=d2")
	onlyOther := tg.openEvents(ro, "?bucket=other")

	dev1 := tg.mustConnect5(d1)
	ev := nextEvent(t, all, 5*time.Second)
	if ev.name != "" || ev.data["type"] != "device_connected" || ev.data["device"] != "d1" || ev.data["listener"] != "tls" ||
		ev.data["protocol_version"] != float64(5) || ev.data["remote_addr"] == "" || ev.data["bucket"] != nil || ev.data["topic"] != nil {
		t.Fatalf("connection: %+v", ev)
	}
	if ts, _ := ev.data["ts"].(float64); time.Since(time.UnixMilli(int64(ts))).Abs() > time.Minute {
		t.Fatalf("connection time %v", ev.data["ts"])
	}
	publish(t, dev1, "sensors/d1/env", `{"ts":1767225600000,"t":21.5,"env":{"h":40}}`)
	ev = nextEvent(t, all, 5*time.Second)
	if v, _ := ev.data["values"].(map[string]any); ev.data["type"] != "bucket_write" || ev.data["bucket"] != "env" || ev.data["device"] != "d1" ||
		ev.data["topic"] != "sensors/d1/env" || ev.data["ts"] != float64(1767225600000) || len(v) != 2 || v["t"] != 21.5 || v["env.h"] != float64(40) {
		t.Fatalf("MQTT write: %+v", ev)
	}
	if err := tg.api.Do(context.Background(), "POST", "/api/v1/buckets/other/data?device=script", map[string]any{"t": 1}, nil); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan sse{"all": all, "?bucket=other": onlyOther} {
		ev = nextEvent(t, ch, 5*time.Second)
		if ev.data["type"] != "bucket_write" || ev.data["bucket"] != "other" || ev.data["device"] != "script" || ev.data["topic"] != "" {
			t.Fatalf("%s: API write: %+v", name, ev)
		}
	}

	// d2 connects, writes, and connects again (a takeover): it never went
	// offline, and every stream tells it in order.
	dev2 := tg.mustConnect5(d2)
	publish(t, dev2, "sensors/d2/env", `{"t":1}`)
	dev2b := tg.mustConnect5(d2)
	eventually(t, 5*time.Second, "the taken-over connection to be gone", func() bool { return tg.status().MQTT.ClientsConnected == 2 })
	publish(t, dev2b, "sensors/d2/env", `{"t":2}`)

	got := types(until(t, onlyD2, isWrite("d2", 2)))
	want := []string{"device_connected d2", "bucket_write d2", "device_connected d2", "bucket_write d2"}
	if len(got) != len(want) {
		t.Fatalf("?device=d2: %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("?device=d2: %q, want %q", got, want)
		}
	}
	got = types(until(t, all, isWrite("d2", 2)))
	// The old connection may end before or after the new one is
	// established; either way the last word before the write is "connected".
	if n := len(got); n < 4 || got[0] != "device_connected d2" || got[1] != "bucket_write d2" ||
		got[n-2] != "device_connected d2" || (n == 5 && got[2] != "device_disconnected d2") || n > 5 {
		t.Fatalf("all, d2: %q", got)
	}

	if err := dev1.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	ev = nextEvent(t, all, 5*time.Second)
	if ev.data["type"] != "device_disconnected" || ev.data["device"] != "d1" || ev.data["listener"] != "tls" {
		t.Fatalf("disconnection: %+v", ev)
	}
	// Announced once the device shows offline, its last-seen time recorded.
	if d := tg.device("d1"); d.Status.Connected || d.Status.LastSeen == nil {
		t.Fatalf("d1 after its disconnection was announced: %+v", d.Status)
	}
	select {
	case ev := <-onlyOther:
		t.Fatalf("?bucket=other got %+v", ev)
	default:
	}

	// The streams end with the gateway, at once.
	begin := time.Now()
	tg.stop()
	if d := time.Since(begin); d > 1500*time.Millisecond {
		t.Errorf("stopping with event streams open took %v", d)
	}
	for _, ch := range []<-chan sse{all, onlyD2, onlyOther} {
		timeout := time.After(5 * time.Second)
	drain:
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					break drain
				}
			case <-timeout:
				t.Fatal("an event stream is still open after shutdown")
			}
		}
	}
}
