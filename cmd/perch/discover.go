package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/perch-gw/perch/gateway/mdns"
)

func newDiscover(r *remote) *cobra.Command {
	var (
		timeout    time.Duration
		interfaces []string
	)
	cmd := &cobra.Command{
		Use:   "discover",
		Short: "List the Perch gateways on the local network (mDNS)",
		Long: `List the Perch gateways that advertise MQTT over TLS (_secure-mqtt._tcp)
on the local network, with their addresses, port, version, account id and CA
fingerprint. It listens for --timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			found, err := mdns.Browse(ctx, interfaces)
			if err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), found)
			}
			rows := make([][]string, len(found))
			for i, g := range found {
				rows[i] = []string{g.Instance, g.Host, strings.Join(g.Addresses, ","), strconv.Itoa(g.Port), g.Version, g.Account, g.Fingerprint}
			}
			return table(cmd.OutOrStdout(), []string{"INSTANCE", "HOST", "ADDRESSES", "PORT", "VERSION", "ACCOUNT", "FINGERPRINT"}, rows)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&timeout, "timeout", 3*time.Second, "how long to listen for answers")
	f.StringSliceVar(&interfaces, "interface", nil, "network interface to browse on, repeatable (default: every multicast-capable one)")
	return cmd
}
