package throttle

import (
	"sync"
	"testing"
	"time"
)

func TestReserveRefund(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := New(Config{Burst: 3, Every: time.Second, Now: func() time.Time { return now }})
	for i := 0; i < 3; i++ {
		if !l.Reserve("10.0.0.1:1000") {
			t.Fatalf("reserve %d refused", i)
		}
	}
	if l.Reserve("10.0.0.1:2000") {
		t.Fatal("fourth reserve allowed")
	}
	if !l.Reserve("10.0.0.2:1") {
		t.Fatal("another source throttled")
	}
	// A success gives back one charge, not the whole budget.
	l.Refund("10.0.0.1:1000")
	if !l.Reserve("10.0.0.1:3000") {
		t.Fatal("refunded charge not available")
	}
	if l.Reserve("10.0.0.1:3000") {
		t.Fatal("refund forgave more than one failure")
	}
	now = now.Add(time.Second)
	if !l.Reserve("10.0.0.1:1") {
		t.Fatal("no recovery after Every")
	}
	// Refunding every charge forgets the source.
	l2 := New(Config{Now: func() time.Time { return now }})
	l2.Reserve("10.0.0.9:1")
	l2.Refund("10.0.0.9:1")
	if l2.Len() != 0 {
		t.Fatalf("%d sources remembered after a full refund", l2.Len())
	}
	l2.Refund("10.0.0.8:1") // unknown: no-op
}

// Concurrent attempts cannot all pass before the first fails.
func TestReserveConcurrent(t *testing.T) {
	l := New(Config{Burst: 10})
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l.Reserve("192.0.2.1:5") {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if passed != 10 {
		t.Fatalf("%d of 100 concurrent attempts passed, want the burst of 10", passed)
	}
}
