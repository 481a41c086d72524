package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/perch-gw/perch/gateway/client"
)

// bucketView is a bucket as the API answers it.
type bucketView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	Topic       string    `json:"topic"`
	Retention   string    `json:"retention"`
	Resolution  string    `json:"resolution"`
	Created     time.Time `json:"created"`
	Provisioned bool      `json:"provisioned"`
	Stats       struct {
		Series        int64  `json:"series"`
		Points        int64  `json:"points"`
		FirstTS       *int64 `json:"first_ts"`
		LastTS        *int64 `json:"last_ts"`
		Bytes         int64  `json:"bytes"`
		Pending       int64  `json:"pending"`
		Stalls        int64  `json:"stalls"`
		Rejected      int64  `json:"rejected"`
		LastRejection *struct {
			Reason string    `json:"reason"`
			Detail string    `json:"detail"`
			Device string    `json:"device"`
			Topic  string    `json:"topic"`
			At     time.Time `json:"at"`
		} `json:"last_rejection"`
	} `json:"stats"`
}

func bucketPath(id string) string { return "/api/v1/buckets/" + url.PathEscape(id) }

func newBucket(r *remote) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "bucket",
		Aliases: []string{"buckets"},
		Short:   "Manage data buckets: add, ls, show, rm, enable, disable, read, write, clear",
	}
	cmd.AddCommand(bucketAdd(r), bucketList(r), bucketShow(r), bucketRemove(r),
		bucketEnable(r, true), bucketEnable(r, false), bucketRead(r), bucketWrite(r), bucketClear(r))
	return cmd
}

func bucketAdd(r *remote) *cobra.Command {
	var disabled bool
	cmd := &cobra.Command{
		Use:   "add ID",
		Short: "Create a bucket that stores what devices publish on a topic filter",
		Example: `  perch bucket add env --topic 'sensors/+/env' --name Environment
  perch bucket add power --topic 'meters/#' --retention 30d --resolution 1s
  perch bucket add manual   # takes only writes through the API`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			body := map[string]any{"id": args[0], "enabled": !disabled}
			// Send only what was given, so that the server's defaults apply.
			for _, name := range []string{"name", "description", "topic", "retention", "resolution"} {
				if f := cmd.Flags().Lookup(name); f.Changed {
					body[name] = f.Value.String()
				}
			}
			var raw json.RawMessage
			if err := c.Do(cmd.Context(), "POST", "/api/v1/buckets", body, &raw); err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var b bucketView
			if err := json.Unmarshal(raw, &b); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Bucket %q created.\n\n", b.ID)
			printBucket(cmd.OutOrStdout(), b)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("topic", "", "MQTT topic filter whose messages it stores, e.g. 'sensors/+/env' (default: none, API writes only)")
	f.String("name", "", "display name (default: the id)")
	f.String("description", "", "description")
	f.String("retention", "365d", "how long points are kept: 30d, 12h, 1w, or 0 for ever")
	f.String("resolution", "1ms", "time resolution of the points stored: 1ms, 1s, ...")
	f.BoolVar(&disabled, "disabled", false, "create it disabled (it stores nothing until enabled)")
	return cmd
}

func bucketList(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List buckets with what they hold",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.Do(cmd.Context(), "GET", "/api/v1/buckets", nil, &raw); err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var bs []bucketView
			if err := json.Unmarshal(raw, &bs); err != nil {
				return err
			}
			if len(bs) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "No buckets yet. Add one: perch bucket add ID --topic 'sensors/+/env'")
				return nil
			}
			rows := make([][]string, 0, len(bs))
			for _, b := range bs {
				rows = append(rows, []string{b.ID, enabledWord(b.Enabled), topicWord(b.Topic),
					strconv.FormatInt(b.Stats.Series, 10), strconv.FormatInt(b.Stats.Points, 10),
					msTime(b.Stats.LastTS), strconv.FormatInt(b.Stats.Rejected, 10)})
			}
			return table(cmd.OutOrStdout(), []string{"ID", "ENABLED", "TOPIC", "SERIES", "POINTS", "LAST", "REJECTED"}, rows)
		},
	}
}

func bucketShow(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one bucket, with its statistics and last rejected message",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.Do(cmd.Context(), "GET", bucketPath(args[0]), nil, &raw); err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var b bucketView
			if err := json.Unmarshal(raw, &b); err != nil {
				return err
			}
			printBucket(cmd.OutOrStdout(), b)
			return nil
		},
	}
}

