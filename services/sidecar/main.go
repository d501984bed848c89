// Command bulwark-sidecar holds the whole verdict topic in memory and
// answers lookups in microseconds: the HTTP API of ARCHITECTURE.md on
// BULWARK_SIDECAR_ADDR (nginx auth_request on /v1/authz) and Envoy's
// ext_authz on BULWARK_SIDECAR_GRPC_ADDR. With BULWARK_CHALLENGE_SECRET set
// it also serves the challenge pages under /.bulwark/ and honours
// clearances. Configuration: BULWARK_SIDECAR_*, BULWARK_CHALLENGE_*,
// BULWARK_KAFKA_*, BULWARK_LOG_*; the logic is in libs/enforce/sidecar.
package main

import (
	"context"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/feedback"
	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
	"golang.org/x/sync/errgroup"
)

type cfg struct {
	Log       service.LogConfig
	Kafka     kafka.Config
	Sidecar   sidecar.Config
	Challenge challenge.Config
}

func main() {
	service.Exit("bulwark-sidecar", run())
}

func run() error {
	c, err := config.Load[cfg]()
	if err != nil {
		return err
	}
	log := c.Log.NewLogger("bulwark-sidecar")
	reg := service.NewRegistry()
	ctx, stop := service.SignalContext()
	defer stop()

	sc, err := sidecar.New(c.Sidecar, c.Kafka, log, reg)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	// Challenges only with a secret: replicas must share it, so none is
	// made up here (bulwark dev makes one up).
	if c.Challenge.Secret != "" || c.Challenge.SecretFile != "" {
		keys, err := c.Challenge.Keys(false)
		if err != nil {
			return err
		}
		pub, err := feedback.NewPublisher(c.Kafka, "sidecar", log, reg)
		if err != nil {
			return err
		}
		defer func() {
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := pub.Close(fctx); err != nil {
				log.Warn("feedback not all sent", "err", err)
			}
		}()
		h, err := sc.EnableChallenges(c.Challenge, keys, pub, reg)
		if err != nil {
			return err
		}
		g.Go(func() error { return h.Run(gctx) })
		log.Info("challenges enabled", "provider", c.Challenge.Provider)
	}
	// Run serves HTTP and gRPC and follows the topic, and on SIGTERM stops
	// the servers gracefully before returning.
	start := time.Now()
	g.Go(func() error { return sc.Run(gctx) })
	err = g.Wait()
	log.Info("sidecar stopped", "ran", time.Since(start).Round(time.Second))
	return err
}
