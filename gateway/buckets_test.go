package gateway_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/perch-gw/perch/gateway/api"
)

// fixed device timestamps (ms) so that exports are reproducible
const t0 = int64(1767225600000) // 2026-01-01T00:00:00Z

func (tg *testGateway) addBucket(body map[string]any) api.Bucket {
	tg.t.Helper()
	var b api.Bucket
	if err := tg.api.Do(context.Background(), "POST", "/api/v1/buckets", body, &b); err != nil {
		tg.t.Fatalf("add bucket %v: %v", body["id"], err)
	}
	return b
}

func (tg *testGateway) bucket(id string) api.Bucket {
	tg.t.Helper()
	var b api.Bucket
	if err := tg.api.Do(context.Background(), "GET", "/api/v1/buckets/"+id, nil, &b); err != nil {
		tg.t.Fatal(err)
	}
	return b
}

func (tg *testGateway) read(path string) string {
	tg.t.Helper()
	raw, _, err := tg.api.Raw(context.Background(), "GET", path, nil, "*/*")
	if err != nil {
		tg.t.Fatalf("GET %s: %v", path, err)
	}
	return string(raw)
}

func publish(t *testing.T, c *v5, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
	if res.ReasonCode != 0 {
		t.Fatalf("publish %s: PUBACK reason %d", topic, res.ReasonCode)
	}
}