// printBucket prints a bucket as a key: value block.
func printBucket(w io.Writer, b bucketView) {
	s := b.Stats
	retention := b.Retention
	if retention == "0" {
		retention = "0 (forever)"
	}
	rows := [][]string{
		{"id", b.ID}, {"name", b.Name}, {"description", b.Description},
		{"enabled", enabledWord(b.Enabled)},
		{"topic", topicWord(b.Topic)},
		{"retention", retention},
		{"resolution", b.Resolution},
		{"created", b.Created.Local().Format(time.RFC3339)},
		{"provisioned", enabledWord(b.Provisioned)},
		{"series", strconv.FormatInt(s.Series, 10)},
		{"points", strconv.FormatInt(s.Points, 10)},
		{"first", msTime(s.FirstTS)},
		{"last", msTime(s.LastTS)},
		{"bytes", strconv.FormatInt(s.Bytes, 10)},
		{"pending", strconv.FormatInt(s.Pending, 10)},
		{"stalls", strconv.FormatInt(s.Stalls, 10)},
		{"rejected", strconv.FormatInt(s.Rejected, 10)},
	}
	if lr := s.LastRejection; lr != nil {
		what := lr.Reason
		if lr.Detail != "" {
			what += ": " + lr.Detail
		}
		rows = append(rows, []string{"last rejection", what})
		var from []string
		if lr.Device != "" {
			from = append(from, "device "+lr.Device)
		}
		if lr.Topic != "" {
			from = append(from, "topic "+lr.Topic)
		}
		if !lr.At.IsZero() {
			from = append(from, "at "+lr.At.Local().Format(time.RFC3339))
		}
		if len(from) > 0 {
			rows = append(rows, []string{"", strings.Join(from, ", ")})
		}
	}
	for _, row := range rows {
		fmt.Fprintf(w, "%-16s %s\n", row[0], row[1])
	}
}

func topicWord(t string) string {
	if t == "" {
		return "(api only)"
	}
	return t
}

// msTime formats a time in ms since the epoch, "-" for none.
func msTime(ms *int64) string {
	if ms == nil {
		return "-"
	}
	return time.UnixMilli(*ms).Local().Format(time.RFC3339)
}

func bucketRemove(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:     "rm ID...",
		Aliases: []string{"remove", "delete"},
		Short:   "Delete buckets and all their data",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.deleteEach(cmd, "/api/v1/buckets/", "Deleted bucket %q and its data.\n", args)
		},
	}
}

func bucketEnable(r *remote, enable bool) *cobra.Command {
	use, short := "enable ID...", "Enable buckets: they store what arrives on their topic again"
	if !enable {
		use, short = "disable ID...", "Disable buckets: they keep their data but store nothing new"
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
				var raw json.RawMessage
				if err := c.Do(cmd.Context(), "PATCH", bucketPath(id), map[string]bool{"enabled": enable}, &raw); err != nil {
					return err
				}
				if r.json {
					if err := printJSON(cmd.OutOrStdout(), raw); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Bucket %q %s.\n", id, map[bool]string{true: "enabled", false: "disabled"}[enable])
			}
			return nil
		},
	}
}

// readParams are the flags of `bucket read` that become query parameters
// of the same name, with --ts-format as ts_format.
var readParams = []string{"from", "to", "device", "topic", "agg", "every", "limit", "sort", "ts-format"}

