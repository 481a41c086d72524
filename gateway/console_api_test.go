package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// The server side of the web console: dashboards, and MQTT publish and
// watch through the API.

// goldenDashboard compares got with testdata/dashboards/name, or rewrites
// it with -update.
func goldenDashboard(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "testdata", "dashboards", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs from the golden file\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// exampleDashboard is the example of the API documentation.
func exampleDashboard(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("dashboard", "testdata", "greenhouse.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDashboardAPI(t *testing.T) {
	tg := start(t, testConfig(t))
	c := tg.https(nil)
	rw := map[string]string{"Authorization": "Bearer " + tg.token("rw", false), "Content-Type": "application/json"}
	ro := map[string]string{"Authorization": "Bearer " + tg.token("ro", true)}

	// create: 201 with its Location
	req, _ := http.NewRequest("POST", tg.url("/api/v1/dashboards"), strings.NewReader(exampleDashboard(t)))
	for k, v := range rw {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	created, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("Location") != "/api/v1/dashboards/greenhouse" {
		t.Fatalf("create: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), created)
	}
	got := call(t, c, "GET", tg.url("/api/v1/dashboards/greenhouse"), ro, "")
	if got.status != 200 || got.raw != string(created) {
		t.Fatalf("get: %d %s\nwant %s", got.status, got.raw, created)
	}
	goldenDashboard(t, "greenhouse.json", normalize([]byte(got.raw)))
	var first struct {
		Created, Updated time.Time
		Widgets          []json.RawMessage
	}
	// the body's own times are ignored
	if err := json.Unmarshal([]byte(got.raw), &first); err != nil || time.Since(first.Created).Abs() > time.Minute || !first.Updated.Equal(first.Created) {
		t.Fatalf("times: %v %+v, want now", err, first)
	}

	if res := call(t, c, "POST", tg.url("/api/v1/dashboards"), rw, `{"id":"alpha","name":"A"}`); res.status != 201 {
		t.Fatalf("create alpha: %d %s", res.status, res.raw)
	}
	var list []struct {
		ID      string
		Widgets []json.RawMessage
	}
	res := call(t, c, "GET", tg.url("/api/v1/dashboards"), ro, "")
	if err := json.Unmarshal([]byte(res.raw), &list); err != nil || len(list) != 2 || list[0].ID != "alpha" || list[1].ID != "greenhouse" ||
		list[0].Widgets == nil || len(list[1].Widgets) != 4 {
		t.Fatalf("list: %v %s", err, res.raw)
	}

	// replace: the body's id may be left out; what GET answers can be sent back
	res = call(t, c, "PUT", tg.url("/api/v1/dashboards/greenhouse"), rw,
		`{"name":"Glasshouse","widgets":[{"id":"t","type":"text","x":0,"y":0,"w":12,"h":1}]}`)
	if res.status != 200 || res.body["name"] != "Glasshouse" || res.body["created"] != created2(t, created) {
		t.Fatalf("replace: %d %s", res.status, res.raw)
	}
	if again := call(t, c, "PUT", tg.url("/api/v1/dashboards/greenhouse"), rw, res.raw); again.status != 200 {
		t.Fatalf("PUT of GET's answer: %d %s", again.status, again.raw)
	}

	bigOptions := `{"id":"big","widgets":[{"id":"t","type":"text","w":1,"h":1,"options":{"a":"` + strings.Repeat("x", 300<<10) + `"}}]}`
	twoWidgets := func(second string) string {
		return `{"id":"g2","widgets":[{"id":"a","type":"chart","x":0,"y":0,"w":6,"h":4,"source":{"kind":"bucket","bucket":"env"}},` + second + `]}`
	}
	for _, tc := range []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		code, field              string
	}{
		{"past the grid", "POST", "/api/v1/dashboards", twoWidgets(`{"id":"b","type":"chart","x":8,"y":0,"w":6,"h":4,"source":{"kind":"bucket","bucket":"env"}}`), rw, 400, "invalid", "widgets[1].w"},
		{"duplicate widget id", "POST", "/api/v1/dashboards", twoWidgets(`{"id":"a","type":"text","w":1,"h":1}`), rw, 400, "invalid", "widgets[1].id"},
		{"unknown widget type", "POST", "/api/v1/dashboards", twoWidgets(`{"id":"b","type":"pie","w":1,"h":1}`), rw, 400, "invalid", "widgets[1].type"},
		{"unknown source member", "POST", "/api/v1/dashboards", twoWidgets(`{"id":"b","type":"value","w":1,"h":1,"source":{"kind":"topic","topik":"a"}}`), rw, 400, "unknown_field", "widgets[1].source.topik"},
		{"wrong type", "POST", "/api/v1/dashboards", twoWidgets(`{"id":"b","type":"value","x":"1","w":1,"h":1}`), rw, 400, "bad_type", "widgets[1].x"},
		{"options not an object", "POST", "/api/v1/dashboards", twoWidgets(`{"id":"b","type":"text","w":1,"h":1,"options":[1]}`), rw, 400, "invalid", "widgets[1].options"},
		{"a $SYS topic", "POST", "/api/v1/dashboards", twoWidgets(`{"id":"b","type":"value","w":1,"h":1,"source":{"kind":"topic","topic":"$SYS/#"}}`), rw, 400, "invalid", "widgets[1].source.topic"},
		{"bad id", "POST", "/api/v1/dashboards", `{"id":"my board"}`, rw, 400, "invalid", "id"},
		{"unknown member", "POST", "/api/v1/dashboards", `{"id":"x","colour":"red"}`, rw, 400, "unknown_field", "colour"},
		{"malformed", "POST", "/api/v1/dashboards", `{"id":`, rw, 400, "bad_json", ""},
		{"empty", "POST", "/api/v1/dashboards", ``, rw, 400, "bad_json", ""},
		{"too large", "POST", "/api/v1/dashboards", bigOptions, rw, 413, "too_large", ""},
		{"not JSON", "POST", "/api/v1/dashboards", `{"id":"x"}`, map[string]string{"Authorization": rw["Authorization"], "Content-Type": "text/plain"}, 415, "bad_content_type", ""},
		{"exists", "POST", "/api/v1/dashboards", `{"id":"alpha"}`, rw, 409, "exists", "id"},
		{"id mismatch", "PUT", "/api/v1/dashboards/alpha", `{"id":"beta"}`, rw, 400, "invalid", "id"},
		{"get unknown", "GET", "/api/v1/dashboards/ghost", ``, rw, 404, "not_found", "id"},
		{"put unknown", "PUT", "/api/v1/dashboards/ghost", `{"name":"x"}`, rw, 404, "not_found", "id"},
		{"delete unknown", "DELETE", "/api/v1/dashboards/ghost", ``, rw, 404, "not_found", "id"},
		{"read-only create", "POST", "/api/v1/dashboards", `{"id":"ro"}`, ro, 403, "read_only", ""},
		{"read-only replace", "PUT", "/api/v1/dashboards/alpha", `{"name":"x"}`, ro, 403, "read_only", ""},
		{"read-only delete", "DELETE", "/api/v1/dashboards/alpha", ``, ro, 403, "read_only", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, c, tc.method, tg.url(tc.path), tc.header, tc.body)
			if res.status != tc.status || errField(res, "code") != tc.code || errField(res, "field") != tc.field || errField(res, "message") == "" {
				t.Fatalf("got %d %.400s, want %d %s field %q", res.status, res.raw, tc.status, tc.code, tc.field)
			}
		})
	}
	if res := call(t, c, "DELETE", tg.url("/api/v1/dashboards/alpha"), rw, ""); res.status != 204 {
		t.Fatalf("delete: %d %s", res.status, res.raw)
	}
	if res := call(t, c, "GET", tg.url("/api/v1/dashboards/alpha"), rw, ""); res.status != 404 {
		t.Fatalf("deleted: %d", res.status)
	}

	// kept across a restart
	before := call(t, c, "GET", tg.url("/api/v1/dashboards"), rw, "").raw
	tg.stop()
	tg2 := start(t, tg.cfg)
	if after := tg2.read("/api/v1/dashboards"); after != before {
		t.Fatalf("after restart:\n%s\nwant\n%s", after, before)
	}
}

// created2 is the "created" of a dashboard's JSON.
func created2(t *testing.T, raw []byte) string {
	var d struct{ Created string }
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d.Created
}

func subscribe(t *testing.T, c *v5, filter string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
}

func receive(t *testing.T, c *v5) *paho.Publish {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received within 5 s")
	}
	return nil
}

