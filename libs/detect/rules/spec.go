package rules

import (
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"time"

	"go.yaml.in/yaml/v3"
)

// fileSpec is the rule file as written; Parse decodes a user's file over
// the shipped default (default.yaml) and compiles it into a RuleSet.
type fileSpec struct {
	Version    int            `yaml:"version"`
	Learning   bool           `yaml:"learning"`
	Ladder     ladderSpec     `yaml:"ladder"`
	TTL        ttlSpec        `yaml:"ttl"`
	Escalation escalationSpec `yaml:"escalation"`
	Allow      allowSpec      `yaml:"allow"`
	Overrides  overridesSpec  `yaml:"overrides"`
	Crawlers   crawlersSpec   `yaml:"crawlers"`
	Bots       botsSpec       `yaml:"bots"`
	Rules      []ruleSpec     `yaml:"rules"`
	Model      model.SpecYAML `yaml:"model"`
	// Features belongs to the aggregator (scoring.Config); it is decoded on
	// its own so that its defaults and checks stay scoring's.
	Features yaml.Node `yaml:"features"`
}

type ladderSpec struct {
	Monitor   float64 `yaml:"monitor"`
	Challenge float64 `yaml:"challenge"`
	Block     float64 `yaml:"block"`
}

type ttlSpec struct {
	Monitor     time.Duration `yaml:"monitor"`
	Challenge   time.Duration `yaml:"challenge"`
	Block       time.Duration `yaml:"block"`
	ExtendBelow float64       `yaml:"extend_below"`
}

type escalationSpec struct {
	Factor float64       `yaml:"factor"`
	MaxTTL time.Duration `yaml:"max_ttl"`
	Window time.Duration `yaml:"window"`
}

type allowSpec struct {
	CIDRs    []string `yaml:"cidrs"`
	Subjects []string `yaml:"subjects"`
}

type overridesSpec struct {
	UnblockGrace time.Duration `yaml:"unblock_grace"`
}

type crawlersSpec struct {
	Enabled     bool          `yaml:"enabled"`
	RDNS        bool          `yaml:"rdns"`
	RDNSTimeout time.Duration `yaml:"rdns_timeout"`
	CacheTTL    time.Duration `yaml:"cache_ttl"`
	CacheSize   int           `yaml:"cache_size"`
	Refresh     time.Duration `yaml:"refresh"`
	Directory   string        `yaml:"directory"`
	RangesValid time.Duration `yaml:"ranges_valid"`
	List        []crawlerSpec `yaml:"list"`
}

type crawlerSpec struct {
	Name         string   `yaml:"name"`
	Operator     string   `yaml:"operator"`
	Category     string   `yaml:"category"`
	UserAgent    string   `yaml:"user_agent"`
	RobotsToken  string   `yaml:"robots_token"`
	Ranges       string   `yaml:"ranges"`
	RangesURL    string   `yaml:"ranges_url"`
	RangesDate   string   `yaml:"ranges_date"`
	RDNSSuffixes []string `yaml:"rdns_suffixes"`
}

type botsSpec struct {
	Categories map[string]string `yaml:"categories"`
	Bots       map[string]string `yaml:"bots"`
	RateLimit  rateLimitSpec     `yaml:"rate_limit"`
	Robots     map[string]string `yaml:"robots"`
}

type rateLimitSpec struct {
	PerMinute float64       `yaml:"per_minute"`
	Action    string        `yaml:"action"`
	TTL       time.Duration `yaml:"ttl"`
}

type ruleSpec struct {
	Name     string        `yaml:"name"`
	When     string        `yaml:"when"`
	Action   string        `yaml:"action"`
	TTL      time.Duration `yaml:"ttl"`
	Reason   string        `yaml:"reason"`
	Learning bool          `yaml:"learning"`
}
