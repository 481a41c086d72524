package gateway_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium driving the console of a test gateway.
// Every JavaScript exception or console error fails the test.
type browser struct {
	t   *testing.T
	ctx context.Context
	tg  *testGateway

	mu     sync.Mutex
	errors []string
}

// chromium finds Debian's headless-capable Chromium; the browser tests
// need it (CI installs it), elsewhere they are skipped.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (.ci/run installs it)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// newBrowser starts a headless Chromium for the console of tg; extra
// options come after (and override) the defaults.
func newBrowser(t *testing.T, tg *testGateway, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		// The gateway's CA is its own; trusting it in a throwaway profile
		// would need NSS tools. TLS itself is tested by the MQTT and API tests.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx, tg: tg}
	if err := chromedp.Do(ctx); err != nil {
		cancelC()
		cancelA()
		t.Fatalf("start chromium: %v", err)
	}
	// Subscribe before any page loads; read in a goroutine of our own.
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			// A failed request is the page's to handle and show (a 401
			// before login is normal); a JavaScript error never is.
			if m.IsException() || (m.Type == "error" && m.Source != "network") {
				b.fail(m.String())
			}
		}
	}()
	t.Cleanup(func() {
		cancelC()
		cancelA()
		<-done
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.errors {
			t.Errorf("browser: %s", e)
		}
	})
	return b
}

func (b *browser) fail(msg string) {
	b.mu.Lock()
	b.errors = append(b.errors, msg)
	b.mu.Unlock()
}

// run runs actions with a deadline, failing the test (with a screenshot)
// when they fail.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	browserValue(b, what, chromedp.Steps(actions...))
}

// browserValue runs an action that gives a value, with the deadline of run;
// it fails the test (with a screenshot) when the action fails.
func browserValue[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.screenshot("failed-" + what)
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitFor polls a JavaScript expression (at every animation frame) until
// it is truthy.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	b.run(what, chromedp.Poll[chromedp.Void](expr))
}

// screenshot saves the page as a test artifact in $PERCH_ARTIFACTS (by
// default the system's temporary directory, perch-artifacts/).
func (b *browser) screenshot(name string) {
	dir := os.Getenv("PERCH_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "perch-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	if err != nil {
		return
	}
	file := strings.NewReplacer("/", "_", " ", "-", "\\", "_").Replace(b.t.Name() + "-" + name + ".jpg")
	path := filepath.Join(dir, file)
	if os.WriteFile(path, buf, 0o644) == nil {
		b.t.Logf("screenshot: %s", path)
	}
}

// url is the console's address.
func (b *browser) url(fragment string) string {
	return "https://" + b.tg.addr("api") + "/" + fragment
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// xpathText is an XPath string literal for s (which holds no '"').
func xpathText(s string) string { return `"` + s + `"` }

// button finds the buttons with a text (XPath, for a Search selector).
func button(text string) string {
	return `//button[normalize-space()=` + xpathText(text) + `]`
}

// dialogButton finds a button of the open dialog by its text.
func dialogButton(text string) string {
	return `//dialog[@open]//button[normalize-space()=` + xpathText(text) + `]`
}

// login opens the console at fragment (e.g. "#/devices"), logs in through
// its form with the admin password and waits for the page.
func (b *browser) login(fragment string) {
	b.t.Helper()
	b.run("open the login form",
		chromedp.Navigate(b.url(fragment)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
	)
	b.fill(`input[name=account]`, b.tg.cfg.Account)
	b.run("log in",
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), b.tg.g.AdminPassword()),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label=Main]`)),
	)
}

// show goes to a page of the console (a hash route such as "#/devices")
// without reloading it.
func (b *browser) show(fragment string) {
	b.t.Helper()
	b.run("show "+fragment, chromedp.Evaluate[chromedp.Void](`location.hash = `+js(fragment)))
}

// setControl is a page function: it sets the value of a form control as
// typing or choosing would (input and change events, which Preact
// listens to), once the control exists and, for a select, has the option.
const setControl = `(c, value) => {
	if (!c) return false;
	if (c.tagName === 'SELECT' && ![...c.options].some((o) => o.value === value)) return false;
	c.value = value;
	c.dispatchEvent(new Event('input', { bubbles: true }));
	c.dispatchEvent(new Event('change', { bubbles: true }));
	return true;
}`

// fill sets the control that a CSS selector finds to value.
func (b *browser) fill(css, value string) {
	b.t.Helper()
	b.waitFor("fill "+css, `(`+setControl+`)(document.querySelector(`+js(css)+`), `+js(value)+`)`)
}

// setField sets the labelled form field (the console's Field: a label with
// a .field-label) of the open dialog, or of the page, to value.
func (b *browser) setField(label, value string) {
	b.t.Helper()
	find := `(() => {
		const root = [...document.querySelectorAll('dialog[open]')].pop() || document;
		const f = [...root.querySelectorAll('label.field')].find((l) => l.querySelector('.field-label')?.textContent.trim() === ` + js(label) + `);
		return f?.querySelector('input, select, textarea');
	})()`
	b.waitFor("set "+label, `(`+setControl+`)(`+find+`, `+js(value)+`)`)
}