// A message published through the API reaches a device (paho, MQTT 5) at
// the QoS asked for, and one on a bucket's topic is first stored there
// under the device "api".
func TestMQTTPublishAPI(t *testing.T) {
	tg := start(t, testConfig(t))
	tg.addBucket(map[string]any{"id": "env", "topic": "sensors/#"})
	c := tg.https(nil)
	rw := map[string]string{"Authorization": "Bearer " + tg.token("rw", false), "Content-Type": "application/json"}
	ro := map[string]string{"Authorization": "Bearer " + tg.token("ro", true)}
	lamp := tg.mustConnect5(tg.addDevice(map[string]any{"id": "lamp"}))
	subscribe(t, lamp, "cmd/#")
	subscribe(t, lamp, "sensors/#")
	pub := func(body string) apiResult { return call(t, c, "POST", tg.url("/api/v1/mqtt/publish"), rw, body) }

	if res := pub(`{"topic":"cmd/lamp","payload":"on","qos":1,"retain":false}`); res.status != 200 || res.raw != "{\n  \"published\": true\n}\n" {
		t.Fatalf("publish: %d %q", res.status, res.raw)
	}
	if m := receive(t, lamp); m.Topic != "cmd/lamp" || string(m.Payload) != "on" || m.QoS != 1 || m.Retain {
		t.Fatalf("received %+v", m)
	}
	if res := pub(`{"topic":"cmd/raw","payload_base64":"AP8="}`); res.status != 200 {
		t.Fatalf("publish base64: %d %s", res.status, res.raw)
	}
	if m := receive(t, lamp); m.Topic != "cmd/raw" || string(m.Payload) != "\x00\xff" || m.QoS != 0 {
		t.Fatalf("received %+v", m)
	}

	// on a bucket's topic: stored, as device "api", then published
	if res := pub(fmt.Sprintf(`{"topic":"sensors/manual","payload":"{\"ts\":%d,\"temp\":20.5}","qos":1}`, t0)); res.status != 200 {
		t.Fatalf("publish to a bucket: %d %s", res.status, res.raw)
	}
	if got := tg.read("/api/v1/buckets/env/data?format=csv"); got != "ts,device,temp\n1767225600000,api,20.5\n" {
		t.Fatalf("bucket: %q", got)
	}
	if m := receive(t, lamp); m.Topic != "sensors/manual" {
		t.Fatalf("received %+v", m)
	}
	// a payload the bucket refuses is not published either
	if res := pub(`{"topic":"sensors/manual","payload":"temp=4"}`); res.status != 422 || errField(res, "code") != "rejected" || errField(res, "field") != "payload" {
		t.Fatalf("refused payload: %d %s", res.status, res.raw)
	}
	if res := pub(`{"topic":"cmd/next","payload":"x"}`); res.status != 200 {
		t.Fatal(res.raw)
	}
	if m := receive(t, lamp); m.Topic != "cmd/next" {
		t.Fatalf("the refused message was published: %s %q", m.Topic, m.Payload)
	}
	if b := tg.bucket("env"); b.Stats.Rejected != 1 || b.Stats.LastRejection.Device != "api" {
		t.Fatalf("rejection: %+v", b.Stats)
	}

	// retained for later subscribers
	if res := pub(`{"topic":"cmd/mode","payload":"auto","retain":true}`); res.status != 200 {
		t.Fatal(res.raw)
	}
	receive(t, lamp)
	late := tg.mustConnect5(tg.addDevice(map[string]any{"id": "late"}))
	subscribe(t, late, "cmd/mode")
	if m := receive(t, late); string(m.Payload) != "auto" || !m.Retain {
		t.Fatalf("retained: %+v", m)
	}

	for _, tc := range []struct {
		name, body string
		header     map[string]string
		status     int
		code, fld  string
	}{
		{"wildcard topic", `{"topic":"cmd/#","payload":"x"}`, rw, 400, "invalid", "topic"},
		{"$ topic", `{"topic":"$SYS/x","payload":"x"}`, rw, 400, "invalid", "topic"},
		{"no topic", `{"payload":"x"}`, rw, 400, "invalid", "topic"},
		{"long topic", `{"topic":"` + strings.Repeat("t", 1025) + `","payload":"x"}`, rw, 400, "invalid", "topic"},
		{"no payload", `{"topic":"a"}`, rw, 400, "invalid", "payload"},
		{"both payloads", `{"topic":"a","payload":"x","payload_base64":"eA=="}`, rw, 400, "invalid", "payload"},
		{"bad base64", `{"topic":"a","payload_base64":"%%%"}`, rw, 400, "invalid", "payload_base64"},
		{"qos 3", `{"topic":"a","payload":"x","qos":3}`, rw, 400, "invalid", "qos"},
		{"unknown member", `{"topic":"a","payload":"x","dup":true}`, rw, 400, "unknown_field", "dup"},
		{"over the packet size", `{"topic":"a","payload":"` + strings.Repeat("x", 300<<10) + `"}`, rw, 413, "too_large", "payload"},
		{"read-only", `{"topic":"a","payload":"x"}`, ro, 403, "read_only", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, c, "POST", tg.url("/api/v1/mqtt/publish"), tc.header, tc.body)
			if res.status != tc.status || errField(res, "code") != tc.code || errField(res, "field") != tc.fld {
				t.Fatalf("got %d %.300s, want %d %s %s", res.status, res.raw, tc.status, tc.code, tc.fld)
			}
		})
	}
	select {
	case m := <-lamp.msgs:
		t.Fatalf("a refused publish was delivered: %s", m.Topic)
	default:
	}
}

