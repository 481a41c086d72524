package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/pki"
)

// The firmware examples in firmware-examples/ are run here, against real
// gateways: each Arduino sketch unchanged, built for Linux with the host
// harness (g++ and libmosquitto: real MQTT, real TLS with the CA it was
// given), and the Python example with Debian's paho-mqtt. A reading must
// reach the bucket, a command sent as the console's switch sends it must
// reach the sketch's LED, and a sketch must come back after the gateway
// refused it for a while.

// missing skips the test for want of tools, saying which; on CI (CI set)
// the tools are installed by .ci/run, so it fails instead.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so this is an error)", msg)
	}
	t.Skipf("%s: skipped", msg)
}

// needHarnessTools checks for g++, make and libmosquitto's headers.
func needHarnessTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"g++", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, "firmware harness: %s not on PATH (Debian: apt-get install g++ make)", tool)
		}
	}
	cmd := exec.Command("g++", "-x", "c++", "-fsyntax-only", "-")
	cmd.Stdin = strings.NewReader("#include <mosquitto.h>\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		missing(t, "firmware harness: no <mosquitto.h> (Debian: apt-get install libmosquitto-dev): %s", strings.TrimSpace(string(out)))
	}
}

func firmwareDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "firmware-examples"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// makeFirmware runs the firmware examples' Makefile.
func makeFirmware(t *testing.T, build, obj string, targets ...string) {
	t.Helper()
	args := append([]string{"-C", firmwareDir(t), "BUILD=" + build, "OBJ=" + obj}, targets...)
	if out, err := exec.Command("make", args...).CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(targets, " "), err, out)
	}
}

// fwGateway is a gateway with the bucket "env" that the examples publish to.
type fwGateway struct {
	s  *server
	dd string
}

func startFWGateway(t *testing.T, extra ...string) *fwGateway {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	g := &fwGateway{s: serve(t, data, extra...), dd: "--data-dir=" + data}
	perch(t, g.dd, "bucket", "add", "env", "--topic", "sensors/+/env")
	return g
}

// addDevice registers a device with the ACL the examples' READMEs give
// and returns its credentials.
func (g *fwGateway) addDevice(t *testing.T, id string) string {
	t.Helper()
	var d struct{ Credentials string }
	out := perch(t, g.dd, "device", "add", id, "--publish", "sensors/%c/#", "--subscribe", "cmd/%c/#", "--json")
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.Credentials == "" {
		t.Fatalf("device add %s: %v\n%s", id, err, out)
	}
	return d.Credentials
}

// switchPublish sends what the console's switch widget sends: its on or off
// payload, at its QoS, retained (the widget's default).
func (g *fwGateway) switchPublish(t *testing.T, topic, payload string, qos int) {
	t.Helper()
	perch(t, g.dd, "mqtt", "publish", topic, payload, "--qos", fmt.Sprint(qos), "--retain")
}

// waitRecord polls the bucket until a record of device satisfies ok.
func (g *fwGateway) waitRecord(t *testing.T, device, what string, ok func(record) bool) record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var recs []record
	for time.Now().Before(deadline) {
		recs = readJSON(t, g.dd, "bucket", "read", "env", "--device", device)
		for _, r := range recs {
			if ok(r) {
				return r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("bucket env has no record of %s with %s after 30 s; it has %v", device, what, recs)
	return nil
}

// noRejections checks that the bucket refused nothing the device sent.
func (g *fwGateway) noRejections(t *testing.T) {
	t.Helper()
	var b bucketView
	if err := json.Unmarshal([]byte(perch(t, g.dd, "bucket", "show", "env", "--json")), &b); err != nil {
		t.Fatal(err)
	}
	if b.Stats.Rejected != 0 {
		t.Errorf("bucket env rejected %d payloads, the last: %+v", b.Stats.Rejected, b.Stats.LastRejection)
	}
}

func hasFields(fields ...string) func(record) bool {
	return func(r record) bool {
		for _, f := range fields {
			if _, ok := r[f].(float64); !ok {
				return false
			}
		}
		return true
	}
}

func ledIs(v float64, fields ...string) func(record) bool {
	return func(r record) bool { return r["led"] == v && hasFields(fields...)(r) }
}

// program is a running example whose output (stdout and stderr) the test
// reads line by line.
type program struct {
	t       *testing.T
	cmd     *exec.Cmd
	mu      sync.Mutex
	lines   []string
	more    chan struct{} // closed, and replaced, at each new line
	eof     bool
	readEnd chan struct{}
	exited  chan struct{}
}

func startProgram(t *testing.T, env []string, argv ...string) *program {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &program{t: t, cmd: exec.Command(argv[0], argv[1:]...), more: make(chan struct{}), readEnd: make(chan struct{}), exited: make(chan struct{})}
	p.cmd.Env = append(cleanEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		defer close(p.readEnd)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.more)
			p.more = make(chan struct{})
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.eof = true
		close(p.more)
		p.mu.Unlock()
		r.Close()
	}()
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		<-p.readEnd
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(argv[len(argv)-1]), p.output())
		}
	})
	return p
}

