package mdns

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/grandcat/zeroconf"
)

// Gateway is one gateway found by Browse.
type Gateway struct {
	Instance    string   `json:"instance"`
	Host        string   `json:"host"`
	Addresses   []string `json:"addresses"`
	Port        int      `json:"port"`
	Version     string   `json:"version"`
	Account     string   `json:"account"`
	Fingerprint string   `json:"fingerprint"`
}

// Browse lists the gateways that advertise MQTT over TLS on the given
// interfaces (every multicast-capable one when empty) until ctx is done,
// sorted by instance name.
func Browse(ctx context.Context, interfaces []string) ([]Gateway, error) {
	var opts []zeroconf.ClientOption
	if len(interfaces) > 0 {
		ifaces := make([]net.Interface, 0, len(interfaces))
		for _, name := range interfaces {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrInterface, name, err)
			}
			ifaces = append(ifaces, *ifi)
		}
		opts = append(opts, zeroconf.SelectIfaces(ifaces))
	}
	r, err := zeroconf.NewResolver(opts...)
	if err != nil {
		// Where udp6 is unavailable, IPv4 alone still works.
		if r, err = zeroconf.NewResolver(append(opts, zeroconf.SelectIPTraffic(zeroconf.IPv4))...); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInterface, err)
		}
	}
	entries := make(chan *zeroconf.ServiceEntry)
	found := make(map[string]Gateway)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range entries {
			found[e.Instance] = gatewayOf(e)
		}
	}()
	err = r.Browse(ctx, ServiceMQTTTLS, Domain, entries)
	if err != nil {
		<-done // the resolver closes entries once it has stopped
		return nil, fmt.Errorf("mdns: browsing %s: %w", ServiceMQTTTLS, err)
	}
	<-done // closed when ctx is done
	out := make([]Gateway, 0, len(found))
	for _, g := range found {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Instance < out[j].Instance })
	return out, nil
}

func gatewayOf(e *zeroconf.ServiceEntry) Gateway {
	g := Gateway{Instance: unescape(e.Instance), Host: strings.TrimSuffix(e.HostName, "."), Port: e.Port}
	for _, ip := range e.AddrIPv4 {
		g.Addresses = append(g.Addresses, ip.String())
	}
	for _, ip := range e.AddrIPv6 {
		g.Addresses = append(g.Addresses, ip.String())
	}
	for _, t := range e.Text {
		k, v, _ := strings.Cut(t, "=")
		switch k {
		case "version":
			g.Version = v
		case "account":
			g.Account = v
		case "fingerprint":
			g.Fingerprint = v
		}
	}
	return g
}

// unescape undoes the DNS presentation escaping of an instance name
// ("perch\ 1" → "perch 1").
func unescape(s string) string {
	return strings.ReplaceAll(s, `\`, "")
}
