package console

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gzip body: %v", err)
		}
	}
	return b
}

func TestHandler(t *testing.T) {
	h := Handler()
	tests := []struct {
		path, ctype, cache string
		status             int
		contains           string
	}{
		{"/", "text/html; charset=utf-8", "no-cache", 200, "<title>"},
		{"/console/", "text/html; charset=utf-8", "no-cache", 200, "<title>"},
		{"/console/index.html", "text/html; charset=utf-8", "no-cache", 200, "<title>"},
		{"/console/app.js", "text/javascript; charset=utf-8", "no-cache", 200, "import"},
		{"/console/lib/api.js", "text/javascript; charset=utf-8", "no-cache", 200, "X-CSRF-Token"},
		{"/console/style.css", "text/css; charset=utf-8", "no-cache", 200, ":root"},
		{"/console/icon.svg", "image/svg+xml", "no-cache", 200, "<svg"},
		{"/console/nope.js", "", "", 404, ""},
		{"/console/lib/", "", "", 404, ""},
		{"/console/pages", "", "", 404, ""},
		{"/console/vendor/", "", "", 404, ""},
		{"/console/vendor/README.md", "", "", 404, ""},
		{"/console/../console.go", "", "", 404, ""},
		{"/console.go", "", "", 404, ""},
		{"/favicon.ico", "", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := get(t, h, "GET", tt.path, "Accept-Encoding", "gzip, deflate, br")
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			for k, want := range map[string]string{
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "no-referrer",
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			csp := res.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows unsafe code: %q", csp)
			}
			if tt.status != 200 {
				if b := string(body(t, res)); strings.Contains(b, "<a href") || strings.Contains(b, ".js") {
					t.Errorf("a 404 lists files: %q", b)
				}
				return
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if got := res.Header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if res.Header.Get("Content-Encoding") != "gzip" {
				t.Errorf("a text asset is not gzipped for a client that accepts it")
			}
			if !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("no Vary: Accept-Encoding")
			}
			if b := body(t, res); !bytes.Contains(b, []byte(tt.contains)) {
				t.Errorf("body lacks %q", tt.contains)
			}
		})
	}
}

func TestHandlerEncodingAndCaching(t *testing.T) {
	h := Handler()
	plain := get(t, h, "GET", "/console/app.js")
	if plain.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzipped for a client that did not ask for it")
	}
	raw := body(t, plain)
	if plain.Header.Get("Content-Length") != strconv.Itoa(len(raw)) {
		t.Errorf("Content-Length %s for %d bytes", plain.Header.Get("Content-Length"), len(raw))
	}
	refused := get(t, h, "GET", "/console/app.js", "Accept-Encoding", "gzip;q=0, identity")
	if refused.Header.Get("Content-Encoding") != "" {
		t.Error("gzipped although the client refused it (q=0)")
	}
	zipped := get(t, h, "GET", "/console/app.js", "Accept-Encoding", "gzip")
	if !bytes.Equal(body(t, zipped), raw) {
		t.Error("the gzipped body differs from the plain one")
	}
	if zipped.Header.Get("ETag") == plain.Header.Get("ETag") {
		t.Error("the gzipped and plain bodies share an ETag")
	}
	again := get(t, h, "GET", "/console/app.js", "Accept-Encoding", "gzip", "If-None-Match", zipped.Header.Get("ETag"))
	if again.StatusCode != http.StatusNotModified || len(body(t, again)) != 0 {
		t.Errorf("revalidation: status %d, want 304 with no body", again.StatusCode)
	}
	head := get(t, h, "HEAD", "/console/app.js")
	if head.StatusCode != 200 || len(body(t, head)) != 0 {
		t.Errorf("HEAD: status %d, want 200 with no body", head.StatusCode)
	}
	if res := get(t, h, "POST", "/"); res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

var importMap = regexp.MustCompile(`(?s)<script type="importmap">(.*?)</script>`)