func (p *program) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// mark is the number of lines so far: waitLine(mark, ...) looks only at
// what comes after.
func (p *program) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// waitLine waits for a line at index from or later that holds substr and
// returns its index.
func (p *program) waitLine(from int, substr string) int {
	p.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		p.mu.Lock()
		for i := from; i < len(p.lines); i++ {
			if strings.Contains(p.lines[i], substr) {
				p.mu.Unlock()
				return i
			}
		}
		more, eof := p.more, p.eof
		p.mu.Unlock()
		if eof {
			p.t.Fatalf("the program ended without printing %q", substr)
		}
		select {
		case <-more:
		case <-deadline:
			p.t.Fatalf("no line with %q after 30 s", substr)
		}
	}
}

// stop sends SIGTERM and checks that the program ends at once, with status
// 0 and without a sanitizer's report.
func (p *program) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		p.t.Fatal("no exit within 15 s of SIGTERM")
	}
	<-p.readEnd
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Errorf("exit status %d after SIGTERM", code)
	}
	for _, bad := range []string{"AddressSanitizer", "runtime error", "Traceback"} {
		if strings.Contains(p.output(), bad) {
			p.t.Errorf("the output holds %q", bad)
		}
	}
}

// harnessEnv is the environment of a sketch: the Wi-Fi network it must
// join, and a time limit in case the test loses track of it.
var harnessEnv = []string{"HARNESS_WIFI_SSID=perch-test-wifi", "HARNESS_WIFI_PASSWORD=perch-test-pass", "HARNESS_TIMEOUT_MS=120000"}

// wifiSecrets is the Wi-Fi part of a sketch's secrets.h.
const wifiSecrets = "#define WIFI_SSID \"perch-test-wifi\"\n#define WIFI_PASSWORD \"perch-test-pass\"\n"

