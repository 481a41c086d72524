package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/perch-gw/perch/gateway/upstream"
)

func newUpstream(r *remote) *cobra.Command {
	cmd := &cobra.Command{Use: "upstream", Short: "The link to the upstream (cloud) MQTT broker"}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show the upstream link: connected, last error, and each bucket's lag",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.Do(cmd.Context(), "GET", "/api/v1/upstream", nil, &raw); err != nil {
				return err
			}
			if r.json {
				_, err := cmd.OutOrStdout().Write(append(raw, '\n'))
				return err
			}
			var s upstream.Status
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !s.Configured {
				fmt.Fprintln(out, "No upstream is configured (set upstream.url: see the README).")
				return nil
			}
			state := "disconnected"
			if s.Connected && s.Since != nil {
				state = "connected since " + s.Since.Local().Format(time.DateTime)
			}
			fmt.Fprintf(out, "Upstream %s (MQTT %s, client id %s): %s\n", s.URL, s.Version, s.ClientID, state)
			if s.LastError != "" {
				at := ""
				if s.LastErrorAt != nil {
					at = " at " + s.LastErrorAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(out, "  last error%s: %s\n", at, s.LastError)
			}
			if !s.Connected {
				fmt.Fprintf(out, "  failed attempts: %d", s.Attempts)
				if s.NextAttempt != nil {
					fmt.Fprintf(out, ", next at %s", s.NextAttempt.Local().Format(time.TimeOnly))
				}
				fmt.Fprintln(out)
			}
			if len(s.Buckets) > 0 {
				fmt.Fprintf(out, "\n  %-20s %12s %12s %14s  %s\n", "BUCKET", "LAG POINTS", "LAG", "SENT POINTS", "LAST SENT")
				for _, b := range s.Buckets {
					last := "-"
					if b.LastSent != nil {
						last = b.LastSent.Local().Format(time.DateTime)
					}
					lag := (time.Duration(b.LagSeconds * float64(time.Second))).Round(time.Second).String()
					fmt.Fprintf(out, "  %-20s %12d %12s %14d  %s", b.ID, b.LagPoints, lag, b.SentPoints, last)
					if b.Error != "" {
						fmt.Fprintf(out, "  (%s)", b.Error)
					}
					fmt.Fprintln(out)
				}
			}
			for _, rl := range s.Bridge {
				fmt.Fprintf(out, "  bridge %-3s %-30s %d forwarded, %d dropped\n", rl.Direction, rl.Filter, rl.Messages, rl.Dropped)
			}
			return nil
		},
	})
	return cmd
}
