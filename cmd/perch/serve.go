package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/perch-gw/perch/gateway"
	"github.com/perch-gw/perch/gateway/config"
)

// stopGrace is how long a stop may take before the process exits anyway.
const stopGrace = 5 * time.Second

func newServe() *cobra.Command {
	var (
		file, readyFile string
		printConfig     bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long: `Run the gateway: the MQTT broker (TLS on :8883) and the admin API (HTTPS on :8443).

Every setting can come from a YAML file (--config), a PERCH_* environment
variable or a flag, in increasing order of precedence; --print-config shows
the result.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(config.LoadOptions{
				File:      file,
				Env:       os.Environ(),
				Flags:     cmd.Flags(),
				IgnoreEnv: []string{"PERCH_CONFIG", "PERCH_SERVER", "PERCH_TOKEN", "PERCH_CA_FILE"},
			})
			if err != nil {
				return err
			}
			if printConfig {
				out, err := cfg.YAML()
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(out)
				return err
			}
			log := newLogger(cfg.Log)
			g, err := gateway.New(cfg, log)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), g.Banner())
			ctx := cmd.Context()
			go func() {
				select {
				case <-g.Ready():
					if readyFile != "" {
						if err := writeReady(readyFile, g); err != nil {
							log.Error("could not write ready file", "err", err)
						}
					}
				case <-ctx.Done():
				}
			}()
			go func() {
				<-ctx.Done()
				log.Info("stopping")
				time.Sleep(stopGrace)
				fmt.Fprintln(os.Stderr, "perch: did not stop within", stopGrace, "- exiting")
				os.Exit(1)
			}()
			if err := g.Run(ctx); err != nil {
				return err
			}
			log.Info("stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "config", "c", os.Getenv("PERCH_CONFIG"), "YAML configuration file [PERCH_CONFIG]")
	f.BoolVar(&printConfig, "print-config", false, "print the effective configuration as YAML and exit")
	f.StringVar(&readyFile, "ready-file", "", "write the bound addresses as JSON to this file once serving (for scripts and tests)")
	config.RegisterFlags(f)
	f.SortFlags = false
	return cmd
}

func newLogger(c config.Log) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// writeReady writes the bound addresses atomically, so a reader never sees
// a partial file.
func writeReady(path string, g *gateway.Gateway) error {
	info := map[string]string{
		"socket":  g.Socket(),
		"account": g.Config().Account,
		"ca_file": filepath.Join(g.Config().DataDir, gateway.TLSDir, "ca.pem"),
	}
	for k, v := range g.Addrs() {
		info[k] = v
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
