package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

type tokenView struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	ReadOnly bool      `json:"read_only"`
	Created  time.Time `json:"created"`
	Token    string    `json:"token,omitempty"`
}

func newToken(r *remote) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Aliases: []string{"tokens"}, Short: "Manage API tokens: create, ls, rm"}
	var readOnly bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API token; it is printed once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var t tokenView
			if err := c.Do(cmd.Context(), "POST", "/api/v1/tokens", map[string]any{"name": args[0], "read_only": readOnly}, &t); err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), t)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Token %q created%s:\n\n  %s\n\nIt is shown only now. Use it as: perch --server https://HOST:8443 --token TOKEN ...\n",
				t.Name, map[bool]string{true: " (read-only)", false: ""}[t.ReadOnly], t.Token)
			return nil
		},
	}
	create.Flags().BoolVar(&readOnly, "read-only", false, "the token may only read")
	list := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List API tokens",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var ts []tokenView
			if err := c.Do(cmd.Context(), "GET", "/api/v1/tokens", nil, &ts); err != nil {
				return err
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), ts)
			}
			rows := make([][]string, 0, len(ts))
			for _, t := range ts {
				rows = append(rows, []string{t.ID, t.Name, map[bool]string{true: "read-only", false: "full"}[t.ReadOnly], t.Created.Local().Format(time.RFC3339)})
			}
			return table(cmd.OutOrStdout(), []string{"ID", "NAME", "ACCESS", "CREATED"}, rows)
		},
	}
	rm := &cobra.Command{
		Use:     "rm ID|NAME...",
		Aliases: []string{"remove", "revoke"},
		Short:   "Revoke API tokens",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.deleteEach(cmd, "/api/v1/tokens/", "Revoked token %q.\n", args)
		},
	}
	cmd.AddCommand(create, list, rm)
	return cmd
}
