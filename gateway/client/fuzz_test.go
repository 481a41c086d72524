package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/perch-gw/perch/gateway/client"
)

// FuzzAnswer feeds the client arbitrary answers from a server (a gateway of
// another version, a proxy in between): decoding must never panic, an
// error status must always give a *client.Error and a success the body as
// sent.
func FuzzAnswer(f *testing.F) {
	statuses := []int{200, 201, 400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503}
	// The server answers with the status and body the request asks for.
	path := serveUnix(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var want struct {
			Status int
			Body   []byte
		}
		if err := json.NewDecoder(r.Body).Decode(&want); err != nil {
			http.Error(w, err.Error(), http.StatusTeapot)
			return
		}
		w.WriteHeader(want.Status)
		w.Write(want.Body)
	}))
	c := socketClient(f, path)

	f.Add(uint8(2), []byte(`{"error":{"status":400,"code":"invalid","field":"id","message":"bad id"}}`))
	f.Add(uint8(5), []byte(`{"error":{}}`))
	f.Add(uint8(5), []byte(`{"error":null}`))
	f.Add(uint8(11), []byte("<html>Bad Gateway</html>"))
	f.Add(uint8(0), []byte(`{"id":"k1"}`))
	f.Add(uint8(0), []byte(`not json`))
	f.Add(uint8(1), []byte{})
	f.Add(uint8(10), []byte(`{"error":{"status":"500"}}`))
	f.Fuzz(func(t *testing.T, s uint8, body []byte) {
		status := statuses[int(s)%len(statuses)]
		req := map[string]any{"Status": status, "Body": body}
		raw, _, err := c.Raw(context.Background(), "POST", "/answer", req, "application/json")
		if status < 300 {
			if err != nil {
				t.Fatalf("status %d: Raw = %v", status, err)
			}
			if !bytes.Equal(raw, body) {
				t.Fatalf("status %d: Raw = %q, want %q", status, raw, body)
			}
			var out any
			c.Do(context.Background(), "POST", "/answer", req, &out) // must not panic
			return
		}
		var ce *client.Error
		if !errors.As(err, &ce) {
			t.Fatalf("status %d, body %q: Raw = %v (%T), want *client.Error", status, body, err, err)
		}
		_ = ce.Error()
		if errors.Is(err, client.ErrNotRunning) {
			t.Fatalf("status %d: an answer is ErrNotRunning", status)
		}
		if ce.Code == "http" && ce.Status != status {
			t.Fatalf("status %d: fallback error has status %d", status, ce.Status)
		}
	})
}
