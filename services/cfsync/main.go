// Command bulwark-cfsync keeps a Cloudflare account IP list (and optionally a
// second one for CHALLENGE) equal to Bulwark's blocking verdicts, for a WAF
// custom rule such as `ip.src in $bulwark_block`. Configuration:
// BULWARK_CLOUDFLARE_* (token, account, list names, interval, capacity, rate
// limit), BULWARK_CFSYNC_METRICS_ADDR, BULWARK_KAFKA_* and, for more than one
// replica, BULWARK_LEADER_* (leader election on a Kubernetes Lease, so that
// one replica writes at a time). The logic is in libs/enforce/cfsync and libs/enforce/leader.
package main

import (
	"context"

	"github.com/bulwarkhq/bulwark/libs/enforce/cfsync"
	"github.com/bulwarkhq/bulwark/libs/enforce/leader"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
)

type cfg struct {
	Log    service.LogConfig
	Kafka  kafka.Config
	Sync   cfsync.Config
	Leader leader.Config
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
	// Without election the syncer runs at once. With it, it runs only while
	// this replica holds the Lease; on losing it the process exits
	// (leader.ErrLost) and Kubernetes restarts it as a standby.
	runner, err := leader.NewRunner(c.Leader, log, reg)
	if err != nil {
		return err
	}
	admin := service.Admin{Addr: c.Sync.MetricsAddr, Registry: reg, Ready: runner.Ready(s.Ready)}
	return service.RunWithAdmin(ctx, log, "cfsync", admin, func(ctx context.Context) error {
		return runner.Run(ctx, s.Run)
	})
}