type sse struct {
	name string
	data map[string]any
}

// events reads a response's server-sent events until its body ends.
func events(body io.Reader) <-chan sse {
	ch := make(chan sse, 100)
	go func() {
		defer close(ch)
		rd := bufio.NewReader(body)
		var ev sse
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "" && ev.data != nil:
				ch <- ev
				ev = sse{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data)
			}
		}
	}()
	return ch
}

func nextEvent(t *testing.T, ch <-chan sse, within time.Duration) sse {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %v", within)
	}
	return sse{}
}

type gatewayStatus struct {
	Devices struct{ Total, Connected int }
	MQTT    struct {
		Sessions         int64 `json:"sessions"`
		ClientsConnected int64 `json:"clients_connected"`
		Streams          int64 `json:"streams"`
	} `json:"mqtt"`
}

func (tg *testGateway) status() gatewayStatus {
	tg.t.Helper()
	var st gatewayStatus
	if err := tg.api.Do(context.Background(), "GET", "/api/v1/status", nil, &st); err != nil {
		tg.t.Fatal(err)
	}
	return st
}

func (tg *testGateway) streams() int64 { return tg.status().MQTT.Streams }

// The topic stream delivers a device's publish within a second, and ends
// (its subscription gone) when the client goes away. A read-only token
// may watch.
func TestMQTTStreamAPI(t *testing.T) {
	tg := start(t, testConfig(t))
	c := tg.https(nil)
	roToken := tg.token("ro", true)
	ro := map[string]string{"Authorization": "Bearer " + roToken}
	if err := tg.api.Do(context.Background(), "POST", "/api/v1/mqtt/publish", map[string]any{"topic": "sensors/cfg", "payload": "v2", "retain": true}, nil); err != nil {
		t.Fatal(err)
	}
	dev := tg.mustConnect5(tg.addDevice(map[string]any{"id": "d1"}))

	for _, tc := range []struct{ query, field string }{
		{"", "filter"}, {"?filter=a/%23/b", "filter"}, {"?filter=%24SYS/%23", "filter"}, {"?filter=", "filter"},
		{"?filter=a&filter=b", "filter"}, {"?filter=a&colour=red", "colour"},
	} {
		res := call(t, c, "GET", tg.url("/api/v1/mqtt/stream"+tc.query), ro, "")
		if res.status != 400 || errField(res, "code") != "invalid_query" || errField(res, "field") != tc.field {
			t.Errorf("stream%s: %d %s", tc.query, res.status, res.raw)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", tg.url("/api/v1/mqtt/stream?filter="+url.QueryEscape("sensors/#")), nil)
	req.Header.Set("Authorization", "Bearer "+roToken)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := events(resp.Body)
	// the retained message first
	if ev := nextEvent(t, ch, 5*time.Second); ev.data["topic"] != "sensors/cfg" || ev.data["payload"] != "v2" || ev.data["retain"] != true {
		t.Fatalf("retained: %+v", ev)
	}
	if n := tg.streams(); n != 1 {
		t.Fatalf("streams = %d", n)
	}

	publish(t, dev, "other/x", `{"t":0}`) // not in the filter
	sent := time.Now()
	publish(t, dev, "sensors/d1/env", `{"t":21.5}`)
	ev := nextEvent(t, ch, time.Second)
	ts, _ := ev.data["ts"].(float64)
	if ev.name != "" || ev.data["topic"] != "sensors/d1/env" || ev.data["payload"] != `{"t":21.5}` || ev.data["encoding"] != "utf8" ||
		ev.data["qos"] != float64(1) || ev.data["retain"] != false || time.UnixMilli(int64(ts)).Sub(sent).Abs() > 5*time.Second {
		t.Fatalf("event %+v", ev)
	}
	t.Logf("delivered in %v", time.Since(sent))
	publish(t, dev, "sensors/bin", "\xff\x00")
	if ev := nextEvent(t, ch, time.Second); ev.data["payload"] != "/wA=" || ev.data["encoding"] != "base64" {
		t.Fatalf("binary: %+v", ev)
	}

	// The client goes away: the subscription goes with it.
	cancel()
	eventually(t, 5*time.Second, "the stream's subscription to go", func() bool { return tg.streams() == 0 })
	for range ch { // the reader ends
	}

	// A stream open at shutdown ends at once, with the gateway.
	req, _ = http.NewRequest("GET", tg.url("/api/v1/mqtt/stream?filter=%23"), nil)
	req.Header.Set("Authorization", "Bearer "+roToken)
	resp2, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	ch2 := events(resp2.Body)
	nextEvent(t, ch2, 5*time.Second) // sensors/cfg, retained
	begin := time.Now()
	tg.stop()
	if d := time.Since(begin); d > 1500*time.Millisecond {
		t.Errorf("stopping with a stream open took %v", d)
	}
	select {
	case <-ch2:
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open after shutdown")
	}
}

// mochi's inline client (the API's publisher) is not a device: it does not
// count as a session, and a device whose id is "inline" neither takes it
// over nor is mistaken for it.
func TestAPIPublisherIsNoDevice(t *testing.T) {
	tg := start(t, testConfig(t))
	if st := tg.status(); st.MQTT.Sessions != 0 {
		t.Fatalf("sessions with no device: %+v", st)
	}
	d := tg.addDevice(map[string]any{"id": "inline"})
	dev := tg.mustConnect5(d)
	subscribe(t, dev, "cmd/#")
	for i := range 2 {
		if err := tg.api.Do(context.Background(), "POST", "/api/v1/mqtt/publish", map[string]any{"topic": "cmd/x", "payload": fmt.Sprint(i)}, nil); err != nil {
			t.Fatal(err)
		}
		if m := receive(t, dev); string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("received %+v", m)
		}
		if i == 0 {
			// reconnect: a takeover of its own session, not of the API's
			dev.Disconnect(&paho.Disconnect{})
			eventually(t, 5*time.Second, "the device to go", func() bool { return !tg.device("inline").Status.Connected })
			dev = tg.mustConnect5(d)
			subscribe(t, dev, "cmd/#")
		}
	}
	// (mochi counts the old connection out a moment after it is gone)
	eventually(t, 5*time.Second, "one device, client and session", func() bool {
		st := tg.status()
		return st.Devices.Total == 1 && st.Devices.Connected == 1 && st.MQTT.ClientsConnected == 1 && st.MQTT.Sessions == 1
	})
	var list []struct{ ID string }
	if err := tg.api.Do(context.Background(), "GET", "/api/v1/devices", nil, &list); err != nil || len(list) != 1 {
		t.Fatalf("devices: %v %+v", err, list)
	}
}