// golden compares got with testdata/buckets/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "testdata", "buckets", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs from the golden file\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// Devices publish over MQTT (QoS 1, paho); every PUBACKed message is in the
// bucket at once, and exports as JSON, CSV and ARFF match the golden files.
func TestBucketEndToEnd(t *testing.T) {
	tg := start(t, testConfig(t))
	tg.addBucket(map[string]any{"id": "env", "name": "Environment", "topic": "sensors/+/env"})
	tg.addBucket(map[string]any{"id": "other", "topic": "other/#"})
	devs := map[string]*v5{}
	for _, id := range []string{"greenhouse-1", "greenhouse-2", "shed"} {
		devs[id] = tg.mustConnect5(tg.addDevice(map[string]any{"id": id}))
	}
	for i := range 3 {
		ts := t0 + int64(i)*60_000
		publish(t, devs["greenhouse-1"], "sensors/greenhouse-1/env", fmt.Sprintf(`{"ts":%d,"temp":%g,"hum":%d,"door":%v}`, ts, 21.5+float64(i), 40+i, i%2 == 0))
		publish(t, devs["greenhouse-2"], "sensors/greenhouse-2/env", fmt.Sprintf(`{"ts":%d,"temp":%g,"env":{"co2":%d}}`, ts, 19.25-float64(i), 400+i*10))
	}
	publish(t, devs["shed"], "sensors/shed/env", `{"ts":"2026-01-01T00:01:30.5Z","temp":-3.5,"name":"shed","batt":[3.9,3.8]}`)
	// rejected, visibly, and MQTT 5 says so in the PUBACK
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := devs["shed"].Publish(ctx, &paho.Publish{Topic: "sensors/shed/env", QoS: 1, Payload: []byte(`temp=4`)})
	if res == nil || res.ReasonCode != 0x99 || err == nil {
		t.Fatalf("a payload that is not JSON: %+v %v, want PUBACK 0x99", res, err)
	}
	publish(t, devs["shed"], "other/x", `{"a":1}`)
	// not recorded by env
	publish(t, devs["shed"], "sensors/shed/status", `{"up":1}`)

	base := "/api/v1/buckets/env/data?from=" + fmt.Sprint(t0)
	golden(t, "env.json", tg.read(base))
	golden(t, "env-iso.json", tg.read(base+"&ts_format=iso&sort=desc"))
	csvOut := tg.read(base + "&format=csv")
	golden(t, "env.csv", csvOut)
	golden(t, "env.arff", tg.read(base+"&format=arff"))
	golden(t, "env-agg.csv", tg.read(base+"&format=csv&agg=max&every=2m&fields=temp,hum"))
	// Thinger.io's names
	golden(t, "env-thinger.json", tg.read("/api/v1/buckets/env/data?items=2&agg=1h&agg_type=count&device=greenhouse-1&min_ts="+fmt.Sprint(t0)))

	rows, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+7 || strings.Join(rows[0], ",") != "ts,device,batt.0,batt.1,door,env.co2,hum,temp" {
		t.Fatalf("csv: %v", rows)
	}

	b := tg.bucket("env")
	if b.Stats.Series != 8 || b.Stats.Points != 3*3+3*2+3 || b.Stats.Rejected != 1 || b.Stats.LastRejection == nil ||
		b.Stats.LastRejection.Reason != "not JSON" || b.Stats.LastRejection.Device != "shed" {
		js, _ := json.MarshalIndent(b, "", "  ")
		t.Fatalf("stats: %s", js)
	}
	metrics := tg.read("/metrics")
	for _, want := range []string{`perch_bucket_points{bucket="env"} 18`, `perch_bucket_rejected_total{bucket="env"} 1`,
		`perch_bucket_series{bucket="env"} 8`, `perch_bucket_failed{bucket="env"} 0`, `perch_mqtt_store_failures_total 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if got := tg.read("/api/v1/buckets/other/data?format=csv"); !strings.Contains(got, "shed,1") {
		t.Fatalf("other: %q", got)
	}

	// survives a restart
	tg.stop()
	tg2 := start(t, tg.cfg)
	if got := tg2.read(base + "&format=csv"); got != csvOut {
		t.Fatalf("after restart:\n%s\nwant\n%s", got, csvOut)
	}
}

func TestBucketAPIWritesAndErrors(t *testing.T) {
	tg := start(t, testConfig(t))
	tg.addBucket(map[string]any{"id": "manual", "retention": "520w", "resolution": "1s"})
	c := tg.https(nil)
	tok := map[string]string{"Authorization": "Bearer " + tg.token("w", false), "Content-Type": "application/json"}
	res := call(t, c, "POST", tg.url("/api/v1/buckets/manual/data?device=lab"), tok,
		fmt.Sprintf(`[{"ts":%d,"v":1},{"ts":%d,"v":2.5,"ok":true}]`, t0+400, t0+1700))
	if res.status != 200 || res.body["accepted"] != float64(2) {
		t.Fatalf("write: %d %s", res.status, res.raw)
	}
	// resolution 1s floors the timestamps
	if got := tg.read("/api/v1/buckets/manual/data?format=csv"); got != "ts,device,ok,v\n1767225600000,lab,,1\n1767225601000,lab,1,2.5\n" {
		t.Fatalf("read: %q", got)
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		field              string
	}{
		{"POST", "/api/v1/buckets/manual/data", `[{"v":1},{"v":"x"}]`, 400, "[1]"},
		{"POST", "/api/v1/buckets/manual/data", `{"v":1`, 400, ""},
		{"POST", "/api/v1/buckets/manual/data?colour=red", `{"v":1}`, 400, "colour"},
		{"POST", "/api/v1/buckets/ghost/data", `{"v":1}`, 404, "id"},
		{"GET", "/api/v1/buckets/manual/data?from=yesterday", "", 400, "from"},
		{"GET", "/api/v1/buckets/manual/data?agg=median", "", 400, "agg"},
		{"GET", "/api/v1/buckets/manual/data?limit=0", "", 400, "limit"},
		{"GET", "/api/v1/buckets/manual/data?max_ts=1&to=2", "", 400, "max_ts"},
		{"DELETE", "/api/v1/buckets/manual/data?fields=v", "", 400, "fields"},
		{"POST", "/api/v1/buckets", `{"id":"bad id"}`, 400, "id"},
		{"POST", "/api/v1/buckets", `{"id":"x","topic":"a/#/b"}`, 400, "topic"},
		{"POST", "/api/v1/buckets", `{"id":"x","retention":"1 year"}`, 400, "retention"},
		{"POST", "/api/v1/buckets", `{"id":"manual"}`, 409, "id"},
		{"PATCH", "/api/v1/buckets/manual", `{"resolution":"2h"}`, 400, "resolution"},
	} {
		res := call(t, c, tc.method, tg.url(tc.path), tok, tc.body)
		if res.status != tc.status || errField(res, "field") != tc.field {
			t.Errorf("%s %s %s: %d %s, want %d field %q", tc.method, tc.path, tc.body, res.status, res.raw, tc.status, tc.field)
		}
	}
	// a read-only token reads but cannot write
	ro := map[string]string{"Authorization": "Bearer " + tg.token("r", true)}
	if res := call(t, c, "GET", tg.url("/api/v1/buckets/manual/data"), ro, ""); res.status != 200 {
		t.Fatalf("read-only read: %d", res.status)
	}
	if res := call(t, c, "POST", tg.url("/api/v1/buckets/manual/data"), ro, `{"v":1}`); res.status != 403 {
		t.Fatalf("read-only write: %d", res.status)
	}
	// disabled buckets refuse writes, clear and delete work
	if res := call(t, c, "PATCH", tg.url("/api/v1/buckets/manual"), tok, `{"enabled":false}`); res.status != 200 {
		t.Fatal(res.raw)
	}
	if res := call(t, c, "POST", tg.url("/api/v1/buckets/manual/data"), tok, `{"v":1}`); res.status != 409 {
		t.Fatalf("disabled write: %d %s", res.status, res.raw)
	}
	if res := call(t, c, "DELETE", tg.url(fmt.Sprintf("/api/v1/buckets/manual/data?from=%d&to=%d", t0, t0+500)), tok, ""); res.status != 200 {
		t.Fatalf("clear: %d %s", res.status, res.raw)
	}
	if got := tg.read("/api/v1/buckets/manual/data?format=csv"); got != "ts,device,ok,v\n1767225601000,lab,1,2.5\n" {
		t.Fatalf("after clear: %q", got)
	}
	if res := call(t, c, "DELETE", tg.url("/api/v1/buckets/manual"), tok, ""); res.status != 204 {
		t.Fatalf("delete: %d", res.status)
	}
	if _, err := os.Stat(filepath.Join(tg.cfg.DataDir, "buckets", "manual")); !os.IsNotExist(err) {
		t.Fatalf("data left behind: %v", err)
	}
}

// The live stream sends each new point as a server-sent event.
func TestBucketStream(t *testing.T) {
	tg := start(t, testConfig(t))
	tg.addBucket(map[string]any{"id": "live", "topic": "live/#"})
	dev := tg.mustConnect5(tg.addDevice(map[string]any{"id": "d1"}))
	req, _ := http.NewRequest("GET", tg.url("/api/v1/buckets/live/stream"), nil)
	req.Header.Set("Authorization", "Bearer "+tg.token("r", true))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := tg.https(nil).Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	if line, _ := rd.ReadString('\n'); !strings.HasPrefix(line, ":") {
		t.Fatalf("first line %q", line)
	}
	publish(t, dev, "live/a", fmt.Sprintf(`{"ts":%d,"t":{"in":1.5}}`, t0))
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			want := `{"ts":1767225600000,"device":"d1","topic":"live/a","values":{"t.in":1.5}}`
			if strings.TrimSpace(data) != want {
				t.Fatalf("event %q, want %q", data, want)
			}
			return
		}
	}
}

// mosquitto_pub, at QoS 1 with both protocol versions, feeds a bucket.
func TestBucketMosquittoPub(t *testing.T) {
	pub := needTool(t, "mosquitto_pub")
	tg := start(t, testConfig(t))
	tg.addBucket(map[string]any{"id": "env", "topic": "sensors/#"})
	d := tg.addDevice(map[string]any{"id": "esp32"})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, tg.g.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	port := tg.addr("mqtt_tls")[strings.LastIndex(tg.addr("mqtt_tls"), ":")+1:]
	for i, v := range []string{"mqttv311", "mqttv5"} {
		var stderr bytes.Buffer
		cmd := exec.Command(pub, "--cafile", caFile, "-h", "localhost", "-p", port, "-V", v, "-u", tg.cfg.Account,
			"-i", d.ID, "-P", d.Credentials, "-q", "1", "-t", "sensors/esp32", "-m", fmt.Sprintf(`{"ts":%d,"temp":%d}`, t0+int64(i), 20+i))
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v %s", v, err, stderr.String())
		}
	}
	if got := tg.read("/api/v1/buckets/env/data?format=csv"); got != "ts,device,temp\n1767225600000,esp32,20\n1767225600001,esp32,21\n" {
		t.Fatalf("%q", got)
	}
}

// Query answers are gzipped for clients that accept it, and the same bytes
// once decompressed; others get them plain.
func TestBucketDataGzip(t *testing.T) {
	tg := start(t, testConfig(t))
	tg.addBucket(map[string]any{"id": "z"})
	var items []string
	for i := range 500 {
		items = append(items, fmt.Sprintf(`{"ts":%d,"v":%d}`, t0+int64(i)*1000, i%7))
	}
	if _, _, err := tg.api.Raw(context.Background(), "POST", "/api/v1/buckets/z/data", json.RawMessage("["+strings.Join(items, ",")+"]"), "application/json"); err != nil {
		t.Fatal(err)
	}
	tok := tg.token("r", true)
	get := func(enc string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", tg.url("/api/v1/buckets/z/data?format=csv"), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: tg.tlsConfig(), DisableCompression: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	plainResp, plain := get("identity")
	gzResp, zipped := get("br, gzip")
	if plainResp.Header.Get("Content-Encoding") != "" || gzResp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("encodings %q and %q", plainResp.Header.Get("Content-Encoding"), gzResp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) || len(zipped)*3 > len(plain) {
		t.Fatalf("gzip: %d bytes for %d plain, equal %v", len(zipped), len(plain), bytes.Equal(unzipped, plain))
	}
	if r, _ := get("gzip;q=0"); r.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent to a client that refuses it")
	}
}
