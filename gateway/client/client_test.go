package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/client"
)

// socketDir returns a short directory for unix sockets: their paths are
// limited to about 100 bytes, which a long test name under t.TempDir()
// could pass.
func socketDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "perch-client")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// serveUnix serves h on a unix socket until the test ends and returns the
// socket's path.
func serveUnix(t testing.TB, h http.Handler) string {
	t.Helper()
	path := filepath.Join(socketDir(t), "perch.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

func socketClient(t testing.TB, path string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Socket: path, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type device struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

func TestDoJSON(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string // method path content-type accept authorization
	)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/devices", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.Header.Get("Authorization"))
		mu.Unlock()
		var in device
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		in.Enabled = true
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(in)
	})
	mux.HandleFunc("GET /api/v1/devices/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(device{ID: r.PathValue("id"), Name: "Kitchen"})
	})
	mux.HandleFunc("DELETE /api/v1/devices/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		io.WriteString(w, "id,name\nk1,Kitchen\n")
	})
	mux.HandleFunc("GET /notjson", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>hello</html>")
	})
	path := serveUnix(t, mux)
	// A token is only for remote servers: it must not be sent over the
	// socket.
	c, err := client.New(client.Config{Socket: path, Token: "perch_should_not_leak"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("post", func(t *testing.T) {
		var out device
		if err := c.Do(ctx, "POST", "/api/v1/devices", device{ID: "k1", Name: "Kitchen"}, &out); err != nil {
			t.Fatal(err)
		}
		if out != (device{ID: "k1", Name: "Kitchen", Enabled: true}) {
			t.Errorf("decoded %+v", out)
		}
		mu.Lock()
		defer mu.Unlock()
		want := []string{"POST /api/v1/devices", "application/json", "application/json", ""}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("server saw %q, want %q", got, want)
		}
	})

	t.Run("get", func(t *testing.T) {
		var out device
		if err := c.Do(ctx, "GET", "/api/v1/devices/k2", nil, &out); err != nil {
			t.Fatal(err)
		}
		if out != (device{ID: "k2", Name: "Kitchen"}) {
			t.Errorf("decoded %+v", out)
		}
	})

	t.Run("no content", func(t *testing.T) {
		out := device{ID: "untouched"}
		if err := c.Do(ctx, "DELETE", "/api/v1/devices/k1", nil, &out); err != nil {
			t.Fatal(err)
		}
		if out.ID != "untouched" {
			t.Errorf("empty answer changed out to %+v", out)
		}
	})

	t.Run("nil out", func(t *testing.T) {
		if err := c.Do(ctx, "GET", "/api/v1/devices/k3", nil, nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("undecodable answer", func(t *testing.T) {
		var out device
		err := c.Do(ctx, "GET", "/notjson", nil, &out)
		if err == nil || !strings.Contains(err.Error(), "/notjson") {
			t.Errorf("Do(non-JSON answer) = %v, want a decode error naming the path", err)
		}
		var ce *client.Error
		if errors.As(err, &ce) {
			t.Errorf("a decode error is reported as an API error: %+v", ce)
		}
	})

	t.Run("raw", func(t *testing.T) {
		raw, ct, err := c.Raw(ctx, "GET", "/export", nil, "text/csv")
		if err != nil {
			t.Fatal(err)
		}
		if string(raw) != "id,name\nk1,Kitchen\n" || ct != "text/csv" {
			t.Errorf("Raw = %q, %q", raw, ct)
		}
	})

	t.Run("unencodable body", func(t *testing.T) {
		if err := c.Do(ctx, "POST", "/api/v1/devices", make(chan int), nil); err == nil {
			t.Error("Do with a channel body succeeded")
		}
	})
}

func TestErrorBodies(t *testing.T) {
	type answer struct {
		status      int
		contentType string
		body        string
	}
	var (
		mu  sync.Mutex
		cur answer
	)
	path := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		a := cur
		mu.Unlock()
		if a.contentType != "" {
			w.Header().Set("Content-Type", a.contentType)
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	c := socketClient(t, path)

	tests := []struct {
		name   string
		answer answer
		want   client.Error
		msg    string // Error() text
	}{
		{
			"field error",
			answer{400, "application/json", `{"error":{"status":400,"code":"invalid","field":"id","message":"must be 1 to 64 characters"}}` + "\n"},
			client.Error{Status: 400, Code: "invalid", Field: "id", Message: "must be 1 to 64 characters"},
			"id: must be 1 to 64 characters",
		},
		{
			"field named in message",
			answer{422, "application/json", `{"error":{"status":422,"code":"invalid","field":"acl","message":"acl: publish[0] is empty"}}`},
			client.Error{Status: 422, Code: "invalid", Field: "acl", Message: "acl: publish[0] is empty"},
			"acl: publish[0] is empty",
		},
		{
			"not found",
			answer{404, "application/json", `{"error":{"status":404,"code":"not_found","message":"device \"x\" not found"}}`},
			client.Error{Status: 404, Code: "not_found", Message: `device "x" not found`},
			`device "x" not found`,
		},
		{
			"indented",
			answer{409, "application/json", "{\n  \"error\": {\n    \"status\": 409,\n    \"code\": \"exists\",\n    \"message\": \"exists\"\n  }\n}\n"},
			client.Error{Status: 409, Code: "exists", Message: "exists"},
			"exists",
		},
		{
			"html from a proxy",
			answer{502, "text/html", "<html><body>Bad Gateway</body></html>"},
			client.Error{Status: 502, Code: "http", Message: "GET /api/v1/x: 502 Bad Gateway"},
			"GET /api/v1/x: 502 Bad Gateway",
		},
		{
			"plain text",
			answer{500, "text/plain", "internal error\n"},
			client.Error{Status: 500, Code: "http", Message: "GET /api/v1/x: 500 Internal Server Error"},
			"GET /api/v1/x: 500 Internal Server Error",
		},
		{
			"empty body",
			answer{401, "", ""},
			client.Error{Status: 401, Code: "http", Message: "GET /api/v1/x: 401 Unauthorized"},
			"GET /api/v1/x: 401 Unauthorized",
		},
		{
			"json without error",
			answer{403, "application/json", `{"message":"forbidden"}`},
			client.Error{Status: 403, Code: "http", Message: "GET /api/v1/x: 403 Forbidden"},
			"GET /api/v1/x: 403 Forbidden",
		},
		{
			"error is a string",
			answer{400, "application/json", `{"error":"bad"}`},
			client.Error{Status: 400, Code: "http", Message: "GET /api/v1/x: 400 Bad Request"},
			"GET /api/v1/x: 400 Bad Request",
		},
		{
			"error is null",
			answer{503, "application/json", `{"error":null}`},
			client.Error{Status: 503, Code: "http", Message: "GET /api/v1/x: 503 Service Unavailable"},
			"GET /api/v1/x: 503 Service Unavailable",
		},
		{
			"truncated json",
			answer{500, "application/json", `{"error":{"status":500,"code":"internal"`},
			client.Error{Status: 500, Code: "http", Message: "GET /api/v1/x: 500 Internal Server Error"},
			"GET /api/v1/x: 500 Internal Server Error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			cur = tt.answer
			mu.Unlock()
			var out map[string]any
			err := c.Do(context.Background(), "GET", "/api/v1/x", nil, &out)
			var ce *client.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Do = %v (%T), want *client.Error", err, err)
			}
			if *ce != tt.want {
				t.Errorf("error %+v, want %+v", *ce, tt.want)
			}
			if err.Error() != tt.msg {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.msg)
			}
			if errors.Is(err, client.ErrNotRunning) {
				t.Error("an API error is ErrNotRunning")
			}
			if out != nil {
				t.Errorf("out filled from an error answer: %v", out)
			}
		})
	}
}

func TestNotRunning(t *testing.T) {
	dir := socketDir(t)

	// A socket file that nobody listens on any more, as a gateway killed
	// with -9 leaves behind.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("stale socket file: %v", err)
	}

	tests := []struct{ name, path string }{
		{"missing", filepath.Join(dir, "perch.sock")},
		{"missing dir", filepath.Join(dir, "no", "perch.sock")},
		{"stale socket", stale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := socketClient(t, tt.path)
			var out any
			err := c.Do(context.Background(), "GET", "/api/v1/status", nil, &out)
			if !errors.Is(err, client.ErrNotRunning) {
				t.Fatalf("Do = %v, want ErrNotRunning", err)
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name the socket %s", err, tt.path)
			}
			var ce *client.Error
			if errors.As(err, &ce) {
				t.Errorf("ErrNotRunning is also an API error %+v", ce)
			}
		})
	}
}

