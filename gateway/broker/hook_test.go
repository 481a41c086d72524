package broker

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/perch-gw/perch/gateway/acl"
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

type noAuth struct{}

func (noAuth) Authenticate(context.Context, string, string, bool) (acl.Rules, error) {
	return acl.Rules{}, ErrUnknown
}
func (noAuth) Exists(string) bool { return false }

// A QoS 1 in-flight window overflowing has no mochi hook; the broker notices
// it from mochi's counter and paces publishers just the same.
func TestInflightDropPaces(t *testing.T) {
	b, err := New(Config{Auth: noAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pk := packets.Packet{TopicName: "a"}
	if _, err := b.hook.OnPublish(nil, pk); err != nil || b.hook.congestedUntil.Load() != 0 {
		t.Fatalf("congested without a drop (%v)", err)
	}
	atomic.AddInt64(&b.server.Info.InflightDropped, 1)
	if _, err := b.hook.OnPublish(nil, pk); err != nil {
		t.Fatal(err)
	}
	if b.hook.congestedUntil.Load() <= time.Now().UnixNano() {
		t.Fatal("an in-flight drop did not start pacing")
	}
	if got := b.Stats().MessagesDropped; got != 1 {
		t.Fatalf("dropped = %d, want the in-flight drop counted", got)
	}
}
