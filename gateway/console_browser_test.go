package gateway_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/eclipse/paho.golang/paho"

	"github.com/perch-gw/perch/gateway/config"
)

// The web console in headless Chromium, against a real gateway and real
// MQTT clients. Each test starts its own gateway and browser; a JavaScript
// exception or console error fails it (see browser_harness_test.go), and
// each saves a screenshot when it ends.

// A wrong password shows an error and stays on the login form; the right
// one lands on the overview, with a session cookie that scripts cannot read.
func TestConsoleBrowserLogin(t *testing.T) {
	tg := start(t, testConfig(t))
	b := newBrowser(t, tg)

	b.run("open the console",
		chromedp.Navigate(b.url("")),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
	)
	b.fill(`input[name=account]`, tg.cfg.Account)
	b.run("log in with a wrong password",
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "not-the-password"),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`form .error[role=alert]`)),
	)
	if msg := browserValue(b, "the error", chromedp.Text(chromedp.CSS(`form .error[role=alert]`))); !strings.Contains(msg, "wrong account id or password") {
		t.Errorf("error shown: %q", msg)
	}
	b.screenshot("wrong-password")
	if still := browserValue(b, "the page", chromedp.Evaluate[bool](
		`!!document.querySelector('input[name=password]') && !document.querySelector('nav[aria-label=Main]')`)); !still {
		t.Fatal("a wrong password left the login form")
	}

	b.fill(`input[name=password]`, "")
	b.run("log in",
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), tg.g.AdminPassword()),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
	)
	b.waitFor("the overview", `document.querySelector('main h1')?.textContent === 'Overview' &&
		[...document.querySelectorAll('.kv dd')].some((d) => d.textContent.trim() === `+js(tg.cfg.Account)+`)`)
	if c := browserValue(b, "document.cookie", chromedp.Evaluate[string](`document.cookie`)); strings.Contains(c, "perch_session") {
		t.Errorf("the session cookie is readable from JavaScript: %q", c)
	}
	if got := browserValue(b, "the page title", chromedp.Title()); got != "Overview · Perch" {
		t.Errorf("title %q", got)
	}
	b.screenshot("overview")
}

// A device added through the form: its credentials, read from the dialog
// that shows them once, let a real MQTT 5 client in, and its row turns
// online (and offline again) without the page being reloaded.
func TestConsoleBrowserDevices(t *testing.T) {
	tg := start(t, testConfig(t))
	b := newBrowser(t, tg)
	b.login("#/devices")

	b.run("open the form",
		chromedp.WaitVisible(chromedp.CSS(`.empty`)),
		chromedp.Click(button("Add device")),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open][aria-label="Add a device"]`)),
	)
	b.setField("Device id", "lamp-1")
	b.setField("Name", "Porch lamp")
	b.run("add the device",
		chromedp.Click(dialogButton("Add device")),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open][aria-label="Device added"] .secret code`)),
	)
	creds := browserValue(b, "the credentials", chromedp.Text(chromedp.CSS(`dialog[open] .secret code`)))
	cmd := browserValue(b, "the command line", chromedp.Text(chromedp.CSS(`dialog[open] .cmd code`)))
	if len(creds) < 16 || !strings.Contains(cmd, "-i 'lamp-1'") || !strings.Contains(cmd, "-P '"+creds+"'") ||
		!strings.Contains(cmd, "-p "+port(t, tg.addr("mqtt_tls"))) {
		t.Errorf("credentials %q, command line %q", creds, cmd)
	}
	b.screenshot("credentials")
	b.run("close the dialog", chromedp.Click(dialogButton("Done")), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)))

	row := `[...document.querySelectorAll('table.devices tbody tr')].find((r) => r.querySelector('strong')?.textContent === 'lamp-1')`
	status := func(want string) string {
		return `(` + row + `)?.cells[0].textContent.trim().startsWith(` + js(want) + `)`
	}
	b.waitFor("lamp-1 offline", status("offline"))
	// A reload would lose this.
	b.run("mark the page", chromedp.Evaluate[chromedp.Void](`window.perchNotReloaded = true`))

	c, ca, err := tg.connect5(tg.cfg.Account, "lamp-1", creds)
	if err != nil {
		t.Fatalf("connect with the credentials shown: %v (connack %+v)", err, ca)
	}
	online := time.Now()
	b.waitFor("lamp-1 online", status("online"))
	t.Logf("connect → row online: %v (the page polls every 2 s)", time.Since(online).Round(time.Millisecond))
	b.screenshot("online")

	_ = c.Disconnect(&paho.Disconnect{})
	b.waitFor("lamp-1 offline again", status("offline"))
	if !browserValue(b, "the mark", chromedp.Evaluate[bool](`window.perchNotReloaded === true`)) {
		t.Error("the page was reloaded")
	}
	b.screenshot("offline")
}

