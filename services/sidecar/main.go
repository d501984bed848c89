// Command bulwark-sidecar holds the whole verdict topic in memory and
// answers lookups in microseconds: the HTTP API of ARCHITECTURE.md on
// BULWARK_SIDECAR_ADDR (nginx auth_request on /v1/authz) and Envoy's
// ext_authz on BULWARK_SIDECAR_GRPC_ADDR. Configuration: BULWARK_SIDECAR_*,
// BULWARK_KAFKA_*, BULWARK_LOG_*; the logic is in libs/enforce/sidecar.
package main

import (
	"time"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
)

type cfg struct {
	Log     service.LogConfig
	Kafka   kafka.Config
	Sidecar sidecar.Config
}

func main() {
	service.Exit("bulwark-sidecar", run())
}

func run() error {
	c, err := config.Load[cfg]()
	if err != nil {
		return err
	}
	log := c.Log.NewLogger("bulwark-sidecar")
	reg := service.NewRegistry()
	ctx, stop := service.SignalContext()
	defer stop()

	sc, err := sidecar.New(c.Sidecar, c.Kafka, log, reg)
	if err != nil {
		return err
	}
	// One part: Run serves HTTP and gRPC and follows the topic, and on
	// SIGTERM stops the servers gracefully before returning.
	start := time.Now()
	err = sc.Run(ctx)
	log.Info("sidecar stopped", "ran", time.Since(start).Round(time.Second))
	return err
}
