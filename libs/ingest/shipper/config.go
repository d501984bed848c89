// Package shipper reads access logs and publishes every line to Kafka: parsed
// requests to the requests topic keyed by client IP, lines it cannot parse to
// the dead-letter topic with the reason. It follows files across rotation,
// checkpoints only what Kafka acknowledged, stops reading when Kafka cannot
// keep up (backpressure), and also accepts Cloudflare Logpush's HTTP pushes.
// `bulwark-shipper` runs it as a service, `bulwark ship` for a one-off backfill.
package shipper

import (
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/ingest/geoip"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// Config of the shipper; variables are BULWARK_SHIPPER_*.
type Config struct {
	Files          []string `env:"SHIPPER_FILES" envSeparator:"," help:"Paths or globs of the logs to follow, comma-separated."`
	Format         string   `env:"SHIPPER_FORMAT" envDefault:"nginx" help:"Format of the files: nginx, apache, nginx-json or cloudflare (logparse.Formats)."`
	LogFormat      string   `env:"SHIPPER_LOG_FORMAT" help:"The nginx log_format (format nginx) or Apache LogFormat (format apache) the files are written in; empty: the combined format."`
	JSONFields     string   `env:"SHIPPER_JSON_FIELDS" help:"Maps the fields Bulwark reads to the keys a JSON log uses (\"remote_addr=client,time_iso8601=ts\"; format nginx-json)."`
	CheckpointFile string   `env:"SHIPPER_CHECKPOINT_FILE" envDefault:"bulwark-shipper.checkpoints.json" help:"Keeps where each file was read to; empty keeps none."`
	StartAt        string   `env:"SHIPPER_START_AT" envDefault:"beginning" help:"Where a file without a checkpoint is read from: beginning or end."`
	Follow         bool     `env:"SHIPPER_FOLLOW" envDefault:"true" help:"Keeps reading files as they grow (the service); 'bulwark ship' reads to the end."`

	SessionCookie  string `env:"SHIPPER_SESSION_COOKIE" help:"Cookie that carries the session id (formats that log cookies)."`
	SessionField   string `env:"SHIPPER_SESSION_FIELD" help:"Log field that carries the session id (JSON formats)."`
	TrustedProxies string `env:"SHIPPER_TRUSTED_PROXIES" help:"CIDRs of your proxies: the client is the first untrusted hop of X-Forwarded-For."`
	MaxLineBytes   int    `env:"SHIPPER_MAX_LINE_BYTES" envDefault:"65536" help:"Longer lines go to the dead-letter topic as too_long."`

	// snappy by default: kgo compresses each request on the one goroutine
	// that writes to the broker, and with lz4 that was the largest single
	// cost of a shipped line (BENCHMARKS.md, shipper); snappy (klauspost's
	// s2) costs a fraction for about 15% more bytes on the wire and disk.
	Compression        string        `env:"SHIPPER_COMPRESSION" envDefault:"snappy" help:"Compression of produced batches: snappy (default: cheapest CPU per line), lz4 (about 15% smaller), zstd (smallest, costliest), gzip, none."`
	MaxBufferedRecords int           `env:"SHIPPER_MAX_BUFFERED_RECORDS" envDefault:"50000" help:"Bounds memory: reading stops while this many records wait for Kafka."`
	Linger             time.Duration `env:"SHIPPER_LINGER" envDefault:"30ms" help:"Lets batches fill: fewer, larger batches cost the client and the brokers less per record."`

	PollInterval       time.Duration `env:"SHIPPER_POLL_INTERVAL" envDefault:"50ms" help:"How often a file at its end is checked for new lines."`
	CheckpointInterval time.Duration `env:"SHIPPER_CHECKPOINT_INTERVAL" envDefault:"1s" help:"How often acknowledged positions are written to the checkpoint file."`
	RescanInterval     time.Duration `env:"SHIPPER_RESCAN_INTERVAL" envDefault:"10s" help:"How often the globs are expanded again to find new files."`
	StopTimeout        time.Duration `env:"SHIPPER_STOP_TIMEOUT" envDefault:"30s" help:"Bounds how long a stop waits for Kafka to acknowledge what is buffered."`

	MetricsAddr  string `env:"SHIPPER_METRICS_ADDR" envDefault:"127.0.0.1:8484" help:"Serves /metrics and /healthz (the service only)."`
	LogpushAddr  string `env:"SHIPPER_LOGPUSH_ADDR" help:"When set, accepts Cloudflare Logpush HTTP pushes (gzip'd NDJSON POSTs)."`
	LogpushToken string `env:"SHIPPER_LOGPUSH_TOKEN" help:"When set, must be sent as \"Authorization: Bearer <token>\" (Logpush adds it with 'header_Authorization=Bearer%20<token>' in the destination URL)."`
	// GeoIP names MaxMind-format databases (BULWARK_GEOIP_COUNTRY_DB,
	// BULWARK_GEOIP_ASN_DB) that events are enriched from; none by default.
	GeoIP geoip.Config

	LogpushMaxBytes int64 `env:"SHIPPER_LOGPUSH_MAX_BYTES" envDefault:"268435456" help:"Caps a push, as received and decompressed: a bigger one is refused whole (413) before a line of it is published."`
}

// Validate checks the values, naming the variable at fault.
func (c Config) Validate() error {
	if _, err := logparse.ParseFormat(c.Format); err != nil {
		return config.Invalid("SHIPPER_FORMAT", "%v", err)
	}
	if _, err := logparse.ParseJSONFields(c.JSONFields); err != nil {
		return config.Invalid("SHIPPER_JSON_FIELDS", "%v", err)
	}
	if c.StartAt != "beginning" && c.StartAt != "end" {
		return config.Invalid("SHIPPER_START_AT", "%q: want beginning or end", c.StartAt)
	}
	if _, err := clientip.ParseCIDRs(c.TrustedProxies); err != nil {
		return config.Invalid("SHIPPER_TRUSTED_PROXIES", "%v", err)
	}
	if c.MaxLineBytes < 256 || c.MaxLineBytes > 16<<20 {
		return config.Invalid("SHIPPER_MAX_LINE_BYTES", "%d: want 256 .. 16777216", c.MaxLineBytes)
	}
	if _, _, err := c.ParseOptions(); err != nil {
		return config.Invalid(c.parseOptionsVar(), "%v", err)
	}
	if _, err := compression(c.Compression); err != nil {
		return config.Invalid("SHIPPER_COMPRESSION", "%v", err)
	}
	if c.MaxBufferedRecords < 100 {
		return config.Invalid("SHIPPER_MAX_BUFFERED_RECORDS", "%d: want at least 100", c.MaxBufferedRecords)
	}
	for name, d := range map[string]time.Duration{
		"SHIPPER_POLL_INTERVAL": c.PollInterval, "SHIPPER_CHECKPOINT_INTERVAL": c.CheckpointInterval,
		"SHIPPER_RESCAN_INTERVAL": c.RescanInterval, "SHIPPER_STOP_TIMEOUT": c.StopTimeout,
	} {
		if d <= 0 {
			return config.Invalid(name, "must be positive")
		}
	}
	if c.GeoIP.Enabled() && c.GeoIP.ReloadInterval <= 0 {
		return config.Invalid("GEOIP_RELOAD_INTERVAL", "must be positive")
	}
	if c.Linger < 0 {
		return config.Invalid("SHIPPER_LINGER", "must not be negative")
	}
	if c.LogpushAddr != "" && c.LogpushMaxBytes < 1024 {
		return config.Invalid("SHIPPER_LOGPUSH_MAX_BYTES", "%d: want at least 1024", c.LogpushMaxBytes)
	}
	if c.Follow && len(c.Files) == 0 && c.LogpushAddr == "" {
		return config.Invalid("SHIPPER_FILES", "set the log files to follow (or BULWARK_SHIPPER_LOGPUSH_ADDR to receive Logpush)")
	}
	return nil
}

func compression(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "none", "":
		return kgo.NoCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("unknown compression %q: want lz4, zstd, snappy, gzip or none", name)
}

// ParseOptions returns the parser format and options the configuration
// describes, checking that they build a parser (a custom format string is
// compiled here, so a bad one stops the shipper at start-up).
func (c Config) ParseOptions() (logparse.Format, logparse.Options, error) {
	format, err := logparse.ParseFormat(c.Format)
	if err != nil {
		return "", logparse.Options{}, err
	}
	fields, err := logparse.ParseJSONFields(c.JSONFields)
	if err != nil {
		return "", logparse.Options{}, err
	}
	trusted, err := clientip.ParseCIDRs(c.TrustedProxies)
	if err != nil {
		return "", logparse.Options{}, err
	}
	opts := logparse.Options{
		SessionCookie: c.SessionCookie, SessionField: c.SessionField, MaxLineBytes: c.MaxLineBytes,
		LogFormat: c.LogFormat, JSONFields: fields, ClientIP: clientip.New(trusted),
	}
	if _, err := logparse.New(format, opts); err != nil {
		return "", logparse.Options{}, err
	}
	return format, opts, nil
}

// parseOptionsVar names the variable most likely at fault when the parser
// options do not build.
func (c Config) parseOptionsVar() string {
	switch {
	case c.LogFormat != "":
		return "SHIPPER_LOG_FORMAT"
	case c.JSONFields != "":
		return "SHIPPER_JSON_FIELDS"
	case c.SessionCookie != "":
		return "SHIPPER_SESSION_COOKIE"
	case c.SessionField != "":
		return "SHIPPER_SESSION_FIELD"
	}
	return "SHIPPER_FORMAT"
}
