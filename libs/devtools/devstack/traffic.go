package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/devtools/shop"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/devtools/visitors"
	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
)

// Where the dev stack's traffic comes from (Options.Traffic).
const (
	// TrafficGate: simulated visitors over HTTP through bulwark-gate in
	// front of the built-in shop; the gate publishes the request events.
	TrafficGate = "gate"
	// TrafficLog: the simulated shop's access log, followed by the shipper.
	TrafficLog = "log"
)

// liveConfig is the simulation of a dev run: the default shop, stamped
// now, with every bot kind and a product drop within the first minute.
func liveConfig() (simulate.Config, error) {
	cfg := simulate.DefaultConfig()
	cfg.Start, cfg.Duration = time.Now(), 0
	cfg.Seed = uint64(time.Now().UnixNano())
	cfg.FirstBotsWithin = 20 * time.Second
	cfg.FirstDropAt = 45 * time.Second
	return cfg, cfg.Validate()
}

// shopServer serves the built-in shop on a free loopback port.
func shopServer() (part, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return part{}, "", fmt.Errorf("simulated shop: %w", err)
	}
	srv := &http.Server{Handler: shop.New(), ReadHeaderTimeout: 10 * time.Second}
	return part{"shop", func(ctx context.Context) error {
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("simulated shop: %w", err)
		}
		return nil
	}}, "http://" + ln.Addr().String(), nil
}

// visitorsPart drives the simulated visitors to the gate.
func visitorsPart(o Options, gateURL string, reg prometheus.Registerer) (part, error) {
	cfg, err := liveConfig()
	if err != nil {
		return part{}, err
	}
	d, err := visitors.New(visitors.Options{Target: gateURL, Sim: cfg, ShareAddress: 0.5, Log: o.Log, Registerer: reg})
	if err != nil {
		return part{}, err
	}
	return part{"visitors", d.Run}, nil
}

// eventCounts reads how many request events entered the pipeline and how
// many were refused or lost, with the words the summary uses for them.
type eventCounts struct {
	sentWord, lostWord string
	read               func(prometheus.Gatherer) (sent, lost int64)
}

func shippedEvents(s *shipper.Shipper) eventCounts {
	return eventCounts{"shipped", "rejected", func(prometheus.Gatherer) (int64, int64) {
		sum := s.Summary()
		return sum.Shipped, sum.Rejected
	}}
}

// gateEvents reads the gate's publisher counters.
func gateEvents(prometheus.Registerer) eventCounts {
	return eventCounts{"published by the gate", "dropped", func(g prometheus.Gatherer) (int64, int64) {
		return int64(sumMetric(g, "bulwark_gate_events_published_total", "", "")),
			int64(sumMetric(g, "bulwark_gate_events_dropped_total", "", ""))
	}}
}
