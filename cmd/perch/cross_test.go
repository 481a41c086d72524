package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// TestCrossBinaries proves the ARM builds on this x86 machine: each runs
// under qemu-user-static, serves on loopback, and a native client logs in
// over TLS with a device's credentials, publishes into a bucket and reads
// the value back through the API. `make test-cross` sets PERCH_CROSS_DIR.
func TestCrossBinaries(t *testing.T) {
	dir := os.Getenv("PERCH_CROSS_DIR")
	if dir == "" {
		t.Skip("the ARM binaries are tested by make test-cross (PERCH_CROSS_DIR)")
	}
	for _, c := range []struct {
		bin, qemu string
		machine   elf.Machine
	}{
		{"perch_linux_armv6", "qemu-arm-static", elf.EM_ARM},
		{"perch_linux_armv7", "qemu-arm-static", elf.EM_ARM},
		{"perch_linux_arm64", "qemu-aarch64-static", elf.EM_AARCH64},
	} {
		t.Run(c.bin, func(t *testing.T) {
			bin := filepath.Join(dir, c.bin)
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			machine, interp := f.Machine, f.Section(".interp")
			f.Close()
			if machine != c.machine || interp != nil {
				t.Fatalf("%s: machine %v, dynamic loader %v: want a static %v binary", c.bin, machine, interp != nil, c.machine)
			}
			qemu, err := exec.LookPath(c.qemu)
			if err != nil {
				t.Fatalf("%s is not installed (apt-get install qemu-user-static)", c.qemu)
			}
			data := filepath.Join(t.TempDir(), "data")
			s := serveWith(t, []string{qemu, bin}, data)
			dd := "--data-dir=" + data
			// the native CLI drives the emulated gateway through its socket
			var dev struct{ ID, Credentials string }
			if err := json.Unmarshal([]byte(perch(t, dd, "device", "add", "pi", "--json")), &dev); err != nil {
				t.Fatal(err)
			}
			perch(t, dd, "bucket", "add", "env", "--topic", "sensors/#")

			pem, err := os.ReadFile(s.ready["ca_file"])
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			conn, err := tls.Dial("tcp", s.ready["mqtt_tls"], &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn)})
			if _, err := c.Connect(ctx, &paho.Connect{ClientID: dev.ID, Username: s.ready["account"], UsernameFlag: true,
				Password: []byte(dev.Credentials), PasswordFlag: true, KeepAlive: 30, CleanStart: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Publish(ctx, &paho.Publish{Topic: "sensors/pi", QoS: 1, Payload: []byte(`{"ts":1767225600000,"temp":21.5}`)}); err != nil {
				t.Fatal(err)
			}
			_ = c.Disconnect(&paho.Disconnect{})
			if got := perch(t, dd, "bucket", "read", "env", "--format", "csv"); got != "ts,device,temp\n1767225600000,pi,21.5\n" {
				t.Fatalf("read back %q", got)
			}
			if v := perch(t, dd, "status"); !strings.Contains(v, "Perch ") {
				t.Fatalf("status: %s", v)
			}
		})
	}
}
