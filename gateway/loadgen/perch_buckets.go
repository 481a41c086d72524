package loadgen

import (
	"context"
	"fmt"

	apiclient "github.com/perch-gw/perch/gateway/client"
)

// perchBuckets drives a Perch gateway's buckets over its unix socket.
type perchBuckets struct{ c *apiclient.Client }

func (p *Perch) buckets() Buckets {
	c, err := apiclient.New(apiclient.Config{Socket: p.ready.Socket})
	if err != nil {
		return nil
	}
	return perchBuckets{c}
}

func (b perchBuckets) CreateBucket(ctx context.Context, id, topic string) error {
	if err := b.c.Do(ctx, "POST", "/api/v1/buckets", map[string]any{"id": id, "topic": topic}, nil); err != nil {
		return fmt.Errorf("%w: create bucket: %v", ErrBroker, err)
	}
	return nil
}

func (b perchBuckets) BucketStats(ctx context.Context, id string) (int64, int, int64, error) {
	var out struct {
		Stats struct {
			Points  int64 `json:"points"`
			Pending int   `json:"pending"`
			Bytes   int64 `json:"bytes"`
		} `json:"stats"`
	}
	if err := b.c.Do(ctx, "GET", "/api/v1/buckets/"+id, nil, &out); err != nil {
		return 0, 0, 0, fmt.Errorf("%w: bucket stats: %v", ErrBroker, err)
	}
	return out.Stats.Points, out.Stats.Pending, out.Stats.Bytes, nil
}

func (b perchBuckets) DeleteBucket(ctx context.Context, id string) error {
	return b.c.Do(ctx, "DELETE", "/api/v1/buckets/"+id, nil, nil)
}
