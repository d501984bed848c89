// Command bulwark-aggregator consumes the requests topic in a consumer group,
// keeps event-time windows per ip:, session: and net: subject, and emits
// scores to the scores topic, exactly once. Configuration: BULWARK_* (see the
// README); the logic is in libs/aggregator.
package main

import (
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
	return service.RunWithAdmin(ctx, log, "aggregator", service.Admin{Addr: c.Aggregator.MetricsAddr, Registry: reg, Healthy: agg.Alive}, agg.Run)
}
