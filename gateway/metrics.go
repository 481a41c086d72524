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
		{"perch_mqtt_store_failures_total", "Messages not acknowledged because a bucket's store failed.", func() float64 { return float64(g.broker.Stats().StoreFailures) }},
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
	reg.MustRegister(bucketCollector{g})
}

// bucketCollector reports each bucket's stats, labelled with its id.
type bucketCollector struct{ g *Gateway }

var bucketMetrics = struct {
	points, series, bytes, pending, rejected, stalls, failed *prometheus.Desc
}{
	points:   prometheus.NewDesc("perch_bucket_points", "Points stored in a bucket.", []string{"bucket"}, nil),
	series:   prometheus.NewDesc("perch_bucket_series", "Series (field, device, topic) in a bucket.", []string{"bucket"}, nil),
	bytes:    prometheus.NewDesc("perch_bucket_bytes", "A bucket's size on disk.", []string{"bucket"}, nil),
	pending:  prometheus.NewDesc("perch_bucket_pending_points", "Points waiting to be compressed.", []string{"bucket"}, nil),
	rejected: prometheus.NewDesc("perch_bucket_rejected_total", "Messages a bucket refused (see its last rejection).", []string{"bucket"}, nil),
	stalls:   prometheus.NewDesc("perch_bucket_stalls_total", "Writes that waited because the bucket's writer was behind.", []string{"bucket"}, nil),
	failed:   prometheus.NewDesc("perch_bucket_failed", "1 when the bucket's store has failed and takes no more points.", []string{"bucket"}, nil),
}

func (c bucketCollector) Describe(ch chan<- *prometheus.Desc) {
	m := bucketMetrics
	for _, d := range []*prometheus.Desc{m.points, m.series, m.bytes, m.pending, m.rejected, m.stalls, m.failed} {
		ch <- d
	}
}

func (c bucketCollector) Collect(ch chan<- prometheus.Metric) {
	if c.g.buckets == nil {
		return
	}
	m := bucketMetrics
	for _, b := range c.g.buckets.List() {
		st := b.Stats
		failed := 0.0
		if st.Error != "" {
			failed = 1
		}
		for _, v := range []struct {
			d *prometheus.Desc
			t prometheus.ValueType
			v float64
		}{
			{m.points, prometheus.GaugeValue, float64(st.Points)},
			{m.series, prometheus.GaugeValue, float64(st.Series)},
			{m.bytes, prometheus.GaugeValue, float64(st.Bytes)},
			{m.pending, prometheus.GaugeValue, float64(st.Pending)},
			{m.rejected, prometheus.CounterValue, float64(st.Rejected)},
			{m.stalls, prometheus.CounterValue, float64(st.Stalls)},
			{m.failed, prometheus.GaugeValue, failed},
		} {
			ch <- prometheus.MustNewConstMetric(v.d, v.t, v.v, b.ID)
		}
	}
}