func bucketRead(r *remote) *cobra.Command {
	var (
		format, output string
		fields         []string
	)
	cmd := &cobra.Command{
		Use:   "read ID",
		Short: "Read a bucket's data as a table, or export it as CSV, JSON or ARFF",
		Long: `Read a bucket's data as a table, or export it as CSV, JSON or ARFF (Weka).

Times (--from, --to) are epoch milliseconds, RFC 3339 or relative to now
(-1h, -7d). CSV, JSON and ARFF are streamed as the gateway sends them, to
stdout or to --output, which is written whole or not at all.`,
		Example: `  perch bucket read env --from -1h
  perch bucket read env --from -7d --agg avg --every 1h --fields temp,hum
  perch bucket read env --device greenhouse-1 --sort desc --limit 10
  perch bucket read env --format csv --ts-format iso -o env.csv
  perch bucket read env --format arff -o env.arff`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if r.json {
				if cmd.Flags().Changed("format") && format != "json" {
					return fmt.Errorf("--json and --format %s contradict each other", format)
				}
				format = "json"
			}
			switch format {
			case "table", "csv", "json", "arff":
			default:
				return fmt.Errorf("--format must be table, csv, json or arff, not %q", format)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			// Pass only what was given, so that the server's defaults apply.
			q := url.Values{}
			for _, name := range readParams {
				if f := cmd.Flags().Lookup(name); f.Changed {
					q.Set(strings.ReplaceAll(name, "-", "_"), f.Value.String())
				}
			}
			if len(fields) > 0 {
				q["fields"] = fields
			}
			if format == "table" {
				q.Set("format", "json")
				if !q.Has("ts_format") {
					q.Set("ts_format", "iso")
				}
			} else {
				q.Set("format", format)
			}
			accept := map[string]string{"table": "application/json", "json": "application/json", "csv": "text/csv", "arff": "text/plain"}[format]
			path := bucketPath(args[0]) + "/data?" + q.Encode()
			write := func(w io.Writer) error {
				if format == "table" {
					return readTable(cmd, c, path, w)
				}
				_, err := c.Stream(cmd.Context(), path, accept, w)
				return err
			}
			if output == "" {
				return write(cmd.OutOrStdout())
			}
			n, err := writeFileAtomic(output, write)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s (%d bytes).\n", output, n)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("from", "", "start time, inclusive: epoch ms, RFC 3339 or -1h (default: the first point)")
	f.String("to", "", "end time, inclusive: epoch ms, RFC 3339 or -5m (default: the last point)")
	f.StringArrayVar(&fields, "fields", nil, "fields to read, comma separated (default: all)")
	f.String("device", "", "only this device's points")
	f.String("topic", "", "only points that arrived on this topic")
	f.String("agg", "", "aggregate: avg, min, max, sum, count, first or last")
	f.String("every", "", "aggregation interval, e.g. 5m (default with --agg: one value over the range)")
	f.Int("limit", 0, "at most this many records")
	f.String("sort", "", "asc or desc, by time (default asc)")
	f.String("ts-format", "", "times as ms (epoch milliseconds) or iso (RFC 3339) (default: ms; iso for tables)")
	f.StringVar(&format, "format", "table", "table, csv, json or arff")
	f.StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

// readTable reads records as JSON and prints them as a table: TS, DEVICE,
// then the fields, a blank cell for a missing value.
func readTable(cmd *cobra.Command, c *client.Client, path string, w io.Writer) error {
	var buf bytes.Buffer
	if _, err := c.Stream(cmd.Context(), path, "application/json", &buf); err != nil {
		return err
	}
	cols, recs, err := decodeRecords(&buf)
	if err != nil {
		return fmt.Errorf("decode the data: %w", err)
	}
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "No data.")
		return err
	}
	header := append([]string{"TS", "DEVICE"}, cols...)
	rows := make([][]string, 0, len(recs))
	for _, rec := range recs {
		row := make([]string, len(header))
		for k, v := range rec {
			switch k {
			case "ts":
				row[0] = v
			case "device":
				row[1] = v
			default:
				row[2+slices.Index(cols, k)] = v
			}
		}
		rows = append(rows, row)
	}
	return table(w, header, rows)
}

// decodeRecords decodes a JSON array of flat objects, returning each as
// its values by key, and the keys other than ts and device in the order
// the objects give them.
func decodeRecords(rd io.Reader) (cols []string, recs []map[string]string, err error) {
	dec := json.NewDecoder(rd)
	dec.UseNumber()
	if err := expectDelim(dec, '['); err != nil {
		return nil, nil, err
	}
	for dec.More() {
		if err := expectDelim(dec, '{'); err != nil {
			return nil, nil, err
		}
		rec := map[string]string{}
		prev := -1 // the column of this record's previous key
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return nil, nil, err
			}
			k, _ := t.(string)
			var v any
			if err := dec.Decode(&v); err != nil {
				return nil, nil, err
			}
			rec[k] = cellText(v)
			if k == "ts" || k == "device" {
				continue
			}
			// A key first seen goes after this record's previous one: the
			// server writes fields in one order, leaving out missing ones.
			if i := slices.Index(cols, k); i >= 0 {
				prev = i
			} else {
				prev++
				cols = slices.Insert(cols, prev, k)
			}
		}
		if err := expectDelim(dec, '}'); err != nil {
			return nil, nil, err
		}
		recs = append(recs, rec)
	}
	return cols, recs, expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %v", want, t)
	}
	return nil
}

func cellText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return fmt.Sprint(v)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeFileAtomic writes a file by way of path.tmp, renamed to path once
// complete and synced, so that a failed write leaves no half file. It
// returns the number of bytes written.
func writeFileAtomic(path string, write func(io.Writer) error) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{w: f}
	err = write(cw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return cw.n, nil
}

