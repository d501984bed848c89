// Command bulwark-aggregator consumes the requests topic in a consumer group,
// keeps event-time windows per ip:, session: and net: subject, and emits
// scores to the scores topic, exactly once. Configuration: BULWARK_* (see the
// README); the logic is in libs/detect/aggregator.
package main

import (
	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
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
	if err := c.Aggregator.UseRuleFileModel(); err != nil {
		return err
	}
	agg, err := aggregator.New(c.Aggregator, c.Kafka, features, log, reg)
	if err != nil {
		return err
	}
	return service.RunWithAdmin(ctx, log, "aggregator", service.Admin{Addr: c.Aggregator.MetricsAddr, Registry: reg, Healthy: agg.Alive}, agg.Run)
}
