// Command bulwark-chsink writes the requests, scores, verdicts and dead
// letters topics into ClickHouse for the Grafana dashboards, applying the
// schema at start. Configuration: BULWARK_CLICKHOUSE_* (address, database,
// user, password, TLS, retention), BULWARK_CHSINK_* and BULWARK_KAFKA_*.
// The logic is in libs/chsink and libs/chschema.
package main

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/chsink"
	"github.com/bulwarkhq/bulwark/libs/config"
	"github.com/bulwarkhq/bulwark/libs/kafka"
	"github.com/bulwarkhq/bulwark/libs/service"
)

type cfg struct {
	Log    service.LogConfig
	Kafka  kafka.Config
	Chsink chsink.Config
}

func main() {
	service.Exit("bulwark-chsink", run())
}

func run() error {
	c, err := config.Load[cfg]()
	if err != nil {
		return err
	}
	log := c.Log.NewLogger("bulwark-chsink")
	reg := service.NewRegistry()
	ctx, stop := service.SignalContext()
	defer stop()

	sink, err := chsink.New(c.Chsink, c.Kafka, log, reg)
	if err != nil {
		return err
	}
	// The admin server outlives the sink so that /metrics stays readable
	// while the last batch is sent.
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return service.Serve(adminCtx, c.Chsink.MetricsAddr, service.AdminMux(reg, nil, sink.Ready), log)
	})
	g.Go(func() error {
		defer stopAdmin()
		start := time.Now()
		err := sink.Run(gctx)
		log.Info("chsink stopped", "took", time.Since(start).Round(time.Millisecond))
		return err
	})
	return g.Wait()
}
