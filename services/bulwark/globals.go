package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// globals are the flags and settings every subcommand shares.
type globals struct {
	brokers  string
	logLevel string

	Log   *slog.Logger
	Kafka kafka.Config
}

func (g *globals) register(root *cobra.Command) {
	root.PersistentFlags().StringVar(&g.brokers, "brokers", "", "Kafka brokers, comma-separated (default $BULWARK_KAFKA_BROKERS or 127.0.0.1:9092)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
}

// init reads the environment (BULWARK_*) and applies the flags over it.
func (g *globals) init(cmd *cobra.Command) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(g.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)}
	}
	g.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	if err := config.Parse(&g.Kafka, nil); err != nil {
		return err
	}
	if g.brokers != "" {
		g.Kafka.Brokers = strings.Split(g.brokers, ",")
		if err := g.Kafka.Validate(); err != nil {
			return usageError{fmt.Errorf("--brokers: %w", err)}
		}
	}
	g.Kafka.ClientID = "bulwark-cli-" + cmd.Name()
	return nil
}
