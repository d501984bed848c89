// Command bulwark-fwsync keeps nftables sets (table inet bulwark) equal to
// Bulwark's blocking verdicts and drops traffic from them, for hosts without
// a CDN. It needs CAP_NET_ADMIN; deploy/fwsync has a DaemonSet. Configuration:
// BULWARK_FWSYNC_* and BULWARK_KAFKA_*. The logic is in libs/enforce/fwsync.
package main

import (
	"github.com/bulwarkhq/bulwark/libs/enforce/fwsync"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
)

type cfg struct {
	Log   service.LogConfig
	Kafka kafka.Config
	Sync  fwsync.Config
}

func main() {
	service.Exit("bulwark-fwsync", run())
}

func run() error {
	c, err := config.Load[cfg]()
	if err != nil {
		return err
	}
	log := c.Log.NewLogger("bulwark-fwsync")
	reg := service.NewRegistry()
	ctx, stop := service.SignalContext()
	defer stop()

	s, err := fwsync.New(c.Sync, c.Kafka, log, reg)
	if err != nil {
		return err
	}
	return service.RunWithAdmin(ctx, log, "fwsync", service.Admin{Addr: c.Sync.MetricsAddr, Registry: reg, Ready: s.Ready}, s.Run)
}
