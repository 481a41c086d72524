// Package mdns advertises the gateway on the local network with multicast
// DNS (DNS-SD): its MQTT over TLS, plain MQTT and HTTPS console services,
// with TXT records that carry the version, the account id and the CA's
// SHA-256 fingerprint so that a board can pin it. Browse finds gateways.
package mdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grandcat/zeroconf"
)

// Service types.
const (
	ServiceMQTTTLS = "_secure-mqtt._tcp"
	ServiceMQTT    = "_mqtt._tcp"
	ServiceHTTPS   = "_https._tcp"
	// Domain is the mDNS domain.
	Domain = "local."
	// DefaultInterval is how often the interfaces' addresses are checked.
	DefaultInterval = 30 * time.Second
	// maxInstance is the longest instance name: one DNS label.
	maxInstance = 63
)

var (
	// ErrConfig is returned by New for an unusable Config.
	ErrConfig = errors.New("mdns: invalid config")
	// ErrInterface is returned when a named interface does not exist or
	// none can carry multicast.
	ErrInterface = errors.New("mdns: no usable interface")
)

// AddrLister returns the addresses to advertise for the given interfaces.
type AddrLister func(ifaces []net.Interface) ([]net.IP, error)

// Config says what to advertise where. Ports left 0 are not advertised.
type Config struct {
	// Instance is the service instance name; perch-<hostname> when empty.
	Instance string
	// Hostname is the host name advertised as <hostname>.local; the
	// system's host name when empty. Only its first label is used.
	Hostname string
	// Interfaces are the names of the interfaces to advertise on; empty
	// means every multicast-capable interface that is up, loopback aside.
	Interfaces []string

	MQTTTLSPort int // _secure-mqtt._tcp
	MQTTPort    int // _mqtt._tcp, when the plain listener is on
	HTTPSPort   int // _https._tcp, the console and API

	// TXT records.
	Version, Account, Fingerprint string

	// Interval is how often the addresses are checked for changes;
	// DefaultInterval when 0.
	Interval time.Duration
	// Addrs lists the interfaces' addresses; InterfaceAddrs when nil.
	Addrs  AddrLister
	Logger *slog.Logger
}

// Advertiser registers the services and keeps them registered with the
// interfaces' current addresses.
type Advertiser struct {
	cfg  Config
	log  *slog.Logger
	stop chan struct{}

	closeOnce sync.Once
	running   sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	servers []*zeroconf.Server
	current string // the interfaces and addresses now advertised
}

// New checks cfg and fills in its defaults. Nothing is sent before Run.
func New(cfg Config) (*Advertiser, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "perch"
		}
		cfg.Hostname = h
	}
	cfg.Hostname, _, _ = strings.Cut(cfg.Hostname, ".")
	if cfg.Instance == "" {
		cfg.Instance = "perch-" + cfg.Hostname
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Addrs == nil {
		cfg.Addrs = InterfaceAddrs
	}
	switch {
	case len(cfg.Instance) > maxInstance:
		return nil, fmt.Errorf("%w: instance %q is longer than %d bytes", ErrConfig, cfg.Instance, maxInstance)
	case strings.ContainsAny(cfg.Instance, "."):
		return nil, fmt.Errorf("%w: instance %q contains a dot", ErrConfig, cfg.Instance)
	case cfg.Hostname == "":
		return nil, fmt.Errorf("%w: empty host name", ErrConfig)
	case len(cfg.services()) == 0:
		return nil, fmt.Errorf("%w: no service to advertise (every port is 0)", ErrConfig)
	}
	for _, p := range []int{cfg.MQTTTLSPort, cfg.MQTTPort, cfg.HTTPSPort} {
		if p < 0 || p > 65535 {
			return nil, fmt.Errorf("%w: port %d out of range", ErrConfig, p)
		}
	}
	return &Advertiser{cfg: cfg, log: cfg.Logger, stop: make(chan struct{})}, nil
}

// Instance is the advertised instance name.
func (a *Advertiser) Instance() string { return a.cfg.Instance }

type service struct {
	typ  string
	port int
	txt  []string
}

