package main

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/perch-gw/perch/gateway/acl"
	"github.com/perch-gw/perch/gateway/api"
)

func newDevice(r *remote) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "device",
		Aliases: []string{"devices"},
		Short:   "Manage devices: add, ls, show, rm, enable, disable, credentials",
	}
	cmd.AddCommand(deviceAdd(r), deviceList(r), deviceShow(r), deviceRemove(r),
		deviceEnable(r, true), deviceEnable(r, false), deviceCredentials(r))
	return cmd
}

func deviceAdd(r *remote) *cobra.Command {
	var (
		name, desc, creds string
		pub, sub          []string
		disabled          bool
	)
	cmd := &cobra.Command{
		Use:   "add ID",
		Short: "Register a device; its credentials are printed once",
		Example: `  perch device add greenhouse-1 --name "Greenhouse sensor"
  perch device add door --publish 'sensors/%c/#' --subscribe 'cmd/%c/#'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			body := map[string]any{"id": args[0], "name": name, "description": desc, "enabled": !disabled}
			if creds != "" {
				body["credentials"] = creds
			}
			if pub != nil || sub != nil {
				rules := acl.DefaultRules()
				if pub != nil {
					rules.Publish = pub
				}
				if sub != nil {
					rules.Subscribe = sub
				}
				body["acl"] = rules
			}
			var d api.Device
			if err := c.Do(cmd.Context(), "POST", "/api/v1/devices", body, &d); err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), d)
			}
			// The account id is the user name; ask for it so the output is
			// exactly what goes into the sketch.
			var st struct {
				Account   string            `json:"account"`
				Hostname  string            `json:"hostname"`
				Listeners map[string]string `json:"listeners"`
			}
			_ = c.Do(cmd.Context(), "GET", "/api/v1/status", nil, &st)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Device %q registered.\n\n", d.ID)
			if _, port, err := net.SplitHostPort(st.Listeners["mqtt_tls"]); err == nil && st.Hostname != "" {
				fmt.Fprintf(out, "  MQTT broker      %s.local, port %s (TLS; trust `perch ca export`)\n", st.Hostname, port)
			}
			fmt.Fprintf(out, "  MQTT user name   %s\n", st.Account)
			fmt.Fprintf(out, "  MQTT client id   %s\n", d.ID)
			fmt.Fprintf(out, "  MQTT password    %s\n\n", d.Credentials)
			fmt.Fprintln(out, "The password is shown only now. `perch device credentials "+d.ID+"` makes a new one.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "display name (default: the id)")
	f.StringVar(&desc, "description", "", "description")
	f.StringVar(&creds, "credentials", "", "choose the password (8+ characters) instead of a generated one")
	f.StringSliceVar(&pub, "publish", nil, "topic filters the device may publish to (default #); %c = device id, %u = account id")
	f.StringSliceVar(&sub, "subscribe", nil, "topic filters the device may subscribe to (default #)")
	f.BoolVar(&disabled, "disabled", false, "register it disabled")
	return cmd
}

func deviceList(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List devices with their live status",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var ds []api.Device
			if err := c.Do(cmd.Context(), "GET", "/api/v1/devices", nil, &ds); err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), ds)
			}
			if len(ds) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "No devices yet. Add one: perch device add ID")
				return nil
			}
			rows := make([][]string, 0, len(ds))
			for _, d := range ds {
				rows = append(rows, []string{d.ID, d.Name, enabledWord(d.Enabled), connWord(d.Status), d.Status.Remote,
					strconv.FormatUint(d.Status.MessagesIn, 10), strconv.FormatUint(d.Status.MessagesOut, 10), ago(d.Status.LastSeen)})
			}
			return table(cmd.OutOrStdout(), []string{"ID", "NAME", "ENABLED", "STATUS", "REMOTE", "MSGS IN", "MSGS OUT", "LAST SEEN"}, rows)
		},
	}
}

func deviceShow(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one device",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var d api.Device
			if err := c.Do(cmd.Context(), "GET", "/api/v1/devices/"+url.PathEscape(args[0]), nil, &d); err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), d)
			}
			s := d.Status
			rows := [][]string{
				{"id", d.ID}, {"type", d.Type}, {"name", d.Name}, {"description", d.Description},
				{"enabled", enabledWord(d.Enabled)},
				{"acl publish", strings.Join(d.ACL.Publish, " ")}, {"acl subscribe", strings.Join(d.ACL.Subscribe, " ")},
				{"created", d.Created.Local().Format(time.RFC3339)},
				{"status", connWord(s)},
			}
			if s.Connected {
				rows = append(rows,
					[]string{"since", s.Since.Local().Format(time.RFC3339)},
					[]string{"remote", s.Remote + " (" + s.Listener + ", MQTT " + protoName(s.ProtocolVersion) + ")"},
					[]string{"messages in/out", fmt.Sprintf("%d / %d", s.MessagesIn, s.MessagesOut)},
					[]string{"bytes in/out", fmt.Sprintf("%d / %d", s.BytesIn, s.BytesOut)})
			}
			rows = append(rows, []string{"last seen", ago(s.LastSeen)})
			tw := cmd.OutOrStdout()
			for _, row := range rows {
				fmt.Fprintf(tw, "%-16s %s\n", row[0], row[1])
			}
			return nil
		},
	}
}

func deviceRemove(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:     "rm ID...",
		Aliases: []string{"remove", "delete"},
		Short:   "Delete devices (their live connections are cut off)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.deleteEach(cmd, "/api/v1/devices/", "Deleted device %q.\n", args)
		},
	}
}

func deviceEnable(r *remote, enable bool) *cobra.Command {
	use, short := "enable ID...", "Enable devices"
	if !enable {
		use, short = "disable ID...", "Disable devices (their live connections are cut off)"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			for _, id := range args {
				var d api.Device
				if err := c.Do(cmd.Context(), "PATCH", "/api/v1/devices/"+url.PathEscape(id), map[string]bool{"enabled": enable}, &d); err != nil {
					return err
				}
				if r.json {
					if err := printJSON(cmd.OutOrStdout(), d); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Device %q %s.\n", id, map[bool]string{true: "enabled", false: "disabled"}[enable])
			}
			return nil
		},
	}
}

func deviceCredentials(r *remote) *cobra.Command {
	var creds string
	cmd := &cobra.Command{
		Use:   "credentials ID",
		Short: "Give a device new credentials (its live connection is cut off)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var body any
			if creds != "" {
				body = map[string]string{"credentials": creds}
			}
			var out struct {
				ID          string `json:"id"`
				Credentials string `json:"credentials"`
			}
			if err := c.Do(cmd.Context(), "POST", "/api/v1/devices/"+url.PathEscape(args[0])+"/credentials", body, &out); err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "New credentials for %q: %s\n(shown only now)\n", out.ID, out.Credentials)
			return nil
		},
	}
	cmd.Flags().StringVar(&creds, "set", "", "choose the new password (8+ characters) instead of a generated one")
	return cmd
}

func enabledWord(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func connWord(s api.DeviceStatus) string {
	if s.Connected {
		return "online"
	}
	return "offline"
}

func protoName(v byte) string {
	switch v {
	case 3:
		return "3.1"
	case 4:
		return "3.1.1"
	case 5:
		return "5"
	}
	return strconv.Itoa(int(v))
}

func ago(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	d := time.Since(*t).Round(time.Second)
	if d < time.Second {
		return "now"
	}
	return d.String() + " ago"
}
