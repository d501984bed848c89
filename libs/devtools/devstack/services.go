package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/analytics/chsink"
	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/enforce/cfsync"
	"github.com/bulwarkhq/bulwark/libs/enforce/fwsync"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
)

// part is one component of the stack.
type part struct {
	name string
	run  func(context.Context) error
}

// runServices starts every service on the embedded broker, each configured
// from the environment like its standalone program (BULWARK_*), and feeds
// the pipeline simulated live traffic (see Options.Traffic).
func runServices(ctx context.Context, o Options) error {
	reg := service.NewRegistry()
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	logPath := filepath.Join(o.DataDir, "access.log")

	// Where the traffic comes from: simulated visitors over HTTP through
	// the gate in front of the built-in shop, or (--traffic log, or with
	// the gate in front of the user's own site) the simulated shop's
	// access log followed by the shipper.
	upstream := os.Getenv("BULWARK_GATE_UPSTREAM")
	builtinShop := o.Traffic == TrafficGate && upstream == ""
	var parts []part
	var counts eventCounts
	if builtinShop {
		p, shopURL, err := shopServer()
		if err != nil {
			return err
		}
		parts = append(parts, p)
		upstream = shopURL
		counts = gateEvents(reg)
	} else {
		sim, err := simulation(logPath)
		if err != nil {
			return err
		}
		parts = append(parts, sim)

		var shipCfg shipper.Config
		if err := config.Fill(&shipCfg, nil); err != nil {
			return err
		}
		shipCfg.Files, shipCfg.Format, shipCfg.Follow = []string{logPath}, "nginx", true
		shipCfg.CheckpointFile = filepath.Join(o.DataDir, "shipper.checkpoints.json")
		shipCfg.SessionCookie, shipCfg.SessionField = "", ""
		ship, err := shipper.New(shipCfg, o.Kafka, o.Log, reg)
		if err != nil {
			return err
		}
		parts = append(parts, part{"shipper", ship.Run})
		counts = shippedEvents(ship)
	}

	var aggCfg aggregator.Config
	if err := config.Parse(&aggCfg, nil); err != nil {
		return err
	}
	features := scoring.DefaultConfig()
	var err error
	if aggCfg.RulesFile != "" {
		if features, err = scoring.LoadRuleFileSection(aggCfg.RulesFile); err != nil {
			return err
		}
	}
	if err := aggCfg.UseRuleFileModel(); err != nil {
		return err
	}
	agg, err := aggregator.New(aggCfg, o.Kafka, features, o.Log, reg)
	if err != nil {
		return err
	}
	parts = append(parts, part{"aggregator", agg.Run})

	var decCfg decider.Config
	if err := config.Parse(&decCfg, nil); err != nil {
		return err
	}
	dec, err := decider.NewService(decCfg, o.Kafka, o.Log, reg)
	if err != nil {
		return err
	}
	parts = append(parts, part{"decider", dec.Run})

	var scCfg sidecar.Config
	if err := config.Parse(&scCfg, nil); err != nil {
		return err
	}
	sc, err := sidecar.New(scCfg, o.Kafka, o.Log, reg)
	if err != nil {
		return err
	}
	parts = append(parts, part{"sidecar", sc.Run})

	// Challenges: the sidecar serves /.bulwark/ and honours clearances,
	// with BULWARK_CHALLENGE_SECRET or a secret made up for this run.
	challengeParts, gateAddr, err := challengeParts(o, sc, reg, upstream, builtinShop)
	if err != nil {
		return err
	}
	parts = append(parts, challengeParts...)
	if builtinShop {
		drive, err := visitorsPart(o, "http://"+gateAddr, reg)
		if err != nil {
			return err
		}
		parts = append(parts, drive)
	}

	con, err := consolePart(o, sc, reg)
	if err != nil {
		return err
	}
	parts = append(parts, con)

	optional, err := optionalParts(o, reg)
	if err != nil {
		return err
	}
	parts = append(parts, optional...)

	admin := part{"admin", func(ctx context.Context) error {
		mux := service.AdminMux(reg, nil, nil)
		mux.Handle("GET "+decider.RDNSCachePath, decider.RDNSCacheHandler(dec.Decider()))
		return service.Serve(ctx, o.AdminAddr, mux, nil)
	}}
	parts = append(parts, admin)

	if builtinShop {
		fmt.Fprintf(o.Out, "bulwark dev: simulated visitors -> gate http://%s -> simulated shop %s; gate -> aggregator -> decider -> sidecar and gate\n", gateAddr, upstream)
		fmt.Fprintf(o.Out, "bulwark dev: open http://%s/ in a browser to visit the shop through the gate (challenge page: http://%s/.bulwark/challenge)\n", gateAddr, gateAddr)
	} else {
		fmt.Fprintf(o.Out, "bulwark dev: simulated shop log %s -> shipper -> aggregator -> decider -> sidecar\n", logPath)
		if gateAddr != "" {
			fmt.Fprintf(o.Out, "bulwark dev: gate on http://%s in front of %s (challenge page: http://%s/.bulwark/challenge)\n", gateAddr, upstream, gateAddr)
		}
	}
	fmt.Fprintf(o.Out, "bulwark dev: sidecar on http://%s, metrics of every service on http://%s/metrics\n", sc.Addr(), o.AdminAddr)
	fmt.Fprintf(o.Out, "bulwark dev: watch with `bin/bulwark tail verdicts` or `bin/bulwark tail scores`; Ctrl-C stops\n\n")

	sum := &summary{out: o.Out, reg: reg, events: counts, table: sc.Table(), sidecarAddr: sc.Addr(), every: o.SummaryEvery}
	parts = append(parts, part{"summary", sum.run})

	g, gctx := errgroup.WithContext(ctx)
	for _, p := range parts {
		g.Go(func() error {
			start := time.Now()
			err := p.run(gctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			o.Log.Debug("stopped", "part", p.name, "took", time.Since(start).Round(time.Millisecond))
			return nil
		})
	}
	err = g.Wait()
	fmt.Fprintln(o.Out, "bulwark dev: stopped")
	return err
}

// optionalParts are the ClickHouse sink, the Cloudflare syncer and the
// nftables syncer, run only when their environment says where to write.
func optionalParts(o Options, reg prometheus.Registerer) ([]part, error) {
	var parts []part
	if os.Getenv("BULWARK_CLICKHOUSE_ADDR") != "" {
		var c chsink.Config
		if err := config.Parse(&c, nil); err != nil {
			return nil, err
		}
		s, err := chsink.New(c, o.Kafka, o.Log, reg)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Out, "bulwark dev: ClickHouse sink writing to %s\n", os.Getenv("BULWARK_CLICKHOUSE_ADDR"))
		parts = append(parts, part{"chsink", s.Run})
	}
	if os.Getenv("BULWARK_CLOUDFLARE_API_TOKEN") != "" {
		var c cfsync.Config
		if err := config.Parse(&c, nil); err != nil {
			return nil, err
		}
		s, err := cfsync.New(c, o.Kafka, o.Log, reg)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Out, "bulwark dev: Cloudflare syncer keeping list %q\n", c.List)
		parts = append(parts, part{"cfsync", s.Run})
	}
	if os.Getenv("BULWARK_FWSYNC_TABLE") != "" {
		var c fwsync.Config
		if err := config.Parse(&c, nil); err != nil {
			return nil, err
		}
		s, err := fwsync.New(c, o.Kafka, o.Log, reg)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Out, "bulwark dev: nftables syncer keeping table inet %s (needs CAP_NET_ADMIN)\n", c.Table)
		parts = append(parts, part{"fwsync", s.Run})
	}
	return parts, nil
}

// simulation appends a simulated shop's live traffic, stamped now, to path.
func simulation(path string) (part, error) {
	cfg, err := liveConfig()
	if err != nil {
		return part{}, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return part{}, fmt.Errorf("simulated log: %w", err)
	}
	return part{"simulator", func(ctx context.Context) error {
		defer f.Close()
		err := simulate.Live(ctx, cfg, func(line []byte) error {
			_, err := f.Write(line)
			return err
		})
		if ctx.Err() != nil {
			return nil
		}
		return err
	}}, nil
}
