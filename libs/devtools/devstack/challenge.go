package devstack

import (
	"context"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/decide/feedback"
	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/enforce/gate"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// challengeParts enables the sidecar's challenge pages and, when upstream
// is not empty, runs bulwark-gate in front of it, both signing with one
// secret (BULWARK_CHALLENGE_SECRET, or one made up for this run) and
// publishing feedback on the feedback topic. builtinShop says the upstream
// is the simulated shop, whose visitors come through a proxy on loopback
// that names them in X-Forwarded-For. It returns the gate's address (""
// without a gate).
func challengeParts(o Options, sc *sidecar.Sidecar, reg prometheus.Registerer, upstream string, builtinShop bool) ([]part, string, error) {
	var ccfg challenge.Config
	if err := config.Parse(&ccfg, nil); err != nil {
		return nil, "", err
	}
	// bulwark dev serves plain HTTP on loopback: a Secure cookie would
	// need HTTPS with some browsers.
	if os.Getenv("BULWARK_CHALLENGE_INSECURE_COOKIE") == "" {
		ccfg.InsecureCookie = true
	}
	keys, err := ccfg.Keys(true)
	if err != nil {
		return nil, "", err
	}
	pub, err := feedback.NewPublisher(o.Kafka, "dev", o.Log, reg)
	if err != nil {
		return nil, "", err
	}
	h, err := sc.EnableChallenges(ccfg, keys, pub, reg)
	if err != nil {
		return nil, "", err
	}
	parts := []part{
		{"sidecar challenges", h.Run},
		{"feedback", func(ctx context.Context) error {
			<-ctx.Done()
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return pub.Close(fctx)
		}},
	}
	if upstream == "" {
		return parts, "", nil
	}
	var gcfg gate.Config
	if err := config.Fill(&gcfg, nil); err != nil {
		return nil, "", err
	}
	gcfg.Upstream = upstream
	if builtinShop && os.Getenv("BULWARK_GATE_TRUSTED_PROXIES") == "" {
		// The simulated visitors all connect from loopback and say which
		// address they stand for in X-Forwarded-For, as a load balancer
		// in front of the gate would.
		gcfg.TrustedProxies = "127.0.0.1/32,::1/128"
	}
	// The gate answers from the sidecar's table rather than following the
	// verdict topic a second time in one process.
	g, err := gate.New(gcfg, gate.Deps{Kafka: o.Kafka, Challenge: ccfg, Keys: keys, Log: o.Log, Registerer: reg,
		Table: sc.Table(), Feedback: pub})
	if err != nil {
		return nil, "", err
	}
	return append(parts, part{"gate", g.Run}), g.Addr(), nil
}
