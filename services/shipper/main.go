// Command bulwark-shipper follows access logs (and accepts Cloudflare Logpush
// pushes) and publishes every line to Kafka. Configuration: BULWARK_* (see
// the README); the logic is in libs/shipper.
package main

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/config"
	"github.com/bulwarkhq/bulwark/libs/kafka"
	"github.com/bulwarkhq/bulwark/libs/service"
	"github.com/bulwarkhq/bulwark/libs/shipper"
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
	// The admin server outlives the shipper's shutdown so that /metrics stays
	// readable while the last records are flushed.
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return service.Serve(adminCtx, c.Shipper.MetricsAddr, service.AdminMux(reg, nil, nil), log) })
	g.Go(func() error {
		defer stopAdmin()
		start := time.Now()
		err := s.Run(gctx)
		log.Info("shipper stopped", "took", time.Since(start).Round(time.Millisecond), "summary", s.Summary())
		return err
	})
	return g.Wait()
}
