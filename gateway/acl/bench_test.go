package acl

import "testing"

// tenRules is a realistic specific rule set: ten entries, with placeholders.
func tenRules() Rules {
	return Rules{
		Publish: []string{
			"devices/%c/up/#",
			"devices/%c/status",
			"accounts/%u/telemetry/%c/+",
		},
		Subscribe: []string{
			"devices/%c/cmd/+",
			"devices/%c/config",
			"devices/%c/ota/+/chunk/+",
			"accounts/%u/broadcast",
			"accounts/%u/groups/+/cmd",
			"fleet/+/announce",
			"time/utc",
			"weather/+/+/forecast",
			"alerts/%u/#",
			"$SYS/broker/uptime",
		},
	}
}

var sink bool

func BenchmarkCanReceive(b *testing.B) {
	cases := []struct {
		name  string
		rules Rules
		topic string
	}{
		{"default", DefaultRules(), "devices/dev-1/cmd/reboot"},
		{"default/dollar", DefaultRules(), "$SYS/broker/uptime"},
		{"10rules/first", tenRules(), "devices/dev-1/cmd/reboot"},
		{"10rules/last", tenRules(), "alerts/acme/fire/zone-3"},
		{"10rules/miss", tenRules(), "devices/dev-2/cmd/reboot"},
	}
	for _, bc := range cases {
		c := Compile(bc.rules, "dev-1", "acme")
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = c.CanReceive(bc.topic)
			}
		})
	}
}

func BenchmarkCanPublish(b *testing.B) {
	for _, bc := range []struct {
		name  string
		rules Rules
	}{{"default", DefaultRules()}, {"10rules", tenRules()}} {
		c := Compile(bc.rules, "dev-1", "acme")
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = c.CanPublish("accounts/acme/telemetry/dev-1/temp")
			}
		})
	}
}

func BenchmarkCanSubscribe(b *testing.B) {
	c := Compile(tenRules(), "dev-1", "acme")
	b.ReportAllocs()
	for b.Loop() {
		sink = c.CanSubscribe("$share/g/weather/+/+/forecast")
	}
}

func BenchmarkMatch(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sink = Match("sport/tennis/+/#", "sport/tennis/player1/score/wimbledon")
	}
}

func BenchmarkCompile(b *testing.B) {
	r := tenRules()
	b.ReportAllocs()
	for b.Loop() {
		_ = Compile(r, "dev-1", "acme")
	}
}
