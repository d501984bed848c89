// Command serverbase serves the sidecar's HTTP API on fasthttp's own server
// instead of the sidecar's (evhttp), for scripts/bench/sidecar.sh: the same
// handlers, table, snapshot and limits, so the benchmark measures what the
// server costs (see libs/enforce/sidecar/server.go and libs/enforce/sidecar/internal/evhttp for why the
// sidecar uses event loops). Configured like bulwark-sidecar
// (BULWARK_SIDECAR_*), it loads BULWARK_SIDECAR_SNAPSHOT_FILE and serves on
// BULWARK_SIDECAR_ADDR; it follows no topic.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
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
	// The sidecar's limits (libs/enforce/sidecar/server.go), as far as fasthttp
	// has them: connections, body and header size, timeouts. It has no
	// bound on the bodies buffered across connections; the benchmark's
	// GET requests carry none.
	srv := &fasthttp.Server{
		Handler:               s.FastHandler(),
		ReadTimeout:           5 * time.Second,
		IdleTimeout:           2 * time.Minute,
		Concurrency:           cfg.MaxConns,
		MaxRequestBodySize:    1 << 20, // the batch endpoint's limit
		ReadBufferSize:        16 << 10,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
	}
	return srv.ListenAndServe(addr)
}
