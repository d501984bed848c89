// Command serverbase serves the sidecar's HTTP API on fasthttp's own server
// instead of the sidecar's (evhttp), for scripts/bench/sidecar.sh (make
// bench-http): the same handlers, table, snapshot and limits, so the
// benchmark measures what the server costs (see libs/enforce/sidecar/server.go
// and libs/enforce/sidecar/internal/evhttp for why the sidecar uses event
// loops). Configured like bulwark-sidecar (BULWARK_SIDECAR_*), it loads
// BULWARK_SIDECAR_SNAPSHOT_FILE and serves on BULWARK_SIDECAR_ADDR; it follows
// no topic.
package main

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar/internal/evhttp"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "serverbase:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg sidecar.Config
	var kcfg kafka.Config
	if err := config.Fill(&cfg, nil); err != nil {
		return err
	}
	if err := config.Fill(&kcfg, nil); err != nil {
		return err
	}
	addr := cfg.Addr
	cfg.Addr, cfg.GRPCAddr = "127.0.0.1:0", "off" // the sidecar's own server is not started
	s, err := sidecar.New(cfg, kcfg, nil, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	// The sidecar's limits (libs/enforce/sidecar/server.go): what fasthttp
	// has itself (connections: 503 and close over MaxConns; body and header
	// size; timeouts), and evhttp's framing through a Guard (a request that
	// is not CRLF-framed HTTP/1.x answered 400 at once, the bound on the
	// bodies buffered across connections, chunked bodies refused), with the
	// API's JSON errors.
	guard := evhttp.NewGuard(evhttp.Config{
		MaxBodyBytes:     sidecar.MaxRequestBodyBytes,
		MaxBufferedBytes: cfg.MaxBufferedBytes,
		ErrorHandler:     s.FastErrorHandler(),
	})
	srv := &fasthttp.Server{
		Handler:               s.FastHandler(),
		ErrorHandler:          s.FastErrorHandler(),
		ReadTimeout:           5 * time.Second,
		IdleTimeout:           2 * time.Minute,
		Concurrency:           cfg.MaxConns,
		MaxRequestBodySize:    sidecar.MaxRequestBodyBytes,
		ReadBufferSize:        32 << 10, // over the guard's 16 KiB header limit, so that the guard answers a long header, as evhttp does
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
	}
	return srv.Serve(guard.Listener(ln))
}
