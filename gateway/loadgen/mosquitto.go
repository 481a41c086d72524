package loadgen

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MosquittoConfig configures StartMosquitto. Its zero value starts
// `mosquitto` from PATH with one device. The limits default to Perch's own
// per-client defaults, so both brokers queue and hold the same amounts.
type MosquittoConfig struct {
	Binary string // default "mosquitto"
	Passwd string // mosquitto_passwd; default: beside Binary, else from PATH
	// Devices is the number of users to create, "bench-000001" and on,
	// each with its own random password; default 1.
	Devices int
	// MaxQueued is max_queued_messages (Perch's MaxQueued, 256);
	// MaxInflight max_inflight_messages (Perch's MaxInflight, 256);
	// MaxPacketSize max_packet_size (Perch's MaxPacketSize, 256 KiB).
	MaxQueued, MaxInflight, MaxPacketSize int
	// NoDelay sets set_tcp_nodelay true. Mosquitto's default (false) leaves
	// Nagle's algorithm on, which merges its small writes.
	NoDelay bool
	// Persistence keeps sessions and queued messages across a Stop and
	// Restart (Mosquitto saves them when it is stopped, not when killed).
	Persistence bool
	// Dir is where the temporary directory is made; default os.TempDir.
	Dir    string
	Logger *slog.Logger
}

// Mosquitto is a running Mosquitto broker with its own CA, server
// certificate, password file and configuration in a temporary directory,
// listening for MQTT over TLS on a free 127.0.0.1 port.
type Mosquitto struct {
	dir     string
	bin     string
	cfg     MosquittoConfig
	certs   certFiles
	addr    string
	tls     *tls.Config
	devices []Device
	proc    *Process
	child   *child
	version string
	conf    string
	log     *slog.Logger
}

// readyTimeout bounds the wait for a started broker to accept a client.
const readyTimeout = 30 * time.Second

func (c MosquittoConfig) withDefaults() MosquittoConfig {
	if c.Binary == "" {
		c.Binary = "mosquitto"
	}
	if c.Passwd == "" {
		c.Passwd = "mosquitto_passwd"
		if dir := filepath.Dir(c.Binary); dir != "." {
			if p := filepath.Join(dir, "mosquitto_passwd"); fileExists(p) {
				c.Passwd = p
			}
		}
	}
	if c.Devices == 0 {
		c.Devices = 1
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = 256
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 256
	}
	if c.MaxPacketSize == 0 {
		c.MaxPacketSize = 256 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// StartMosquitto writes the broker's files, starts it and waits until a
// device can log in. Close stops it and removes the files.
func StartMosquitto(ctx context.Context, cfg MosquittoConfig) (m *Mosquitto, err error) {
	cfg = cfg.withDefaults()
	if cfg.Devices < 1 {
		return nil, fmt.Errorf("%w: mosquitto needs at least one device", ErrInvalid)
	}
	bin, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: mosquitto: %v", ErrBroker, err)
	}
	passwd, err := exec.LookPath(cfg.Passwd)
	if err != nil {
		return nil, fmt.Errorf("%w: mosquitto_passwd: %v", ErrBroker, err)
	}
	dir, err := os.MkdirTemp(cfg.Dir, "perch-bench-mosquitto-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBroker, err)
	}
	m = &Mosquitto{dir: dir, bin: bin, cfg: cfg, log: cfg.Logger, version: mosquittoVersion(ctx, bin)}
	defer func() {
		if err != nil {
			m.Close()
			m = nil
		}
	}()

	certs, err := writeCerts(dir)
	if err != nil {
		return m, err
	}
	m.certs = certs
	m.tls = &tls.Config{RootCAs: certs.Pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	t0 := time.Now()
	m.devices, err = writePasswords(ctx, passwd, filepath.Join(dir, "passwd"), cfg.Devices)
	if err != nil {
		return m, err
	}
	m.log.Info("password file written", "broker", "mosquitto", "devices", cfg.Devices, "in", time.Since(t0).Round(time.Millisecond))

	// The port is found free and then handed to Mosquitto; should another
	// process take it in between, Mosquitto exits and we try another.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		if err = m.start(ctx, bin, cfg, certs); err == nil || attempt == attempts || ctx.Err() != nil {
			break
		}
		m.log.Warn("start failed, retrying", "broker", "mosquitto", "err", err)
	}
	if err != nil {
		return m, err
	}
	return m, nil
}

func (m *Mosquitto) start(ctx context.Context, bin string, cfg MosquittoConfig, certs certFiles) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	m.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	m.conf = mosquittoConf(m.dir, port, cfg, certs)
	confPath := filepath.Join(m.dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(m.conf), 0o600); err != nil {
		return fmt.Errorf("%w: %v", ErrBroker, err)
	}
	if m.child != nil {
		m.child.stop()
	}
	m.child, err = startChild(bin, []string{"-c", confPath}, nil, filepath.Join(m.dir, "mosquitto.log"))
	if err != nil {
		return err
	}
	t := m.Target()
	if err := waitReady(ctx, t, m.child); err != nil {
		return err
	}
	m.proc, err = NewProcess(ctx, m.child.pid())
	if err != nil {
		return err
	}
	m.log.Info("ready", "broker", "mosquitto", "address", m.addr, "pid", m.child.pid(), "version", m.version)
	return nil
}

