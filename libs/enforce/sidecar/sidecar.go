// Package sidecar serves the verdict table over HTTP (the API of ARCHITECTURE.md:
// /v1/verdict, /v1/authz for nginx auth_request, the batch POST /v1/verdicts,
// /healthz, /readyz, /metrics) and as an Envoy ext_authz gRPC service, while
// following the verdict topic into an in-memory verdicttable.Table.
//
// Before the table has caught up with the topic the sidecar answers by its
// fail mode: "open" (default) allows everyone, "closed" denies everyone;
// with a snapshot file loaded it answers from the snapshot instead.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar/internal/httpguard"
	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

// Sidecar is the verdict sidecar. New binds its listeners; Run serves.
type Sidecar struct {
	cfg      Config
	log      *slog.Logger
	table    *verdicttable.Table
	follower *verdicttable.Follower
	kafka    *kafkaProbe
	metrics  *metrics
	catchUp  prometheus.Gauge
	gatherer prometheus.Gatherer

	resolver      *clientip.Resolver
	grpcPeers     *clientip.Resolver // nil: every caller may use ext_authz
	ipHeader      string             // canonical form, for fasthttp
	ipHeaderLower string             // lower case, for ext_authz
	sessHeader    string
	sessLower     string
	failClosed    bool
	// fromSnapshot is set when a snapshot was loaded: the table answers
	// before catching up instead of the fail mode.
	fromSnapshot atomic.Bool

	httpLn, grpcLn net.Listener
	httpSrv        *httpguard.Server
	grpcSrv        *grpc.Server

	// ch serves /.bulwark/ and verifies clearances once EnableChallenges
	// was called; nil leaves both off.
	ch *challenges
	// chFast is the challenge pages' net/http handler adapted to
	// fasthttp once, not per request.
	chFast fasthttp.RequestHandler
}

// New builds a sidecar: it loads the snapshot file if one is configured and
// binds the HTTP (and gRPC) listeners, so Addr is known at once. reg
// receives the metrics; /metrics serves reg when it is also a Gatherer
// (a *prometheus.Registry is), else the default gatherer. log may be nil.
func New(cfg Config, kafkaCfg kafka.Config, log *slog.Logger, reg prometheus.Registerer) (*Sidecar, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sidecar: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := log
	log = log.With("component", "sidecar")
	proxies, _ := clientip.ParseCIDRs(cfg.TrustedProxies) // checked by Validate
	s := &Sidecar{
		cfg:           cfg,
		log:           log,
		table:         verdicttable.New(),
		resolver:      clientip.New(proxies),
		ipHeader:      canonicalHeader(cfg.ClientIPHeader),
		ipHeaderLower: strings.ToLower(cfg.ClientIPHeader),
		failClosed:    cfg.FailMode == "closed",
		gatherer:      prometheus.DefaultGatherer,
		catchUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bulwark_sidecar_catch_up_seconds", Help: "How long the table took to catch up with the verdict topic at start.",
		}),
	}
	if peers, _ := clientip.ParseCIDRs(cfg.GRPCTrustedPeers); len(peers) > 0 {
		s.grpcPeers = clientip.New(peers)
	}
	if cfg.SessionHeader != "" {
		s.sessHeader, s.sessLower = canonicalHeader(cfg.SessionHeader), strings.ToLower(cfg.SessionHeader)
	}
	if g, ok := reg.(prometheus.Gatherer); ok {
		s.gatherer = g
	}
	snapResult := ""
	if cfg.SnapshotFile != "" {
		start := time.Now()
		n, err := s.table.LoadSnapshotFile(cfg.SnapshotFile, start)
		if err != nil {
			// A damaged snapshot only costs the head start; the topic has it all.
			snapResult = "error"
			log.Warn("ignoring verdict snapshot", "file", cfg.SnapshotFile, "err", err)
			s.table = verdicttable.New()
		} else {
			snapResult = "ok"
			s.fromSnapshot.Store(n > 0)
			if n > 0 {
				// Decoding leaves about twice the table's size in garbage;
				// hand it back now rather than when the scavenger gets to it.
				debug.FreeOSMemory()
			}
			log.Info("loaded verdict snapshot", "file", cfg.SnapshotFile, "verdicts", n, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	s.follower = verdicttable.NewFollower(s.table, kafkaCfg, verdicttable.FollowOptions{
		Name: "sidecar", Log: base, Registerer: reg, SweepEvery: cfg.SweepInterval,
	})
	s.kafka = newKafkaProbe(kafkaCfg, cfg.KafkaCheckInterval, log, reg)
	s.metrics = newMetrics(reg, s.table, s.follower.Reader(), cfg.FailMode)
	if reg != nil {
		reg.MustRegister(s.catchUp)
	}
	if snapResult != "" {
		s.metrics.snapshots.WithLabelValues("load", snapResult).Inc()
	}

	var err error
	if s.httpLn, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("sidecar: listen on BULWARK_SIDECAR_ADDR %s: %w", cfg.Addr, err)
	}
	if !cfg.grpcOff() {
		if s.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
			s.httpLn.Close()
			return nil, fmt.Errorf("sidecar: listen on BULWARK_SIDECAR_GRPC_ADDR %s: %w", cfg.GRPCAddr, err)
		}
	}
	if s.httpSrv, err = s.newHTTPServer(log, reg); err != nil {
		s.Close()
		return nil, fmt.Errorf("sidecar: HTTP server: %w", err)
	}
	s.grpcSrv = s.newGRPCServer()
	return s, nil
}