// storedWidget is a dashboard's widget as the API answers it.
type storedWidget struct {
	Type, Title     string
	Source, Options map[string]any
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A dashboard made through the console (a chart and a gauge on a bucket)
// shows what a real MQTT client publishes as it arrives: the gauge paints
// each new value and the chart gains a point. Publish → painted times are
// logged (the goal is p99 ≤ 500 ms).
func TestConsoleBrowserDashboardLive(t *testing.T) {
	const publishes = 20
	tg := start(t, testConfig(t))
	tg.addBucket(map[string]any{"id": "env", "name": "Environment", "topic": "sensors/+/env"})
	sensor := tg.mustConnect5(tg.addDevice(map[string]any{"id": "sensor-1",
		"acl": map[string]any{"publish": []string{"sensors/%c/env"}, "subscribe": []string{}}}))
	b := newBrowser(t, tg)
	b.login("#/dashboards")

	b.run("new dashboard",
		chromedp.WaitVisible(chromedp.CSS(`.empty`)),
		chromedp.Click(button("New dashboard")),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)),
	)
	b.setField("Name", "Greenhouse")
	b.run("create it",
		chromedp.Click(dialogButton("Create")),
		chromedp.WaitVisible(button("Add a widget")),
		chromedp.Click(button("Add a widget")),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)),
	)
	b.setField("Type", "chart")
	b.setField("Title", "Temperature")
	b.setField("Bucket", "env")
	b.setField("Fields (comma-separated; empty: all)", "temp")
	b.run("save the chart",
		chromedp.Click(dialogButton("Save widget")),
		chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)),
		chromedp.Click(button("Add widget")),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)),
	)
	b.setField("Type", "gauge")
	b.setField("Title", "Temp gauge")
	b.setField("Bucket", "env")
	b.setField("Field", "temp")
	b.setField("Unit", "°C")
	b.run("save the gauge",
		chromedp.Click(dialogButton("Save widget")),
		chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)),
		chromedp.Click(chromedp.CSS(`button[aria-pressed=true]`)), // Done
		chromedp.WaitVisible(chromedp.CSS(`section.widget[aria-label="Temp gauge"]`)),
		chromedp.WaitVisible(chromedp.CSS(`section.widget[aria-label="Temperature"]`)),
	)

	// What the editor stored, through the API.
	hash := browserValue(b, "the route", chromedp.Evaluate[string](`location.hash`))
	id, ok := strings.CutPrefix(hash, "#/dashboards/")
	if !ok {
		t.Fatalf("route %q", hash)
	}
	var dash struct {
		Name    string
		Widgets []storedWidget
	}
	if err := json.Unmarshal([]byte(tg.read("/api/v1/dashboards/"+id)), &dash); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(dash.Widgets, func(a, b storedWidget) int { return cmp.Compare(a.Type, b.Type) })
	if got := fmt.Sprintf("%+v", dash); got != "{Name:Greenhouse Widgets:["+
		"{Type:chart Title:Temperature Source:map[bucket:env fields:[temp] kind:bucket] Options:map[agg:avg every: mode:live range:24h window:5m]} "+
		"{Type:gauge Title:Temp gauge Source:map[bucket:env fields:[temp] kind:bucket] Options:map[decimals:1 max:100 min:0 unit:°C]}]}" {
		t.Fatalf("stored dashboard %s", got)
	}

	gauge := `document.querySelector('section.widget[aria-label="Temp gauge"] svg.gauge text')?.textContent`
	points := `document.querySelector('section.widget[aria-label="Temperature"] .chart')?.dataset.points`
	b.waitFor("the empty gauge", `document.querySelector('section.widget[aria-label="Temp gauge"] .widget-state')?.textContent === 'No data yet.'`)

	// The first value also shows that the streams are live.
	publish(t, sensor, "sensors/sensor-1/env", `{"temp": 10.5}`)
	b.waitFor("the first value", gauge+` === '10.5'`)
	lat := make([]time.Duration, 0, publishes)
	for i := range publishes {
		v := fmt.Sprintf("%d.5", 11+i)
		t0 := time.Now()
		publish(t, sensor, "sensors/sensor-1/env", `{"temp": `+v+`}`)
		b.waitFor("value "+v+" painted", gauge+` === `+js(v))
		lat = append(lat, time.Since(t0))
	}
	b.waitFor(fmt.Sprintf("%d points on the chart", publishes+1), points+` === '`+fmt.Sprint(publishes+1)+`'`)
	slices.Sort(lat)
	t.Logf("publish → painted in the gauge, %d publishes: p50 %v, p99 %v, max %v (goal: p99 ≤ 500ms)", len(lat),
		lat[len(lat)*50/100].Round(time.Millisecond), lat[(len(lat)*99+99)/100-1].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	b.screenshot("live")
}

