package loadgen

import (
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	got := percentiles(s)
	want := Percentiles{Count: 100, P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if one := percentiles([]time.Duration{7}); one.P50 != 7 || one.P99 != 7 || one.Max != 7 {
		t.Fatalf("one sample: %+v", one)
	}
	if (percentiles(nil) != Percentiles{}) {
		t.Fatal("no samples should give the zero value")
	}
}

func TestForEachVisitsEachIndexOnce(t *testing.T) {
	seen := make([]int, 1000)
	forEach(len(seen), 7, func(i int) { seen[i]++ })
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("index %d visited %d times", i, n)
		}
	}
	forEach(0, 4, func(int) { t.Fatal("called for n = 0") })
}

func TestDevices(t *testing.T) {
	d := DeviceList([]Device{{ClientID: "a"}, {ClientID: "b"}, {ClientID: "c"}})
	if got, ok := d.Offset(1)(1); !ok || got.ClientID != "c" {
		t.Fatalf("offset: %+v %v", got, ok)
	}
	if _, ok := d.Offset(1)(2); ok {
		t.Fatal("past the end")
	}
	if _, ok := d(-1); ok {
		t.Fatal("negative index")
	}
}

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8883": true, "[::1]:8883": true, "127.3.2.1:1": true,
		"10.0.0.1:8883": false, "192.168.1.2:8883": false, "example.com:8883": false, "localhost:8883": false, "127.0.0.1": false,
	} {
		if err := checkLoopback(addr); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestScenarioValidation(t *testing.T) {
	ctx := t.Context()
	target := Target{Address: "127.0.0.1:1", Devices: DeviceList(nil)}
	if _, err := (Throughput{QoS: 2}).Run(ctx, target); err == nil {
		t.Error("throughput QoS 2 accepted")
	}
	if _, err := (Latency{PayloadSize: 8}).Run(ctx, target); err == nil {
		t.Error("latency payload of 8 bytes accepted")
	}
	if _, err := (ConnectRate{Total: 5}).Run(ctx, target); err == nil {
		t.Error("connect rate without devices accepted")
	}
	if _, err := (Idle{Conns: 5}).Run(ctx, target); err == nil {
		t.Error("idle without a broker process accepted")
	}
}
