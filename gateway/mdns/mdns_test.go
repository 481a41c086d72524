package mdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grandcat/zeroconf"
	"github.com/miekg/dns"
)

// Every test stays on the loopback interface: nothing is sent on the
// machine's real interfaces.

func loopback(t *testing.T) net.Interface {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			return ifi
		}
	}
	t.Skip("no loopback interface that is up")
	return net.Interface{}
}

// uniqueInstance keeps tests that run at the same time on this machine
// from seeing each other's gateways.
func uniqueInstance(t *testing.T) string {
	return fmt.Sprintf("perch-test-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
}

// staticAddrs is an AddrLister whose answer the test changes.
type staticAddrs struct {
	mu    sync.Mutex
	ips   []net.IP
	calls atomic.Int64
}

func (s *staticAddrs) set(ips ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ips = nil
	for _, ip := range ips {
		s.ips = append(s.ips, net.ParseIP(ip))
	}
}

func (s *staticAddrs) list([]net.Interface) ([]net.IP, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ips), nil
}

// browse collects the entries of service on lo for d, by instance, or
// until stop accepts one.
func browse(t *testing.T, lo net.Interface, service string, d time.Duration, stop func(*zeroconf.ServiceEntry) bool) map[string]*zeroconf.ServiceEntry {
	t.Helper()
	r, err := zeroconf.NewResolver(zeroconf.SelectIfaces([]net.Interface{lo}), zeroconf.SelectIPTraffic(zeroconf.IPv4))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	entries := make(chan *zeroconf.ServiceEntry)
	found := make(map[string]*zeroconf.ServiceEntry)
	if err := r.Browse(ctx, service, Domain, entries); err != nil {
		t.Fatal(err)
	}
	for e := range entries { // drained until the resolver closes it
		found[unescape(e.Instance)] = e
		if stop != nil && stop(e) {
			cancel()
		}
	}
	return found
}

// waitFor browses service on lo until instance appears and check accepts
// it, or fails after a deadline.
func waitFor(t *testing.T, lo net.Interface, service, instance string, check func(*zeroconf.ServiceEntry) bool) *zeroconf.ServiceEntry {
	t.Helper()
	ok := func(e *zeroconf.ServiceEntry) bool { return unescape(e.Instance) == instance && check(e) }
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if e, found := browse(t, lo, service, 3*time.Second, ok)[instance]; found && check(e) {
			return e
		}
	}
	t.Fatalf("%s %s not found on lo", instance, service)
	return nil
}