// mosquittoConf is the configuration file of a broker listening on port,
// with its password file in dir.
func mosquittoConf(dir string, port int, cfg MosquittoConfig, certs certFiles) string {
	return strings.Join([]string{
		"# Written by perch-bench: one TLS listener on loopback, password auth,",
		"# per-client limits mirroring Perch's defaults.",
		"per_listener_settings false",
		"allow_anonymous false",
		"password_file " + filepath.Join(dir, "passwd"),
		fmt.Sprintf("max_queued_messages %d", cfg.MaxQueued),
		fmt.Sprintf("max_inflight_messages %d", cfg.MaxInflight),
		fmt.Sprintf("max_packet_size %d", cfg.MaxPacketSize),
		fmt.Sprintf("persistence %t", cfg.Persistence),
		"persistence_location " + dir + "/",
		"persistent_client_expiration 1d", // Perch's SessionExpiry, 24 h
		fmt.Sprintf("set_tcp_nodelay %t", cfg.NoDelay),
		"log_dest stderr",
		"log_type error",
		"log_type warning",
		"connection_messages false",
		"user root", // as root, do not switch to the mosquitto user (which cannot read our files)
		fmt.Sprintf("listener %d 127.0.0.1", port),
		"cafile " + certs.CA,
		"certfile " + certs.Cert,
		"keyfile " + certs.Key,
		"",
	}, "\n")
}

// waitReady connects as client 0 until it succeeds, the process exits, or
// readyTimeout passes.
func waitReady(ctx context.Context, t Target, ch *child) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if ch.hasExited() {
			return ch.exitError()
		}
		c, err := t.connect(ctx, 0, clientOptions{receiveMax: 16})
		if err == nil {
			c.close()
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			if ch.hasExited() {
				return ch.exitError()
			}
			return fmt.Errorf("%w: %s not ready within %s: %v\n%s", ErrBroker, t.Name, readyTimeout, last, ch.logTail(2048))
		case <-tick.C:
		}
	}
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("%w: free port: %v", ErrBroker, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writePasswords writes n users with random passwords to path, as
// plaintext lines that `mosquitto_passwd -U` then hashes in place (much
// faster than one `mosquitto_passwd -b` per user).
func writePasswords(ctx context.Context, passwd, path string, n int) ([]Device, error) {
	devices := make([]Device, n)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: password file: %v", ErrBroker, err)
	}
	w := bufio.NewWriter(f)
	for i := range devices {
		id := DeviceID(i)
		devices[i] = Device{ClientID: id, Username: id, Password: randomSecret()}
		fmt.Fprintf(w, "%s:%s\n", id, devices[i].Password)
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return nil, fmt.Errorf("%w: password file: %v", ErrBroker, err)
	}
	out, err := exec.CommandContext(ctx, passwd, "-U", path).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%w: %s -U: %v: %s", ErrBroker, passwd, err, trimOutput(out))
	}
	return devices, nil
}

// trimOutput trims command output for an error message.
func trimOutput(out []byte) string { return strings.TrimSpace(string(out)) }

// DeviceID returns the id of benchmark device i: "bench-000001" for 0.
func DeviceID(i int) string { return fmt.Sprintf("bench-%06d", i+1) }

func randomSecret() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mosquittoVersion returns the version line of `mosquitto -h`.
func mosquittoVersion(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, "-h").CombinedOutput() // exits 3 after printing
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(strings.TrimSpace(line), "mosquitto version ")
}

// Target returns the broker as a load target, with its devices and process.
func (m *Mosquitto) Target() Target {
	return Target{
		Name:    "mosquitto",
		Address: m.addr,
		TLS:     m.tls,
		Devices: DeviceList(m.devices),
		Process: m.proc,
		Logger:  m.log,
		Binary:  m.bin,
		Starts:  mosquittoStarts{m},
	}
}

// Version returns Mosquitto's version, as "2.0.11".
func (m *Mosquitto) Version() string { return m.version }

// Config returns the configuration file it runs with.
func (m *Mosquitto) Config() string { return m.conf }

// Close stops the broker (SIGTERM, then SIGKILL after 5 s) and removes its
// directory. It may be called more than once.
func (m *Mosquitto) Close() {
	if m.child != nil {
		m.child.stop()
	}
	_ = os.RemoveAll(m.dir)
}

// CAFile is the path of the CA that signed the broker's certificate.
func (m *Mosquitto) CAFile() string { return m.certs.CA }

// Address is the broker's host:port.
func (m *Mosquitto) Address() string { return m.addr }

// Devices returns the credentials of the broker's users.
func (m *Mosquitto) Devices() []Device { return append([]Device(nil), m.devices...) }

// Stop stops the broker as a service manager would (SIGTERM, then SIGKILL
// after 5 s): with persistence on, it saves its state first.
func (m *Mosquitto) Stop() {
	if m.child != nil {
		m.child.stop()
	}
}

// Kill stops the broker at once with SIGKILL, as a crash would.
func (m *Mosquitto) Kill() {
	if m.child != nil && !m.child.hasExited() {
		_ = m.child.cmd.Process.Kill()
		<-m.child.exited
	}
}

// Restart starts the stopped broker again on the same port with the same
// files, and waits until a device can log in.
func (m *Mosquitto) Restart(ctx context.Context) error {
	m.Stop()
	confPath := filepath.Join(m.dir, "mosquitto.conf")
	var err error
	m.child, err = startChild(m.bin, []string{"-c", confPath}, nil, filepath.Join(m.dir, "mosquitto.log"))
	if err != nil {
		return err
	}
	if err := waitReady(ctx, m.Target(), m.child); err != nil {
		return err
	}
	m.proc, err = NewProcess(ctx, m.child.pid())
	return err
}
