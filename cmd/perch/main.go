// Command perch is the Perch edge IoT gateway: `perch serve` runs it, the
// other subcommands manage a running gateway through its admin API.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/perch-gw/perch/gateway/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		if errors.Is(err, client.ErrNotRunning) {
			fmt.Fprintf(os.Stderr, "perch: %v; start one with `perch serve` (or `make run`), or pass --data-dir\n", err)
		} else {
			// One line per problem (a bad config can have several).
			for _, line := range strings.Split(err.Error(), "\n") {
				fmt.Fprintf(os.Stderr, "perch: %s\n", line)
			}
		}
		os.Exit(1)
	}
}
