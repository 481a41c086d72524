package gateway_test

import (
	"context"
	"testing"

	"github.com/perch-gw/perch/gateway/config"
)

// Devices and buckets declared in the config are created at start, left
// alone when nothing changed, and brought in line when the file changes.
func TestProvisioning(t *testing.T) {
	cfg := testConfig(t)
	off := false
	cfg.Devices = []config.DeviceSpec{
		{ID: "esp32-a", Name: "Kitchen", Credentials: "kitchen-secret-1", Publish: []string{"sensors/%c/#"}},
		{ID: "esp32-b", Enabled: &off, Credentials: "bedroom-secret-2"},
	}
	cfg.Buckets = []config.BucketSpec{{ID: "env", Name: "Environment", Topic: "sensors/#", Retention: "30d", Resolution: "1s"}}
	tg := start(t, cfg)
	a := tg.device("esp32-a")
	if a.Name != "Kitchen" || !a.Enabled || len(a.ACL.Publish) != 1 || tg.device("esp32-b").Enabled {
		t.Fatalf("devices: %+v", a)
	}
	b := tg.bucket("env")
	if b.Topic != "sensors/#" || b.Retention != "30d" || b.Resolution != "1s" || !b.Provisioned {
		t.Fatalf("bucket: %+v", b)
	}
	// the declared password works
	c, _, err := tg.connect5(tg.cfg.Account, "esp32-a", "kitchen-secret-1")
	if err != nil {
		t.Fatal(err)
	}
	publish(t, c, "sensors/esp32-a", `{"t":1}`)
	tg.stop()

	// the same file again: nothing changes, the data stays
	tg = start(t, cfg)
	if got := tg.device("esp32-a"); !got.Updated.Equal(a.Updated) {
		t.Fatalf("device rewritten at an unchanged start: %v → %v", a.Updated, got.Updated)
	}
	if tg.bucket("env").Stats.Points != 1 {
		t.Fatal("bucket data lost")
	}
	tg.stop()

	// a changed file wins
	cfg.Devices[0].Name = "Kitchen, north wall"
	cfg.Devices[0].Credentials = "kitchen-secret-3"
	cfg.Buckets[0].Topic = "sensors/+/env"
	tg = start(t, cfg)
	if tg.device("esp32-a").Name != "Kitchen, north wall" || tg.bucket("env").Topic != "sensors/+/env" {
		t.Fatal("changes not applied")
	}
	if _, _, err := tg.connect5(tg.cfg.Account, "esp32-a", "kitchen-secret-1"); err == nil {
		t.Fatal("the old password still works")
	}
	if _, _, err := tg.connect5(tg.cfg.Account, "esp32-a", "kitchen-secret-3"); err != nil {
		t.Fatal(err)
	}
	_ = context.Background
}