func (c Config) services() []service {
	txt := []string{"version=" + c.Version, "account=" + c.Account, "fingerprint=" + c.Fingerprint}
	var out []service
	if c.MQTTTLSPort > 0 {
		out = append(out, service{ServiceMQTTTLS, c.MQTTTLSPort, txt})
	}
	if c.MQTTPort > 0 {
		out = append(out, service{ServiceMQTT, c.MQTTPort, txt})
	}
	if c.HTTPSPort > 0 {
		out = append(out, service{ServiceHTTPS, c.HTTPSPort, append(slices.Clip(txt), "path=/")})
	}
	return out
}

// Run advertises until ctx is done or Close is called, re-registering
// whenever the interfaces' addresses change, then sends goodbyes. Failures
// to advertise are logged and retried at the next check: it returns nil.
func (a *Advertiser) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.running.Add(1)
	a.mu.Unlock()
	defer a.running.Done()
	defer a.unregister()

	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		a.refresh()
		select {
		case <-ctx.Done():
			return nil
		case <-a.stop:
			return nil
		case <-t.C:
		}
	}
}

// Close stops Run, sends goodbyes and waits. It is safe to call more than once.
func (a *Advertiser) Close() error {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
		close(a.stop)
		a.running.Wait()
		a.unregister()
	})
	return nil
}

// refresh registers the services again when the interfaces or their
// addresses differ from what is advertised.
func (a *Advertiser) refresh() {
	ifaces, err := a.interfaces()
	var ips []net.IP
	if err == nil {
		ips, err = a.cfg.Addrs(ifaces)
	}
	if err == nil && len(ips) == 0 {
		err = fmt.Errorf("%w: no address on %s", ErrInterface, ifaceNames(ifaces))
	}
	key := "error: " + fmt.Sprint(err)
	if err == nil {
		key = ifaceNames(ifaces) + " " + ipList(ips)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if key == a.current || a.closed {
		return
	}
	a.unregisterLocked()
	a.current = key
	if err != nil {
		a.log.Warn("not advertising over mDNS", "err", err)
		return
	}
	addrs := make([]string, len(ips))
	for i, ip := range ips {
		addrs[i] = ip.String()
	}
	for _, s := range a.cfg.services() {
		srv, err := zeroconf.RegisterProxy(a.cfg.Instance, s.typ, Domain, s.port, a.cfg.Hostname, addrs, s.txt, ifaces)
		if err != nil {
			a.log.Warn("could not advertise over mDNS", "service", s.typ, "err", err)
			a.current = "error: " + err.Error() // retry at the next check
			continue
		}
		a.servers = append(a.servers, srv)
	}
	a.log.Info("advertising over mDNS", "instance", a.cfg.Instance, "host", a.cfg.Hostname+".local",
		"interfaces", ifaceNames(ifaces), "addresses", strings.Join(addrs, ","))
}

func (a *Advertiser) unregister() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unregisterLocked()
	a.current = ""
}

// unregisterLocked sends goodbyes (TTL 0) and closes the servers.
func (a *Advertiser) unregisterLocked() {
	for _, s := range a.servers {
		s.Shutdown()
	}
	a.servers = nil
}

// interfaces resolves the configured names, or lists every interface that
// is up and multicast-capable, loopback aside.
func (a *Advertiser) interfaces() ([]net.Interface, error) {
	if len(a.cfg.Interfaces) > 0 {
		out := make([]net.Interface, 0, len(a.cfg.Interfaces))
		for _, name := range a.cfg.Interfaces {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrInterface, name, err)
			}
			out = append(out, *ifi)
		}
		return out, nil
	}
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInterface, err)
	}
	var out []net.Interface
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 && ifi.Flags&net.FlagLoopback == 0 {
			out = append(out, ifi)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no multicast-capable interface is up", ErrInterface)
	}
	return out, nil
}

// InterfaceAddrs is the default AddrLister: the IPv4 and IPv6 addresses
// of the interfaces, in a stable order.
func InterfaceAddrs(ifaces []net.Interface) ([]net.IP, error) {
	var out []net.IP
	for _, ifi := range ifaces {
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInterface, ifi.Name, err)
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !slices.ContainsFunc(out, n.IP.Equal) {
				out = append(out, n.IP)
			}
		}
	}
	return out, nil
}

func ifaceNames(ifaces []net.Interface) string {
	names := make([]string, len(ifaces))
	for i, ifi := range ifaces {
		names[i] = ifi.Name
	}
	return strings.Join(names, ",")
}

func ipList(ips []net.IP) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}
