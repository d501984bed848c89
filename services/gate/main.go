// Command bulwark-gate is a reverse proxy for sites without nginx or
// Envoy: it proxies BULWARK_GATE_UPSTREAM on BULWARK_GATE_ADDR, answers
// BLOCK with a 403 page and CHALLENGE with the challenge (or 429 for API
// calls) from the verdict table it keeps in process, serves /.bulwark/, and
// publishes its traffic to the requests topic. Configuration:
// BULWARK_GATE_*, BULWARK_CHALLENGE_*, BULWARK_KAFKA_*, BULWARK_LOG_*; the
// logic is in libs/enforce/gate.
package main

import (
	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/enforce/gate"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
)

type cfg struct {
	Log       service.LogConfig
	Kafka     kafka.Config
	Gate      gate.Config
	Challenge challenge.Config
}

func main() {
	service.Exit("bulwark-gate", run())
}

func run() error {
	c, err := config.Load[cfg]()
	if err != nil {
		return err
	}
	log := c.Log.NewLogger("bulwark-gate")
	reg := service.NewRegistry()
	ctx, stop := service.SignalContext()
	defer stop()

	// Replicas must share the secret, so none is made up here.
	keys, err := c.Challenge.Keys(false)
	if err != nil {
		return err
	}
	g, err := gate.New(c.Gate, gate.Deps{Kafka: c.Kafka, Challenge: c.Challenge, Keys: keys, Log: log, Registerer: reg})
	if err != nil {
		return err
	}
	return service.RunWithAdmin(ctx, log, "gate", service.Admin{Addr: c.Gate.MetricsAddr, Registry: reg, Ready: g.CheckReady}, g.Run)
}
