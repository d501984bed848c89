package fwsync

import (
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
)

// Config configures the nftables syncer (env BULWARK_FWSYNC_*).
type Config struct {
	Table   string `env:"FWSYNC_TABLE" envDefault:"bulwark" help:"The nftables table (family inet) Bulwark owns: fwsync replaces its whole content and never touches any other table."`
	Actions string `env:"FWSYNC_ACTIONS" envDefault:"BLOCK" help:"The verdict actions dropped at the firewall."`
	// Off: only the sets are kept, and your own ruleset refers to them (see
	// deploy/fwsync/README.md).
	InstallChain   bool          `env:"FWSYNC_INSTALL_CHAIN" envDefault:"true" help:"Adds a prerouting chain (priority filter - 1) in the table that drops traffic from the sets."`
	SyncInterval   time.Duration `env:"FWSYNC_SYNC_INTERVAL" envDefault:"250ms" help:"Batches verdict changes: at most one netlink transaction per interval."`
	ResyncInterval time.Duration `env:"FWSYNC_RESYNC_INTERVAL" envDefault:"10m" help:"Rewrites the whole table atomically, undoing edits made by hand."`
	NetNS          string        `env:"FWSYNC_NETNS" help:"The path of a network namespace to work in (such as /var/run/netns/NAME); empty: the process's own."`
	MetricsAddr    string        `env:"FWSYNC_METRICS_ADDR" envDefault:"127.0.0.1:9484" help:"Serves /metrics, /healthz and /readyz (bulwark-fwsync only)."`
}

// Validate names the variable at fault.
func (c Config) Validate() error {
	if c.Table == "" || len(c.Table) > 64 {
		return config.Invalid("FWSYNC_TABLE", "must be 1 to 64 characters, got %q", c.Table)
	}
	for _, r := range c.Table {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return config.Invalid("FWSYNC_TABLE", "%q: use letters, digits, '_' and '-'", c.Table)
		}
	}
	if _, err := c.actions(); err != nil {
		return config.Invalid("FWSYNC_ACTIONS", "%v", err)
	}
	if c.SyncInterval <= 0 {
		return config.Invalid("FWSYNC_SYNC_INTERVAL", "must be positive, got %s", c.SyncInterval)
	}
	if c.ResyncInterval <= 0 {
		return config.Invalid("FWSYNC_RESYNC_INTERVAL", "must be positive, got %s", c.ResyncInterval)
	}
	return nil
}

func (c Config) actions() ([]eventpb.Action, error) { return blockset.ParseActions(c.Actions) }
