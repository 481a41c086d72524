package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/perch-gw/perch/gateway/client"
)

// httpsClient talks to the API over HTTPS, trusting only the gateway's CA.
func (tg *testGateway) https(jar http.CookieJar) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tg.tlsConfig()}, Jar: jar}
}

func (tg *testGateway) url(path string) string { return "https://" + tg.addr("api") + path }

type apiResult struct {
	status int
	body   map[string]any
	raw    string
}

func call(t *testing.T, c *http.Client, method, url string, header map[string]string, body string) apiResult {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := apiResult{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (tg *testGateway) token(name string, readOnly bool) string {
	tg.t.Helper()
	var out struct{ Token string }
	if err := tg.api.Do(context.Background(), "POST", "/api/v1/tokens", map[string]any{"name": name, "read_only": readOnly}, &out); err != nil {
		tg.t.Fatal(err)
	}
	return out.Token
}

func TestAPIAuthOnEveryRoute(t *testing.T) {
	tg := start(t, testConfig(t))
	tg.addDevice(map[string]any{"id": "d1"})
	tg.addBucket(map[string]any{"id": "b1", "topic": "x/#"})
	if err := tg.api.Do(context.Background(), "POST", "/api/v1/dashboards", map[string]any{"id": "db1"}, nil); err != nil {
		t.Fatal(err)
	}
	c := tg.https(nil)
	routes := []struct{ method, path string }{
		{"GET", "/api/v1/status"}, {"GET", "/api/v1/ca"}, {"GET", "/api/v1/devices"}, {"POST", "/api/v1/devices"},
		{"GET", "/api/v1/devices/d1"}, {"PATCH", "/api/v1/devices/d1"}, {"DELETE", "/api/v1/devices/d1"},
		{"POST", "/api/v1/devices/d1/credentials"}, {"GET", "/api/v1/tokens"}, {"POST", "/api/v1/tokens"},
		{"DELETE", "/api/v1/tokens/x"}, {"PUT", "/api/v1/admin/password"}, {"POST", "/api/v1/logout"},
		{"GET", "/metrics"}, {"GET", "/api/v1/nonexistent"}, {"POST", "/"}, {"GET", "/console.js"},
		{"GET", "/api/v1/buckets"}, {"POST", "/api/v1/buckets"}, {"GET", "/api/v1/buckets/b1"},
		{"PATCH", "/api/v1/buckets/b1"}, {"DELETE", "/api/v1/buckets/b1"}, {"GET", "/api/v1/buckets/b1/data"},
		{"POST", "/api/v1/buckets/b1/data"}, {"DELETE", "/api/v1/buckets/b1/data"}, {"GET", "/api/v1/buckets/b1/stream"},
		{"GET", "/api/v1/dashboards"}, {"POST", "/api/v1/dashboards"}, {"GET", "/api/v1/dashboards/db1"},
		{"PUT", "/api/v1/dashboards/db1"}, {"DELETE", "/api/v1/dashboards/db1"},
		{"POST", "/api/v1/mqtt/publish"}, {"GET", "/api/v1/mqtt/stream?filter=%23"},
	}
	for _, r := range routes {
		for name, hdr := range map[string]map[string]string{
			"no credentials": nil,
			"bad token":      {"Authorization": "Bearer perch_abc_def"},
			"not bearer":     {"Authorization": "Basic YWRtaW46YWRtaW4="},
			"bad cookie":     {"Cookie": "perch_session=forged"},
		} {
			res := call(t, c, r.method, tg.url(r.path), hdr, "")
			if res.status != http.StatusUnauthorized {
				t.Errorf("%s %s with %s: status %d, want 401", r.method, r.path, name, res.status)
			}
		}
	}
	// the device, the bucket and the dashboard are still there
	if tg.device("d1").ID != "d1" || tg.bucket("b1").ID != "b1" {
		t.Fatal("device or bucket gone")
	}
	if err := tg.api.Do(context.Background(), "GET", "/api/v1/dashboards/db1", nil, nil); err != nil {
		t.Fatalf("dashboard gone: %v", err)
	}
}

func TestAPITokens(t *testing.T) {
	tg := start(t, testConfig(t))
	c := tg.https(nil)
	full := map[string]string{"Authorization": "Bearer " + tg.token("script", false)}
	ro := map[string]string{"Authorization": "Bearer " + tg.token("grafana", true)}

	if res := call(t, c, "POST", tg.url("/api/v1/devices"), full, `{"id":"from-token"}`); res.status != 201 || res.body["credentials"] == "" {
		t.Fatalf("create with a token: %d %s", res.status, res.raw)
	}
	if res := call(t, c, "GET", tg.url("/api/v1/devices"), ro, ""); res.status != 200 {
		t.Fatalf("read-only GET: %d", res.status)
	}
	if res := call(t, c, "POST", tg.url("/api/v1/devices"), ro, `{"id":"x"}`); res.status != 403 || errField(res, "code") != "read_only" {
		t.Fatalf("read-only POST: %d %s", res.status, res.raw)
	}
	res := call(t, c, "GET", tg.url("/metrics"), ro, "")
	if res.status != 200 || !strings.Contains(res.raw, "perch_mqtt_clients_connected") || !strings.Contains(res.raw, "perch_devices 1") {
		t.Fatalf("metrics: %d %.300s", res.status, res.raw)
	}
	if res := call(t, c, "GET", tg.url("/api/v1/nope"), ro, ""); res.status != 404 || errField(res, "code") != "not_found" {
		t.Fatalf("unknown route: %d %s", res.status, res.raw)
	}
}

func errField(r apiResult, k string) string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e[k].(string)
	return s
}

func TestAPIErrors(t *testing.T) {
	tg := start(t, testConfig(t))
	c := tg.https(nil)
	auth := map[string]string{"Authorization": "Bearer " + tg.token("t", false)}
	tg.addDevice(map[string]any{"id": "exists"})
	tests := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"malformed JSON", "POST", "/api/v1/devices", `{"id":`, 400, "bad_json", ""},
		{"empty body", "POST", "/api/v1/devices", ``, 400, "bad_json", ""},
		{"unknown field", "POST", "/api/v1/devices", `{"id":"a","colour":"red"}`, 400, "unknown_field", "colour"},
		{"wrong type", "POST", "/api/v1/devices", `{"id":"a","enabled":"yes"}`, 400, "bad_type", "enabled"},
		{"bad id", "POST", "/api/v1/devices", `{"id":"no spaces"}`, 400, "invalid", "id"},
		{"id too long", "POST", "/api/v1/devices", `{"id":"` + strings.Repeat("a", 65) + `"}`, 400, "invalid", "id"},
		{"short credentials", "POST", "/api/v1/devices", `{"id":"a","credentials":"short"}`, 400, "invalid", "credentials"},
		{"bad acl", "POST", "/api/v1/devices", `{"id":"a","acl":{"publish":["a/#/b"],"subscribe":["#"]}}`, 400, "invalid", "acl"},
		{"bad type", "POST", "/api/v1/devices", `{"id":"a","type":"http"}`, 400, "invalid", "type"},
		{"duplicate", "POST", "/api/v1/devices", `{"id":"exists"}`, 409, "exists", "id"},
		{"unknown device", "GET", "/api/v1/devices/ghost", ``, 404, "not_found", "id"},
		{"patch unknown", "PATCH", "/api/v1/devices/ghost", `{"enabled":false}`, 404, "not_found", "id"},
		{"trailing data", "PATCH", "/api/v1/devices/exists", `{"enabled":false} {}`, 400, "bad_json", ""},
		{"huge body", "POST", "/api/v1/devices", `{"id":"a","description":"` + strings.Repeat("x", 70000) + `"}`, 413, "too_large", ""},
		{"bad token name", "POST", "/api/v1/tokens", `{"name":"has space"}`, 400, "invalid", "name"},
		{"short admin password", "PUT", "/api/v1/admin/password", `{"password":"short"}`, 400, "invalid", "password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": "application/json"}
			for k, v := range auth {
				h[k] = v
			}
			res := call(t, c, tc.method, tg.url(tc.path), h, tc.body)
			if res.status != tc.status || errField(res, "code") != tc.code || errField(res, "field") != tc.field || errField(res, "message") == "" {
				t.Fatalf("got %d %s, want %d code=%s field=%s", res.status, res.raw, tc.status, tc.code, tc.field)
			}
		})
	}
}

