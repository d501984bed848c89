package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

func init() { commands = append(commands, newShipCmd) }

func newShipCmd(g *globals) *cobra.Command {
	var (
		format     string
		follow     bool
		checkpoint string
	)
	cmd := &cobra.Command{
		Use:   "ship --format nginx|nginx-json|cloudflare [--follow] FILE...",
		Short: "Publish log lines to the requests topic and print a summary",
		Long: `Reads each FILE and publishes every line to Kafka: parsed requests to the
requests topic, lines that cannot be parsed to the dead-letter topic with the
reason. Without --follow it exits once every line is acknowledged by Kafka and
prints "shipped N, rejected M". With --follow it keeps reading the files as
they grow and rotate, until interrupted.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			var c shipper.Config
			if err := config.Fill(&c, nil); err != nil {
				return err
			}
			c.Files, c.Format, c.Follow, c.CheckpointFile, c.StartAt = files, format, follow, checkpoint, "beginning"
			if err := c.Validate(); err != nil {
				return usageError{err}
			}
			s, err := shipper.New(c, g.Kafka, g.Log, nil)
			if err != nil {
				return err
			}
			runErr := s.Run(cmd.Context())
			sum := s.Summary()
			fmt.Fprintf(cmd.OutOrStdout(), "shipped %d, rejected %d\n", sum.Shipped, sum.Rejected)
			if runErr != nil {
				return runErr
			}
			if sum.Shipped+sum.Rejected+sum.Skipped < sum.Read {
				return fmt.Errorf("%d of %d lines were not acknowledged by Kafka", sum.Read-sum.Shipped-sum.Rejected-sum.Skipped, sum.Read)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "nginx", "log format: nginx, nginx-json or cloudflare")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep reading the files as they grow and rotate")
	cmd.Flags().StringVar(&checkpoint, "checkpoint", "", "checkpoint file, to resume an interrupted shipment where it stopped")
	return cmd
}
