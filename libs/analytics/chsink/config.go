package chsink

import (
	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/detect/robots"
	"time"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// Config is the sink's configuration: BULWARK_CLICKHOUSE_* for the server
// and BULWARK_CHSINK_* for the sink itself.
type Config struct {
	ClickHouse chschema.Config

	Group       string `env:"CHSINK_GROUP" envDefault:"bulwark-chsink" help:"Consumer group of the sink on the requests, scores, verdicts and dead-letter topics."`
	MetricsAddr string `env:"CHSINK_METRICS_ADDR" envDefault:"127.0.0.1:8485" help:"Where the service serves /metrics, /healthz and /readyz."`
	// Keep it fixed: lowering it while a block is in flight can count that block's
	// rows twice in the rollups.
	BatchRows         int           `env:"CHSINK_BATCH_ROWS" envDefault:"16384" help:"The block size per partition: a block is sent when it is full, or when FlushInterval passes."`
	InsertRows        int           `env:"CHSINK_INSERT_ROWS" envDefault:"131072" help:"How many rows of full blocks wait to go in one insert: ClickHouse takes few large inserts far faster than many small ones."`
	FlushInterval     time.Duration `env:"CHSINK_FLUSH_INTERVAL" envDefault:"2s" help:"A block that is not full is sent after this long."`
	InsertParallelism int           `env:"CHSINK_INSERT_PARALLELISM" envDefault:"1" help:"How many inserts run at once (whole partitions each); more than 1 helps only where ClickHouse has cores to spare."`
	MaxBackoff        time.Duration `env:"CHSINK_MAX_BACKOFF" envDefault:"30s" help:"Caps the wait between retries while ClickHouse is down."`
	Migrate           bool          `env:"CHSINK_MIGRATE" envDefault:"true" help:"Applies the schema at start."`
	StatsInterval     time.Duration `env:"CHSINK_STATS_INTERVAL" envDefault:"15s" help:"How often the sink records pipeline metrics (consumer lag of LagGroups, the bulwark_* metrics at ScrapeURLs); 0 turns it off."`
	LagGroups         []string      `env:"CHSINK_LAG_GROUPS" envDefault:"bulwark-aggregator,bulwark-decider,bulwark-chsink" envSeparator:"," help:"Consumer groups whose lag the sink records for the pipeline dashboard."`
	ScrapeURLs        []string      `env:"CHSINK_SCRAPE_URLS" envSeparator:"," help:"/metrics URLs of the other services whose bulwark_* metrics the sink records."`
	BotDirectory      string        `env:"CHSINK_BOT_DIRECTORY" envDefault:"builtin" help:"The bot directory the bot and bot_category columns come from: \"builtin\" (or empty) for the one shipped with Bulwark, or the folder 'bulwark bots update' writes (as the rule file's crawlers.directory)."`
	// Read at start.
	Robots string `env:"CHSINK_ROBOTS" help:"Says where each site's robots.txt is, HOST=FILE_OR_URL comma-separated (\"*\" for every other host): a declared bot's request to a path its group disallows gets robots_disallowed = 1."`
}

// Validate checks the values, naming the variable at fault.
func (c Config) Validate() error {
	if err := c.ClickHouse.Validate(); err != nil {
		return err
	}
	if c.Group == "" {
		return config.Invalid("CHSINK_GROUP", "must not be empty")
	}
	if _, err := crawlers.LoadDirectory(c.BotDirectory); err != nil {
		return config.Invalid("CHSINK_BOT_DIRECTORY", "%v", err)
	}
	if _, err := robots.ParseSpec(c.Robots); err != nil {
		return config.Invalid("CHSINK_ROBOTS", "%v", err)
	}
	if c.BatchRows < 1 || c.BatchRows > 1_000_000 {
		return config.Invalid("CHSINK_BATCH_ROWS", "must be 1..1000000, got %d", c.BatchRows)
	}
	if c.InsertRows < c.BatchRows || c.InsertRows > 10_000_000 {
		return config.Invalid("CHSINK_INSERT_ROWS", "must be at least BULWARK_CHSINK_BATCH_ROWS (%d) and at most 10000000, got %d", c.BatchRows, c.InsertRows)
	}
	if c.InsertParallelism < 1 || c.InsertParallelism > 64 {
		return config.Invalid("CHSINK_INSERT_PARALLELISM", "must be 1..64, got %d", c.InsertParallelism)
	}
	if c.FlushInterval < 10*time.Millisecond {
		return config.Invalid("CHSINK_FLUSH_INTERVAL", "must be at least 10ms, got %s", c.FlushInterval)
	}
	if c.MaxBackoff < 100*time.Millisecond {
		return config.Invalid("CHSINK_MAX_BACKOFF", "must be at least 100ms, got %s", c.MaxBackoff)
	}
	if c.StatsInterval < 0 {
		return config.Invalid("CHSINK_STATS_INTERVAL", "must not be negative")
	}
	return nil
}
