package devstack

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/decide/console"
	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// consolePart runs the operator console on BULWARK_CONSOLE_ADDR, asking
// the dev sidecar for its live answers. Without BULWARK_CONSOLE_TOKEN it
// makes a random admin token up for this run and prints it: the console
// has no default password, even in development.
func consolePart(o Options, sc *sidecar.Sidecar, reg prometheus.Registerer) (part, error) {
	var c console.Config
	if err := config.Fill(&c, nil); err != nil {
		return part{}, err
	}
	madeUp := c.Token == "" && !c.OIDC()
	if madeUp {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return part{}, fmt.Errorf("console token: %w", err)
		}
		c.Token = hex.EncodeToString(b)
	}
	if len(c.Sidecars) == 0 {
		c.Sidecars = []string{"http://" + sc.Addr()}
	}
	limits, err := config.LoadFrom[overrides.Limits](nil)
	if err != nil {
		return part{}, err
	}
	var ch *chschema.Config
	if os.Getenv("BULWARK_CLICKHOUSE_ADDR") != "" {
		chc, err := config.LoadFrom[chschema.Config](nil)
		if err != nil {
			return part{}, err
		}
		ch = &chc
	}
	srv, err := console.New(c, o.Kafka, limits, ch, o.Log, reg)
	if err != nil {
		return part{}, err
	}
	if madeUp {
		fmt.Fprintf(o.Out, "bulwark dev: console on %s (token for this run: %s; set BULWARK_CONSOLE_TOKEN to choose one)\n", srv.URL(), c.Token)
	} else {
		fmt.Fprintf(o.Out, "bulwark dev: console on %s (sign in with BULWARK_CONSOLE_TOKEN)\n", srv.URL())
	}
	return part{"console", srv.Run}, nil
}
