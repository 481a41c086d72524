package broker

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Publishers are paced only after a subscriber's queue overflowed, and only
// for a short while.
func TestPublishPacing(t *testing.T) {
	h := &hook{}
	pk := packets.Packet{TopicName: "a"}
	timeOnPublish := func() time.Duration {
		begin := time.Now()
		if _, err := h.OnPublish(nil, pk); err != nil {
			t.Fatal(err)
		}
		return time.Since(begin)
	}
	if d := timeOnPublish(); d > 5*time.Millisecond {
		t.Logf("unpaced OnPublish took %v (a busy machine?)", d)
	}
	h.OnPublishDropped(nil, pk)
	if d := timeOnPublish(); d < 50*time.Microsecond {
		t.Fatalf("OnPublish right after a drop took %v, want a pause of at least 50µs", d)
	}
	if h.congestedUntil.Load() <= time.Now().UnixNano() {
		t.Fatal("congestion window already over")
	}
	deadline := time.Now().Add(congestionWindow + time.Second)
	for time.Now().UnixNano() < h.congestedUntil.Load() {
		if time.Now().After(deadline) {
			t.Fatal("congestion window never ends")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPacketSize(t *testing.T) {
	for _, tc := range []struct{ remaining, want int }{
		{0, 2}, {127, 129}, {128, 131}, {16383, 16386}, {16384, 16388}, {2097151, 2097155}, {2097152, 2097157},
	} {
		if got := packetSize(tc.remaining); got != tc.want {
			t.Errorf("packetSize(%d) = %d, want %d", tc.remaining, got, tc.want)
		}
	}
}
