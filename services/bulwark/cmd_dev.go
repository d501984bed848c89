package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/devtools/devstack"
)

func init() { commands = append(commands, newDevCmd) }

func newDevCmd(g *globals) *cobra.Command {
	var o devstack.Options
	cmd := &cobra.Command{
		Use:   "dev [--listen 127.0.0.1:9092] [--data DIR] [--traffic gate|log] [--no-services]",
		Short: "Run an embedded Kafka broker and the whole pipeline in one process",
		Long: `Starts an embedded Kafka broker (real Kafka protocol, persisted in --data) with
Bulwark's topics, and, unless --no-services, every service in this process:
the aggregator, the decider, the sidecar, and the traffic. With --traffic gate
(the default) that is a simulated shop served over HTTP behind bulwark-gate
(BULWARK_GATE_ADDR, default 127.0.0.1:8080), visited by simulated people, who
solve the gate's challenges, and bots, which fail them or give up; the gate
publishes the request events. With --traffic log, or when BULWARK_GATE_UPSTREAM
names your own site (the gate then fronts it), the shipper follows a simulated
shop's live access log instead. The ClickHouse sink runs when BULWARK_CLICKHOUSE_ADDR is
set, the Cloudflare syncer when BULWARK_CLOUDFLARE_API_TOKEN is set and the
nftables syncer when BULWARK_FWSYNC_TABLE is set. Every service reads its
BULWARK_* variables as its own program does. Prints
a live summary until interrupted (Ctrl-C stops everything cleanly).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.DataDir == "" {
				o.DataDir = filepath.Join(os.TempDir(), "bulwark-dev")
			}
			o.Kafka = g.Kafka
			o.Log = g.Log
			o.Out = cmd.OutOrStdout()
			if err := o.Validate(); err != nil {
				return usageError{err}
			}
			err := devstack.Run(cmd.Context(), o)
			if err != nil {
				return fmt.Errorf("dev: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:9092", "address of the embedded Kafka broker (loopback only)")
	cmd.Flags().StringVar(&o.DataDir, "data", "", "data directory of the broker and the services (default $TMPDIR/bulwark-dev)")
	cmd.Flags().StringVar(&o.Traffic, "traffic", devstack.TrafficGate, "where the traffic comes from: gate (simulated visitors through bulwark-gate to a built-in shop) or log (a simulated access log through the shipper)")
	cmd.Flags().BoolVar(&o.NoServices, "no-services", false, "run only the embedded broker")
	cmd.Flags().Int32Var(&o.Partitions, "partitions", 4, "partitions of each topic created")
	cmd.Flags().StringVar(&o.AdminAddr, "admin", "127.0.0.1:8489", "address serving /metrics of every service")
	cmd.Flags().DurationVar(&o.SummaryEvery, "summary-every", 5*time.Second, "how often the live summary is printed")
	return cmd
}
