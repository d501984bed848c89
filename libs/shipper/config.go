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

	"github.com/bulwarkhq/bulwark/libs/clientip"
	"github.com/bulwarkhq/bulwark/libs/config"
	"github.com/bulwarkhq/bulwark/libs/geoip"
	"github.com/bulwarkhq/bulwark/libs/logparse"
)

// Config of the shipper; variables are BULWARK_SHIPPER_*.
type Config struct {
	// Files are paths or globs of the logs to follow, comma-separated.
	Files []string `env:"SHIPPER_FILES" envSeparator:","`
	// Format of the files: nginx, apache, nginx-json or cloudflare (logparse.Formats).
	Format string `env:"SHIPPER_FORMAT" envDefault:"nginx"`
	// LogFormat is the nginx log_format (format nginx) or Apache LogFormat
	// (format apache) the files are written in; empty: the combined format.
	LogFormat string `env:"SHIPPER_LOG_FORMAT"`
	// JSONFields maps the fields Bulwark reads to the keys a JSON log uses
	// ("remote_addr=client,time_iso8601=ts"; format nginx-json).
	JSONFields string `env:"SHIPPER_JSON_FIELDS"`
	// CheckpointFile keeps where each file was read to; empty keeps none.
	CheckpointFile string `env:"SHIPPER_CHECKPOINT_FILE" envDefault:"bulwark-shipper.checkpoints.json"`
	// StartAt is where a file without a checkpoint is read from: beginning or end.
	StartAt string `env:"SHIPPER_START_AT" envDefault:"beginning"`
	// Follow keeps reading files as they grow (the service); `bulwark ship` reads to the end.
	Follow bool `env:"SHIPPER_FOLLOW" envDefault:"true"`

	SessionCookie  string `env:"SHIPPER_SESSION_COOKIE"`
	SessionField   string `env:"SHIPPER_SESSION_FIELD"`
	TrustedProxies string `env:"SHIPPER_TRUSTED_PROXIES"`
	MaxLineBytes   int    `env:"SHIPPER_MAX_LINE_BYTES" envDefault:"65536"`

	// Compression of produced batches: lz4 (default: cheapest per byte), zstd, snappy, gzip, none.
	Compression string `env:"SHIPPER_COMPRESSION" envDefault:"lz4"`
	// MaxBufferedRecords bounds memory: reading stops while this many records wait for Kafka.
	MaxBufferedRecords int `env:"SHIPPER_MAX_BUFFERED_RECORDS" envDefault:"50000"`
	// Linger lets batches fill: the idempotent producer has one request in
	// flight per broker, so bigger requests are what raises throughput.
	Linger time.Duration `env:"SHIPPER_LINGER" envDefault:"30ms"`

	PollInterval       time.Duration `env:"SHIPPER_POLL_INTERVAL" envDefault:"50ms"`
	CheckpointInterval time.Duration `env:"SHIPPER_CHECKPOINT_INTERVAL" envDefault:"1s"`
	RescanInterval     time.Duration `env:"SHIPPER_RESCAN_INTERVAL" envDefault:"10s"`
	// StopTimeout bounds how long a stop waits for Kafka to acknowledge what is buffered.
	StopTimeout time.Duration `env:"SHIPPER_STOP_TIMEOUT" envDefault:"30s"`

	// MetricsAddr serves /metrics and /healthz (the service only).
	MetricsAddr string `env:"SHIPPER_METRICS_ADDR" envDefault:"127.0.0.1:8484"`
	// LogpushAddr, when set, accepts Cloudflare Logpush HTTP pushes (gzip'd NDJSON POSTs).
	LogpushAddr string `env:"SHIPPER_LOGPUSH_ADDR"`
	// LogpushToken, when set, must be sent as "Authorization: Bearer <token>"
	// (Logpush adds it with `header_Authorization=Bearer%20<token>` in the destination URL).
	LogpushToken string `env:"SHIPPER_LOGPUSH_TOKEN"`
	// GeoIP names MaxMind-format databases (BULWARK_GEOIP_COUNTRY_DB,
	// BULWARK_GEOIP_ASN_DB) that events are enriched from; none by default.
	GeoIP geoip.Config

	// LogpushMaxBytes caps a push's decompressed size.
	LogpushMaxBytes int64 `env:"SHIPPER_LOGPUSH_MAX_BYTES" envDefault:"268435456"`
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
