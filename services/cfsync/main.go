// Command bulwark-cfsync keeps a Cloudflare account IP list (and optionally a
// second one for CHALLENGE) equal to Bulwark's blocking verdicts, for a WAF
// custom rule such as `ip.src in $bulwark_block`. Configuration:
// BULWARK_CLOUDFLARE_* (token, account, list names, interval, capacity, rate
// limit), BULWARK_CFSYNC_METRICS_ADDR and BULWARK_KAFKA_*. The logic is in
// libs/cfsync.
package main

import (
	"github.com/bulwarkhq/bulwark/libs/cfsync"
	"github.com/bulwarkhq/bulwark/libs/config"
	"github.com/bulwarkhq/bulwark/libs/kafka"
	"github.com/bulwarkhq/bulwark/libs/service"
)

type cfg struct {
	Log   service.LogConfig
	Kafka kafka.Config
	Sync  cfsync.Config
}

func main() {
	service.Exit("bulwark-cfsync", run())
}

func run() error {
	c, err := config.Load[cfg]()
	if err != nil {
		return err
	}
	log := c.Log.NewLogger("bulwark-cfsync")
	reg := service.NewRegistry()
	ctx, stop := service.SignalContext()
	defer stop()

	s, err := cfsync.New(c.Sync, c.Kafka, log, reg)
	if err != nil {
		return err
	}
	return service.RunWithAdmin(ctx, log, "cfsync", service.Admin{Addr: c.Sync.MetricsAddr, Registry: reg, Ready: s.Ready}, s.Run)
}