func start(t *testing.T, cfg Config) *Advertiser {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	t.Cleanup(func() {
		a.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return a
}

func TestAdvertisesServices(t *testing.T) {
	lo := loopback(t)
	addrs := &staticAddrs{}
	addrs.set("127.0.0.1")
	instance := uniqueInstance(t)
	start(t, Config{
		Instance:    instance,
		Hostname:    "perch-test.example.com",
		Interfaces:  []string{lo.Name},
		MQTTTLSPort: 18883,
		MQTTPort:    11883,
		HTTPSPort:   18443,
		Version:     "v1.2.3",
		Account:     "greenhouse",
		Fingerprint: "AB:CD",
		Addrs:       addrs.list,
	})
	wantTXT := []string{"version=v1.2.3", "account=greenhouse", "fingerprint=AB:CD"}
	for _, tc := range []struct {
		service string
		port    int
		txt     []string
	}{
		{ServiceMQTTTLS, 18883, wantTXT},
		{ServiceMQTT, 11883, wantTXT},
		{ServiceHTTPS, 18443, append(slices.Clone(wantTXT), "path=/")},
	} {
		t.Run(tc.service, func(t *testing.T) {
			e := waitFor(t, lo, tc.service, instance, func(*zeroconf.ServiceEntry) bool { return true })
			if e.Port != tc.port {
				t.Errorf("port %d, want %d", e.Port, tc.port)
			}
			if !slices.Equal(e.Text, tc.txt) {
				t.Errorf("TXT %q, want %q", e.Text, tc.txt)
			}
			if e.HostName != "perch-test.local." {
				t.Errorf("host %q, want perch-test.local.", e.HostName)
			}
			if len(e.AddrIPv4) != 1 || !e.AddrIPv4[0].Equal(net.IPv4(127, 0, 0, 1)) {
				t.Errorf("addresses %v, want 127.0.0.1", e.AddrIPv4)
			}
		})
	}
}

func TestPlainMQTTOnlyWhenOn(t *testing.T) {
	lo := loopback(t)
	addrs := &staticAddrs{}
	addrs.set("127.0.0.1")
	instance := uniqueInstance(t)
	start(t, Config{Instance: instance, Hostname: "perch-test", Interfaces: []string{lo.Name},
		MQTTTLSPort: 18883, Addrs: addrs.list})
	waitFor(t, lo, ServiceMQTTTLS, instance, func(*zeroconf.ServiceEntry) bool { return true })
	if _, ok := browse(t, lo, ServiceMQTT, 2*time.Second, nil)[instance]; ok {
		t.Error("_mqtt._tcp advertised without a plain MQTT port")
	}
}

func TestReregistersOnAddressChange(t *testing.T) {
	lo := loopback(t)
	addrs := &staticAddrs{}
	addrs.set("127.0.0.1")
	instance := uniqueInstance(t)
	start(t, Config{Instance: instance, Hostname: "perch-test", Interfaces: []string{lo.Name},
		MQTTTLSPort: 18883, Addrs: addrs.list, Interval: 50 * time.Millisecond})
	has := func(ip string) func(*zeroconf.ServiceEntry) bool {
		return func(e *zeroconf.ServiceEntry) bool {
			return slices.ContainsFunc(e.AddrIPv4, net.ParseIP(ip).Equal)
		}
	}
	waitFor(t, lo, ServiceMQTTTLS, instance, has("127.0.0.1"))
	addrs.set("127.0.0.2")
	e := waitFor(t, lo, ServiceMQTTTLS, instance, has("127.0.0.2"))
	if len(e.AddrIPv4) != 1 {
		t.Errorf("addresses %v, want only 127.0.0.2", e.AddrIPv4)
	}
}

// TestCloseSaysGoodbye listens on the mDNS group on lo and waits for a
// record of the instance with TTL 0 once Close has returned.
func TestCloseSaysGoodbye(t *testing.T) {
	lo := loopback(t)
	addrs := &staticAddrs{}
	addrs.set("127.0.0.1")
	instance := uniqueInstance(t)
	a, err := New(Config{Instance: instance, Hostname: "perch-test", Interfaces: []string{lo.Name},
		MQTTTLSPort: 18883, Addrs: addrs.list})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	waitFor(t, lo, ServiceMQTTTLS, instance, func(*zeroconf.ServiceEntry) bool { return true })

	goodbye := listenGoodbye(t, lo, instance)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	select {
	case <-goodbye:
	case <-time.After(10 * time.Second):
		t.Fatal("no goodbye (TTL 0) seen after Close")
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := a.Run(context.Background()); err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  error
	}{
		{"no port", Config{Hostname: "h"}, ErrConfig},
		{"long instance", Config{Hostname: "h", Instance: string(make([]byte, 64)), MQTTTLSPort: 1}, ErrConfig},
		{"dotted instance", Config{Hostname: "h", Instance: "a.b", MQTTTLSPort: 1}, ErrConfig},
		{"bad port", Config{Hostname: "h", MQTTTLSPort: 70000}, ErrConfig},
		{"ok", Config{Hostname: "pi.example.com", MQTTTLSPort: 8883}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(tc.cfg)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && a.Instance() != "perch-pi" {
				t.Errorf("instance %q, want perch-pi", a.Instance())
			}
		})
	}
}

func TestUnknownInterfaceIsNotFatal(t *testing.T) {
	a, err := New(Config{Hostname: "h", Interfaces: []string{"perch-no-such-if0"}, MQTTTLSPort: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBrowseOnLoopback(t *testing.T) {
	lo := loopback(t)
	addrs := &staticAddrs{}
	addrs.set("127.0.0.1")
	instance := uniqueInstance(t)
	start(t, Config{Instance: instance, Hostname: "perch-test", Interfaces: []string{lo.Name},
		MQTTTLSPort: 18883, Version: "v9", Account: "acct", Fingerprint: "FF", Addrs: addrs.list})
	want := Gateway{Instance: instance, Host: "perch-test.local", Addresses: []string{"127.0.0.1"},
		Port: 18883, Version: "v9", Account: "acct", Fingerprint: "FF"}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		gws, err := Browse(ctx, []string{lo.Name})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gws {
			if g.Instance == instance {
				if fmt.Sprint(g) != fmt.Sprint(want) {
					t.Fatalf("found %+v, want %+v", g, want)
				}
				return
			}
		}
	}
	t.Fatalf("%s not found", instance)
}

// listenGoodbye joins the mDNS group on lo and closes the returned channel
// when a record of instance arrives with TTL 0.
func listenGoodbye(t *testing.T, lo net.Interface, instance string) <-chan struct{} {
	t.Helper()
	c, err := net.ListenMulticastUDP("udp4", &lo, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	seen := make(chan struct{})
	go func() {
		buf := make([]byte, 9000)
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var m dns.Msg
			if m.Unpack(buf[:n]) != nil || !m.Response {
				continue
			}
			for _, rr := range append(m.Answer, m.Extra...) {
				if h := rr.Header(); h.Ttl == 0 && strings.HasPrefix(h.Name, instance+".") {
					close(seen)
					return
				}
			}
		}
	}()
	return seen
}
