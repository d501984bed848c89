package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

func init() { commands = append(commands, newMigrateCmd) }

func newMigrateCmd(g *globals) *cobra.Command {
	var (
		addr  string
		print string
	)
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the ClickHouse schema (versioned, idempotent)",
		Long: `Creates or updates Bulwark's ClickHouse database: the raw tables, the per-minute
rollups and their materialized views, and the retention (TTL where the server
has it). Features newer than ClickHouse 18.16 are used only where the server
has them. Running it again changes nothing. The server comes from
BULWARK_CLICKHOUSE_ADDR (or --clickhouse), with BULWARK_CLICKHOUSE_DATABASE,
_USER, _PASSWORD, _TLS and _RETENTION_DAYS.

--print 18.16|current prints the schema for such a server instead, without
connecting (schemas/clickhouse/ holds both).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg chschema.Config
			if err := config.Parse(&cfg, nil); err != nil && print == "" && addr == "" {
				return err
			}
			if cfg.Database == "" {
				cfg.Database = "bulwark"
			}
			if print != "" {
				f, ok := map[string]chschema.Features{"18.16": chschema.Legacy, "current": chschema.Modern}[print]
				if !ok {
					return usageError{fmt.Errorf("--print %q: want 18.16 or current", print)}
				}
				sql, err := chschema.Render(cfg.Database, f, cfg.RetentionDays)
				if err != nil {
					return err
				}
				_, err = fmt.Fprint(cmd.OutOrStdout(), sql)
				return err
			}
			if addr != "" {
				cfg.Addr = addr
			}
			if cfg.DialTimeout == 0 {
				cfg.DialTimeout = 10 * time.Second
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			conn, err := chschema.Open(ctx, cfg)
			if err != nil {
				return err
			}
			defer conn.Close()
			res, err := chschema.Apply(ctx, conn, cfg, g.Log)
			if err != nil {
				return err
			}
			if len(res.Applied) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "schema of %s is current (ClickHouse %s)\n", cfg.Database, res.Features.Version)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "applied migrations %v to %s (ClickHouse %s)\n", res.Applied, cfg.Database, res.Features.Version)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "clickhouse", "", "ClickHouse native address host:port (default $BULWARK_CLICKHOUSE_ADDR)")
	cmd.Flags().StringVar(&print, "print", "", "print the schema for a server: 18.16 or current, without connecting")
	return cmd
}
