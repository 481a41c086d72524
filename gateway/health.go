package gateway

import (
	"errors"

	"github.com/perch-gw/perch/gateway/broker"
	"github.com/perch-gw/perch/gateway/bucket"
	"github.com/perch-gw/perch/gateway/health"
	"github.com/perch-gw/perch/gateway/upstream"
)

// HealthBucket is the built-in bucket that records the health reports.
const HealthBucket = "health"

// newHealth starts the health reports and status LED, or returns nil when
// they are off or cannot start: they never stop the gateway.
func (g *Gateway) newHealth() *health.Monitor {
	hc := g.cfg.Health
	if !hc.Enabled {
		return nil
	}
	if err := g.ensureHealthBucket(); err != nil {
		g.log.Warn("health: could not create the health bucket; reports are published but not recorded", "bucket", HealthBucket, "err", err)
	}
	m, err := health.New(health.Config{
		Hostname:  g.cfg.Hostname,
		Interval:  hc.Interval,
		DataDir:   g.cfg.DataDir,
		LED:       hc.LED,
		Publisher: g.broker,
		Stats:     healthStats{g.broker},
		Upstream:  g.upstreamHealth(),
		Logger:    g.log,
	})
	if err != nil {
		g.log.Warn("health: reports off", "err", err)
		return nil
	}
	return m
}

// ensureHealthBucket creates the bucket "health" on perch/+/health when
// there is none. An existing bucket of that id, changed or not, is the
// user's and left alone with its data.
func (g *Gateway) ensureHealthBucket() error {
	_, err := g.buckets.Get(HealthBucket)
	if !errors.Is(err, bucket.ErrNotFound) {
		return err
	}
	_, err = g.buckets.Create(bucket.Bucket{
		ID: HealthBucket, Name: "Gateway health", Description: "The gateway's own health reports (built in).",
		Enabled: true, Topic: health.Topic("+"), Retention: bucket.Duration(bucket.DefaultRetention),
		Resolution: bucket.Duration(bucket.DefaultResolution), Provisioned: true,
	})
	return err
}

// healthStats adapts the broker to health.StatsSource.
type healthStats struct{ b *broker.Broker }

var _ health.StatsSource = healthStats{}

func (h healthStats) BrokerStats() health.BrokerStats {
	s := h.b.Stats()
	return health.BrokerStats{
		Clients: s.ClientsConnected, MessagesIn: s.MessagesIn, MessagesOut: s.MessagesOut,
		InRate: s.InRate, OutRate: s.OutRate, StoreFailures: s.StoreFailures,
	}
}

// upstreamHealth is the upstream as the health reports see it; nil without one.
func (g *Gateway) upstreamHealth() health.UpstreamSource {
	if g.upstream == nil {
		return nil
	}
	return upstreamHealth{g.upstream}
}

type upstreamHealth struct{ u *upstream.Upstream }

func (h upstreamHealth) UpstreamHealth() (bool, int64) { return h.u.Summary() }
