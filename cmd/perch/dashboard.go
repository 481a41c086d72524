package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/perch-gw/perch/gateway/client"
)

func dashboardPath(id string) string { return "/api/v1/dashboards/" + url.PathEscape(id) }

func newDashboard(r *remote) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "dashboard",
		Aliases: []string{"dashboards"},
		Short:   "Manage the console's dashboards: ls, show, export, import, rm",
	}
	cmd.AddCommand(dashboardList(r), dashboardShow(r), dashboardExport(r), dashboardImport(r), dashboardRemove(r))
	return cmd
}

func dashboardList(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List dashboards",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.Do(cmd.Context(), "GET", "/api/v1/dashboards", nil, &raw); err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var ds []struct {
				ID      string            `json:"id"`
				Name    string            `json:"name"`
				Widgets []json.RawMessage `json:"widgets"`
				Updated time.Time         `json:"updated"`
			}
			if err := json.Unmarshal(raw, &ds); err != nil {
				return err
			}
			if len(ds) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "No dashboards yet. Make one in the web console, or: perch dashboard import FILE")
				return nil
			}
			rows := make([][]string, 0, len(ds))
			for _, d := range ds {
				rows = append(rows, []string{d.ID, d.Name, strconv.Itoa(len(d.Widgets)), d.Updated.Local().Format(time.RFC3339)})
			}
			return table(cmd.OutOrStdout(), []string{"ID", "NAME", "WIDGETS", "UPDATED"}, rows)
		},
	}
}

func dashboardShow(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Print a dashboard as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.Do(cmd.Context(), "GET", dashboardPath(args[0]), nil, &raw); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), raw)
		},
	}
}

func dashboardExport(r *remote) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export ID",
		Short: "Write a dashboard as JSON for import on this or another gateway",
		Long: `Write a dashboard as JSON, without its created and updated times, for
perch dashboard import on this or another gateway (or to keep in git).`,
		Example: `  perch dashboard export greenhouse -o greenhouse.json
  perch dashboard export greenhouse | ssh pi@other.local perch dashboard import -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var d map[string]json.RawMessage
			if err := c.Do(cmd.Context(), "GET", dashboardPath(args[0]), nil, &d); err != nil {
				return err
			}
			delete(d, "created")
			delete(d, "updated")
			// Members sorted by name: id, name, widgets; each widget as the
			// gateway wrote it.
			out, err := json.MarshalIndent(d, "", "  ")
			if err != nil {
				return err
			}
			out = append(out, '\n')
			if output == "" {
				_, err := cmd.OutOrStdout().Write(out)
				return err
			}
			if _, err := writeFileAtomic(output, func(w io.Writer) error { _, err := w.Write(out); return err }); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote dashboard %q to %s.\n", args[0], output)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

func dashboardImport(r *remote) *cobra.Command {
	var (
		replace bool
		newID   string
	)
	cmd := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Create a dashboard from JSON (as export writes it; - reads stdin)",
		Long: `Create a dashboard from JSON, as perch dashboard export writes it (created
and updated times, if present, are ignored). A dashboard with the same id
is an error unless --replace is given, which replaces its name and widgets.
--id imports it under another id (a copy).`,
		Example: `  perch dashboard import greenhouse.json
  perch dashboard import greenhouse.json --replace
  perch dashboard export greenhouse | perch dashboard import - --id greenhouse-copy`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var (
				data []byte
				err  error
			)
			if args[0] == "-" {
				data, err = io.ReadAll(cmd.InOrStdin())
			} else {
				data, err = os.ReadFile(args[0])
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", args[0], err)
			}
			if err := checkJSON(data); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			var d map[string]json.RawMessage
			if err := json.Unmarshal(data, &d); err != nil {
				return fmt.Errorf("%s: not a dashboard (a JSON object): %w", args[0], err)
			}
			if cmd.Flags().Changed("id") {
				d["id"], _ = json.Marshal(newID)
			}
			var id string
			if err := json.Unmarshal(d["id"], &id); err != nil || id == "" {
				return fmt.Errorf("%s has no \"id\"; give one with --id", args[0])
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			var raw json.RawMessage
			verb := "created"
			err = c.Do(cmd.Context(), "POST", "/api/v1/dashboards", d, &raw)
			var ae *client.Error
			if errors.As(err, &ae) && ae.Code == "exists" {
				if !replace {
					return fmt.Errorf("dashboard %q already exists; use --replace to replace it", id)
				}
				verb = "replaced"
				err = c.Do(cmd.Context(), "PUT", dashboardPath(id), d, &raw)
			}
			if err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Dashboard %q %s.\n", id, verb)
			return nil
		},
	}
	cmd.Flags().BoolVar(&replace, "replace", false, "replace a dashboard with the same id")
	cmd.Flags().StringVar(&newID, "id", "", "import under this id instead of the file's")
	return cmd
}

func dashboardRemove(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:     "rm ID...",
		Aliases: []string{"remove", "delete"},
		Short:   "Delete dashboards",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.deleteEach(cmd, "/api/v1/dashboards/", "Deleted dashboard %q.\n", args)
		},
	}
}

func newMQTT(r *remote) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mqtt",
		Short: "Publish and watch MQTT messages through the gateway: publish, watch",
	}
	cmd.AddCommand(mqttPublish(r), mqttWatch(r))
	return cmd
}

func mqttPublish(r *remote) *cobra.Command {
	var (
		qos    int
		retain bool
	)
	cmd := &cobra.Command{
		Use:   "publish TOPIC PAYLOAD|-",
		Short: "Publish a message from the gateway itself (- reads the payload from stdin)",
		Long: `Publish a message from the gateway itself, as the console's switches do.
