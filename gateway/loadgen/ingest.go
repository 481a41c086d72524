package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Buckets is a target's data buckets, for the Ingest scenario: Perch has
// them, a plain broker has not (nil).
type Buckets interface {
	CreateBucket(ctx context.Context, id, topic string) error
	// BucketStats returns the points stored, the points not yet compressed
	// and the bytes on disk.
	BucketStats(ctx context.Context, id string) (points int64, pending int, bytes int64, err error)
	DeleteBucket(ctx context.Context, id string) error
}

// Ingest publishes sensor-like JSON messages at QoS 1 as fast as the broker
// acknowledges them, optionally into a data bucket, and measures the
// publishers' rate, the broker's CPU and what it wrote.
type Ingest struct {
	Publishers int           // default 10
	Window     int           // QoS 1 publishes in flight per publisher; default 16
	Fields     int           // numeric fields per message; default 10
	Duration   time.Duration // default 10 s
	// Bucket records the topic in a bucket (the target must have Buckets).
	Bucket bool
}

// IngestResult is the outcome of an Ingest run.
type IngestResult struct {
	Scenario    Ingest
	Published   uint64 // acknowledged messages
	Elapsed     time.Duration
	PublishRate float64 // acknowledged messages per second
	// Stored is the points the bucket holds at the end; Queryable is how
	// long after the last PUBACK it held every published point.
	Stored    int64
	Queryable time.Duration
	// Written is the bytes the broker process wrote (write system calls,
	// /proc/<pid>/io wchar) from the first publish until the points were
	// stored; DiskBytes is the bucket's size on disk at the end.
	Written, DiskBytes int64
	BrokerCPUPerMsg    time.Duration
	OtherCPU           float64
	Err                error
}

// Name describes the scenario.
func (s Ingest) Name() string {
	s = s.withDefaults()
	where := "no bucket"
	if s.Bucket {
		where = "into a bucket"
	}
	return fmt.Sprintf("%d publishers, QoS 1, %d-field JSON, %s", s.Publishers, s.Fields, where)
}

func (s Ingest) withDefaults() Ingest {
	if s.Publishers == 0 {
		s.Publishers = 10
	}
	if s.Window == 0 {
		s.Window = 16
	}
	if s.Fields == 0 {
		s.Fields = 10
	}
	if s.Duration == 0 {
		s.Duration = 10 * time.Second
	}
	return s
}

// sensorPayload writes one message of n fields that drift like sensor
// readings (two decimals).
func sensorPayload(b []byte, vals []float64, rng *rand.Rand) []byte {
	b = append(b[:0], '{')
	for i := range vals {
		vals[i] += float64(rng.IntN(21)-10) / 100
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\"f"...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, "\":"...)
		b = strconv.AppendFloat(b, float64(int64(vals[i]*100))/100, 'f', -1, 64)
	}
	return append(b, '}')
}

// Run runs the scenario against t.
func (s Ingest) Run(ctx context.Context, t Target) (IngestResult, error) {
	s = s.withDefaults()
	res := IngestResult{Scenario: s}
	log := t.log().With("scenario", "ingest "+s.Name())
	topic := newTopic("ingest")
	const bucketID = "bench-ingest"
	if s.Bucket {
		if t.Buckets == nil {
			return res, fmt.Errorf("%w: %s has no buckets", ErrInvalid, t.Name)
		}
		if err := t.Buckets.CreateBucket(ctx, bucketID, topic+"/#"); err != nil {
			return res, err
		}
		defer t.Buckets.DeleteBucket(context.WithoutCancel(ctx), bucketID)
	}
	pubs := make([]*client, s.Publishers)
	defer closeAll(pubs, 32)
	for i := range pubs {
		c, err := t.connect(ctx, i, clientOptions{receiveMax: 16})
		if err != nil {
			return res, err
		}
		pubs[i] = c
	}
	var (
		published atomic.Uint64
		errOnce   sync.Once
		firstErr  error
		wg        sync.WaitGroup
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	runCtx, stop := context.WithTimeout(ctx, s.Duration)
	defer stop()
	wchar0 := wchar(t.Process)
	cpu := startCPU(t.Process)
	start := time.Now()
	for i, c := range pubs {
		for w := range s.Window {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(i), uint64(w)))
				vals := make([]float64, s.Fields)
				for k := range vals {
					vals[k] = 10 + float64(k)*10
				}
				var buf []byte
				// A topic per worker: each stands for a device of its
				// own, as a gateway's many boards would, rather than one
				// board publishing thousands of readings a second (whose
				// same-millisecond readings would all be duplicates).
				msg := &paho.Publish{Topic: fmt.Sprintf("%s/%d/%d", topic, i, w), QoS: 1}
				for range maxPublishesPerWorker {
					if runCtx.Err() != nil {
						return
					}
					buf = sensorPayload(buf, vals, rng)
					msg.Payload = buf
					if _, err := c.mqtt.Publish(ctx, msg); err != nil {
						if runCtx.Err() == nil {
							fail(fmt.Errorf("loadgen: publish: %w", err))
						}
						return
					}
					published.Add(1)
				}
			})
		}
	}
	<-runCtx.Done()
	if done, ok := waitWithin(ctx, &wg, stopGrace); !ok {
		for _, c := range pubs {
			c.abort()
		}
		<-done
	}
	res.Elapsed = time.Since(start)
	res.Published = published.Load()
	res.PublishRate = perSecond(res.Published, res.Elapsed)
	if s.Bucket {
		want := int64(res.Published) * int64(s.Fields)
		deadline := time.Now().Add(60 * time.Second)
		for {
			points, pending, bytes, err := t.Buckets.BucketStats(ctx, bucketID)
			if err != nil {
				return res, err
			}
			res.Stored, res.DiskBytes = points, bytes
			if points >= want && pending == 0 {
				res.Queryable = time.Since(start) - res.Elapsed
				break
			}
			if time.Now().After(deadline) {
				fail(fmt.Errorf("loadgen: bucket holds %d of %d points after 60 s", points, want))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	use := cpu.stop()
	res.Written = wchar(t.Process) - wchar0
	res.BrokerCPUPerMsg = perItem(use.Broker, res.Published)
	res.OtherCPU = use.others()
	res.Err = firstErr
	if err := ctx.Err(); err != nil {
		return res, err
	}
	log.Info("done", "msg/s", int(res.PublishRate), "stored", res.Stored, "written", res.Written)
	return res, nil
}

// wchar is the bytes process p has written with write system calls, -1 when
// unknown.
func wchar(p *Process) int64 {
	if p == nil {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", p.PID()))
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return -1
}
