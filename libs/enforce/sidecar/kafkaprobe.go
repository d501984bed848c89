package sidecar

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// kafkaProbe tells whether Kafka answers, for /readyz and the metrics. The
// topic reader cannot: while the brokers are away its client retries in
// silence, and the lag it last saw (often 0) stands.
//
// Why the sidecar stays ready while Kafka is away: it is injected beside
// the application it protects, so an unready sidecar takes the whole pod
// out of its Service. The table still answers with every verdict it had;
// only new ones wait. So /readyz stays 200 and says
// "kafka":"unreachable since ..." and bulwark_sidecar_kafka_reachable is 0,
// which is what an alert should watch.
type kafkaProbe struct {
	cfg      kafka.Config
	every    time.Duration
	log      *slog.Logger
	checked  atomic.Bool
	downFrom atomic.Int64 // unix nanos of the first failed check in a row; 0 while reachable
}

func newKafkaProbe(cfg kafka.Config, every time.Duration, log *slog.Logger, reg prometheus.Registerer) *kafkaProbe {
	p := &kafkaProbe{cfg: cfg.WithClientID("sidecar-probe"), every: every, log: log}
	if reg != nil {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "bulwark_sidecar_kafka_reachable",
				Help: "1 while a Kafka broker answered the last check (every BULWARK_SIDECAR_KAFKA_CHECK_INTERVAL), 0 after a failed one.",
			}, func() float64 {
				if _, down := p.unreachableSince(); down {
					return 0
				}
				return 1
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "bulwark_sidecar_kafka_unreachable_seconds",
				Help: "How long Kafka has failed every check (0 while reachable): the verdicts served are at least this old.",
			}, func() float64 {
				if since, down := p.unreachableSince(); down {
					return time.Since(since).Seconds()
				}
				return 0
			}),
		)
	}
	return p
}

// unreachableSince is when the current run of failed checks began.
func (p *kafkaProbe) unreachableSince() (time.Time, bool) {
	ns := p.downFrom.Load()
	return time.Unix(0, ns), ns != 0
}

// status is the /readyz "kafka" field.
func (p *kafkaProbe) status() string {
	if since, down := p.unreachableSince(); down {
		return "unreachable since " + since.UTC().Format(time.RFC3339)
	}
	if !p.checked.Load() {
		return "not checked yet"
	}
	return "reachable"
}

// run checks Kafka every p.every until ctx is done.
func (p *kafkaProbe) run(ctx context.Context) error {
	cl, err := kafka.NewClient(p.cfg, nil)
	if err != nil {
		return fmt.Errorf("kafka check: %w", err)
	}
	defer cl.Close()
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, p.every)
		err := cl.Ping(cctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		p.record(err)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (p *kafkaProbe) record(err error) {
	p.checked.Store(true)
	if err == nil {
		if since, down := p.unreachableSince(); down {
			p.log.Info("Kafka reachable again", "unreachable_for", time.Since(since).Round(time.Second))
			p.downFrom.Store(0)
		}
		return
	}
	if p.downFrom.CompareAndSwap(0, time.Now().UnixNano()) {
		p.log.Warn("Kafka unreachable: serving the verdicts held, new ones wait", "err", err)
	}
}