func bucketWrite(r *remote) *cobra.Command {
	var device string
	cmd := &cobra.Command{
		Use:   "write ID JSON|-",
		Short: "Store points sent as JSON (an object or an array of them; - reads stdin)",
		Long: `Store points sent as JSON: one object or an array of them, as a device
would publish them. Numbers and booleans are stored, nested objects are
flattened (a.b), and "ts" may give the time in epoch ms or RFC 3339
(default: now). JSON - reads it from stdin.`,
		Example: `  perch bucket write env '{"temp":21.5,"hum":40}'
  perch bucket write env '[{"ts":1764086400000,"temp":21.5},{"ts":1764086460000,"temp":21.6}]' --device greenhouse-1
  cat points.json | perch bucket write env -`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			data := []byte(args[1])
			if args[1] == "-" {
				var err error
				if data, err = io.ReadAll(cmd.InOrStdin()); err != nil {
					return fmt.Errorf("read stdin: %w", err)
				}
			}
			if err := checkJSON(data); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			path := bucketPath(args[0]) + "/data"
			if cmd.Flags().Changed("device") {
				path += "?" + url.Values{"device": {device}}.Encode()
			}
			var raw json.RawMessage
			if err := c.Do(cmd.Context(), "POST", path, json.RawMessage(data), &raw); err != nil {
				return err
			}
			var res struct {
				Accepted int `json:"accepted"`
				Rejected []struct {
					Index   int    `json:"index"`
					Reason  string `json:"reason"`
					Message string `json:"message"`
				} `json:"rejected"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				return err
			}
			if r.json {
				if err := printJSON(cmd.OutOrStdout(), raw); err != nil {
					return err
				}
			} else {
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "accepted %d\n", res.Accepted)
				for _, rj := range res.Rejected {
					fmt.Fprintf(out, "rejected [%d] %s: %s\n", rj.Index, rj.Reason, rj.Message)
				}
			}
			if res.Accepted == 0 {
				return fmt.Errorf("bucket %q stored nothing (%d rejected)", args[0], len(res.Rejected))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&device, "device", "", `the device the points are stored under (default "api")`)
	return cmd
}

// checkJSON says where data is not JSON, which the server would refuse
// less precisely.
func checkJSON(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("no JSON given")
	}
	var v json.RawMessage
	if err := json.Unmarshal(data, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("not valid JSON: %v (at byte %d)", se, se.Offset)
		}
		return fmt.Errorf("not valid JSON: %w", err)
	}
	return nil
}

func bucketClear(r *remote) *cobra.Command {
	var (
		from, to string
		yes      bool
	)
	cmd := &cobra.Command{
		Use:   "clear ID",
		Short: "Delete a bucket's data, all of it or a time range; the bucket stays",
		Example: `  perch bucket clear env --yes
  perch bucket clear env --to -30d --yes
  perch bucket clear env --from 2026-11-01T00:00:00Z --to 2026-11-02T00:00:00Z`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			what := "all data"
			q := url.Values{}
			if from != "" {
				q.Set("from", from)
				what = "data from " + from
			}
			if to != "" {
				q.Set("to", to)
				if from == "" {
					what = "data up to " + to
				} else {
					what += " to " + to
				}
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			if !yes {
				if err := canAsk(cmd); err != nil {
					return err
				}
				// Ask about a bucket that exists, saying how much it holds.
				var b bucketView
				if err := c.Do(cmd.Context(), "GET", bucketPath(id), nil, &b); err != nil {
					return err
				}
				q := fmt.Sprintf("Delete %s of bucket %q (it holds %d points)? This cannot be undone. [y/N] ", what, id, b.Stats.Points)
				if !confirm(cmd, q) {
					return errors.New("cancelled: nothing cleared")
				}
			}
			path := bucketPath(id) + "/data"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var raw json.RawMessage
			if err := c.Do(cmd.Context(), "DELETE", path, nil, &raw); err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Cleared %s of bucket %q.\n", what, id)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "start of the range, inclusive: epoch ms, RFC 3339 or -7d (default: the beginning)")
	f.StringVar(&to, "to", "", "end of the range, inclusive: epoch ms, RFC 3339 or -30d (default: the end)")
	f.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// canAsk says to pass --yes when stdin is not a terminal to ask on.
func canAsk(cmd *cobra.Command) error {
	if f, ok := cmd.InOrStdin().(*os.File); !ok || !isTerminal(f) {
		return errors.New("this deletes data and stdin is not a terminal to confirm it on: pass --yes")
	}
	return nil
}

// confirm asks a yes/no question on stderr and reads the answer from
// stdin; no answer is no.
func confirm(cmd *cobra.Command, question string) bool {
	fmt.Fprint(cmd.ErrOrStderr(), question)
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(cmd.ErrOrStderr())
		return false
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// isTerminal reports whether f is a terminal, as near as the standard
// library tells: a character device other than /dev/null (which is where
// the stdin of a process started without one points).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}
