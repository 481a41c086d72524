package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUpstreamSurvivesKill9 forwards a bucket to a second Perch (as a
// separate process) and kills each side with SIGKILL mid-sync, the
// gateway recording on while the upstream is down: the upstream's bucket
// ends up with every point.
func TestUpstreamSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	// The upstream keeps its port across restarts, as a cloud broker does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	upData := filepath.Join(t.TempDir(), "up")
	upArgs := []string{"--mqtt-tls-address", "127.0.0.1:" + upPort}
	up := serve(t, upData, upArgs...)
	ud := "--data-dir=" + upData
	var dev struct{ ID, Credentials string }
	if err := json.Unmarshal([]byte(perch(t, ud, "device", "add", "site-a", "--json")), &dev); err != nil {
		t.Fatal(err)
	}
	perch(t, ud, "bucket", "add", "fleet", "--topic", "perch/+/buckets/#")

	aData := filepath.Join(t.TempDir(), "a")
	cfgFile := filepath.Join(t.TempDir(), "perch.yaml")
	yaml := fmt.Sprintf(`upstream:
  url: mqtts://localhost:%s
  ca_file: %s
  username: %s
  client_id: %s
  gateway: site-a
  buckets: [env]
  batch_size: 200
  max_rate: 4000
`, upPort, up.ready["ca_file"], up.ready["account"], dev.ID)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	// The password comes from the environment, as the README advises.
	aArgs := []string{"--config", cfgFile}
	serveA := func() *server {
		s := serveEnv(t, aData, []string{"PERCH_UPSTREAM_PASSWORD=" + dev.Credentials}, aArgs...)
		return s
	}
	a := serveA()
	ad := "--data-dir=" + aData
	perch(t, ad, "bucket", "add", "env", "--topic", "sensors/#")

	const t0 = int64(1767225600000)
	next := 0
	write := func(n int) {
		t.Helper()
		for n > 0 {
			k := min(n, 1000)
			var b strings.Builder
			b.WriteByte('[')
			for i := range k {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"ts":%d,"n":%d}`, t0+int64(next), next)
				next++
			}
			b.WriteByte(']')
			perch(t, ad, "bucket", "write", "env", b.String(), "--device", "s1")
			n -= k
		}
	}
	upPoints := func() int64 {
		var b struct{ Stats struct{ Points int64 } }
		out, _, err := perchErr(ud, "bucket", "show", "fleet", "--json")
		if err != nil || json.Unmarshal([]byte(out), &b) != nil {
			return -1
		}
		return b.Stats.Points
	}
	waitUp := func(n int64, what string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for upPoints() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the upstream holds %d points, want %d\n%s", what, upPoints(), n, a.stderr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	write(10_000)
	waitUp(2_000, "before the upstream is killed")
	up.kill9()
	write(5_000)                // the upstream is down: recorded here, forwarded later
	serve(t, upData, upArgs...) // the same port and data: the cloud broker is back
	waitUp(8_000, "after the upstream's restart")

	a.kill9() // mid-sync
	a = serveA()
	write(5_000)

	// Every point, each under its own time and the device site-a/s1.
	deadline := time.Now().Add(90 * time.Second)
	for {
		seen, records := upstreamNs(t, ud)
		if len(seen) == next {
			t.Logf("%d points upstream in %d records (%d sent twice across the kills)", next, records, records-next)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the upstream has %d of %d points\n%s", len(seen), next, a.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var st struct {
		Connected bool
		Buckets   []struct {
			ID        string
			LagPoints int64 `json:"lag_points"`
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if err := json.Unmarshal([]byte(perch(t, ad, "upstream", "status", "--json")), &st); err != nil {
			t.Fatal(err)
		}
		if st.Connected && len(st.Buckets) == 1 && st.Buckets[0].LagPoints == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("upstream status: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := perch(t, ad, "upstream", "status"); !strings.Contains(out, "connected since") || !strings.Contains(out, "env") {
		t.Errorf("perch upstream status:\n%s", out)
	}
	if strings.Contains(a.stderr.String(), dev.Credentials) || strings.Contains(a.stdout.String(), dev.Credentials) {
		t.Error("the upstream password is in the gateway's output")
	}
}

// upstreamNs reads the upstream's bucket and returns the n values seen and
// the number of records.
func upstreamNs(t *testing.T, dd string) (map[int]bool, int) {
	t.Helper()
	out, _, err := perchErr(dd, "bucket", "read", "fleet", "--from", "0", "--limit", "100000", "--format", "json")
	if err != nil {
		return nil, 0
	}
	var recs []struct {
		Device string  `json:"device"`
		TS     int64   `json:"ts"`
		N      float64 `json:"n"`
	}
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("bucket read: %v\n%.300s", err, out)
	}
	seen := map[int]bool{}
	for _, r := range recs {
		if r.Device != "site-a/s1" || r.TS != 1767225600000+int64(r.N) {
			t.Fatalf("record upstream: %+v", r)
		}
		seen[int(r.N)] = true
	}
	return seen, len(recs)
}
