// Package console serves Perch's web console: static files embedded in the
// binary (our own ES modules under web/, and preact, htm and uPlot, which
// `make console` copies from npm into web/vendor). The console holds no
// data and needs no authentication to load: it logs in and does everything
// through the documented /api/v1 API.
//
// Files are compressed once, when the handler is made, rather than per
// request: the whole console is a few hundred kilobytes, a Pi then spends no
// CPU on gzip, and no compression middleware is needed.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
)

//go:embed web
var embedded embed.FS

// libraries are the files `make console` copies into web/vendor.
var libraries = []string{"preact.module.js", "hooks.module.js", "htm.module.js", "uPlot.esm.js", "uPlot.min.css"}

const (
	prefix = "/console/"
	// Our own files change with every build: browsers revalidate them
	// (cheaply, by ETag). Library URLs carry a hash of their content in
	// index.html, so they can be cached for good.
	cacheOwn    = "no-cache"
	cacheVendor = "public, max-age=31536000, immutable"
)

// types are the Content-Types of the files we serve; anything else is 404.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
}

type asset struct {
	body, gz []byte
	ctype    string
	etag     string
	cache    string
}

type handler struct {
	assets map[string]*asset // by URL path
	csp    string
}

// Handler serves the console: / is its page, /console/... its files.
func Handler() http.Handler {
	h, err := newHandler(embedded)
	if err != nil {
		// The embedded files are fixed at build time and covered by
		// tests, so this does not happen; if it did, say so on every page.
		msg := fmt.Sprintf("console: %v", err)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, msg, http.StatusInternalServerError)
		})
	}
	return h
}

func newHandler(root fs.FS) (*handler, error) {
	web, err := fs.Sub(root, "web")
	if err != nil {
		return nil, err
	}
	h := &handler{assets: map[string]*asset{}}
	versions := map[string]string{}
	err = fs.WalkDir(web, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := types[path.Ext(name)]
		if !ok || name == "index.html" {
			return nil
		}
		body, err := fs.ReadFile(web, name)
		if err != nil {
			return err
		}
		a := newAsset(body, ctype, cacheOwn)
		if strings.HasPrefix(name, "vendor/") {
			a.cache = cacheVendor
			versions[prefix+name] = a.etag[1:11]
		}
		h.assets[prefix+name] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	index, err := fs.ReadFile(web, "index.html")
	if err != nil {
		return nil, err
	}
	if _, err := inlineScriptHashes(index); err != nil {
		return nil, err
	}
	if missing := missingLibraries(versions); len(missing) > 0 {
		index = missingPage(missing)
	}
	index = versionURLs(index, versions)
	scripts, err := inlineScriptHashes(index)
	if err != nil {
		return nil, err
	}
	h.csp = "default-src 'self'; script-src 'self'" + scripts +
		"; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'" +
		"; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	page := newAsset(index, types[".html"], cacheOwn)
	h.assets["/"] = page
	h.assets[prefix] = page
	h.assets[prefix+"index.html"] = page
	return h, nil
}

func newAsset(body []byte, ctype, cache string) *asset {
	sum := sha256.Sum256(body)
	a := &asset{body: body, ctype: ctype, cache: cache, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	if strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "svg") || strings.Contains(ctype, "json") {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body) {
			a.gz = buf.Bytes()
		}
	}
	return a
}

func missingLibraries(have map[string]string) []string {
	var missing []string
	for _, lib := range libraries {
		if _, ok := have[prefix+"vendor/"+lib]; !ok {
			missing = append(missing, lib)
		}
	}
	return missing
}

// missingPage replaces the console when it was built without its libraries.
func missingPage(missing []string) []byte {
	return []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Perch console: libraries missing</title><link rel="stylesheet" href="/console/style.css"></head>
<body><main class="missing"><h1>The console's libraries are missing</h1>
<p>This gateway was built without the console's JavaScript libraries (` + strings.Join(missing, ", ") + `).
Run <code>make console</code> (or <code>make build</code>, which does it) in the source tree and rebuild the binary.</p>
<p>The gateway itself works: the API under <code>/api/v1</code> and the <code>perch</code> CLI are not affected.</p>
</main></body></html>
`)
}

var vendorRef = regexp.MustCompile(`/console/vendor/[A-Za-z0-9._-]+`)

// versionURLs appends ?v=<content hash> to every library URL in index.html.
func versionURLs(index []byte, versions map[string]string) []byte {
	return vendorRef.ReplaceAllFunc(index, func(u []byte) []byte {
		if v, ok := versions[string(u)]; ok {
			// u is part of index: build a new slice rather than append to it.
			return []byte(string(u) + "?v=" + v)
		}
		return u
	})
}

var inlineScript = regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`)

// inlineScriptHashes allows the page's inline scripts (only the import map)
// by their hashes, so the policy needs no 'unsafe-inline'.
func inlineScriptHashes(index []byte) (string, error) {
	var out strings.Builder
	for _, m := range inlineScript.FindAllSubmatch(index, -1) {
		if bytes.Contains(m[1], []byte("src=")) {
			continue
		}
		if !bytes.Contains(m[1], []byte(`type="importmap"`)) {
			return "", fmt.Errorf("index.html: inline script other than the import map: %.40q", m[2])
		}
		sum := sha256.Sum256(m[2])
		out.WriteString(" 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'")
	}
	return out.String(), nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", h.csp)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a, ok := h.assets[r.URL.Path]
	if !ok {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	body, etag := a.body, a.etag
	if a.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = a.gz, etag[:len(etag)-1]+`-gz"`
			hd.Set("Content-Encoding", "gzip")
		}
	}
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", a.cache)
	hd.Set("ETag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

func etagMatches(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if part == etag || part == "*" {
			return true
		}
	}
	return false
}
