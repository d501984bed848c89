// Command example is a small web application guarded by Bulwark verdicts.
//
// Embedded table (follows the verdict topic itself, like the sidecar):
//
//	BULWARK_KAFKA_BROKERS=127.0.0.1:9092 go run ./libs/enforce/botguard/example
//
// Remote sidecar:
//
//	go run ./libs/enforce/botguard/example -sidecar http://127.0.0.1:8480
//
// Then `curl -i localhost:8081/` (behind a proxy on this host, pass the
// client in X-Real-IP: `curl -H 'X-Real-IP: 203.0.113.7' localhost:8081/`)
// and block someone with `bulwark block 203.0.113.7`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bulwarkhq/bulwark/libs/enforce/botguard"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve the example application on")
	sidecar := flag.String("sidecar", "", "ask this bulwark-sidecar (http://host:port) instead of following Kafka")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*listen, *sidecar, log); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run(listen, sidecar string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := []botguard.Option{
		botguard.WithTrustedProxies("X-Real-IP", "127.0.0.0/8,::1"),
		botguard.WithSessionCookie("session"),
		botguard.WithChallenge(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintln(w, `<h1>One moment</h1><p>Please solve the puzzle to continue.</p>`)
		})),
	}
	if sidecar != "" {
		opts = append(opts, botguard.WithRemote(sidecar))
	} else {
		kcfg, err := config.Load[kafka.Config]()
		if err != nil {
			return err
		}
		t := verdicttable.New()
		f := verdicttable.Follow(ctx, t, kcfg, verdicttable.FollowOptions{Name: "example", Log: log})
		go func() {
			select {
			case <-f.Ready():
				log.Info("verdict table caught up", "verdicts", t.Len())
			case <-ctx.Done():
			}
		}()
		opts = append(opts, botguard.WithTable(t))
	}
	g, err := botguard.New(opts...)
	if err != nil {
		return err
	}

	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Welcome! (Bulwark says %s)\n", verdict.ActionString(botguard.ActionFrom(r.Context())))
	})
	srv := &http.Server{Addr: listen, Handler: g.Middleware(app), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("example application listening", "addr", listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
