// Command bulwark-decider turns scores into verdicts: it consumes
// bulwark.scores.v1 in a consumer group and writes verdict changes and
// expiry tombstones to the compacted bulwark.verdicts.v1. Configuration:
// BULWARK_* (BULWARK_RULES_FILE, BULWARK_DECIDER_*, BULWARK_KAFKA_*); send
// SIGHUP to reload the rule file (it is also reloaded when it changes).
// The logic is in libs/decider.
package main

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/config"
	"github.com/bulwarkhq/bulwark/libs/decider"
	"github.com/bulwarkhq/bulwark/libs/kafka"
	"github.com/bulwarkhq/bulwark/libs/service"
)

type cfg struct {
	Log     service.LogConfig
	Kafka   kafka.Config
	Decider decider.Config
}

func main() {
	service.Exit("bulwark-decider", run())
}

func run() error {
	c, err := config.Load[cfg]()
	if err != nil {
		return err
	}
	log := c.Log.NewLogger("bulwark-decider")
	reg := service.NewRegistry()
	ctx, stop := service.SignalContext()
	defer stop()

	d, err := decider.NewService(c.Decider, c.Kafka, log, reg)
	if err != nil {
		return err
	}
	// The admin server outlives the decider's shutdown so that /metrics
	// stays readable while the last verdicts are written.
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return service.Serve(adminCtx, c.Decider.MetricsAddr, service.AdminMux(reg, nil, d.CheckReady), log)
	})
	g.Go(func() error {
		defer stopAdmin()
		start := time.Now()
		err := d.Run(gctx)
		log.Info("decider stopped", "took", time.Since(start).Round(time.Millisecond))
		return err
	})
	return g.Wait()
}
