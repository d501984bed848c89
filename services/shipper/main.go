// Command bulwark-shipper follows access logs (and accepts Cloudflare Logpush
// pushes) and publishes every line to Kafka. Configuration: BULWARK_* (see
// the README); the logic is in libs/ingest/shipper.
package main

import (
	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
)

type cfg struct {
	Log     service.LogConfig
	Kafka   kafka.Config
	Shipper shipper.Config
}

func main() {
	service.Exit("bulwark-shipper", run())
}

func run() error {
	c, err := config.Load[cfg]()
	if err != nil {
		return err
	}
	log := c.Log.NewLogger("bulwark-shipper")
	reg := service.NewRegistry()
	ctx, stop := service.SignalContext()
	defer stop()

	s, err := shipper.New(c.Shipper, c.Kafka, log, reg)
	if err != nil {
		return err
	}
	return service.RunWithAdmin(ctx, log, "shipper", service.Admin{Addr: c.Shipper.MetricsAddr, Registry: reg}, s.Run)
}