// The import map is valid JSON, names every library with a content hash,
// and is the only inline script, allowed by its hash in the CSP.
func TestIndexImportMap(t *testing.T) {
	h := Handler()
	res := get(t, h, "GET", "/")
	page := body(t, res)
	m := importMap.FindSubmatch(page)
	if m == nil {
		if bytes.Contains(page, []byte("make console")) {
			t.Skip("the console's libraries are missing (run make console): index.html is the missing-libraries page")
		}
		t.Fatal("index.html has no import map")
	}
	var im struct{ Imports map[string]string }
	if err := json.Unmarshal(m[1], &im); err != nil {
		t.Fatalf("import map is not JSON: %v\n%s", err, m[1])
	}
	for _, name := range []string{"preact", "preact/hooks", "htm", "uplot"} {
		u := im.Imports[name]
		if !regexp.MustCompile(`^/console/vendor/[A-Za-z.]+\.js\?v=[0-9a-f]{10}$`).MatchString(u) {
			t.Errorf("import %q → %q, want a versioned /console/vendor URL", name, u)
			continue
		}
		lib := get(t, h, "GET", u)
		if lib.StatusCode != 200 || lib.Header.Get("Cache-Control") != cacheVendor {
			t.Errorf("%s: status %d, Cache-Control %q", u, lib.StatusCode, lib.Header.Get("Cache-Control"))
		}
	}
	hashes, err := inlineScriptHashes(page)
	if err != nil {
		t.Fatal(err)
	}
	if hashes == "" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'"+hashes+";") {
		t.Errorf("CSP %q does not allow the import map by its hash%s", res.Header.Get("Content-Security-Policy"), hashes)
	}
}

// Every module our code imports by a relative path is one the handler
// serves, so a typo in a file name fails here rather than in a browser.
func TestModuleImports(t *testing.T) {
	h := Handler()
	spec := regexp.MustCompile(`(?:from\s*|import\s*\(\s*)'(\.{1,2}/[^']+)'`)
	err := fs.WalkDir(embedded, "web", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".js") || strings.HasPrefix(name, "web/vendor/") {
			return err
		}
		src, _ := fs.ReadFile(embedded, name)
		dir := "/console/" + strings.TrimPrefix(name[:strings.LastIndex(name, "/")+1], "web/")
		for _, m := range spec.FindAllSubmatch(src, -1) {
			u := resolve(dir, string(m[1]))
			if res := get(t, h, "GET", u); res.StatusCode != 200 {
				t.Errorf("%s imports %s (%s): status %d", name, m[1], u, res.StatusCode)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func resolve(dir, rel string) string {
	parts := strings.Split(strings.TrimSuffix(dir, "/"), "/")
	for _, p := range strings.Split(rel, "/") {
		switch p {
		case ".":
		case "..":
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// Built without its libraries (a fresh clone before make console), the
// console says so instead of failing in the browser.
func TestMissingLibraries(t *testing.T) {
	fsys := fstest.MapFS{
		"web/index.html":       {Data: []byte(`<html><script type="importmap">{"imports":{"preact":"/console/vendor/preact.module.js"}}</script></html>`)},
		"web/app.js":           {Data: []byte("import 'preact';")},
		"web/style.css":        {Data: []byte("body{}")},
		"web/vendor/README.md": {Data: []byte("# vendor")},
	}
	h, err := newHandler(fsys)
	if err != nil {
		t.Fatal(err)
	}
	res := get(t, h, "GET", "/")
	page := string(body(t, res))
	if res.StatusCode != 200 || !strings.Contains(page, "make console") || !strings.Contains(page, "preact.module.js") {
		t.Errorf("status %d, page %q: want the missing-libraries page", res.StatusCode, page)
	}
	if strings.Contains(page, "<script") {
		t.Error("the missing-libraries page loads scripts")
	}
}

// An inline script other than the import map is refused: the CSP would
// block it in the browser.
func TestInlineScriptRefused(t *testing.T) {
	fsys := fstest.MapFS{"web/index.html": {Data: []byte(`<html><script>alert(1)</script></html>`)}}
	if _, err := newHandler(fsys); err == nil {
		t.Fatal("an inline script was accepted")
	}
}

const budget = 300 << 10

// The console stays light: at most 300 KiB gzipped, libraries included.
func TestBundleSize(t *testing.T) {
	var own, vendor, ownRaw, vendorRaw int
	err := fs.WalkDir(embedded, "web", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(name, ".md") {
			return err
		}
		b, err := fs.ReadFile(embedded, name)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		n := min(buf.Len(), len(b))
		if strings.HasPrefix(name, "web/vendor/") {
			vendor, vendorRaw = vendor+n, vendorRaw+len(b)
		} else {
			own, ownRaw = own+n, ownRaw+len(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ours: %d bytes, %d gzipped; libraries: %d bytes, %d gzipped; total gzipped %d of %d", ownRaw, own, vendorRaw, vendor, own+vendor, budget)
	if vendor == 0 {
		t.Logf("the libraries are missing from web/vendor (run make console): only our own files were measured")
	}
	if own+vendor > budget {
		t.Errorf("the console is %d bytes gzipped, over the %d budget", own+vendor, budget)
	}
}
