// Command serverbase serves the sidecar's HTTP API on another server
// library than the sidecar's own (evhttp), for scripts/bench/sidecar.sh:
// the same handlers, table and snapshot, so the benchmark measures what the
// server costs (see libs/enforce/sidecar/server.go and libs/enforce/sidecar/internal/evhttp for why the
// sidecar uses event loops). BULWARK_BENCH_SERVER picks the library:
// "nethttp" (Handler on net/http) or "fasthttp" (FastHandler on fasthttp's
// own server, which the sidecar used before evhttp). Configured like
// bulwark-sidecar (BULWARK_SIDECAR_*), it loads
// BULWARK_SIDECAR_SNAPSHOT_FILE and serves on BULWARK_SIDECAR_ADDR; it
// follows no topic.
package main

import (
	"fmt"
	"net/http"
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
	switch lib := os.Getenv("BULWARK_BENCH_SERVER"); lib {
	case "nethttp":
		srv := &http.Server{Addr: addr, Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
		return srv.ListenAndServe()
	case "fasthttp":
		srv := &fasthttp.Server{Handler: s.FastHandler(), ReadTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute,
			NoDefaultServerHeader: true, NoDefaultContentType: true}
		return srv.ListenAndServe(addr)
	default:
		return fmt.Errorf("BULWARK_BENCH_SERVER=%q: want nethttp or fasthttp", lib)
	}
}