// The bucket page's CSV export for a range, fetched by the browser with
// its session, is byte for byte what the API answers for the same URL.
func TestConsoleBrowserExportCSV(t *testing.T) {
	tg := start(t, testConfig(t))
	tg.addBucket(map[string]any{"id": "env", "topic": "sensors/+/env"})
	sensor := tg.mustConnect5(tg.addDevice(map[string]any{"id": "sensor-1",
		"acl": map[string]any{"publish": []string{"sensors/%c/env"}, "subscribe": []string{}}}))
	now := time.Now().Add(-10 * time.Minute).UnixMilli()
	for i := range 5 {
		publish(t, sensor, "sensors/sensor-1/env", fmt.Sprintf(`{"ts": %d, "temp": %d.25, "hum": %d}`, now+int64(i)*1000, 20+i, 50-i))
	}
	b := newBrowser(t, tg)
	b.login("#/buckets/env")

	// The Export card's range: the last hour.
	exportCard := `[...document.querySelectorAll('section.card')].find((s) => s.querySelector('h2')?.textContent === 'Export')`
	b.waitFor("the range", `(`+setControl+`)((`+exportCard+`)?.querySelector('.range select'), '1h')`)
	b.waitFor("the link", `(`+exportCard+`).querySelector('a[download="env.csv"]')?.href.includes('from=-1h')`)
	type fetched struct {
		Href   string `json:"href"`
		Status int    `json:"status"`
		Type   string `json:"type"`
		Body   string `json:"body"`
	}
	got := browserValue(b, "fetch the export", chromedp.Evaluate[fetched](`(async () => {
		const a = (`+exportCard+`).querySelector('a[download="env.csv"]');
		const r = await fetch(a.href);
		return { href: a.href, status: r.status, type: r.headers.get('Content-Type'), body: await r.text() };
	})()`, chromedp.EvalAwaitPromise))
	u, err := url.Parse(got.Href)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Path != "/api/v1/buckets/env/data" || q.Get("format") != "csv" || q.Get("from") != "-1h" || q.Get("to") != "now" {
		t.Errorf("export link %s", got.Href)
	}
	want := tg.read(u.RequestURI())
	if got.Status != 200 || !strings.HasPrefix(got.Type, "text/csv") || got.Body != want {
		t.Fatalf("browser's export: %d %s\n%s\nthe API's:\n%s", got.Status, got.Type, got.Body, want)
	}
	if lines := strings.Split(strings.TrimSpace(want), "\n"); len(lines) != 6 || !strings.Contains(lines[5], "24.25") {
		t.Errorf("CSV of %d lines, want a header and 5 records:\n%s", len(lines), want)
	}
	b.screenshot("export")
}

