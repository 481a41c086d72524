package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// registerMetrics exposes the broker's and registry's counters. They are
// read at scrape time, so the hot path pays nothing for them.
func registerMetrics(reg *prometheus.Registry, g *Gateway) {
	counters := []struct {
		name, help string
		f          func() float64
	}{
		{"perch_mqtt_messages_received_total", "PUBLISH packets received from clients.", func() float64 { return float64(g.broker.Stats().MessagesIn) }},
		{"perch_mqtt_messages_sent_total", "PUBLISH packets sent to clients.", func() float64 { return float64(g.broker.Stats().MessagesOut) }},
		{"perch_mqtt_messages_dropped_total", "Messages dropped because a client's queue was full.", func() float64 { return float64(g.broker.Stats().MessagesDropped) }},
		{"perch_mqtt_bytes_received_total", "Bytes of MQTT received.", func() float64 { return float64(g.broker.Stats().BytesIn) }},
		{"perch_mqtt_bytes_sent_total", "Bytes of MQTT sent.", func() float64 { return float64(g.broker.Stats().BytesOut) }},
		{"perch_mqtt_auth_failures_total", "Refused MQTT logins.", func() float64 { return float64(g.broker.Stats().AuthFailures) }},
		{"perch_mqtt_auth_throttled_total", "MQTT logins from throttled source addresses.", func() float64 { return float64(g.broker.Stats().Throttled) }},
	}
	for _, c := range counters {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help}, c.f))
	}
	gauges := []struct {
		name, help string
		f          func() float64
	}{
		{"perch_mqtt_clients_connected", "Connected MQTT clients.", func() float64 { return float64(g.broker.Stats().ClientsConnected) }},
		{"perch_mqtt_sessions", "MQTT sessions, connected or kept for reconnection.", func() float64 { return float64(g.broker.Stats().Sessions) }},
		{"perch_mqtt_subscriptions", "MQTT subscriptions.", func() float64 { return float64(g.broker.Stats().Subscriptions) }},
		{"perch_mqtt_retained_messages", "Retained MQTT messages.", func() float64 { return float64(g.broker.Stats().Retained) }},
		{"perch_devices", "Registered devices.", func() float64 { return float64(g.registry.Len()) }},
	}
	for _, c := range gauges {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: c.name, Help: c.help}, c.f))
	}
}
