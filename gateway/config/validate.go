package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// minPacketSize leaves room for a CONNECT with a long client id, user
	// name and password plus a small will message.
	minPacketSize = 1 << 10
	// maxPacketSize is the largest size MQTT's variable-length header can
	// state: 256 MiB less one byte.
	maxPacketSize = 268435455
	// maxSessionExpiry is MQTT 5's largest session expiry interval, a 32-bit
	// number of seconds.
	maxSessionExpiry = math.MaxUint32 * time.Second
)

// bounds is an inclusive range of an int or duration key.
type bounds struct{ min, max int64 }

// limits is the range of every int and duration key that has one; Validate
// enforces it and Reference prints it.
func limits() map[string]bounds {
	const open = math.MaxInt64
	return map[string]bounds{
		"mqtt.max_packet_size": {minPacketSize, maxPacketSize},
		"mqtt.connect_timeout": {int64(time.Second), int64(5 * time.Minute)},
		"mqtt.max_queued":      {1, 1_000_000},
		"mqtt.max_inflight":    {1, 65535},
		"mqtt.session_expiry":  {int64(time.Second), int64(maxSessionExpiry)},
		"mqtt.max_clients":     {0, open},
		"mqtt.sys_interval":    {int64(time.Second), open},
		"api.session_ttl":      {int64(time.Minute), open},

		"storage.fsync_interval":     {0, int64(10 * time.Second)},
		"storage.partition_duration": {int64(time.Second), int64(24 * time.Hour)},
		"storage.max_pending":        {1000, 16 << 20},
		"health.interval":            {int64(5 * time.Second), int64(time.Hour)},
		"upstream.keepalive":         {int64(5 * time.Second), int64(time.Hour)},
		"upstream.batch_size":        {1, 10_000},
		"upstream.max_rate":          {0, 100_000_000},
		"upstream.inflight":          {1, 64},
	}
}

// describe prints the range for people: "1024 to 268435455", "at least 1s".
func (b bounds) describe(k kind) string {
	show := func(n int64) string {
		if d := time.Duration(n); k == kindDuration && d >= 1000*time.Hour && d%time.Second == 0 {
			return strconv.FormatInt(n/int64(time.Second), 10) + "s" // not 1193046h28m15s
		}
		if k == kindDuration {
			return formatDuration(time.Duration(n))
		}
		return strconv.FormatInt(n, 10)
	}
	if b.max == math.MaxInt64 {
		return "at least " + show(b.min)
	}
	return show(b.min) + " to " + show(b.max)
}

