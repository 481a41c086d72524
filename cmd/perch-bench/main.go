// Command perch-bench runs the same MQTT load against Debian's Mosquitto and
// against Perch, one after the other on this machine, and prints a
// side-by-side Markdown table. See BENCHMARKS.md.
//
//	go run ./cmd/perch-bench [--quick] [--only footprint,idle,connect,throughput,latency,ingest] [--out FILE.md] [--perch BIN|none]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "short runs and fewer connections: a smoke test")
	flag.StringVar(&o.only, "only", "", "comma-separated scenarios to run: "+strings.Join(scenarioNames(), ", ")+" (default all)")
	flag.StringVar(&o.out, "out", "", "also write the report to this Markdown file")
	flag.StringVar(&o.perch, "perch", "", `perch binary; empty builds ./cmd/perch, "none" skips Perch`)
	flag.StringVar(&o.perchArgs, "perch-args", "", "extra flags for `perch serve`, space-separated")
	flag.StringVar(&o.mosquitto, "mosquitto", "mosquitto", `mosquitto binary; "none" skips Mosquitto`)
	flag.BoolVar(&o.noDelay, "mosquitto-nodelay", false, "run Mosquitto with set_tcp_nodelay true (its default leaves Nagle on)")
	flag.DurationVar(&o.duration, "duration", 0, "length of each throughput and latency run (default 10s, 2s with --quick)")
	flag.IntVar(&o.idleConns, "idle-conns", 0, "connections held by the idle scenario (default 10000, 500 with --quick)")
	flag.IntVar(&o.connects, "connects", 0, "connections made by the connect scenario (default 2000, 300 with --quick)")
	flag.IntVar(&o.rate, "rate", 5000, "messages per second of the latency scenario")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "perch-bench: unexpected arguments:", flag.Args())
		os.Exit(2)
	}
	o.args = os.Args[1:]
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, log); err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted")
		}
		fmt.Fprintln(os.Stderr, "perch-bench:", err)
		stop()
		os.Exit(1)
	}
}
