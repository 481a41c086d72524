package store

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/payload"
)

// BenchmarkWrite10Fields is the store's share of ingest: messages of ten
// fields written from parallel publishers (as the broker's read
// goroutines do), each waiting for its journal write.
func BenchmarkWrite10Fields(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir(), SyncInterval: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var seq atomic.Int64
	names := []string{"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9"}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		dev := "d" + string(rune('a'+seq.Add(1)%26))
		fields := make([]payload.Field, 10)
		for pb.Next() {
			n := seq.Add(1)
			for i := range fields {
				fields[i] = payload.Field{Name: names[i], Value: float64(n%1000) / 10}
			}
			if err := s.Write(Message{Time: base + n, Device: dev, Topic: "t", Fields: fields}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)*10/b.Elapsed().Seconds(), "points/s")
}
