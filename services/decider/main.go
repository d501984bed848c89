// Command bulwark-decider turns scores into verdicts: it consumes
// bulwark.scores.v1 in a consumer group and writes verdict changes and
// expiry tombstones to the compacted bulwark.verdicts.v1. Configuration:
// BULWARK_* (BULWARK_RULES_FILE, BULWARK_DECIDER_*, BULWARK_KAFKA_*); send
// SIGHUP to reload the rule file (it is also reloaded when it changes).
// The logic is in libs/decide/decider.
package main

import (
	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
	"net/http"
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
	return service.RunWithAdmin(ctx, log, "decider", service.Admin{
		Addr: c.Decider.MetricsAddr, Registry: reg, Ready: d.CheckReady,
		Routes: map[string]http.Handler{"GET " + decider.RDNSCachePath: decider.RDNSCacheHandler(d.Decider())},
	}, d.Run)
}
