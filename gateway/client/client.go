// Package client talks to a running gateway's admin API, locally through the
// control socket in its data dir or remotely over HTTPS with an API token.
// The CLI uses it; so can tests and scripts written in Go.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

// ErrNotRunning means no gateway answers on the control socket.
var ErrNotRunning = errors.New("no gateway running")

// Config says how to reach a gateway. With Server empty the control socket
// is used.
type Config struct {
	// Socket is the control socket path (<data-dir>/perch.sock).
	Socket string
	// Server is a base URL such as https://perch.local:8443.
	Server string
	// Token is an API token for Server.
	Token string
	// CAFile is the PEM CA that signed Server's certificate; the system
	// roots are used when empty.
	CAFile  string
	Timeout time.Duration
}

// Client is an admin API client.
type Client struct {
	cfg  Config
	base string
	http *http.Client
}

// New builds a client; it does not connect.
func New(cfg Config) (*Client, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	c := &Client{cfg: cfg}
	if cfg.Server == "" {
		if cfg.Socket == "" {
			return nil, errors.New("client: neither a socket nor a server given")
		}
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", cfg.Socket)
			},
		}
		c.base = "http://perch"
		c.http = &http.Client{Transport: tr, Timeout: cfg.Timeout}
		return c, nil
	}
	if !strings.HasPrefix(cfg.Server, "https://") {
		return nil, fmt.Errorf("client: server %q must be an https:// URL", cfg.Server)
	}
	if cfg.Token == "" {
		return nil, errors.New("client: a remote server needs an API token (--token or PERCH_TOKEN)")
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("client: read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: %s holds no PEM certificate", cfg.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	c.base = strings.TrimRight(cfg.Server, "/")
	c.http = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}, Timeout: cfg.Timeout}
	return c, nil
}

// Error is an error answered by the API.
type Error struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" && !strings.Contains(e.Message, e.Field) {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Do sends a request with an optional JSON body and decodes a JSON answer
// into out (when not nil).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	raw, _, err := c.Raw(ctx, method, path, body, "application/json")
	if err != nil {
		return err
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("client: decode answer to %s %s: %w", method, path, err)
	}
	return nil
}

// Raw sends a request and returns the raw answer body and content type.
func (c *Client) Raw(ctx context.Context, method, path string, body any, accept string) ([]byte, string, error) {
	req, err := c.request(ctx, method, path, body, accept)
	if err != nil {
		return nil, "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", c.sendError(method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, "", answerError(resp, method, path)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, "", fmt.Errorf("client: read answer: %w", err)
	}
	return raw, resp.Header.Get("Content-Type"), nil
}

// Stream sends a GET and copies the answer's body to w as it arrives, in
// constant memory, returning the number of bytes copied. An answer other
// than 2xx is returned as an *Error, as Do returns it, and nothing is
// written to w. The client's timeout bounds the wait for the answer's
// headers only, not the copy, which ctx alone ends: an export may take long.
func (c *Client) Stream(ctx context.Context, path string, accept string, w io.Writer) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errSlow := fmt.Errorf("client: GET %s: no answer within %s", path, c.cfg.Timeout)
	timer := time.AfterFunc(c.cfg.Timeout, func() { cancel(errSlow) })
	req, err := c.request(ctx, "GET", path, nil, accept)
	if err != nil {
		timer.Stop()
		return 0, err
	}
	hc := *c.http
	hc.Timeout = 0 // the timer above bounds the wait for the headers
	resp, err := hc.Do(req)
	if !timer.Stop() {
		if err == nil {
			resp.Body.Close()
		}
		return 0, errSlow
	}
	if err != nil {
		return 0, c.sendError("GET", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return 0, answerError(resp, "GET", path)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("client: GET %s: after %d bytes: %w", path, n, err)
	}
	return n, nil
}

// request builds a request with the client's headers and body as JSON.
func (c *Client) request(ctx context.Context, method, path string, body any, accept string) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("client: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", accept)
	if c.cfg.Token != "" && c.cfg.Server != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	return req, nil
}

// sendError explains a request that got no answer: on the local socket,
// usually that no gateway is running.
func (c *Client) sendError(method, path string, err error) error {
	if c.cfg.Server == "" && (errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)) {
		return fmt.Errorf("%w on %s", ErrNotRunning, c.cfg.Socket)
	}
	return fmt.Errorf("client: %s %s: %w", method, path, err)
}

// answerError turns a non-2xx answer into an *Error: the API's own JSON
// error when there is one.
func answerError(resp *http.Response, method, path string) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error *Error `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error != nil {
		if e.Error.Status == 0 {
			e.Error.Status = resp.StatusCode
		}
		return e.Error
	}
	return &Error{Status: resp.StatusCode, Code: "http", Message: fmt.Sprintf("%s %s: %s", method, path, resp.Status)}
}
