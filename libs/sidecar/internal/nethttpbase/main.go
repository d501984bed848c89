// Command nethttpbase serves the sidecar's HTTP API with net/http instead
// of the sidecar's own fasthttp server, for scripts/bench/sidecar.sh: the
// same handlers, table and snapshot, so the benchmark measures what the
// server library costs (see libs/sidecar/server.go for why the sidecar uses
// fasthttp). Configured like bulwark-sidecar (BULWARK_SIDECAR_*), it loads
// BULWARK_SIDECAR_SNAPSHOT_FILE and serves on BULWARK_SIDECAR_ADDR; it
// follows no topic.
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/bulwarkhq/bulwark/libs/config"
	"github.com/bulwarkhq/bulwark/libs/kafka"
	"github.com/bulwarkhq/bulwark/libs/sidecar"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "nethttpbase:", err)
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
	srv := &http.Server{Addr: addr, Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	return srv.ListenAndServe()
}
