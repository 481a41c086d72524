package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/pki"
)

// TestDiscover advertises a gateway on the loopback interface only and
// finds it with perch discover --interface lo: nothing goes out on the
// machine's real interfaces.
func TestDiscover(t *testing.T) {
	lo := ""
	ifaces, _ := net.Interfaces()
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			lo = ifi.Name
		}
	}
	if lo == "" {
		t.Skip("no loopback interface that is up")
	}
	instance := fmt.Sprintf("perch-e2e-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	s := serve(t, filepath.Join(t.TempDir(), "data"), "--mdns-enabled=true", "--mdns-interfaces", lo, "--mdns-instance", instance)
	_, port, _ := net.SplitHostPort(s.ready["mqtt_tls"])
	ca, err := os.ReadFile(filepath.Join(s.dataDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(ca)
	if block == nil {
		t.Fatal("no PEM block in ca.pem")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	fingerprint := pki.Fingerprint(cert)

	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var found []struct {
			Instance, Host, Version, Account, Fingerprint string
			Addresses                                     []string
			Port                                          int
		}
		out := perch(t, "discover", "--interface", lo, "--timeout", "2s", "--json")
		if err := json.Unmarshal([]byte(out), &found); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, g := range found {
			if g.Instance != instance {
				continue
			}
			if strconv.Itoa(g.Port) != port || g.Account != "admin" || g.Host != "perch-e2e.local" || g.Version == "" || len(g.Addresses) == 0 {
				t.Errorf("found %+v, want port %s, account admin, host perch-e2e.local", g, port)
			}
			if g.Fingerprint != fingerprint {
				t.Errorf("fingerprint %q, perch ca fingerprint says %q", g.Fingerprint, fingerprint)
			}
			return
		}
	}
	t.Fatalf("%s not discovered on %s", instance, lo)
}
