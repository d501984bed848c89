package service

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// Admin is a program's admin server: /metrics of Registry, /healthz from
// Healthy and /readyz from Ready (nil checks always pass).
type Admin struct {
	Addr     string
	Registry prometheus.Gatherer
	Healthy  Check
	Ready    Check
	// Routes are more handlers by ServeMux pattern ("GET /v1/rdns-cache").
	Routes map[string]http.Handler
}

// RunWithAdmin runs a program's part until ctx is done, under one errgroup
// with its admin server. The admin server outlives the part's shutdown, so
// /metrics stays readable while the part flushes, and how long the stop took
// is logged.
func RunWithAdmin(ctx context.Context, log *slog.Logger, part string, admin Admin, run func(context.Context) error) error {
	var signalled atomic.Int64
	defer context.AfterFunc(ctx, func() { signalled.Store(time.Now().UnixNano()) })()
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		mux := AdminMux(admin.Registry, admin.Healthy, admin.Ready)
		for pattern, h := range admin.Routes {
			mux.Handle(pattern, h)
		}
		return Serve(adminCtx, admin.Addr, mux, log)
	})
	g.Go(func() error {
		defer stopAdmin()
		err := run(gctx)
		if at := signalled.Load(); at != 0 {
			log.Info(part+" stopped", "took", time.Since(time.Unix(0, at)).Round(time.Millisecond))
		}
		return err
	})
	return g.Wait()
}
