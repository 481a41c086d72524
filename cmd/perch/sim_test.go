package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// simResult is what `perch sim --json` prints.
type simResult struct {
	Devices          int
	PointsPerReading int `json:"points_per_reading"`
	Sent             uint64
	Acknowledged     uint64
	Failed           uint64
	Commands         uint64
	Provisioned      []struct{ ID, Credentials string }
}

// perch sim against a real gateway: five devices it provisions publish a
// few hundred readings at QoS 1, and the bucket ends up holding exactly the
// points of the readings the sim reports acknowledged. A command sent as
// the console's switch sends it reaches a device, whose next reading
// carries it; a second run reuses the saved credentials.
func TestSim(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	serve(t, data)
	dd := "--data-dir=" + data
	perch(t, dd, "bucket", "add", "env", "--topic", "sensors/+/env")
	creds := filepath.Join(t.TempDir(), "sim.txt")

	wantFail(t, []string{dd, "sim"}, "--credentials FILE, or --provision")

	// Run 1 in the background, so that a command can be sent meanwhile.
	var out1, err1 bytes.Buffer
	run1 := exec.Command(perchBin, dd, "sim", "--provision", "--devices", "5", "--credentials", creds,
		"--interval", "20ms", "--count", "60", "--json")
	run1.Env, run1.Stdout, run1.Stderr = cleanEnv(), &out1, &err1
	if err := run1.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run1.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for len(readJSON(t, dd, "bucket", "read", "env", "--device", "sim-1")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no reading of sim-1 after 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Retained, as the switch publishes: if run 1 ends first, run 2 gets it.
	perch(t, dd, "mqtt", "publish", "cmd/sim-1/led", "on", "--qos", "1", "--retain")
	if err := <-done; err != nil {
		t.Fatalf("perch sim: %v\n%s%s", err, out1.String(), err1.String())
	}
	var r1 simResult
	if err := json.Unmarshal(out1.Bytes(), &r1); err != nil {
		t.Fatalf("%v: %s", err, out1.String())
	}
	if r1.Devices != 5 || r1.PointsPerReading != 3 || r1.Failed != 0 || r1.Sent != 300+r1.Commands || r1.Acknowledged != r1.Sent || len(r1.Provisioned) != 5 {
		t.Fatalf("run 1: %+v\nevents:\n%s", r1, err1.String())
	}

	// The devices exist, with an ACL to their own two topics; their
	// credentials are saved for the owner only.
	var dev struct {
		ACL struct{ Publish, Subscribe []string }
	}
	if err := json.Unmarshal([]byte(perch(t, dd, "device", "show", "sim-5", "--json")), &dev); err != nil {
		t.Fatal(err)
	}
	if strings.Join(dev.ACL.Publish, ",") != "sensors/%c/env" || strings.Join(dev.ACL.Subscribe, ",") != "cmd/%c/led" {
		t.Errorf("sim-5's ACL: %+v", dev.ACL)
	}
	st, err := os.Stat(creds)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", st, err)
	}
	saved, _ := os.ReadFile(creds)
	for _, p := range r1.Provisioned {
		if !strings.Contains(string(saved), p.ID+" "+p.Credentials+"\n") {
			t.Errorf("%s lacks %s's credentials:\n%s", creds, p.ID, saved)
		}
	}
	wantFail(t, []string{dd, "sim", "--provision", "--devices", "2"}, `device "sim-1" exists already`)

	// Run 2: three of the saved devices. sim-1 gets the retained "on" when
	// it subscribes, and publishes it at once.
	out := perch(t, dd, "sim", "--credentials", creds, "--devices", "3", "--interval", "10ms", "--count", "20", "--json")
	var r2 simResult
	if err := json.Unmarshal([]byte(out), &r2); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r2.Devices != 3 || r2.Commands != 1 || r2.Sent != 60+1 || r2.Acknowledged != r2.Sent || r2.Failed != 0 || r2.Provisioned != nil {
		t.Fatalf("run 2: %+v", r2)
	}
	led := 0
	for _, r := range readJSON(t, dd, "bucket", "read", "env", "--device", "sim-1") {
		if r["led"] == 1.0 {
			led++
		}
	}
	if led == 0 {
		t.Error("no reading of sim-1 carries the LED switched on")
	}

	// Every acknowledged reading is in the bucket, exactly once.
	want := int64(3 * (r1.Acknowledged + r2.Acknowledged))
	var b bucketView
	deadline = time.Now().Add(30 * time.Second)
	for {
		if err := json.Unmarshal([]byte(perch(t, dd, "bucket", "show", "env", "--json")), &b); err != nil {
			t.Fatal(err)
		}
		if b.Stats.Points >= want && b.Stats.Pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b.Stats.Points != want || b.Stats.Rejected != 0 {
		t.Errorf("bucket env holds %d points (%d rejected), want %d: 3 for each of %d + %d acknowledged readings",
			b.Stats.Points, b.Stats.Rejected, want, r1.Acknowledged, r2.Acknowledged)
	}
}

// A simulated device that the gateway cuts off (disabled) is refused while
// disabled, retries with backoff, and publishes again once enabled, as the
// firmware examples do.
func TestSimReconnect(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	serve(t, data)
	dd := "--data-dir=" + data
	perch(t, dd, "bucket", "add", "env", "--topic", "sensors/+/env")
	p := startProgram(t, nil, perchBin, dd, "sim", "--provision", "--id-prefix", "rc-", "--interval", "50ms", "--duration", "60s")
	p.waitLine(0, "Simulating 1 device(s)")
	deadline := time.Now().Add(30 * time.Second)
	for len(readJSON(t, dd, "bucket", "read", "env", "--device", "rc-1")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no reading of rc-1 after 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mark := p.mark()
	perch(t, dd, "device", "disable", "rc-1")
	lost := p.waitLine(mark, "rc-1: connection lost")
	p.waitLine(lost, "rc-1: connect failed")
	p.waitLine(lost, "refused: not authorized (0x87)")
	perch(t, dd, "device", "enable", "rc-1")
	back := p.waitLine(lost, "rc-1: connected again")
	since := time.Now().UnixMilli()
	deadline = time.Now().Add(30 * time.Second)
	for {
		recs := readJSON(t, dd, "bucket", "read", "env", "--device", "rc-1", "--from", strconv.FormatInt(since, 10))
		if len(recs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reading of rc-1 after it reconnected (line %d)", back)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	p.waitLine(back, "Done in")
	p.waitLine(back, "1 reconnects")
}