// writeSketchFiles writes the build directory's secrets.h and, for TLS
// sketches, perch_ca.h as a maker would make it: perch ca export --format c.
func writeSketchFiles(t *testing.T, dir, secrets string, ca []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets.h"), []byte("#pragma once\n"+secrets), 0o644); err != nil {
		t.Fatal(err)
	}
	if ca != nil {
		if err := os.WriteFile(filepath.Join(dir, "perch_ca.h"), ca, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A sketch's life: it connects, its readings land in the bucket, the
// console switch's on and off reach its LED, and its next reading says so.
func exerciseSketch(t *testing.T, g *fwGateway, p *program, device, topic, ledOn, ledOff string, fields ...string) {
	t.Helper()
	p.waitLine(0, "MQTT: connected")
	p.waitLine(0, "SUBACK: subscribed to cmd/"+device+"/led at QoS 1") // the ACL allows it
	g.waitRecord(t, device, "a reading with "+strings.Join(fields, ", "), ledIs(0, fields...))

	mark := p.mark()
	g.switchPublish(t, topic, "on", 1)
	p.waitLine(p.waitLine(mark, ledOn), "LED on")
	g.waitRecord(t, device, "led 1", ledIs(1, fields...))

	mark = p.mark()
	g.switchPublish(t, topic, "off", 1)
	p.waitLine(p.waitLine(mark, ledOff), "LED off")
	g.noRejections(t)
}

func TestFirmwareExamples(t *testing.T) {
	needHarnessTools(t)
	build, obj := t.TempDir(), filepath.Join(t.TempDir(), "harness")
	makeFirmware(t, build, obj, "harness")

	// The ESP32 sketch with mDNS on: it must pick, out of two gateways
	// answering, the one whose CA fingerprint is its CA's, since PERCH_HOST
	// leads nowhere. The imported dashboard's switch is what commands it.
	t.Run("esp32-pubsubclient", func(t *testing.T) {
		t.Parallel()
		g := startFWGateway(t)
		const device = "greenhouse-1" // the sketch's, and the dashboard's
		creds := g.addDevice(t, device)
		perch(t, g.dd, "dashboard", "import", filepath.Join(firmwareDir(t), "dashboard.json"))
		var dash struct {
			Widgets []struct {
				Type    string
				Options struct {
					Topic, On, Off string
					QoS            int
				}
			}
		}
		if err := json.Unmarshal([]byte(perch(t, g.dd, "dashboard", "show", "greenhouse-1")), &dash); err != nil {
			t.Fatal(err)
		}
		var topic string
		for _, w := range dash.Widgets {
			if w.Type == "switch" {
				topic = w.Options.Topic
				if w.Options.On != "on" || w.Options.Off != "off" || w.Options.QoS != 1 {
					t.Errorf("the dashboard's switch sends %+v, not what the test does", w.Options)
				}
			}
		}
		if topic != "cmd/"+device+"/led" {
			t.Fatalf("the dashboard's switch publishes to %q", topic)
		}

		var st struct {
			Fingerprint string `json:"ca_fingerprint"`
		}
		if err := json.Unmarshal([]byte(perch(t, g.dd, "status", "--json")), &st); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(build, "esp32-pubsubclient")
		writeSketchFiles(t, dir, wifiSecrets+fmt.Sprintf(`#define PERCH_HOST "nowhere.invalid"
#define PERCH_PORT 8883
#define PERCH_USE_MDNS 1
#define PERCH_ACCOUNT "admin"
#define DEVICE_ID %q
#define DEVICE_CREDENTIALS %q
#define PUBLISH_INTERVAL_MS 500UL
`, device, creds), []byte(perch(t, g.dd, "ca", "export", "--format", "c")))
		makeFirmware(t, build, obj, filepath.Join(dir, "firmware"))

		tlsPort := port(g.s.ready["mqtt_tls"])
		mdns := fmt.Sprintf("HARNESS_MDNS=perch-other|%s|version=1,account=admin,fingerprint=%s;perch-e2e|%s|version=1,account=admin,fingerprint=%s",
			tlsPort, strings.Repeat("AB:", 31)+"AB", tlsPort, st.Fingerprint)
		p := startProgram(t, append(harnessEnv, mdns), filepath.Join(dir, "firmware"))
		p.waitLine(0, "mDNS: skipping perch-other.local: its CA is not the one in perch_ca.h")
		p.waitLine(0, "mDNS: found perch-e2e.local port "+tlsPort+", its CA fingerprint matches")
		p.waitLine(p.waitLine(0, "over TLS (ESP32 WiFiClientSecure, setCACert) to perch-e2e.local:"+tlsPort), "TLS: TLSv1.2, ECDHE-ECDSA-")
		exerciseSketch(t, g, p, device, topic, "digitalWrite(2, HIGH)", "digitalWrite(2, LOW)", "temp", "hum", "rssi")

		// Disabled, the device is cut off and refused; it retries with
		// backoff and is back once enabled, its LED as the retained
		// switch state says.
		mark := p.mark()
		perch(t, g.dd, "device", "disable", device)
		p.waitLine(mark, "MQTT: connection lost")
		refused := p.waitLine(mark, "MQTT: connect failed, rc=5: not authorized")
		p.waitLine(refused, "MQTT: next try in ")
		perch(t, g.dd, "device", "enable", device)
		back := p.waitLine(refused, "MQTT: connected")
		p.waitLine(back, "digitalWrite(2, LOW)")
		since := time.Now().UnixMilli()
		g.waitRecord(t, device, "a reading after the reconnect", func(r record) bool {
			ts, _ := r["ts"].(float64)
			return int64(ts) > since && hasFields("temp", "hum")(r)
		})
		p.stop()
	})

	// The ESP8266 sketch, BearSSL with the CA as trust anchor, by host name.
	t.Run("esp8266-bearssl", func(t *testing.T) {
		t.Parallel()
		g := startFWGateway(t)
		const device = "balcony-1"
		creds := g.addDevice(t, device)
		dir := filepath.Join(build, "esp8266-bearssl")
		writeSketchFiles(t, dir, wifiSecrets+fmt.Sprintf(`#define PERCH_HOST "perch-e2e.local"
#define PERCH_PORT %s
#define PERCH_ACCOUNT "admin"
#define DEVICE_ID %q
#define DEVICE_CREDENTIALS %q
#define NTP_SERVER "ntp.invalid"
#define PUBLISH_INTERVAL_MS 500UL
`, port(g.s.ready["mqtt_tls"]), device, creds), []byte(perch(t, g.dd, "ca", "export", "--format", "c")))
		makeFirmware(t, build, obj, filepath.Join(dir, "firmware"))
		p := startProgram(t, harnessEnv, filepath.Join(dir, "firmware"))
		p.waitLine(p.waitLine(0, "over TLS (ESP8266 BearSSL::WiFiClientSecure, setTrustAnchors) to perch-e2e.local:"), "TLS: TLSv1.2, ECDHE-ECDSA-")
		// The on-board LED lights when its pin is LOW.
		exerciseSketch(t, g, p, device, "cmd/"+device+"/led", "digitalWrite(2, LOW)", "digitalWrite(2, HIGH)", "temp", "hum", "rssi")
		p.stop()
	})

	// The Uno sketch over the plain listener, which only its gateway has on.
	t.Run("arduino-ethernet", func(t *testing.T) {
		t.Parallel()
		g := startFWGateway(t, "--mqtt-tcp-enabled", "--mqtt-tcp-address", "127.0.0.1:0")
		const device = "cellar-1"
		creds := g.addDevice(t, device)
		dir := filepath.Join(build, "arduino-ethernet")
		writeSketchFiles(t, dir, fmt.Sprintf(`#define DEVICE_MAC 0xDE, 0xAD, 0xBE, 0xEF, 0xFE, 0x01
#define PERCH_IP 127, 0, 0, 1
#define PERCH_PORT %s
#define PERCH_ACCOUNT "admin"
#define DEVICE_ID %q
#define DEVICE_CREDENTIALS %q
#define PUBLISH_INTERVAL_MS 500UL
`, port(g.s.ready["mqtt_tcp"]), device, creds), nil)
		makeFirmware(t, build, obj, filepath.Join(dir, "firmware"))
		p := startProgram(t, harnessEnv, filepath.Join(dir, "firmware"))
		p.waitLine(0, "MQTT 3.1.1 over TCP to 127.0.0.1:"+port(g.s.ready["mqtt_tcp"]))
		exerciseSketch(t, g, p, device, "cmd/"+device+"/led", "digitalWrite(7, HIGH)", "digitalWrite(7, LOW)", "temp")
		p.stop()
	})

	// TLS is real: the ESP32 sketch with another CA than the gateway's is
	// refused at the handshake, and so is the ESP8266 sketch connecting by
	// IP address (the chips' TLS libraries check DNS names only); both
	// retry with backoff, and nothing arrives.
	t.Run("wrong CA", func(t *testing.T) {
		t.Parallel()
		g := startFWGateway(t)
		refusedTLS(t, g, obj, "esp32-pubsubclient", "greenhouse-2", "perch-e2e.local", pki.FormatC(otherCA(t)),
			"the gateway's certificate is refused")
	})
	t.Run("by IP address", func(t *testing.T) {
		t.Parallel()
		g := startFWGateway(t)
		refusedTLS(t, g, obj, "esp8266-bearssl", "balcony-2", "127.0.0.1", perch(t, g.dd, "ca", "export", "--format", "c"),
			"the gateway's certificate is refused: hostname mismatch")
	})
}

// The Python script for a Raspberry Pi, with Debian's paho-mqtt, against
// a real gateway: its readings land in the bucket, and the switch's on and
// off reach it.
func TestFirmwarePython(t *testing.T) {
	t.Parallel()
	const python = "/usr/bin/python3" // Debian's, where python3-paho-mqtt installs
	if out, err := exec.Command(python, "-c", "import paho.mqtt.client").CombinedOutput(); err != nil {
		missing(t, "python-paho: %s cannot import paho.mqtt (Debian: apt-get install python3-paho-mqtt): %v %s", python, err, out)
	}
	g := startFWGateway(t)
	const device = "pi-1"
	creds := g.addDevice(t, device)
	ca := filepath.Join(t.TempDir(), "perch-ca.pem")
	if err := os.WriteFile(ca, []byte(perch(t, g.dd, "ca", "export")), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProgram(t, []string{"PERCH_DEVICE_CREDENTIALS=" + creds, "PYTHONDONTWRITEBYTECODE=1"}, python,
		filepath.Join(firmwareDir(t), "python-paho", "perch_sensor.py"),
		"--host", "localhost", "--port", port(g.s.ready["mqtt_tls"]), "--cafile", ca,
		"--account", "admin", "--device", device, "--interval", "0.3")
	p.waitLine(0, "MQTT: connected")
	g.waitRecord(t, device, "a reading", ledIs(0, "load", "mem"))
	mark := p.mark()
	g.switchPublish(t, "cmd/"+device+"/led", "on", 1)
	p.waitLine(mark, "LED on")
	g.waitRecord(t, device, "led 1", ledIs(1, "load", "mem"))
	mark = p.mark()
	g.switchPublish(t, "cmd/"+device+"/led", "off", 1)
	p.waitLine(mark, "LED off")
	g.noRejections(t)
	p.stop()
	p.waitLine(0, "Stopped after")
}

// refusedTLS builds sketch with the CA header ca, to connect to host, and
// checks that the TLS handshake fails as want says, again after the
// backoff, and that the device never logged in.
func refusedTLS(t *testing.T, g *fwGateway, obj, sketch, device, host, ca, want string) {
	t.Helper()
	creds := g.addDevice(t, device)
	build := filepath.Join(t.TempDir(), "build")
	dir := filepath.Join(build, sketch)
	writeSketchFiles(t, dir, wifiSecrets+fmt.Sprintf(`#define PERCH_HOST %q
#define PERCH_PORT %s
#define PERCH_USE_MDNS 0
#define PERCH_ACCOUNT "admin"
#define DEVICE_ID %q
#define DEVICE_CREDENTIALS %q
`, host, port(g.s.ready["mqtt_tls"]), device, creds), []byte(ca))
	makeFirmware(t, build, obj, filepath.Join(dir, "firmware"))
	p := startProgram(t, harnessEnv, filepath.Join(dir, "firmware"))
	p.waitLine(p.waitLine(0, want), "MQTT: connect failed, rc=-2")
	again := p.waitLine(p.waitLine(0, "MQTT: next try in"), want)
	p.waitLine(again, "MQTT: connect failed, rc=-2")
	p.stop()
	var d struct {
		Status struct {
			LastSeen *time.Time `json:"last_seen"`
		}
	}
	if err := json.Unmarshal([]byte(perch(t, g.dd, "device", "show", device, "--json")), &d); err != nil {
		t.Fatal(err)
	}
	if d.Status.LastSeen != nil {
		t.Errorf("%s logged in (last seen %v) through a TLS connection that must fail", device, d.Status.LastSeen)
	}
	if recs := readJSON(t, g.dd, "bucket", "read", "env"); len(recs) != 0 {
		t.Errorf("readings arrived through a TLS connection that must fail: %v", recs)
	}
}

// otherCA is a CA certificate, PEM, that signed nothing the gateway has.
func otherCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "Not the Perch CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
