package main

import (
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestReportGolden(t *testing.T) {
	p, err := newPlan(options{quick: true, rate: 5000})
	if err != nil {
		t.Fatal(err)
	}
	mosq, perch := newBrokerRun("Mosquitto", p), newBrokerRun("Perch", p)
	mosq.version, perch.version = "Mosquitto 2.0.11", "Perch dev"
	for i, s := range p.steps {
		for j := range s.metrics {
			mosq.values[i][j] = float64(1000 * (i + 1) * (j + 1))
			perch.values[i][j] = float64(900 * (i + 1) * (j + 1))
		}
		mosq.details[i] = "details of " + s.label
	}
	perch.values[0][2] = math.NaN() // not measured
	perch.details[1] = "connections failed; FAILED: broker gone"
	perch.maxOthers = 0.5
	got := renderReport(p, []*brokerRun{mosq, perch}, reportInfo{
		machine: "2 cores (test CPU), Linux test, go test",
		started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC),
		elapsed: 42 * time.Second,
		args:    []string{"--quick"},
	})
	golden(t, "report.golden", got)

	skipped := newBrokerRun("Perch", p)
	skipped.err = errors.New("perch: exited:\nno such flag")
	golden(t, "report-broker-failed.golden", renderReport(p, []*brokerRun{mosq, skipped}, reportInfo{
		machine: "test", started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), noDelay: true,
	}))
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n%s", path, got)
	}
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name       string
		o          options
		steps      int
		devices    int
		connOffset bool
		err        bool
	}{
		{name: "all", o: options{}, steps: 1 + 1 + 1 + 4 + 2 + 1, devices: 12000},
		{name: "quick", o: options{quick: true}, steps: 10, devices: 800},
		{name: "only footprint", o: options{only: "footprint"}, steps: 1, devices: 11},
		{name: "only ingest", o: options{only: "ingest"}, steps: 1, devices: 11},
		{name: "only connect", o: options{only: "connect"}, steps: 1, devices: 2000},
		{name: "only throughput", o: options{only: "throughput"}, steps: 4, devices: 11},
		{name: "two", o: options{only: "latency, idle", idleConns: 50}, steps: 3, devices: 50},
		{name: "unknown", o: options{only: "speed"}, err: true},
		{name: "none", o: options{only: ","}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.rate = 5000
			p, err := newPlan(tc.o)
			if tc.err {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.steps) != tc.steps || p.devices != tc.devices {
				t.Fatalf("%d steps, %d devices; want %d, %d", len(p.steps), p.devices, tc.steps, tc.devices)
			}
		})
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1\u202f000", -1234567: "-1\u202f234\u202f567"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}