// Addr is the HTTP API's address (with the real port when configured as :0).
func (s *Sidecar) Addr() string { return s.httpLn.Addr().String() }

// GRPCAddr is the ext_authz address, or "" when disabled.
func (s *Sidecar) GRPCAddr() string {
	if s.grpcLn == nil {
		return ""
	}
	return s.grpcLn.Addr().String()
}

// Table is the table the sidecar serves.
func (s *Sidecar) Table() *verdicttable.Table { return s.table }

// Ready is closed once the table has caught up with the verdict topic.
func (s *Sidecar) Ready() <-chan struct{} { return s.follower.Ready() }

// Close releases the listeners of a sidecar whose Run was never called.
func (s *Sidecar) Close() error {
	err := s.httpLn.Close()
	if s.grpcLn != nil {
		err = errors.Join(err, s.grpcLn.Close())
	}
	return err
}

// Run follows the verdict topic and serves until ctx is done, then stops
// the servers gracefully (within ShutdownTimeout), saves a last snapshot
// when configured, and returns.
func (s *Sidecar) Run(ctx context.Context) error {
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.follower.Run(gctx) })
	g.Go(func() error { return s.kafka.run(gctx) })
	g.Go(func() error {
		select {
		case <-gctx.Done():
		case <-s.follower.Ready():
			d := time.Since(start)
			s.catchUp.Set(d.Seconds())
			s.log.Info("serving: caught up with the verdict topic", "took", d.Round(time.Millisecond), "verdicts", s.table.Len())
		}
		return nil
	})
	g.Go(func() error {
		s.log.Info("HTTP API listening", "addr", s.Addr())
		// Serve returns nil once shutdown has begun.
		if err := s.httpSrv.Serve(s.httpLn); err != nil {
			return fmt.Errorf("serve HTTP on %s: %w", s.Addr(), err)
		}
		return nil
	})
	if s.grpcLn != nil {
		g.Go(func() error {
			s.log.Info("ext_authz gRPC listening", "addr", s.GRPCAddr())
			if err := s.grpcSrv.Serve(s.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				return fmt.Errorf("serve gRPC on %s: %w", s.GRPCAddr(), err)
			}
			return nil
		})
	}
	if s.cfg.SnapshotFile != "" {
		g.Go(func() error { s.snapshotLoop(gctx); return nil })
	}
	g.Go(func() error {
		<-gctx.Done()
		s.shutdown()
		return nil
	})
	err := g.Wait()
	if s.cfg.SnapshotFile != "" {
		s.saveSnapshot()
	}
	return err
}

func (s *Sidecar) shutdown() {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.httpSrv.Shutdown(ctx); err != nil {
		s.log.Warn("HTTP shutdown: closed the connections still open", "err", err)
	}
	// Serve never ran when ctx was cancelled before its goroutine did: the
	// listener is still open.
	_ = s.httpLn.Close()
	stopped := make(chan struct{})
	go func() { s.grpcSrv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		s.grpcSrv.Stop()
	}
	s.log.Info("stopped serving", "took", time.Since(start).Round(time.Millisecond))
}

func (s *Sidecar) snapshotLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.SnapshotInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.saveSnapshot()
		}
	}
}

// saveSnapshot writes the table, but only once it has caught up: a partial
// table must not replace a complete snapshot.
func (s *Sidecar) saveSnapshot() {
	if !s.follower.Reader().CaughtUp() {
		return
	}
	start := time.Now()
	n, err := s.table.SaveSnapshotFile(s.cfg.SnapshotFile, start)
	if err != nil {
		s.metrics.snapshots.WithLabelValues("save", "error").Inc()
		s.log.Warn("save verdict snapshot", "err", err)
		return
	}
	s.metrics.snapshots.WithLabelValues("save", "ok").Inc()
	s.log.Debug("saved verdict snapshot", "file", s.cfg.SnapshotFile, "verdicts", n, "took", time.Since(start).Round(time.Millisecond))
}

// serving reports whether lookups come from the table (caught up, or a
// snapshot was loaded) rather than the fail mode.
func (s *Sidecar) serving() bool {
	return s.follower.Reader().CaughtUp() || s.fromSnapshot.Load()
}
