package gateway

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perch-gw/perch/gateway/api"
	"github.com/perch-gw/perch/gateway/bucket"
	"github.com/perch-gw/perch/gateway/upstream"
)

// newUpstream prepares the upstream link when upstream.url is set. Without
// one, it releases the journal holds a previous configuration left, so
// that no bucket keeps its journal for an upstream that is gone.
func (g *Gateway) newUpstream() (*upstream.Upstream, error) {
	uc := g.cfg.Upstream
	if uc.URL == "" {
		for _, id := range (upstreamSource{g.buckets}).BucketIDs() {
			st, err := g.buckets.Store(id)
			if err != nil {
				continue
			}
			if _, held := st.HoldOf(upstream.HoldName); held {
				if err := st.Release(upstream.HoldName); err != nil {
					g.log.Warn("upstream: could not release a bucket's journal", "bucket", id, "err", err)
				} else {
					g.log.Info("upstream: none configured; bucket journal no longer kept for it", "bucket", id)
				}
			}
		}
		return nil, nil
	}
	gw := uc.Gateway
	if gw == "" {
		gw = g.cfg.Hostname
	}
	var rules []upstream.Rule
	for _, r := range uc.Bridge {
		qos := byte(1)
		if r.QoS == "0" {
			qos = 0
		}
		rules = append(rules, upstream.Rule{Direction: r.Direction, Filter: r.Filter, LocalPrefix: r.LocalPrefix, RemotePrefix: r.RemotePrefix, QoS: qos})
	}
	u, err := upstream.New(upstream.Config{
		URL: uc.URL, ClientID: uc.ClientID, Username: uc.Username, Password: uc.Password,
		CertFile: uc.CertFile, KeyFile: uc.KeyFile, CAFile: uc.CAFile,
		Version: uc.MQTTVersion, KeepAlive: uc.KeepAlive, Gateway: gw,
		Buckets: uc.Buckets, Forward: len(uc.Buckets) > 0, Topic: uc.Topic,
		BatchSize: uc.BatchSize, MaxRate: uc.MaxRate, Inflight: uc.Inflight,
		Bridge: rules,
		Source: upstreamSource{g.buckets},
		Local:  g.broker,
		Logger: g.log,
	})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return u, nil
}

// upstreamSource adapts the buckets to upstream.Source.
type upstreamSource struct{ m *bucket.Manager }

func (s upstreamSource) BucketIDs() []string {
	infos := s.m.List()
	ids := make([]string, len(infos))
	for i, in := range infos {
		ids[i] = in.ID
	}
	return ids
}

func (s upstreamSource) Follower(id string) (upstream.Follower, error) {
	st, err := s.m.Store(id)
	if errors.Is(err, bucket.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", upstream.ErrGone, err)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// upstreamCollector reports the upstream link and each forwarded bucket.
type upstreamCollector struct{ u *upstream.Upstream }

var upstreamMetrics = struct {
	connected, attempts, lagPoints, lagSeconds, sent, batches, bridge, bridgeDropped *prometheus.Desc
}{
	connected:     prometheus.NewDesc("perch_upstream_connected", "1 while the upstream broker is connected.", nil, nil),
	attempts:      prometheus.NewDesc("perch_upstream_failed_attempts", "Failed connection attempts since the last success.", nil, nil),
	lagPoints:     prometheus.NewDesc("perch_upstream_lag_points", "Points of a bucket not yet acknowledged upstream.", []string{"bucket"}, nil),
	lagSeconds:    prometheus.NewDesc("perch_upstream_lag_seconds", "Age of the oldest point of a bucket not yet acknowledged upstream, by its timestamp.", []string{"bucket"}, nil),
	sent:          prometheus.NewDesc("perch_upstream_sent_points_total", "Points of a bucket acknowledged upstream since the start.", []string{"bucket"}, nil),
	batches:       prometheus.NewDesc("perch_upstream_sent_batches_total", "Batches of a bucket acknowledged upstream since the start.", []string{"bucket"}, nil),
	bridge:        prometheus.NewDesc("perch_upstream_bridge_messages_total", "Messages a bridge rule forwarded.", []string{"direction", "filter"}, nil),
	bridgeDropped: prometheus.NewDesc("perch_upstream_bridge_dropped_total", "Messages a bridge rule could not forward (link down or behind).", []string{"direction", "filter"}, nil),
}

func (c upstreamCollector) Describe(ch chan<- *prometheus.Desc) {
	m := upstreamMetrics
	for _, d := range []*prometheus.Desc{m.connected, m.attempts, m.lagPoints, m.lagSeconds, m.sent, m.batches, m.bridge, m.bridgeDropped} {
		ch <- d
	}
}

func (c upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	m := upstreamMetrics
	s := c.u.Status()
	up := 0.0
	if s.Connected {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(m.connected, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(m.attempts, prometheus.GaugeValue, float64(s.Attempts))
	for _, b := range s.Buckets {
		ch <- prometheus.MustNewConstMetric(m.lagPoints, prometheus.GaugeValue, float64(b.LagPoints), b.ID)
		ch <- prometheus.MustNewConstMetric(m.lagSeconds, prometheus.GaugeValue, b.LagSeconds, b.ID)
		ch <- prometheus.MustNewConstMetric(m.sent, prometheus.CounterValue, float64(b.SentPoints), b.ID)
		ch <- prometheus.MustNewConstMetric(m.batches, prometheus.CounterValue, float64(b.SentBatches), b.ID)
	}
	for _, r := range s.Bridge {
		ch <- prometheus.MustNewConstMetric(m.bridge, prometheus.CounterValue, float64(r.Messages), r.Direction, r.Filter)
		ch <- prometheus.MustNewConstMetric(m.bridgeDropped, prometheus.CounterValue, float64(r.Dropped), r.Direction, r.Filter)
	}
}

// apiUpstream is the upstream for the API: a nil interface without one.
func (g *Gateway) apiUpstream() api.Upstream {
	if g.upstream == nil {
		return nil
	}
	return g.upstream
}