No device login is needed; each subscriber's ACL still applies. A message
on a topic that a bucket records is stored there first, as device "api".`,
		Example: `  perch mqtt publish cmd/lamp on --qos 1
  perch mqtt publish config/greenhouse-1 '{"interval":60}' --retain
  perch mqtt publish firmware/chunk - < chunk.bin`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			payload := []byte(args[1])
			if args[1] == "-" {
				var err error
				if payload, err = io.ReadAll(cmd.InOrStdin()); err != nil {
					return fmt.Errorf("read stdin: %w", err)
				}
			}
			body := map[string]any{"topic": args[0], "qos": qos, "retain": retain}
			if utf8.Valid(payload) {
				body["payload"] = string(payload)
			} else {
				body["payload_base64"] = base64.StdEncoding.EncodeToString(payload)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.Do(cmd.Context(), "POST", "/api/v1/mqtt/publish", body, &raw); err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Published %d bytes to %s (QoS %d%s).\n", len(payload), args[0], qos, map[bool]string{true: ", retained"}[retain])
			return nil
		},
	}
	cmd.Flags().IntVarP(&qos, "qos", "q", 0, "quality of service towards subscribers: 0, 1 or 2")
	cmd.Flags().BoolVarP(&retain, "retain", "r", false, "retain the message for future subscribers")
	return cmd
}

func mqttWatch(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "watch FILTER",
		Short: "Print the messages published on a topic filter until Ctrl-C",
		Long: `Print the messages published on a topic filter, one line each: the topic,
a space, the payload (binary ones in base64, marked so), starting with
the retained ones, until Ctrl-C. With --json, each message's JSON event.
Topics beginning with '$' are not shown.`,
		Example: `  perch mqtt watch 'sensors/#'
  perch mqtt watch 'cmd/+/lamp' --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			w := client.EventWriter(func(ev client.Event) error {
				switch ev.Name {
				case "end":
					return client.ErrStreamEnded
				case "dropped":
					var d struct{ Dropped int64 }
					_ = json.Unmarshal([]byte(ev.Data), &d)
					fmt.Fprintf(errOut, "perch: %d messages lost so far: this terminal reads slower than they arrive\n", d.Dropped)
					return nil
				case "":
				default:
					return nil
				}
				if r.json {
					_, err := fmt.Fprintln(out, ev.Data)
					return err
				}
				var m struct {
					Topic    string `json:"topic"`
					Payload  string `json:"payload"`
					Encoding string `json:"encoding"`
				}
				if err := json.Unmarshal([]byte(ev.Data), &m); err != nil {
					return fmt.Errorf("decode an event: %w", err)
				}
				if m.Encoding == "base64" {
					m.Payload = "(base64) " + m.Payload
				}
				_, err := fmt.Fprintf(out, "%s %s\n", m.Topic, m.Payload)
				return err
			})
			_, err = c.Stream(cmd.Context(), "/api/v1/mqtt/stream?"+url.Values{"filter": {args[0]}}.Encode(), "text/event-stream", w)
			switch {
			case err != nil && cmd.Context().Err() != nil:
				return nil // Ctrl-C
			case errors.Is(err, client.ErrStreamEnded):
				return errors.New("the gateway ended the stream: it is shutting down")
			case err == nil:
				return errors.New("the gateway closed the stream")
			}
			return err
		},
	}
}