// Validate checks every value and returns all problems joined, one per
// key, each wrapping ErrInvalid and naming its key, e.g.
//
//	config: mqtt.tls.address: missing port in address "8883"
//	config: buckets[2].retention: "1year" is not a duration (want e.g. 365d, 2w, 12h or 0)
//
// Items of devices and buckets are named by their position from 0. Their
// names, descriptions, topic and ACL filters are left to the gateway, which
// checks them as the API does.
//
// Validate does not fill in defaults: call WithDefaults first for a Config
// that was not made by Load or Default.
func (c Config) Validate() error {
	s := newSchema()
	var problems []error
	bad := func(key, format string, args ...any) {
		problems = append(problems, &problem{key: key, msg: fmt.Sprintf(format, args...), kind: ErrInvalid})
	}

	if !validAccount(c.Account) {
		bad("account", "%q is not 1 to 64 letters, digits, '_' or '-'", c.Account)
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	switch {
	case c.TLS.CertFile != "" && c.TLS.KeyFile == "":
		bad("tls.key_file", "must be set with tls.cert_file")
	case c.TLS.CertFile == "" && c.TLS.KeyFile != "":
		bad("tls.cert_file", "must be set with tls.key_file")
	}
	if l := c.Health.LED; l != "" && !strings.EqualFold(l, "act") && !validPinName(l) {
		bad("health.led", "%q is not act or a GPIO pin name such as GPIO17", l)
	}
	c.validateUpstream(bad)
	if len(c.MDNS.Instance) > 63 || strings.Contains(c.MDNS.Instance, ".") {
		bad("mdns.instance", "%q is longer than 63 bytes or contains a dot", c.MDNS.Instance)
	}
	for i, name := range c.MDNS.Interfaces {
		if strings.TrimSpace(name) == "" {
			bad("mdns.interfaces", "item %d is empty", i+1)
		}
	}
	for i, name := range c.TLS.ExtraNames {
		if strings.TrimSpace(name) == "" {
			bad("tls.extra_names", "item %d is empty", i+1)
		}
	}

	lim := limits()
	for _, l := range s.leaves {
		b, ok := lim[l.key]
		if !ok {
			continue
		}
		n := l.field(&c).Int()
		if n < b.min || n > b.max {
			bad(l.key, "%s is out of range (allowed: %s)", format(l.get(c)), b.describe(l.kind))
		}
	}

	// Listeners: every section with enabled and address keys.
	type listener struct {
		key, addr, host, port string
	}
	var enabled []listener
	anyOn := false
	for _, l := range s.leaves {
		if !strings.HasSuffix(l.key, ".address") && l.key != "address" {
			continue
		}
		addr := l.get(c).(string)
		host, port, err := splitAddress(addr)
		if err != nil {
			bad(l.key, "%s", err)
			continue
		}
		section := strings.TrimSuffix(l.key, "address")
		if on := s.byKey[section+"enabled"]; on != nil && on.get(c).(bool) {
			enabled = append(enabled, listener{key: l.key, addr: addr, host: host, port: port})
		}
	}
	for _, key := range s.listenerSwitches() {
		anyOn = anyOn || s.byKey[key].get(c).(bool)
	}
	if !anyOn {
		bad("", "nothing to serve: every listener (%s) is disabled", strings.Join(s.listenerSwitches(), ", "))
	}
	for i, a := range enabled {
		for _, b := range enabled[:i] {
			if sameAddress(a.host, a.port, b.host, b.port) {
				bad(a.key, "%q is also %s (%q)", a.addr, b.key, b.addr)
			}
		}
	}

	for i := range s.lists {
		l := &s.lists[i]
		for _, ip := range checkList(l.value(&c).Interface()) {
			key := fmt.Sprintf("%s[%d]", l.key, ip.index)
			if ip.field != "" {
				key += "." + ip.field
			}
			bad(key, "%s", ip.msg)
		}
	}

	if len(problems) == 0 {
		return nil
	}
	// In the order of the keys, then the lists (in item order already),
	// problems of no one key last.
	order := make(map[string]int, len(s.leaves))
	for i, l := range s.leaves {
		order[l.key] = i
	}
	pos := func(e error) int {
		key := e.(*problem).key
		if i, ok := order[key]; ok {
			return i
		}
		for i, l := range s.lists {
			if strings.HasPrefix(key, l.key+"[") {
				return len(s.leaves) + i
			}
		}
		return len(s.leaves) + len(s.lists)
	}
	slices.SortStableFunc(problems, func(a, b error) int { return pos(a) - pos(b) })
	return errors.Join(problems...)
}

// listenerSwitches lists the enabled keys of the listeners.
func (s *schema) listenerSwitches() []string {
	var keys []string
	for _, l := range s.leaves {
		if section, ok := strings.CutSuffix(l.key, ".enabled"); ok && s.byKey[section+".address"] != nil {
			keys = append(keys, l.key)
		}
	}
	return keys
}

func validAccount(id string) bool {
	if len(id) < 1 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// splitAddress splits a listen address as net.Listen reads it, requiring a
// numeric port 0..65535.
func splitAddress(addr string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return "", "", fmt.Errorf("%s %q", ae.Err, ae.Addr)
		}
		return "", "", err
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", "", fmt.Errorf("invalid port %q in address %q (want 0 to 65535)", port, addr)
	}
	return host, strconv.FormatUint(n, 10), nil
}

// sameAddress reports whether two listeners would bind the same socket:
// the same fixed port on the same host or on all interfaces. Port 0 picks a
// free port each time, so it never conflicts.
func sameAddress(host1, port1, host2, port2 string) bool {
	if port1 != port2 || port1 == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return strings.EqualFold(host1, host2) || wildcard(host1) || wildcard(host2)
}

// validPinName says whether s can name a GPIO pin (GPIO17, P1_11).
func validPinName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// validateUpstream checks the upstream keys that can be checked without
// the network; the gateway checks the rest (files, filters) at start.
func (c Config) validateUpstream(bad func(key, format string, args ...any)) {
	u := c.Upstream
	if v := u.MQTTVersion; v != "5" && v != "3.1.1" {
		bad("upstream.mqtt_version", "%q is not 5 or 3.1.1", v)
	}
	if !strings.Contains(u.Topic, "{bucket}") {
		bad("upstream.topic", "%q does not contain {bucket}: every bucket's batches would share one topic", u.Topic)
	}
	if u.URL != "" {
		scheme, rest, ok := strings.Cut(u.URL, "://")
		switch {
		case !ok || rest == "":
			bad("upstream.url", "%q is not a URL such as mqtts://broker.example.com:8883", u.URL)
		case !slices.Contains([]string{"mqtt", "mqtts", "ws", "wss", "tcp", "ssl", "tls"}, strings.ToLower(scheme)):
			bad("upstream.url", "scheme %q is not mqtts, mqtt, wss or ws", scheme)
		}
	}
	if (u.CertFile == "") != (u.KeyFile == "") {
		bad("upstream.cert_file", "upstream.cert_file and upstream.key_file go together")
	}
	for i, name := range u.Buckets {
		if name != "*" && !validAccount(name) {
			bad("upstream.buckets", "item %d: %q is not * or a bucket id", i+1, name)
		}
	}
}