// A server that is there but fails is not "not running".
func TestSocketOtherFailures(t *testing.T) {
	t.Run("connection closed", func(t *testing.T) {
		path := filepath.Join(socketDir(t), "perch.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		t.Cleanup(func() { l.Close(); wg.Wait() })
		wg.Go(func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				conn.Close()
			}
		})
		err = socketClient(t, path).Do(context.Background(), "GET", "/api/v1/status", nil, nil)
		if err == nil || errors.Is(err, client.ErrNotRunning) {
			t.Errorf("Do against a server that hangs up = %v, want another error", err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		release := make(chan struct{})
		path := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer close(release)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- socketClient(t, path).Do(ctx, "GET", "/slow", nil, nil) }()
		cancel()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) || errors.Is(err, client.ErrNotRunning) {
				t.Errorf("Do after cancel = %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Do did not return after its context was cancelled")
		}
	})

	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		path := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer close(release)
		c, err := client.New(client.Config{Socket: path, Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Do(context.Background(), "GET", "/slow", nil, nil)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || errors.Is(err, client.ErrNotRunning) {
			t.Errorf("Do past the timeout = %v, want a timeout", err)
		}
	})
}

func TestNewConfig(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  client.Config
		want string // part of the error
	}{
		{"nothing", client.Config{}, "neither a socket nor a server"},
		{"http", client.Config{Server: "http://perch.local:8443", Token: "t"}, "https://"},
		{"no scheme", client.Config{Server: "perch.local:8443", Token: "t"}, "https://"},
		{"upper-case http", client.Config{Server: "HTTP://perch.local", Token: "t"}, "https://"},
		{"no token", client.Config{Server: "https://perch.local:8443"}, "token"},
		{"missing CA", client.Config{Server: "https://perch.local:8443", Token: "t", CAFile: filepath.Join(dir, "none.pem")}, "read CA"},
		{"CA not PEM", client.Config{Server: "https://perch.local:8443", Token: "t", CAFile: notPEM}, "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.New(tt.cfg)
			if err == nil || c != nil {
				t.Fatalf("New = %v, %v; want an error", c, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error %q, want it to mention %q", err, tt.want)
			}
		})
	}
	// The socket needs no token; a socket with a server uses the server.
	if _, err := client.New(client.Config{Socket: "/nonexistent/perch.sock"}); err != nil {
		t.Errorf("New(socket) = %v", err)
	}
	if _, err := client.New(client.Config{Socket: "/x.sock", Server: "http://x"}); err == nil {
		t.Error("New(socket and http server) succeeded: the server should be used and refused")
	}
}

