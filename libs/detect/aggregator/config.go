package aggregator

import (
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/detect/signatures"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// Config configures the aggregator service (BULWARK_AGGREGATOR_*; the Kafka
// connection is kafka.Config, the features section comes from BULWARK_RULES_FILE).
type Config struct {
	Group           string `env:"AGGREGATOR_GROUP" envDefault:"bulwark-aggregator" help:"The consumer group of the requests topic."`
	StateTopic      string `env:"AGGREGATOR_STATE_TOPIC" envDefault:"bulwark.aggregator-state.v1" help:"The compacted topic holding each partition's state."`
	TransactionalID string `env:"AGGREGATOR_TRANSACTIONAL_ID" help:"Identifies this instance's producer; empty means the group, the host name and a random suffix (unique per process; zombies are fenced by the group generation, KIP-447)."`
	// The default covers logs of several workers or shippers that interleave out
	// of order by up to 2 min.
	AllowedLateness time.Duration `env:"AGGREGATOR_ALLOWED_LATENESS" envDefault:"2m" help:"Events older than the partition's newest event time by more than this are counted as late and dropped."`
	IdleTimeout     time.Duration `env:"AGGREGATOR_IDLE_TIMEOUT" envDefault:"1h" help:"A subject without events for this long is forgotten."`
	// It is the latency that scores add on top of processing.
	SnapshotInterval time.Duration `env:"AGGREGATOR_SNAPSHOT_INTERVAL" envDefault:"200ms" help:"How often a transaction commits: scores become visible, changed state is written and offsets are committed."`
	MetricsAddr      string        `env:"AGGREGATOR_METRICS_ADDR" envDefault:"127.0.0.1:8481" help:"Serves /metrics and /healthz."`
	RulesFile        string        `env:"RULES_FILE" help:"The rule file whose 'features:' section sets weights and lists."`
	AttackMode       bool          `env:"AGGREGATOR_ATTACK_MODE" envDefault:"true" help:"Site-wide baselines per endpoint class: anomalies are attack records on the attacks topic, and while an attack with a shared fingerprint lasts, clients without good history are challenged on that endpoint class (blocked with the fingerprint and a failure)."`
	AttackSiteWide   bool          `env:"AGGREGATOR_ATTACK_SITE_WIDE" envDefault:"true" help:"With attack mode: one baseline and one decision for the whole site, every partition's per-minute counts folded through the site-counts topic in event time (false: each partition judges its own share)."`
	SignaturesFile   string        `env:"SIGNATURES_FILE" help:"The operator's request-signature file, read over the shipped signatures and re-read when it changes (libs/detect/signatures)."`
	HostingASNsFile  string        `env:"AGGREGATOR_HOSTING_ASNS_FILE" help:"AS numbers of hosting and cloud networks, one a line ('#' comments), replacing the shipped list (libs/detect/features/data/hosting-asns.txt) for net_hosting_share_10m."`

	// The model's settings; without MODEL_FILE, those of the rule file's
	// model: section apply (services/aggregator).
	ModelFile   string  `env:"MODEL_FILE" help:"A model file from 'bulwark train' to score with (the subject kinds the file names: ip: subjects, or the log's own session: subjects), in place of the rule file's model: section; re-read when it changes."`
	ModelMode   string  `env:"MODEL_MODE" envDefault:"shadow" help:"How MODEL_FILE is used: shadow (record model_score only), blend (one more signal, noisy-OR with the rules) or replace (the model's probability is the score)."`
	ModelWeight float64 `env:"MODEL_WEIGHT" envDefault:"0.8" help:"MODEL_FILE's weight in blend mode, 0..1: at 0.8 the model alone reaches CHALLENGE (70) at probability 0.875."`
	ModelWait   bool    `env:"MODEL_WAIT" envDefault:"false" help:"With MODEL_FILE: a file that does not exist yet is waited for (the rules score alone until it appears, e.g. at the first promotion of 'bulwark train --follow') instead of stopping at start-up; a file that exists and does not load still stops it."`
}

// HostingASNs is the hosting-network list: the file's, else the shipped one.
func (c Config) HostingASNs() (features.ASNSet, error) {
	if c.HostingASNsFile == "" {
		return features.ShippedHostingASNs(), nil
	}
	return features.LoadASNList(c.HostingASNsFile)
}

// Validate checks the values, naming the variable at fault.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return config.Invalid("AGGREGATOR_GROUP", "must not be empty")
	case c.StateTopic == "":
		return config.Invalid("AGGREGATOR_STATE_TOPIC", "must not be empty")
	case c.AllowedLateness < 0:
		return config.Invalid("AGGREGATOR_ALLOWED_LATENESS", "must not be negative")
	case c.IdleTimeout < time.Minute:
		return config.Invalid("AGGREGATOR_IDLE_TIMEOUT", "must be at least 1m (the longest window is 1h)")
	case c.SnapshotInterval < 10*time.Millisecond || c.SnapshotInterval > 30*time.Second:
		return config.Invalid("AGGREGATOR_SNAPSHOT_INTERVAL", "must be within 10ms..30s (a transaction must end well before its 60s timeout)")
	case c.MetricsAddr == "":
		return config.Invalid("AGGREGATOR_METRICS_ADDR", "must not be empty")
	}
	if c.RulesFile != "" {
		if _, err := os.Stat(c.RulesFile); err != nil {
			return config.Invalid("RULES_FILE", "%v", err)
		}
	}
	if c.SignaturesFile != "" {
		if _, err := signatures.Load(c.SignaturesFile); err != nil {
			return config.Invalid("SIGNATURES_FILE", "%v", err)
		}
	}
	if _, err := c.HostingASNs(); err != nil {
		return config.Invalid("AGGREGATOR_HOSTING_ASNS_FILE", "%v", err)
	}
	if _, err := model.ParseMode(c.ModelMode); err != nil {
		return config.Invalid("MODEL_MODE", "%v", err)
	}
	if !(c.ModelWeight >= 0 && c.ModelWeight <= 1) {
		return config.Invalid("MODEL_WEIGHT", "must be within 0..1")
	}
	if c.ModelFile != "" {
		if _, err := model.Load(c.ModelFile); err != nil && !(c.ModelWait && errors.Is(err, fs.ErrNotExist)) {
			return config.Invalid("MODEL_FILE", "%v", err)
		}
	}
	return nil
}

// DefaultConfig returns the defaults (as the environment would give them).
func DefaultConfig() Config {
	return Config{
		Group:            "bulwark-aggregator",
		StateTopic:       "bulwark.aggregator-state.v1",
		AllowedLateness:  DefaultAllowedLateness,
		IdleTimeout:      time.Hour,
		SnapshotInterval: 200 * time.Millisecond,
		MetricsAddr:      "127.0.0.1:8481",
		ModelMode:        "shadow",
		ModelWeight:      0.8,
		AttackMode:       true,
		AttackSiteWide:   true,
	}
}

// UseRuleFileModel fills the model settings from the rule file's model:
// section when BULWARK_MODEL_FILE is not set (the variables win over the
// rule file).
func (c *Config) UseRuleFileModel() error {
	if c.ModelFile != "" || c.RulesFile == "" {
		return nil
	}
	m, err := model.LoadRuleFileSection(c.RulesFile)
	if err != nil {
		return config.Invalid("RULES_FILE", "%v", err)
	}
	if m.File != "" {
		c.ModelFile, c.ModelMode, c.ModelWeight = m.File, m.Mode.String(), m.Weight
	}
	return nil
}
