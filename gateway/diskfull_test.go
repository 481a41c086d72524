package gateway_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// A full disk: the bucket's store fails visibly, publishers to it are told
// (MQTT 5 PUBACK 0x80) instead of acknowledged, and every other device
// keeps being served. Needs a small tmpfs, so root.
func TestBucketDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	dir := t.TempDir()
	// A container without CAP_SYS_ADMIN cannot mount: skip there rather
	// than fail (the journal's own tests cover write failures).
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (uid %d): %v %s", os.Getuid(), err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	cfg := testConfig(t)
	cfg.DataDir = filepath.Join(dir, "data")
	tg := start(t, cfg)
	tg.addBucket(map[string]any{"id": "env", "topic": "sensors/#"})
	sensor := tg.mustConnect5(tg.addDevice(map[string]any{"id": "sensor"}))
	talker := tg.mustConnect5(tg.addDevice(map[string]any{"id": "talker"}))
	listener := tg.mustConnect5(tg.addDevice(map[string]any{"id": "listener"}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := listener.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "chat/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}

	payload := []byte(`{"a":1.5,"b":2.25,"c":3.125,"d":4.0625,"pad":"` + strings.Repeat("x", 2000) + `"}`)
	refused := false
	for i := 0; i < 100000 && !refused; i++ {
		res, err := sensor.Publish(ctx, &paho.Publish{Topic: "sensors/x", QoS: 1, Payload: payload})
		switch {
		case res != nil && res.ReasonCode == 0x80:
			refused = true
		case err != nil:
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if !refused {
		t.Fatal("the disk never filled up")
	}
	b := tg.bucket("env")
	if !strings.Contains(b.Stats.Error, "no space left on device") {
		t.Fatalf("bucket error %q", b.Stats.Error)
	}
	if m := tg.read("/metrics"); !strings.Contains(m, `perch_bucket_failed{bucket="env"} 1`) || strings.Contains(m, "perch_mqtt_store_failures_total 0\n") {
		t.Fatal("metrics do not show the failure")
	}
	// everyone else is still served
	if _, err := talker.Publish(ctx, &paho.Publish{Topic: "chat/hello", QoS: 1, Payload: []byte("still here")}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-listener.msgs:
		if string(m.Payload) != "still here" {
			t.Fatalf("got %q", m.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a message between other devices was not delivered")
	}
	// Shutting down with a failed store reports it; that is expected here.
	tg.cancel()
	if err := <-tg.done; err == nil {
		t.Log("gateway stopped without reporting the failed store")
	}
	tg.done <- nil
}