func TestConsoleSession(t *testing.T) {
	tg := start(t, testConfig(t))
	jar, _ := cookiejar.New(nil)
	c := tg.https(jar)
	login := func(pw string) apiResult {
		return call(t, c, "POST", tg.url("/api/v1/login"), nil, `{"account":"admin","password":"`+pw+`"}`)
	}
	if res := login("wrong-password"); res.status != 401 {
		t.Fatalf("wrong password: %d", res.status)
	}
	res := login(tg.g.AdminPassword())
	if res.status != 200 {
		t.Fatalf("login: %d %s", res.status, res.raw)
	}
	csrf, _ := res.body["csrf_token"].(string)
	// The cookie is HttpOnly, Secure, SameSite=Strict.
	resp, _ := tg.https(nil).Post(tg.url("/api/v1/login"), "application/json", bytes.NewBufferString(`{"account":"admin","password":"`+tg.g.AdminPassword()+`"}`))
	ck := resp.Header.Get("Set-Cookie")
	resp.Body.Close()
	for _, want := range []string{"HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(ck, want) {
			t.Errorf("cookie lacks %s: %s", want, ck)
		}
	}
	if res := call(t, c, "GET", tg.url("/api/v1/devices"), nil, ""); res.status != 200 {
		t.Fatalf("GET with session: %d", res.status)
	}
	if res := call(t, c, "POST", tg.url("/api/v1/devices"), nil, `{"id":"x"}`); res.status != 403 || errField(res, "code") != "csrf" {
		t.Fatalf("POST without CSRF header: %d %s", res.status, res.raw)
	}
	if res := call(t, c, "POST", tg.url("/api/v1/devices"), map[string]string{"X-CSRF-Token": csrf}, `{"id":"x"}`); res.status != 201 {
		t.Fatalf("POST with CSRF header: %d %s", res.status, res.raw)
	}
	if res := call(t, c, "POST", tg.url("/api/v1/logout"), map[string]string{"X-CSRF-Token": csrf}, ""); res.status != 204 {
		t.Fatalf("logout: %d", res.status)
	}
	if res := call(t, c, "GET", tg.url("/api/v1/devices"), nil, ""); res.status != 401 {
		t.Fatalf("after logout: %d", res.status)
	}
	// Failed logins are throttled per source.
	throttled := false
	for i := 0; i < 15 && !throttled; i++ {
		throttled = login("wrong-password").status == http.StatusTooManyRequests
	}
	if !throttled {
		t.Fatal("15 failed logins were not throttled")
	}
}

// The local socket needs no token, and is the only way in without one.
func TestSocketClient(t *testing.T) {
	tg := start(t, testConfig(t))
	c, err := client.New(client.Config{Socket: tg.g.Socket()})
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := c.Do(context.Background(), "GET", "/api/v1/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st["account"] != "admin" || st["ca_fingerprint"] == "" {
		t.Fatalf("status: %v", st)
	}
}

// The console's page is public (it logs in through the API) and the API
// speaks HTTP/2 to browsers.
func TestConsoleServed(t *testing.T) {
	tg := start(t, testConfig(t))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tg.tlsConfig(), ForceAttemptHTTP2: true}}
	resp, err := c.Get(tg.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<html") {
		t.Fatalf("GET /: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("the API answered over %s, want HTTP/2", resp.Proto)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
}
