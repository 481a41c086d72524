package gateway_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// timestamps and secrets vary per run; the golden files show their shape.
var volatile = regexp.MustCompile(`"(created|updated|since|last_seen|expires)": "[^"]+"|"(credentials|token)": "[^"]+"|"id": "[a-z0-9]{12}"|"remote_addr": "[^"]+"`)

func normalize(b []byte) []byte {
	return volatile.ReplaceAllFunc(b, func(m []byte) []byte {
		key := regexp.MustCompile(`^"[a-z_]+"`).Find(m)
		return append(key, []byte(`: "…"`)...)
	})
}

// The API's answers, as a script sees them, are pinned by golden files in
// testdata/api (go test ./gateway -run TestAPIGolden -update rewrites them).
func TestAPIGolden(t *testing.T) {
	tg := start(t, testConfig(t))
	ctx := context.Background()
	get := func(method, path string, body any) []byte {
		raw, _, err := tg.api.Raw(ctx, method, path, body, "application/json")
		if err != nil {
			b, _ := json.MarshalIndent(map[string]any{"error": err}, "", "  ")
			return append(b, '\n')
		}
		return raw
	}
	cases := []struct {
		name   string
		method string
		path   string
		body   any
	}{
		{"device-create", "POST", "/api/v1/devices", map[string]any{"id": "greenhouse-1", "name": "Greenhouse", "description": "north side",
			"acl": map[string]any{"publish": []string{"sensors/%c/#"}, "subscribe": []string{"cmd/%c/#"}}}},
		{"device-get", "GET", "/api/v1/devices/greenhouse-1", nil},
		{"device-patch", "PATCH", "/api/v1/devices/greenhouse-1", map[string]any{"enabled": false}},
		{"device-list", "GET", "/api/v1/devices", nil},
		{"error-invalid-id", "POST", "/api/v1/devices", map[string]any{"id": "no spaces"}},
		{"error-unknown-field", "POST", "/api/v1/devices", map[string]any{"id": "x", "colour": "red"}},
		{"error-not-found", "GET", "/api/v1/devices/ghost", nil},
		{"token-create", "POST", "/api/v1/tokens", map[string]any{"name": "grafana", "read_only": true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := normalize(get(tc.method, tc.path, tc.body))
			path := filepath.Join("..", "testdata", "api", tc.name+".json")
			if *update {
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
				t.Errorf("%s %s answered\n%s\nwant (%s)\n%s", tc.method, tc.path, got, path, want)
			}
		})
	}
}
