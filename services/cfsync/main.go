// Command bulwark-cfsync keeps a Cloudflare account IP list (and optionally a
// second one for CHALLENGE) equal to Bulwark's blocking verdicts, for a WAF
// custom rule such as `ip.src in $bulwark_block`. Configuration:
// BULWARK_CLOUDFLARE_* (token, account, list names, interval, capacity, rate
// limit), BULWARK_CFSYNC_METRICS_ADDR and BULWARK_KAFKA_*. The logic is in
// libs/cfsync.
package main

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

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
		log.Info("cfsync stopped", "took", time.Since(start).Round(time.Millisecond))
		return err
	})
	return g.Wait()
}
