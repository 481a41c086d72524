package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PerchConfig configures StartPerch.
type PerchConfig struct {
	// Binary is the perch executable (see BuildPerch).
	Binary string
	// Args are added to `perch serve` after the benchmark's own flags.
	Args []string
	// Devices is the number of devices to create, "bench-000001" and on;
	// default 1. Concurrency is how many are created at a time; default 16.
	Devices, Concurrency int
	// Dir is where the temporary directory is made; default os.TempDir.
	Dir    string
	Logger *slog.Logger
}

// Perch is a running Perch gateway with a fresh data directory, its MQTT
// over TLS and API listeners on free 127.0.0.1 ports.
type Perch struct {
	dir     string
	bin     string
	args    []string
	version string
	ready   perchReady
	tls     *tls.Config
	devices []Device
	proc    *Process
	child   *child
	log     *slog.Logger
}

// perchReady is the ready file `perch serve --ready-file` writes once
// listening.
type perchReady struct {
	MQTTTLS string `json:"mqtt_tls"`
	API     string `json:"api"`
	Socket  string `json:"socket"`
	Account string `json:"account"`
	CAFile  string `json:"ca_file"`
}

// BuildPerch builds github.com/perch-gw/perch/cmd/perch into dir with `go
// build` and returns the binary's path. It must run inside the module.
func BuildPerch(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "perch")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/perch-gw/perch/cmd/perch")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w: go build ./cmd/perch: %v\n%s", ErrBroker, err, trimOutput(out))
	}
	return bin, nil
}

// StartPerch starts `perch serve` on a fresh data directory, waits for its
// ready file, and creates the devices through the admin API on its unix
// socket. Close stops it and removes the directory.
func StartPerch(ctx context.Context, cfg PerchConfig) (p *Perch, err error) {
	if cfg.Devices == 0 {
		cfg.Devices = 1
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Devices < 1 || cfg.Concurrency < 1 {
		return nil, fmt.Errorf("%w: perch %d devices, %d at a time", ErrInvalid, cfg.Devices, cfg.Concurrency)
	}
	bin, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: perch: %v", ErrBroker, err)
	}
	dir, err := os.MkdirTemp(cfg.Dir, "perch-bench-perch-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBroker, err)
	}
	p = &Perch{dir: dir, bin: bin, args: cfg.Args, log: cfg.Logger, version: perchVersion(ctx, bin)}
	defer func() {
		if err != nil {
			p.Close()
			p = nil
		}
	}()

	readyFile := filepath.Join(dir, "ready.json")
	args := append([]string{"serve",
		"--data-dir", filepath.Join(dir, "data"),
		"--mqtt-tls-address", "127.0.0.1:0",
		"--api-address", "127.0.0.1:0",
		"--ready-file", readyFile,
		"--mdns-enabled=false", // a benchmark advertises nothing on the LAN
	}, cfg.Args...)
	p.child, err = startChild(bin, args, perchEnv(), filepath.Join(dir, "perch.log"))
	if err != nil {
		return p, err
	}
	if p.ready, err = waitReadyFile(ctx, readyFile, p.child); err != nil {
		return p, err
	}
	if err := checkLoopback(p.ready.MQTTTLS); err != nil {
		return p, err
	}
	pem, err := os.ReadFile(p.ready.CAFile)
	if err != nil {
		return p, fmt.Errorf("%w: perch CA: %v", ErrBroker, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return p, fmt.Errorf("%w: perch CA %s: no certificate", ErrBroker, p.ready.CAFile)
	}
	host, _, _ := net.SplitHostPort(p.ready.MQTTTLS)
	p.tls = &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
	if p.proc, err = NewProcess(ctx, p.child.pid()); err != nil {
		return p, err
	}
	p.log.Info("listening", "broker", "perch", "mqtt_tls", p.ready.MQTTTLS, "pid", p.child.pid())

	t0 := time.Now()
	if p.devices, err = p.createDevices(ctx, cfg.Devices, cfg.Concurrency); err != nil {
		return p, err
	}
	p.log.Info("devices created", "broker", "perch", "devices", cfg.Devices, "in", time.Since(t0).Round(time.Millisecond))
	if err := waitReady(ctx, p.Target(), p.child); err != nil {
		return p, err
	}
	return p, nil
}

// perchEnv is our environment without PERCH_* variables, so that a
// developer's own settings do not change the benchmark.
func perchEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PERCH_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReadyFile polls for the ready file until it parses, the process
// exits, or readyTimeout passes. Perch writes it atomically (rename).
func waitReadyFile(ctx context.Context, path string, ch *child) (perchReady, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if ch.hasExited() {
			return perchReady{}, ch.exitError()
		}
		if b, err := os.ReadFile(path); err == nil {
			var r perchReady
			if err := json.Unmarshal(b, &r); err != nil {
				return r, fmt.Errorf("%w: perch ready file %s: %v", ErrBroker, path, err)
			}
			if r.MQTTTLS == "" || r.Socket == "" || r.Account == "" || r.CAFile == "" {
				return r, fmt.Errorf("%w: perch ready file lacks mqtt_tls, socket, account or ca_file: %s", ErrBroker, b)
			}
			return r, nil
		}
		select {
		case <-ctx.Done():
			if ch.hasExited() {
				return perchReady{}, ch.exitError()
			}
			return perchReady{}, fmt.Errorf("%w: perch wrote no ready file within %s\n%s", ErrBroker, readyTimeout, ch.logTail(2048))
		case <-tick.C:
		}
	}
}

