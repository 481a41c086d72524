package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/perch-gw/perch/gateway"
	"github.com/perch-gw/perch/gateway/client"
	"github.com/perch-gw/perch/gateway/config"
	"github.com/perch-gw/perch/gateway/version"
)

// remote holds the flags that say which gateway a command talks to.
type remote struct {
	dataDir, server, token, caFile string
	json                           bool
}

func (r *remote) client() (*client.Client, error) {
	ca := r.caFile
	if ca == "" && r.server != "" {
		if p := filepath.Join(r.dataDir, gateway.TLSDir, "ca.pem"); fileExists(p) {
			ca = p
		}
	}
	return client.New(client.Config{
		Socket: filepath.Join(r.dataDir, gateway.SocketFile),
		Server: r.server,
		Token:  r.token,
		CAFile: ca,
	})
}

// deleteEach deletes base+id for every id, stopping at the first error, and
// says what it did unless --json.
func (r *remote) deleteEach(cmd *cobra.Command, base, done string, ids []string) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := c.Do(cmd.Context(), "DELETE", base+url.PathEscape(id), nil, nil); err != nil {
			return err
		}
		if !r.json {
			fmt.Fprintf(cmd.OutOrStdout(), done, id)
		}
	}
	return nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func newRoot() *cobra.Command {
	r := &remote{}
	root := &cobra.Command{
		Use:           "perch",
		Short:         "Perch: an edge IoT gateway with a TLS MQTT broker and device registry",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
	}
	pf := root.PersistentFlags()
	pf.StringVar(&r.dataDir, "data-dir", envOr("PERCH_DATA_DIR", config.Default().DataDir), "the gateway's data dir (its control socket is used when --server is not given) [PERCH_DATA_DIR]")
	pf.StringVar(&r.server, "server", os.Getenv("PERCH_SERVER"), "a remote gateway's API, e.g. https://perch.local:8443 [PERCH_SERVER]")
	pf.StringVar(&r.token, "token", os.Getenv("PERCH_TOKEN"), "API token for --server [PERCH_TOKEN]")
	pf.StringVar(&r.caFile, "ca-file", os.Getenv("PERCH_CA_FILE"), "CA certificate for --server (default: the data dir's CA) [PERCH_CA_FILE]")
	pf.BoolVar(&r.json, "json", false, "print JSON for scripts instead of tables")

	root.AddCommand(newServe(), newDevice(r), newBucket(r), newDashboard(r), newMQTT(r), newToken(r), newStatus(r), newCA(r), newAdmin(r), newDiscover(r), newUpstream(r), newVersion())
	root.AddCommand(newSim(r))
	return root
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "perch", version.String())
		},
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints rows under a header, aligned.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
