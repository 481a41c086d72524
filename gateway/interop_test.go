package gateway_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needTool skips when a Debian tool is missing, except in CI, where .ci/run
// installs it and its absence is a failure.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed (.ci/run installs mosquitto-clients)", name)
		}
		t.Skipf("%s not installed: apt-get install mosquitto-clients", name)
	}
	return p
}

// Debian's mosquitto clients, as a maker would use them, over TLS with the
// gateway's CA and the Thinger.io parameters.
func TestMosquittoClients(t *testing.T) {
	pub := needTool(t, "mosquitto_pub")
	sub := needTool(t, "mosquitto_sub")
	tg := start(t, testConfig(t))
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, tg.g.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	port := tg.addr("mqtt_tls")[strings.LastIndex(tg.addr("mqtt_tls"), ":")+1:]
	sensor := tg.addDevice(map[string]any{"id": "sensor-pub"})
	display := tg.addDevice(map[string]any{"id": "display-sub"})

	for _, version := range []string{"mqttv311", "mqttv5"} {
		t.Run(version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			common := []string{"--cafile", caFile, "-h", "localhost", "-p", port, "-V", version, "-u", tg.cfg.Account}
			var subOut, subErr bytes.Buffer
			s := exec.CommandContext(ctx, sub, append(common, "-i", display.ID, "-P", display.Credentials,
				"-t", "greenhouse/#", "-C", "1", "-v", "-q", "1")...)
			s.Stdout, s.Stderr = &subOut, &subErr
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "subscriber online", func() bool {
				return tg.device(display.ID).Status.Connected
			})
			// the subscription follows the CONNACK; wait for it to be in place
			eventually(t, 10*time.Second, "subscription", func() bool { return tg.subscriptions() > 0 })
			out, err := exec.CommandContext(ctx, pub, append(common, "-i", sensor.ID, "-P", sensor.Credentials,
				"-t", "greenhouse/temp", "-m", `{"t":21.5}`, "-q", "1")...).CombinedOutput()
			if err != nil {
				t.Fatalf("mosquitto_pub: %v: %s", err, out)
			}
			if err := s.Wait(); err != nil {
				t.Fatalf("mosquitto_sub: %v: %s", err, subErr.String())
			}
			if got := strings.TrimSpace(subOut.String()); got != `greenhouse/temp {"t":21.5}` {
				t.Fatalf("mosquitto_sub got %q", got)
			}
			eventually(t, 5*time.Second, "subscriber gone", func() bool { return tg.subscriptions() == 0 })
		})
	}

	t.Run("wrong password refused", func(t *testing.T) {
		out, err := exec.Command(pub, "--cafile", caFile, "-h", "localhost", "-p", port, "-V", "mqttv311",
			"-u", tg.cfg.Account, "-i", sensor.ID, "-P", "wrong-password", "-t", "x", "-m", "1").CombinedOutput()
		if err == nil || !strings.Contains(strings.ToLower(string(out)), "bad user name or password") {
			t.Fatalf("wrong password: %v %s", err, out)
		}
	})
}
