// Package kafka builds franz-go clients from Bulwark's configuration and
// creates Bulwark's topics.
package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// Config is how a Bulwark program reaches Kafka. Variables are BULWARK_KAFKA_*.
type Config struct {
	Brokers  []string `env:"KAFKA_BROKERS" envDefault:"127.0.0.1:9092" envSeparator:"," help:"Kafka bootstrap brokers, comma-separated host:port."`
	ClientID string   `env:"KAFKA_CLIENT_ID" envDefault:"bulwark" help:"Client id sent to Kafka (shows in broker logs and quotas)."`

	TLS                   bool   `env:"KAFKA_TLS" help:"Connect to Kafka over TLS."`
	TLSCAFile             string `env:"KAFKA_TLS_CA_FILE" help:"PEM file of the CA that signed the brokers' certificates (default: the system's)."`
	TLSCertFile           string `env:"KAFKA_TLS_CERT_FILE" help:"PEM client certificate for mutual TLS."`
	TLSKeyFile            string `env:"KAFKA_TLS_KEY_FILE" help:"PEM key of the client certificate."`
	TLSInsecureSkipVerify bool   `env:"KAFKA_TLS_INSECURE_SKIP_VERIFY" help:"Skip verifying the brokers' certificates (tests only)."`

	SASLMechanism string `env:"KAFKA_SASL_MECHANISM" help:"SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)."`
	SASLUser      string `env:"KAFKA_SASL_USER" help:"SASL user name."`
	SASLPassword  string `env:"KAFKA_SASL_PASSWORD" help:"SASL password."`

	DialTimeout    time.Duration `env:"KAFKA_DIAL_TIMEOUT" envDefault:"10s" help:"How long a connection to a broker may take."`
	MetadataMinAge time.Duration `env:"KAFKA_METADATA_MIN_AGE" envDefault:"1s" help:"Bounds how often a client may refresh metadata; after a broker dies it is how soon clients can find the new partition leaders (franz-go's own default is 5s)."`

	Topics Topics
}

// Validate checks the values, naming the variable at fault.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return config.Invalid("KAFKA_BROKERS", "at least one broker address is required")
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(strings.TrimSpace(b)); err != nil {
			return config.Invalid("KAFKA_BROKERS", "broker %q is not host:port", b)
		}
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.SASLUser == "" {
			return config.Invalid("KAFKA_SASL_USER", "required with BULWARK_KAFKA_SASL_MECHANISM=%s", c.SASLMechanism)
		}
	default:
		return config.Invalid("KAFKA_SASL_MECHANISM", "%q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", c.SASLMechanism)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return config.Invalid("KAFKA_TLS_CERT_FILE", "set both BULWARK_KAFKA_TLS_CERT_FILE and BULWARK_KAFKA_TLS_KEY_FILE, or neither")
	}
	if c.DialTimeout <= 0 {
		return config.Invalid("KAFKA_DIAL_TIMEOUT", "must be positive")
	}
	if c.MetadataMinAge < 0 {
		return config.Invalid("KAFKA_METADATA_MIN_AGE", "must not be negative")
	}
	return c.Topics.Validate()
}

// Opts returns the franz-go options for c: seeds, client id, TLS and SASL.
func (c Config) Opts() ([]kgo.Opt, error) {
	seeds := make([]string, len(c.Brokers))
	for i, b := range c.Brokers {
		seeds[i] = strings.TrimSpace(b)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID(c.ClientID),
		kgo.DialTimeout(c.DialTimeout),
		// The aggregator writes scores in transactions: every reader sees
		// only committed ones, or it would count a replayed score twice.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	}
	if c.MetadataMinAge > 0 {
		opts = append(opts, kgo.MetadataMinAge(c.MetadataMinAge))
	}
	if c.TLS || c.TLSCAFile != "" || c.TLSCertFile != "" {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()))
	}
	return opts, nil
}

func (c Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLSInsecureSkipVerify} //nolint:gosec // opt-in by the operator
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("read BULWARK_KAFKA_TLS_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, config.Invalid("KAFKA_TLS_CA_FILE", "%s holds no PEM certificate", c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("load Kafka client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// NewClient builds a client from c plus extra options (consumer group,
// producer settings, ...). When reg is not nil the client's metrics are
// registered there through kprom, under the "bulwark_kafka" namespace with a
// "client" label, so several clients of one program share the registry.
func NewClient(c Config, reg prometheus.Registerer, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.Opts()
	if err != nil {
		return nil, err
	}
	if reg != nil {
		m := kprom.NewMetrics("bulwark_kafka",
			kprom.Registerer(prometheus.WrapRegistererWith(prometheus.Labels{"client": c.ClientID}, reg)),
			kprom.Gatherer(prometheus.NewRegistry()),
		)
		opts = append(opts, kgo.WithHooks(m))
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %v: %w", c.Brokers, err)
	}
	return cl, nil
}

// WithClientID returns a copy of c whose client id has suffix appended, so
// one program's clients are told apart in broker logs and metrics.
func (c Config) WithClientID(suffix string) Config {
	c.ClientID = c.ClientID + "-" + suffix
	return c
}
