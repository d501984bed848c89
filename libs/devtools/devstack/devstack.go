// Package devstack runs Bulwark on one machine in one process: the embedded
// Kafka broker and every service, fed by simulated live traffic. It is what
// `bulwark dev` and `make run` start, built from the same components as the
// standalone programs.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// Options of a dev stack.
type Options struct {
	Listen     string
	DataDir    string
	NoServices bool
	// Traffic is where the traffic comes from: TrafficGate (simulated
	// visitors through bulwark-gate to the built-in shop) or TrafficLog
	// (the simulated shop's access log through the shipper). With
	// BULWARK_GATE_UPSTREAM set, the gate fronts that site and the traffic
	// is the log's.
	Traffic    string
	Partitions int32
	// AdminAddr serves /metrics of every service in the stack.
	AdminAddr string
	// SummaryEvery is how often the live summary is printed.
	SummaryEvery time.Duration

	Kafka kafka.Config // topics and client settings; brokers are replaced by the embedded one
	Log   *slog.Logger
	Out   io.Writer // where the summary goes
}

// Validate checks the options a user typed.
func (o Options) Validate() error {
	host, _, ok := strings.Cut(o.Listen, ":")
	if !ok {
		return fmt.Errorf("--listen %q: want host:port", o.Listen)
	}
	if host != "localhost" {
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if err != nil || !a.IsLoopback() {
			return fmt.Errorf("--listen %q: the embedded broker has no authentication, so it listens on loopback only", o.Listen)
		}
	}
	if o.Traffic != TrafficGate && o.Traffic != TrafficLog {
		return fmt.Errorf("--traffic %q: want %s or %s", o.Traffic, TrafficGate, TrafficLog)
	}
	if o.Partitions < 1 {
		return errors.New("--partitions must be at least 1")
	}
	return nil
}

// Run starts the stack and blocks until ctx is done.
func Run(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	broker, err := embedkafka.Start(ctx, embedkafka.Config{
		Listen: o.Listen, DataDir: o.DataDir + "/kafka", Partitions: o.Partitions,
		Topics: o.Kafka.Topics, Logger: o.Log,
	})
	if err != nil {
		return err
	}
	defer broker.Close()
	fmt.Fprintf(o.Out, "bulwark dev: embedded Kafka on %s (data in %s)\n", broker.Addr(), o.DataDir)
	o.Kafka.Brokers = []string{broker.Addr()}
	if o.NoServices {
		fmt.Fprintf(o.Out, "bulwark dev: no services; Ctrl-C to stop\n")
		<-ctx.Done()
		return nil
	}
	return runServices(ctx, o)
}
