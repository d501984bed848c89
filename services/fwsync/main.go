// Command bulwark-fwsync keeps nftables sets (table inet bulwark) equal to
// Bulwark's blocking verdicts and drops traffic from them, for hosts without
// a CDN. It needs CAP_NET_ADMIN; deploy/fwsync has a DaemonSet. Configuration:
// BULWARK_FWSYNC_* and BULWARK_KAFKA_*. The logic is in libs/fwsync.
package main

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/config"
	"github.com/bulwarkhq/bulwark/libs/fwsync"
	"github.com/bulwarkhq/bulwark/libs/kafka"
	"github.com/bulwarkhq/bulwark/libs/service"
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
	// The admin server outlives the syncer so that /metrics stays readable
	// while it stops.
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return service.Serve(adminCtx, c.Sync.MetricsAddr, service.AdminMux(reg, nil, s.Ready), log)
	})
	g.Go(func() error {
		defer stopAdmin()
		start := time.Now()
		err := s.Run(gctx)
		log.Info("fwsync stopped", "took", time.Since(start).Round(time.Millisecond))
		return err
	})
	return g.Wait()
}
