package loadgen

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"
)

// startTestMosquitto starts a Mosquitto for the test, or skips the test
// when mosquitto is not installed (and fails it when CI=true).
func startTestMosquitto(t *testing.T, devices int) *Mosquitto {
	t.Helper()
	return startTestMosquittoCfg(t, MosquittoConfig{Devices: devices})
}

func startTestMosquittoCfg(t *testing.T, cfg MosquittoConfig) *Mosquitto {
	t.Helper()
	if _, err := exec.LookPath("mosquitto"); err != nil {
		msg := "mosquitto is not on PATH (apt-get install -y mosquitto): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg.Dir = t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	m, err := StartMosquitto(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func TestMosquittoThroughputAndConnectRate(t *testing.T) {
	m := startTestMosquitto(t, 20)
	target := m.Target()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for _, s := range []Throughput{
		{Publishers: 2, Subscribers: 1, QoS: 0, Duration: 300 * time.Millisecond},
		{Publishers: 1, Subscribers: 3, QoS: 1, Duration: 300 * time.Millisecond, Window: 4},
	} {
		t.Run("throughput "+s.Name(), func(t *testing.T) {
			r, err := s.Run(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			t.Logf("%+v", r)
			if r.Published == 0 || r.Delivered == 0 || r.DeliverRate <= 0 {
				t.Fatalf("nothing went through: %+v", r)
			}
			if s.QoS == 1 && r.Delivered < r.Expected {
				t.Errorf("QoS 1 delivered %d of %d", r.Delivered, r.Expected)
			}
			if r.BrokerCPU < 0 {
				t.Errorf("broker CPU not measured")
			}
		})
	}

	t.Run("connect rate", func(t *testing.T) {
		r, err := ConnectRate{Total: 20, Concurrency: 4}.Run(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", r)
		if r.Connected != 20 || r.Failed != 0 || r.Rate <= 0 || r.ConnectTime.P99 <= 0 {
			t.Fatalf("connect rate: %+v", r)
		}
	})

	t.Run("wrong password is refused", func(t *testing.T) {
		bad := target
		bad.Devices = func(int) (Device, bool) {
			d, _ := target.Devices(0)
			d.Password += "x"
			return d, true
		}
		r, err := ConnectRate{Total: 2, Concurrency: 1}.Run(ctx, bad)
		if err == nil || r.Failed != 2 {
			t.Fatalf("connected with a wrong password: %+v, %v", r, err)
		}
	})

	t.Run("latency", func(t *testing.T) {
		r, err := Latency{Rate: 1000, Duration: 300 * time.Millisecond}.Run(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", r)
		if r.Sent != 300 || r.Received != r.Sent || r.Latency.P50 <= 0 || r.Latency.Max < r.Latency.P99 {
			t.Fatalf("latency: %+v", r)
		}
	})

	t.Run("idle", func(t *testing.T) {
		r, err := Idle{Conns: 10, Hold: 100 * time.Millisecond}.Run(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", r)
		if r.Opened != 10 || r.Dropped != 0 || r.RSSAfter == 0 {
			t.Fatalf("idle: %+v", r)
		}
	})
}

func TestNonLoopbackTargetIsRefused(t *testing.T) {
	target := Target{Address: "192.0.2.1:8883", Devices: DeviceList([]Device{{ClientID: "a"}})}
	_, err := ConnectRate{Total: 1, Concurrency: 1}.Run(context.Background(), target)
	if err == nil {
		t.Fatal("connected to a non-loopback address")
	}
}
