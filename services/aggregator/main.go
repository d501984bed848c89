// Command bulwark-aggregator consumes the requests topic in a consumer group,
// keeps event-time windows per ip:, session: and net: subject, and emits
// scores to the scores topic, exactly once. Configuration: BULWARK_* (see the
// README); the logic is in libs/aggregator.
package main

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/aggregator"
	"github.com/bulwarkhq/bulwark/libs/config"
	"github.com/bulwarkhq/bulwark/libs/kafka"
	"github.com/bulwarkhq/bulwark/libs/scoring"
	"github.com/bulwarkhq/bulwark/libs/service"
)

type cfg struct {
	Log        service.LogConfig
	Kafka      kafka.Config
	Aggregator aggregator.Config
}

func main() {
	service.Exit("bulwark-aggregator", run())
}

func run() error {
	c, err := config.Load[cfg]()
	if err != nil {
		return err
	}
	log := c.Log.NewLogger("bulwark-aggregator")
	reg := service.NewRegistry()
	ctx, stop := service.SignalContext()
	defer stop()

	features := scoring.DefaultConfig()
	if c.Aggregator.RulesFile != "" {
		if features, err = scoring.LoadRuleFileSection(c.Aggregator.RulesFile); err != nil {
			return err
		}
	}
	agg, err := aggregator.New(c.Aggregator, c.Kafka, features, log, reg)
	if err != nil {
		return err
	}
	// The admin server outlives the aggregator's shutdown so that /metrics
	// stays readable while the last transaction commits.
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return service.Serve(adminCtx, c.Aggregator.MetricsAddr, service.AdminMux(reg, agg.Alive, nil), log)
	})
	g.Go(func() error {
		defer stopAdmin()
		start := time.Now()
		err := agg.Run(gctx)
		log.Info("aggregator stopped", "took", time.Since(start).Round(time.Millisecond))
		return err
	})
	return g.Wait()
}