// writeCA writes the test server's certificate as a PEM CA file.
func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, block, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHTTPS(t *testing.T) {
	const token = "perch_abcdefghijkl_secretsecretsecret"
	var (
		mu    sync.Mutex
		auths []string
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"status":401,"code":"unauthorized","message":"bad token"}}`)
			return
		}
		switch r.URL.Path {
		case "/api/v1/status":
			io.WriteString(w, `{"version":"test","devices":3}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"status":404,"code":"not_found","message":"no such route"}}`)
		}
	}))
	// Refused handshakes below are expected: keep them out of the log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	ca := writeCA(t, srv)
	ctx := context.Background()

	for _, base := range []string{srv.URL, srv.URL + "/"} {
		c, err := client.New(client.Config{Server: base, Token: token, CAFile: ca})
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Version string `json:"version"`
			Devices int    `json:"devices"`
		}
		if err := c.Do(ctx, "GET", "/api/v1/status", nil, &st); err != nil {
			t.Fatalf("Do via %s: %v", base, err)
		}
		if st.Version != "test" || st.Devices != 3 {
			t.Errorf("decoded %+v", st)
		}
		err = c.Do(ctx, "GET", "/api/v1/nope", nil, nil)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != 404 || ce.Code != "not_found" {
			t.Errorf("Do(unknown route) = %v, want a 404 *client.Error", err)
		}
	}
	mu.Lock()
	for _, a := range auths {
		if a != "Bearer "+token {
			t.Errorf("server saw Authorization %q", a)
		}
	}
	mu.Unlock()

	t.Run("wrong token", func(t *testing.T) {
		c, err := client.New(client.Config{Server: srv.URL, Token: "perch_wrong", CAFile: ca})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Do(ctx, "GET", "/api/v1/status", nil, nil)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != 401 || ce.Code != "unauthorized" {
			t.Errorf("Do with a wrong token = %v, want a 401 *client.Error", err)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		// Without the CA the system roots are used, which do not trust
		// the test server.
		c, err := client.New(client.Config{Server: srv.URL, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Do(ctx, "GET", "/api/v1/status", nil, nil)
		if err == nil || errors.Is(err, client.ErrNotRunning) {
			t.Fatalf("Do without the CA = %v, want a certificate error", err)
		}
		var ce *client.Error
		if errors.As(err, &ce) {
			t.Errorf("certificate error reported as an API error: %+v", ce)
		}
	})

	t.Run("other CA", func(t *testing.T) {
		// Every httptest server has the same certificate: make another.
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		other := filepath.Join(t.TempDir(), "other.pem")
		if err := os.WriteFile(other, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := client.New(client.Config{Server: srv.URL, Token: token, CAFile: other})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Do(ctx, "GET", "/api/v1/status", nil, nil); err == nil {
			t.Error("Do trusting another server's CA succeeded")
		}
	})

	t.Run("server down", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		c, err := client.New(client.Config{Server: "https://" + addr, Token: token, CAFile: ca})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Do(ctx, "GET", "/api/v1/status", nil, nil)
		// ErrNotRunning is about the local socket; a remote server that
		// refuses is reported as it is.
		if err == nil || errors.Is(err, client.ErrNotRunning) {
			t.Errorf("Do against a closed port = %v", err)
		}
	})
}
