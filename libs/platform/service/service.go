// Package service holds what every Bulwark program does the same way around
// its parts: the logger from BULWARK_LOG_LEVEL/BULWARK_LOG_FORMAT, the
// Prometheus registry, the /metrics, /healthz and /readyz endpoints, and a
// context cancelled on SIGINT/SIGTERM.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// LogConfig is read from BULWARK_LOG_LEVEL and BULWARK_LOG_FORMAT.
type LogConfig struct {
	Level  string `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error."`
	Format string `env:"LOG_FORMAT" envDefault:"text" help:"text or json."`
}

// Validate names the variable at fault.
func (c LogConfig) Validate() error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.Level)); err != nil {
		return config.Invalid("LOG_LEVEL", "%q: want debug, info, warn or error", c.Level)
	}
	if c.Format != "text" && c.Format != "json" {
		return config.Invalid("LOG_FORMAT", "%q: want text or json", c.Format)
	}
	return nil
}

// NewLogger builds the program's logger.
func (c LogConfig) NewLogger(program string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if strings.EqualFold(c.Format, "json") {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.New(h).With("program", program)
}

// NewRegistry returns a registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// SignalContext is cancelled on SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// Check reports an error when a part is not alive or not ready.
type Check func() error

// AdminMux serves /metrics, /healthz (alive) and /readyz (ready). A nil
// check always passes.
func AdminMux(reg prometheus.Gatherer, healthy, ready Check) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", checkHandler(healthy))
	mux.HandleFunc("GET /readyz", checkHandler(ready))
	return mux
}

func checkHandler(c Check) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if c != nil {
			if err := c(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, err.Error())
				return
			}
		}
		fmt.Fprintln(w, "ok")
	}
}

// Serve serves h on addr until ctx is done, then shuts down gracefully.
// The listener is opened before Serve returns its first error, so a port in
// use stops the program at start-up.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ServeListener(ctx, ln, h, log)
}

// ServeListener is Serve on an open listener.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if log != nil {
		log.Info("serving", "addr", ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down %s: %w", ln.Addr(), err)
	}
	return nil
}

// Exit prints a start-up or run error the way every program does and exits.
func Exit(program string, err error) {
	if err == nil {
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", program, err)
	os.Exit(1)
}