// createTimeout bounds one device creation request.
const createTimeout = 30 * time.Second

// createDevices creates n devices through the admin API on the unix socket
// (no authentication is needed there), `parallel` at a time.
func (p *Perch) createDevices(ctx context.Context, n, parallel int) ([]Device, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p.ready.Socket)
		},
		MaxIdleConnsPerHost: parallel,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: createTimeout}

	devices := make([]Device, n)
	var (
		errOnce  sync.Once
		firstErr error
		failed   atomic.Bool
	)
	forEach(n, parallel, func(i int) {
		if ctx.Err() != nil || failed.Load() {
			return
		}
		d, err := createDevice(ctx, hc, DeviceID(i))
		if err != nil {
			errOnce.Do(func() { firstErr = err })
			failed.Store(true)
			return
		}
		d.Username = p.ready.Account
		devices[i] = d
	})
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return devices, nil
}

// createDevice makes POST /api/v1/devices {"id": id} and returns the
// device with its generated credentials.
func createDevice(ctx context.Context, hc *http.Client, id string) (Device, error) {
	body, _ := json.Marshal(map[string]string{"id": id})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://perch/api/v1/devices", bytes.NewReader(body))
	if err != nil {
		return Device{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return Device{}, fmt.Errorf("%w: create device %s: %v", ErrBroker, id, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Device{}, fmt.Errorf("%w: create device %s: %v", ErrBroker, id, err)
	}
	if resp.StatusCode != http.StatusCreated {
		return Device{}, fmt.Errorf("%w: create device %s: %s: %s", ErrBroker, id, resp.Status, bytes.TrimSpace(b))
	}
	var out struct {
		ID          string `json:"id"`
		Credentials string `json:"credentials"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return Device{}, fmt.Errorf("%w: create device %s: %v: %s", ErrBroker, id, err, b)
	}
	if out.ID != id || out.Credentials == "" {
		return Device{}, fmt.Errorf("%w: create device %s: unexpected answer %s", ErrBroker, id, b)
	}
	return Device{ClientID: out.ID, Password: out.Credentials}, nil
}

// Target returns the gateway as a load target, with its devices and process.
func (p *Perch) Target() Target {
	return Target{
		Name:    "perch",
		Address: p.ready.MQTTTLS,
		TLS:     p.tls,
		Devices: DeviceList(p.devices),
		Process: p.proc,
		Logger:  p.log,
		Buckets: p.buckets(),
		Binary:  p.bin,
		Starts:  perchStarts{p},
	}
}

// Version returns what `perch --version` printed.
func (p *Perch) Version() string { return p.version }

func perchVersion(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(strings.TrimSpace(line), "perch version ")
}

// Close stops the gateway (SIGTERM, then SIGKILL after 5 s) and removes
// its directory. It may be called more than once.
func (p *Perch) Close() {
	if p.child != nil {
		p.child.stop()
	}
	_ = os.RemoveAll(p.dir)
}
