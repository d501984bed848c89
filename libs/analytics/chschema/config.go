package chschema

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// Config is how Bulwark reaches ClickHouse (native protocol). Variables are
// BULWARK_CLICKHOUSE_*.
type Config struct {
	Addr                  string        `env:"CLICKHOUSE_ADDR" help:"ClickHouse native-protocol address, host:port."`
	Database              string        `env:"CLICKHOUSE_DATABASE" envDefault:"bulwark" help:"Database that holds Bulwark's tables (created if missing)."`
	User                  string        `env:"CLICKHOUSE_USER" envDefault:"default" help:"ClickHouse user."`
	Password              string        `env:"CLICKHOUSE_PASSWORD" help:"ClickHouse password."`
	TLS                   bool          `env:"CLICKHOUSE_TLS" help:"Connect to ClickHouse over TLS."`
	TLSInsecureSkipVerify bool          `env:"CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY" help:"Skip verifying ClickHouse's TLS certificate (tests only)."`
	DialTimeout           time.Duration `env:"CLICKHOUSE_DIAL_TIMEOUT" envDefault:"10s" help:"How long a connection to ClickHouse may take."`
	RetentionDays         int           `env:"CLICKHOUSE_RETENTION_DAYS" envDefault:"30" help:"Keeps this many days of data (0 keeps everything)."`
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the values, naming the variable at fault.
func (c Config) Validate() error {
	if c.Addr == "" {
		return config.Invalid("CLICKHOUSE_ADDR", "required (host:port of the native protocol, e.g. 127.0.0.1:9000)")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return config.Invalid("CLICKHOUSE_ADDR", "%q is not host:port", c.Addr)
	}
	// The database name is spliced into DDL, so it must be a plain identifier.
	if !identRE.MatchString(c.Database) {
		return config.Invalid("CLICKHOUSE_DATABASE", "%q is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)", c.Database)
	}
	if c.DialTimeout <= 0 {
		return config.Invalid("CLICKHOUSE_DIAL_TIMEOUT", "must be positive")
	}
	if c.RetentionDays < 0 {
		return config.Invalid("CLICKHOUSE_RETENTION_DAYS", "must be >= 0 (0 keeps everything), got %d", c.RetentionDays)
	}
	return nil
}

// Open connects to the server (the default database, since ours may not
// exist yet) and checks it answers.
func Open(ctx context.Context, c Config) (driver.Conn, error) {
	opts := &clickhouse.Options{
		Addr:        []string{c.Addr},
		Auth:        clickhouse.Auth{Database: "default", Username: c.User, Password: c.Password},
		DialTimeout: c.DialTimeout,
		// LZ4 works from 18.16 to current servers and halves what batches
		// put on the wire.
		Compression:     &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		MaxOpenConns:    8,
		ConnMaxLifetime: time.Hour,
	}
	if c.TLS {
		opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLSInsecureSkipVerify} //nolint:gosec // opt-in by the operator
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", c.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("ping clickhouse %s: %w", c.Addr, err)
	}
	return conn, nil
}
