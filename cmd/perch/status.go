package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/perch-gw/perch/gateway"
	"github.com/perch-gw/perch/gateway/pki"
)

func newStatus(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the running gateway's status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.Do(cmd.Context(), "GET", "/api/v1/status", nil, &raw); err != nil {
				return err
			}
			if r.json {
				_, err := cmd.OutOrStdout().Write(append(raw, '\n'))
				return err
			}
			var s struct {
				Version     string            `json:"version"`
				Account     string            `json:"account"`
				Hostname    string            `json:"hostname"`
				Uptime      int64             `json:"uptime_seconds"`
				Fingerprint string            `json:"ca_fingerprint"`
				Listeners   map[string]string `json:"listeners"`
				Devices     struct{ Total, Connected int }
				MQTT        struct {
					Clients  int64   `json:"clients_connected"`
					In       int64   `json:"messages_in"`
					Out      int64   `json:"messages_out"`
					Dropped  int64   `json:"messages_dropped"`
					InRate   float64 `json:"messages_in_per_second"`
					OutRate  float64 `json:"messages_out_per_second"`
					Failures int64   `json:"auth_failures"`
					Unstored int64   `json:"store_failures"`
				} `json:"mqtt"`
			}
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Perch %s on %s, up %ds\n", s.Version, s.Hostname, s.Uptime)
			fmt.Fprintf(out, "  %-18s %s\n", "account id", s.Account)
			fmt.Fprintf(out, "  %-18s %s\n", "CA fingerprint", s.Fingerprint)
			keys := make([]string, 0, len(s.Listeners))
			for k := range s.Listeners {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(out, "  %-18s %s\n", k, s.Listeners[k])
			}
			fmt.Fprintf(out, "  %-18s %d of %d connected\n", "devices", s.Devices.Connected, s.Devices.Total)
			fmt.Fprintf(out, "  %-18s %d\n", "MQTT clients", s.MQTT.Clients)
			fmt.Fprintf(out, "  %-18s %d in (%.1f/s), %d out (%.1f/s), %d dropped\n", "messages", s.MQTT.In, s.MQTT.InRate, s.MQTT.Out, s.MQTT.OutRate, s.MQTT.Dropped)
			fmt.Fprintf(out, "  %-18s %d\n", "refused logins", s.MQTT.Failures)
			if s.MQTT.Unstored > 0 {
				fmt.Fprintf(out, "  %-18s %d (a bucket's store failed: see perch bucket ls)\n", "store failures", s.MQTT.Unstored)
			}
			return nil
		},
	}
}

func newCA(r *remote) *cobra.Command {
	cmd := &cobra.Command{Use: "ca", Short: "The gateway's certificate authority"}
	var format string
	export := &cobra.Command{
		Use:   "export",
		Short: "Print the CA certificate that devices must trust (pem, or c for a sketch)",
		Example: `  perch ca export > perch-ca.pem
  perch ca export --format c > perch_ca.h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "pem" && format != "c" {
				return fmt.Errorf("--format must be pem or c, not %q", format)
			}
			var pem []byte
			if r.server == "" {
				// The CA is public and lives in the data dir: no need for a
				// running gateway.
				var err error
				pem, err = pki.CAPEM(filepath.Join(r.dataDir, gateway.TLSDir))
				if err != nil {
					return fmt.Errorf("%w (has `perch serve` run with --data-dir %s?)", err, r.dataDir)
				}
			} else {
				c, err := r.client()
				if err != nil {
					return err
				}
				if pem, _, err = c.Raw(cmd.Context(), "GET", "/api/v1/ca", nil, "application/x-pem-file"); err != nil {
					return err
				}
			}
			if format == "c" {
				_, err := fmt.Fprint(cmd.OutOrStdout(), pki.FormatC(pem))
				return err
			}
			_, err := cmd.OutOrStdout().Write(pem)
			return err
		},
	}
	export.Flags().StringVar(&format, "format", "pem", "pem or c (a C string literal for Arduino/ESP32 sketches)")
	cmd.AddCommand(export)
	return cmd
}

func newAdmin(r *remote) *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "The console's admin login"}
	var set bool
	pw := &cobra.Command{
		Use:   "password",
		Short: "Give the admin a new password (generated, or typed with --set via standard input)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			body := map[string]string{}
			if set {
				var line string
				fmt.Fprint(os.Stderr, "New admin password: ")
				if _, err := fmt.Fscanln(cmd.InOrStdin(), &line); err != nil {
					return fmt.Errorf("read password: %w", err)
				}
				body["password"] = line
			}
			var out struct {
				Password string `json:"password"`
			}
			if err := c.Do(cmd.Context(), "PUT", "/api/v1/admin/password", body, &out); err != nil {
				return err
			}
			if set {
				fmt.Fprintln(cmd.OutOrStdout(), "Admin password changed; console sessions were logged out.")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "New admin password: %s\n(shown only now; console sessions were logged out)\n", out.Password)
			return nil
		},
	}
	pw.Flags().BoolVar(&set, "set", false, "read the new password from standard input instead of generating one")
	cmd.AddCommand(pw)
	return cmd
}
