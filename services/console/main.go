// Command bulwark-console is the operator console: look a client up, see
// why it was treated as it was, act on it and label it, on
// BULWARK_CONSOLE_ADDR (default 127.0.0.1:8490). It refuses to start
// without BULWARK_CONSOLE_TOKEN or OIDC settings. Recent requests, scores
// and labels come from ClickHouse when BULWARK_CLICKHOUSE_ADDR is set (the
// BULWARK_CLICKHOUSE_* variables of bulwark-chsink), else from Kafka.
// Configuration: BULWARK_CONSOLE_*, BULWARK_OVERRIDE_*, BULWARK_KAFKA_*,
// BULWARK_LOG_*; the logic is in libs/decide/console.
package main

import (
	"os"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/decide/console"
	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
)

type cfg struct {
	Log      service.LogConfig
	Kafka    kafka.Config
	Console  console.Config
	Override overrides.Limits
}

func main() {
	service.Exit("bulwark-console", run())
}

func run() error {
	c, err := config.Load[cfg]()
	if err != nil {
		return err
	}
	// ClickHouse is optional here, so its config is read (and validated)
	// only when its address is given.
	var ch *chschema.Config
	if os.Getenv("BULWARK_CLICKHOUSE_ADDR") != "" {
		chc, err := config.Load[chschema.Config]()
		if err != nil {
			return err
		}
		ch = &chc
	}
	log := c.Log.NewLogger("bulwark-console")
	reg := service.NewRegistry()
	ctx, stop := service.SignalContext()
	defer stop()

	srv, err := console.New(c.Console, c.Kafka, c.Override, ch, log, reg)
	if err != nil {
		return err
	}
	ready := func() error {
		select {
		case <-srv.Ready():
			return nil
		default:
			return console.ErrNotReady
		}
	}
	return service.RunWithAdmin(ctx, log, "console", service.Admin{Addr: c.Console.MetricsAddr, Registry: reg, Ready: ready}, srv.Run)
}
