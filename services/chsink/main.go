// Command bulwark-chsink writes the requests, scores, verdicts and dead
// letters topics into ClickHouse for the Grafana dashboards, applying the
// schema at start. Configuration: BULWARK_CLICKHOUSE_* (address, database,
// user, password, TLS, retention), BULWARK_CHSINK_* and BULWARK_KAFKA_*.
// The logic is in libs/analytics/chsink and libs/analytics/chschema.
package main

import (
	"github.com/bulwarkhq/bulwark/libs/analytics/chsink"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
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
	return service.RunWithAdmin(ctx, log, "chsink", service.Admin{Addr: c.Chsink.MetricsAddr, Registry: reg, Ready: sink.Ready}, sink.Run)
}
