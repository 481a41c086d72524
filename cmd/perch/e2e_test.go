package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests in this file run the real binary, as a user would.

var perchBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "perch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	perchBin = filepath.Join(dir, "perch")
	out, err := exec.Command("go", "build", "-o", perchBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build perch: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a `perch serve` process.
type server struct {
	t       *testing.T
	dataDir string
	cmd     *exec.Cmd
	stdout  *syncBuffer
	stderr  *syncBuffer
	ready   map[string]string
	exited  chan struct{}
}

func serve(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	return serveWith(t, []string{perchBin}, dataDir, extra...)
}

// serveWith runs `perch serve` as argv (a binary, or an emulator and a
// binary) with the test's loopback listeners and waits until it is ready.
func serveWith(t *testing.T, argv []string, dataDir string, extra ...string) *server {
	t.Helper()
	return serveWithEnv(t, argv, nil, dataDir, extra...)
}

// serveEnv is serve with environment variables (KEY=value) added.
func serveEnv(t *testing.T, dataDir string, env []string, extra ...string) *server {
	t.Helper()
	return serveWithEnv(t, []string{perchBin}, env, dataDir, extra...)
}

func serveWithEnv(t *testing.T, argv, env []string, dataDir string, extra ...string) *server {
	t.Helper()
	readyFile := filepath.Join(t.TempDir(), "ready.json")
	args := append(append(argv[1:len(argv):len(argv)], "serve", "--data-dir", dataDir, "--mqtt-tls-address", "127.0.0.1:0",
		"--api-address", "127.0.0.1:0", "--hostname", "perch-e2e", "--ready-file", readyFile, "--mdns-enabled=false", "--health-enabled=false"), extra...)
	s := &server{t: t, dataDir: dataDir, cmd: exec.Command(argv[0], args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	s.cmd.Env = append(cleanEnv(), env...)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(readyFile); err == nil {
			if err := json.Unmarshal(b, &s.ready); err != nil {
				t.Fatalf("ready file: %v", err)
			}
			return s
		}
		select {
		case <-s.exited:
			t.Fatalf("perch serve exited: %s\n%s", s.stderr, s.stdout)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("perch serve not ready after 30 s: %s", s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer that the process's output copier and the
// test may use at the same time.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// kill9 kills the server with SIGKILL and waits for it to be gone.
func (s *server) kill9() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PERCH_") {
			env = append(env, kv)
		}
	}
	return env
}

// perch runs a CLI command and returns its stdout, failing on error.
func perch(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := perchErr(args...)
	if err != nil {
		t.Fatalf("perch %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func perchErr(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(perchBin, args...)
	cmd.Env = cleanEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_ = ctx
	err = cmd.Run()
	return o.String(), e.String(), err
}

func TestCLIEndToEnd(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := serve(t, data)
	dd := "--data-dir=" + data

	if !strings.Contains(s.stdout.String(), "First start: the admin password is") {
		t.Errorf("banner lacks the first-start admin password:\n%s", s.stdout)
	}
	st, err := os.Stat(data)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode: %v %v", st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Join(data, "perch.sock")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode: %v %v", st, err)
	}

	// device add → credentials, shown once
	var added struct {
		ID          string `json:"id"`
		Credentials string `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(perch(t, dd, "device", "add", "sensor-1", "--name", "Greenhouse", "--json")), &added); err != nil {
		t.Fatal(err)
	}
	if added.ID != "sensor-1" || len(added.Credentials) < 22 {
		t.Fatalf("device add: %+v", added)
	}
	human := perch(t, dd, "device", "add", "sensor-2", "--publish", "sensors/%c/#")
	if !strings.Contains(human, "MQTT password") {
		t.Errorf("device add output:\n%s", human)
	}
	ls := perch(t, dd, "device", "ls")
	for _, want := range []string{"ID", "STATUS", "sensor-1", "Greenhouse", "sensor-2", "offline"} {
		if !strings.Contains(ls, want) {
			t.Errorf("device ls lacks %q:\n%s", want, ls)
		}
	}
	show := perch(t, dd, "device", "show", "sensor-2")
	if !strings.Contains(show, "sensors/%c/#") {
		t.Errorf("device show:\n%s", show)
	}
	perch(t, dd, "device", "disable", "sensor-2")
	var dev struct{ Enabled bool }
	_ = json.Unmarshal([]byte(perch(t, dd, "device", "show", "sensor-2", "--json")), &dev)
	if dev.Enabled {
		t.Error("disable did not stick")
	}
	perch(t, dd, "device", "enable", "sensor-2")
	rot := perch(t, dd, "device", "credentials", "sensor-2", "--json")
	if !strings.Contains(rot, `"credentials"`) {
		t.Errorf("credentials: %s", rot)
	}
	perch(t, dd, "device", "rm", "sensor-2")
	if _, errOut, err := perchErr(dd, "device", "show", "sensor-2"); err == nil || !strings.Contains(errOut, "not found") {
		t.Errorf("show of a deleted device: %v %s", err, errOut)
	}
	// bad input: one clear line naming the field
	if _, errOut, err := perchErr(dd, "device", "add", "bad id!"); err == nil || !strings.Contains(errOut, "id") {
		t.Errorf("bad id accepted or unclear: %v %q", err, errOut)
	}

	// tokens, and the remote CLI with one
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(perch(t, dd, "token", "create", "laptop", "--json")), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token create: %v", err)
	}
	perch(t, dd, "token", "create", "grafana", "--read-only")
	if tl := perch(t, dd, "token", "ls"); !strings.Contains(tl, "laptop") || !strings.Contains(tl, "read-only") {
		t.Errorf("token ls:\n%s", tl)
	}
	remote := []string{dd, "--server", "https://localhost:" + port(s.ready["api"]), "--token", tok.Token}
	if out := perch(t, append(remote, "device", "ls")...); !strings.Contains(out, "sensor-1") {
		t.Errorf("remote device ls:\n%s", out)
	}
	bad := append([]string{dd, "--server", "https://localhost:" + port(s.ready["api"]), "--token", "perch_nope_nope"}, "device", "ls")
	if _, errOut, err := perchErr(bad...); err == nil || !strings.Contains(errOut, "invalid API token") {
		t.Errorf("bad token: %v %s", err, errOut)
	}
	perch(t, dd, "token", "rm", "laptop")
	if _, _, err := perchErr(append(remote, "device", "ls")...); err == nil {
		t.Error("revoked token still works")
	}

	// status, version, ca export
	if out := perch(t, dd, "status"); !strings.Contains(out, "account id") || !strings.Contains(out, "1 of 1") && !strings.Contains(out, "0 of 1") {
		t.Errorf("status:\n%s", out)
	}
	if out := perch(t, "version"); !strings.HasPrefix(out, "perch ") {
		t.Errorf("version: %q", out)
	}
	if out := perch(t, dd, "ca", "export"); !strings.HasPrefix(out, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("ca export:\n%s", out)
	}
	if out := perch(t, dd, "ca", "export", "--format", "c"); !strings.Contains(out, `"-----BEGIN CERTIFICATE-----\n"`) {
		t.Errorf("ca export --format c:\n%s", out)
	}

	// graceful stop on SIGTERM within 5 s
	begin := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(6 * time.Second):
		t.Fatal("no exit within 6 s of SIGTERM")
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM: %s", code, s.stderr)
	}
	t.Logf("stopped in %v", time.Since(begin))

	// no gateway running: one line saying how to start one
	_, errOut, err := perchErr(dd, "device", "ls")
	if err == nil || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "perch serve") {
		t.Errorf("without a gateway: %v %q", err, errOut)
	}
}

func port(addr string) string {
	i := strings.LastIndex(addr, ":")
	return addr[i+1:]
}

// The registry survives kill -9: every acknowledged change was committed.
func TestRegistrySurvivesKill9(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := serve(t, data)
	dd := "--data-dir=" + data
	for i := 0; i < 20; i++ {
		perch(t, dd, "device", "add", fmt.Sprintf("dev-%02d", i))
	}
	perch(t, dd, "device", "disable", "dev-03")
	perch(t, dd, "token", "create", "ci")
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited

	s2 := serve(t, data)
	if strings.Contains(s2.stdout.String(), "admin password is") {
		t.Error("a new admin password after restart")
	}
	var ds []struct {
		ID      string
		Enabled bool
	}
	if err := json.Unmarshal([]byte(perch(t, dd, "device", "ls", "--json")), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds) != 20 {
		t.Fatalf("%d devices after kill -9, want 20", len(ds))
	}
	if ds[3].ID != "dev-03" || ds[3].Enabled {
		t.Errorf("dev-03 after kill -9: %+v", ds[3])
	}
	if !strings.Contains(perch(t, dd, "token", "ls"), "ci") {
		t.Error("token lost")
	}
}

// Fatal start-up errors: non-zero exit and one clear line.
func TestFatalErrors(t *testing.T) {
	occupied := filepath.Join(t.TempDir(), "data")
	s := serve(t, occupied)

	unwritable := filepath.Join(t.TempDir(), "ro")
	if err := os.MkdirAll(unwritable, 0o500); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(t.TempDir(), "corrupt")
	if err := os.MkdirAll(corrupt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corrupt, "perch.db"), bytes.Repeat([]byte("garbage!"), 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	badCert := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(badCert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	badYAML := filepath.Join(t.TempDir(), "perch.yaml")
	if err := os.WriteFile(badYAML, []byte("mqtt:\n  max_packet_size: big\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"port in use", []string{"--data-dir", t.TempDir() + "/a", "--mqtt-tls-address", s.ready["mqtt_tls"], "--api-address", "127.0.0.1:0"}, "address already in use"},
		{"data dir in use", []string{"--data-dir", occupied, "--mqtt-tls-address", "127.0.0.1:0", "--api-address", "127.0.0.1:0"}, "in use by another process"},
		{"corrupt registry", []string{"--data-dir", corrupt, "--mqtt-tls-address", "127.0.0.1:0", "--api-address", "127.0.0.1:0"}, "corrupt"},
		{"unreadable certificate", []string{"--data-dir", t.TempDir() + "/b", "--tls-cert-file", badCert, "--tls-key-file", badCert, "--mqtt-tls-address", "127.0.0.1:0", "--api-address", "127.0.0.1:0"}, badCert},
		{"data dir is a file", []string{"--data-dir", aFile, "--mqtt-tls-address", "127.0.0.1:0", "--api-address", "127.0.0.1:0"}, "data dir unusable"},
		{"bad config value", []string{"--config", badYAML, "--data-dir", t.TempDir() + "/c"}, "max_packet_size"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		tests = append(tests, struct {
			name string
			args []string
			want string
		}{"data dir not writable", []string{"--data-dir", unwritable, "--mqtt-tls-address", "127.0.0.1:0", "--api-address", "127.0.0.1:0"}, "not writable"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, err := perchErr(append([]string{"serve"}, tc.args...)...)
			if err == nil {
				t.Fatal("started")
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "perch: ") || !strings.Contains(last, tc.want) {
				t.Fatalf("last line %q, want one naming %q\n(all: %s)", last, tc.want, errOut)
			}
		})
	}
}

func TestPrintConfig(t *testing.T) {
	cmd := exec.Command(perchBin, "serve", "--print-config", "--account", "greenhouse", "--mqtt-tcp-enabled")
	cmd.Env = append(cleanEnv(), "PERCH_MQTT_MAX_PACKET_SIZE=65536")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"account: greenhouse", "max_packet_size: 65536", "connect_timeout: 10s"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out)
		}
	}
}