// A switch made with the widget editor publishes its on and off payloads,
// which a real MQTT subscriber receives; the widget follows the topic.
func TestConsoleBrowserSwitch(t *testing.T) {
	const topic = "cmd/lamp-1/power"
	tg := start(t, testConfig(t))
	lamp := tg.mustConnect5(tg.addDevice(map[string]any{"id": "lamp-1",
		"acl": map[string]any{"publish": []string{}, "subscribe": []string{"cmd/%c/#"}}}))
	subscribe(t, lamp, topic)
	if err := tg.api.Do(context.Background(), "POST", "/api/v1/dashboards", map[string]any{"id": "lamps", "name": "Lamps"}, nil); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, tg)
	b.login("#/dashboards/lamps")

	b.run("add a widget",
		chromedp.Click(button("Add a widget")),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)),
	)
	b.setField("Type", "switch")
	b.setField("Title", "Porch lamp")
	b.setField("Source", "topic")
	b.setField("Topic filter", topic)
	b.setField("Publish to topic", topic)
	b.setField("On payload", "ON")
	b.setField("Off payload", "OFF")
	toggle := `section.widget[aria-label="Porch lamp"] button[role=switch]`
	b.run("save it",
		chromedp.Click(dialogButton("Save widget")),
		chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)),
		chromedp.Click(chromedp.CSS(`button[aria-pressed=true]`)), // Done
		chromedp.WaitEnabled(chromedp.CSS(toggle)),
	)
	var stored struct{ Widgets []storedWidget }
	if err := json.Unmarshal([]byte(tg.read("/api/v1/dashboards/lamps")), &stored); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%+v", stored.Widgets); got != "[{Type:switch Title:Porch lamp Source:map[kind:topic topic:cmd/lamp-1/power] "+
		"Options:map[off:OFF on:ON qos:1 retain:true topic:cmd/lamp-1/power]}]" {
		t.Fatalf("stored widgets %s", got)
	}

	for _, want := range []struct {
		payload, checked string
	}{{"ON", "true"}, {"OFF", "false"}} {
		b.run("toggle "+want.payload, chromedp.Click(chromedp.CSS(toggle)))
		m := receive(t, lamp)
		if m.Topic != topic || string(m.Payload) != want.payload {
			t.Fatalf("subscriber got %s %q, want %s %q", m.Topic, m.Payload, topic, want.payload)
		}
		b.waitFor("the switch "+want.payload, `document.querySelector(`+js(toggle)+`).getAttribute('aria-checked') === `+js(want.checked))
		b.screenshot(strings.ToLower(want.payload))
	}
	// The lamp says it is on: the switch follows.
	if err := tg.api.Do(context.Background(), "POST", "/api/v1/mqtt/publish", map[string]any{"topic": topic, "payload": "ON", "qos": 1}, nil); err != nil {
		t.Fatal(err)
	}
	receive(t, lamp)
	b.waitFor("the switch on, from the topic", `document.querySelector(`+js(toggle)+`).getAttribute('aria-checked') === 'true'`)
	select {
	case m := <-lamp.msgs:
		t.Fatalf("an extra message: %s %q", m.Topic, m.Payload)
	default:
	}
}

// A session that ends on the gateway's side (here: logged out behind the
// page's back, as when it expires) sends the console back to the login
// form with a notice; logging out does too, and afterwards no page shows
// without logging in again.
func TestConsoleBrowserLogout(t *testing.T) {
	tg := start(t, testConfig(t))
	b := newBrowser(t, tg)
	b.login("#/devices")
	b.run("the devices page", chromedp.WaitVisible(chromedp.CSS(`.empty`)))

	b.run("end the session on the gateway", chromedp.Evaluate[chromedp.Void](`fetch('/api/v1/logout', {
		method: 'POST', headers: { 'X-CSRF-Token': sessionStorage.getItem('perch.csrf') } })`, chromedp.EvalAwaitPromise))
	// The devices page polls every 2 s: its next request finds out.
	b.run("the login form", chromedp.WaitVisible(chromedp.CSS(`form .notice`)))
	if n := browserValue(b, "the notice", chromedp.Text(chromedp.CSS(`form .notice`))); !strings.Contains(n, "session has expired") {
		t.Errorf("notice %q", n)
	}
	b.screenshot("expired")

	// Logging in again returns to the same page.
	b.fill(`input[name=account]`, tg.cfg.Account)
	b.run("log in again",
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), tg.g.AdminPassword()),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.empty`)),
	)
	b.waitFor("the devices page", `document.querySelector('main h1')?.textContent === 'Devices'`)

	b.run("log out",
		chromedp.Click(chromedp.CSS(`nav button.logout`)),
		chromedp.WaitVisible(chromedp.CSS(`form .notice`)),
	)
	if n := browserValue(b, "the notice", chromedp.Text(chromedp.CSS(`form .notice`))); !strings.Contains(n, "logged out") {
		t.Errorf("notice %q", n)
	}
	b.show("#/settings")
	if shown := browserValue(b, "the page", chromedp.Evaluate[bool](`location.hash === '#/settings' && !!document.querySelector('nav[aria-label=Main]')`)); shown {
		t.Fatal("the settings show after logging out")
	}
	b.run("reload #/devices",
		chromedp.Navigate(b.url("#/devices")),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
	)
	if shown := browserValue(b, "the page", chromedp.Evaluate[bool](`!!document.querySelector('nav[aria-label=Main]')`)); shown {
		t.Fatal("a page shows after logging out")
	}
	if st := browserValue(b, "the API after logout", chromedp.Evaluate[int](`fetch('/api/v1/status').then((r) => r.status)`, chromedp.EvalAwaitPromise)); st != 401 {
		t.Errorf("GET /api/v1/status after logout: %d, want 401", st)
	}
	b.screenshot("logged-out")
}

// In edit mode a widget is resized from the keyboard or with buttons (not
// only by dragging its corner): pressing Wider, Taller and Narrower stores
// the new size through the API. The arrange toolbar leaves a one-row
// widget's content in view.
func TestConsoleBrowserResize(t *testing.T) {
	tg := start(t, testConfig(t))
	tg.addBucket(map[string]any{"id": "env", "topic": "sensors/+/env"})
	if err := tg.api.Do(context.Background(), "POST", "/api/v1/buckets/env/data?device=d",
		[]map[string]any{{"ts": time.Now().Add(-time.Minute).UnixMilli(), "temp": 21.5}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tg.api.Do(context.Background(), "POST", "/api/v1/dashboards", map[string]any{"id": "room", "name": "Room", "widgets": []map[string]any{{
		"id": "t", "type": "value", "title": "Temp", "x": 0, "y": 0, "w": 3, "h": 1,
		"source": map[string]any{"kind": "bucket", "bucket": "env", "fields": []string{"temp"}}, "options": map[string]any{"unit": "°C", "decimals": 1},
	}}}, nil); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, tg)
	b.login("#/dashboards/room")
	const tile = `section.widget[aria-label="Temp"]`
	b.run("edit mode",
		chromedp.WaitVisible(chromedp.CSS(tile+` .value`)),
		chromedp.Click(button("Edit")),
		chromedp.WaitVisible(chromedp.CSS(tile+` [role=toolbar] button[aria-label="Wider"]`)),
	)
	// The value stays in view above the toolbar of this one-row widget.
	b.waitFor("the value in view", `(() => {
		const v = document.querySelector(`+js(tile+` .value`)+`).getBoundingClientRect();
		const body = document.querySelector(`+js(tile+` .widget-body`)+`).getBoundingClientRect();
		const bar = document.querySelector(`+js(tile+` [role=toolbar]`)+`).getBoundingClientRect();
		return v.height > 0 && v.top >= body.top - 0.5 && v.bottom <= body.bottom + 0.5 && v.bottom <= bar.top;
	})()`)
	b.screenshot("editing")

	size := func() (w, h int) {
		var d struct{ Widgets []struct{ W, H int } }
		if err := json.Unmarshal([]byte(tg.read("/api/v1/dashboards/room")), &d); err != nil || len(d.Widgets) != 1 {
			t.Fatalf("stored dashboard: %v %+v", err, d)
		}
		return d.Widgets[0].W, d.Widgets[0].H
	}
	press := func(label string) {
		b.run("press "+label, chromedp.Click(chromedp.CSS(tile+` button[aria-label=`+js(label)+`]`)))
	}
	// By keyboard: focus Wider and press Enter.
	b.run("Wider by keyboard",
		chromedp.Focus(chromedp.CSS(tile+` button[aria-label="Wider"]`)),
		chromedp.KeyEvent("\r"),
	)
	b.waitFor("4 columns", `getComputedStyle(document.querySelector(`+js(tile)+`)).gridColumnEnd === 'span 4'`)
	press("Wider")
	press("Taller")
	press("Taller")
	press("Shorter")
	press("Narrower")
	b.waitFor("4 columns, 2 rows", `(() => { const s = getComputedStyle(document.querySelector(`+js(tile)+`));
		return s.gridColumnEnd === 'span 4' && s.gridRowEnd === 'span 2'; })()`)
	eventually(t, 5*time.Second, "the size stored", func() bool { w, h := size(); return w == 4 && h == 2 })
	b.screenshot("resized")

	// After a reload, the stored size is what shows.
	b.run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(tile+` .value`)))
	b.waitFor("4 columns, 2 rows after reload", `(() => { const s = getComputedStyle(document.querySelector(`+js(tile)+`));
		return s.gridColumnEnd === 'span 4' && s.gridRowEnd === 'span 2'; })()`)
}

// The overview shows the upstream link: down, the error, and a bucket's
// lag while points wait to be forwarded.
func TestConsoleBrowserUpstream(t *testing.T) {
	cfg := testConfig(t)
	cfg.Upstream = config.Default().Upstream
	cfg.Upstream.URL = "mqtts://127.0.0.1:1" // nothing listens there
	tg := start(t, cfg)
	tg.addBucket(map[string]any{"id": "env", "topic": "sensors/#"})
	if _, _, err := tg.api.Raw(context.Background(), "POST", "/api/v1/buckets/env/data", json.RawMessage(`[{"t":1},{"t":2}]`), "application/json"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, tg)
	b.login("")
	b.waitFor("the upstream card", `(() => {
		const c = document.querySelector('section.upstream');
		return c && c.textContent.includes('disconnected') && c.textContent.includes('connection refused') &&
			[...c.querySelectorAll('tbody tr')].some((r) => r.cells[0].textContent === 'env' && r.cells[1].textContent === '2');
	})()`)
	b.screenshot("overview-upstream")
}
