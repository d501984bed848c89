package sidecar

import (
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// Config is the sidecar's configuration; variables are BULWARK_SIDECAR_*.
type Config struct {
	Addr     string `env:"SIDECAR_ADDR" envDefault:"127.0.0.1:8480" help:"The HTTP API's listen address."`
	GRPCAddr string `env:"SIDECAR_GRPC_ADDR" envDefault:"127.0.0.1:8482" help:"The Envoy ext_authz listen address; \"off\" disables it."`
	// A Check request names its client itself (attributes.source.address), so
	// whoever can reach the gRPC port can ask about any client address; empty (the
	// default) lets every caller in, for an Envoy on loopback or a port only Envoy
	// can reach.
	GRPCTrustedPeers string `env:"SIDECAR_GRPC_TRUSTED_PEERS" help:"When set, are the CIDRs (or bare addresses) whose connections may call ext_authz Check; any other caller gets PERMISSION_DENIED."`
	ClientIPHeader   string `env:"SIDECAR_CLIENT_IP_HEADER" envDefault:"X-Real-IP" help:"Carries the client address from a trusted proxy (X-Real-IP from nginx; X-Forwarded-For chains are walked from the right)."`
	TrustedProxies   string `env:"SIDECAR_TRUSTED_PROXIES" envDefault:"127.0.0.0/8,::1" help:"The CIDRs (or bare addresses) whose ClientIPHeader is believed; from anyone else the socket's address counts."`
	SessionHeader    string `env:"SIDECAR_SESSION_HEADER" envDefault:"X-Bulwark-Session" help:"Carries the client's session id on /v1/authz and ext_authz (nginx: proxy_set_header X-Bulwark-Session $cookie_session)."`
	FailMode         string `env:"SIDECAR_FAIL_MODE" envDefault:"open" help:"Says what to answer before the table has caught up with the verdict topic (and no snapshot was loaded): \"open\" allows every client, \"closed\" denies every client."`
	// Off (empty) by default.
	SnapshotFile     string        `env:"SIDECAR_SNAPSHOT_FILE" help:"When set, is where the table is saved every SnapshotInterval and at shutdown, and loaded from at start so a restart answers at once."`
	SnapshotInterval time.Duration `env:"SIDECAR_SNAPSHOT_INTERVAL" envDefault:"1m" help:"How often the table is saved to BULWARK_SIDECAR_SNAPSHOT_FILE."`
	// The sweep is spread over the interval in 4,096 small steps, so it never
	// holds up requests; a minute keeps those wake-ups to about 70 a second.
	SweepInterval time.Duration `env:"SIDECAR_SWEEP_INTERVAL" envDefault:"1m" help:"How often expired verdicts are freed (they are ignored from the moment they expire, and the decider deletes them from the topic too)."`
	MaxBatch      int           `env:"SIDECAR_MAX_BATCH" envDefault:"1000" help:"Caps the lookups of one POST /v1/verdicts."`
	// It is lowered to fit the process's open-file limit (ulimit -n), with a
	// warning.
	MaxConns           int           `env:"SIDECAR_MAX_CONNS" envDefault:"10000" help:"Bounds the HTTP API's open connections: one more is answered 503 and closed (bulwark_http_refused_connections_total). nginx holds a few keep-alive connections per worker, so the default is far above what a healthy node uses, and low enough that idle connections cost at most some tens of MB."`
	MaxBufferedBytes   int           `env:"SIDECAR_MAX_BUFFERED_BYTES" envDefault:"67108864" help:"Bounds the request bodies (POST /v1/verdicts, at most 1 MiB each) held in memory at once across connections; a body that does not fit is answered 503 at once (bulwark_http_unframed_requests_total{reason=\"buffer_full\"})."`
	KafkaCheckInterval time.Duration `env:"SIDECAR_KAFKA_CHECK_INTERVAL" envDefault:"5s" help:"How often the sidecar checks that a Kafka broker answers; /readyz and bulwark_sidecar_kafka_reachable report it."`
	ShutdownTimeout    time.Duration `env:"SIDECAR_SHUTDOWN_TIMEOUT" envDefault:"5s" help:"Bounds the graceful stop of the HTTP and gRPC servers."`
}

// DefaultConfig is the configuration with every default applied.
func DefaultConfig() Config {
	cfg, err := config.LoadFrom[Config](map[string]string{})
	if err != nil {
		panic("sidecar defaults do not validate: " + err.Error())
	}
	return cfg
}

// Validate checks the values, naming the variable at fault.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return config.Invalid("SIDECAR_ADDR", "%q is not host:port", c.Addr)
	}
	if !c.grpcOff() {
		if _, _, err := net.SplitHostPort(c.GRPCAddr); err != nil {
			return config.Invalid("SIDECAR_GRPC_ADDR", "%q is not host:port (or \"off\")", c.GRPCAddr)
		}
	}
	if !validHeader(c.ClientIPHeader) {
		return config.Invalid("SIDECAR_CLIENT_IP_HEADER", "%q is not an HTTP header name", c.ClientIPHeader)
	}
	if c.SessionHeader != "" && !validHeader(c.SessionHeader) {
		return config.Invalid("SIDECAR_SESSION_HEADER", "%q is not an HTTP header name", c.SessionHeader)
	}
	if _, err := clientip.ParseCIDRs(c.TrustedProxies); err != nil {
		return config.Invalid("SIDECAR_TRUSTED_PROXIES", "%v", err)
	}
	if _, err := clientip.ParseCIDRs(c.GRPCTrustedPeers); err != nil {
		return config.Invalid("SIDECAR_GRPC_TRUSTED_PEERS", "%v", err)
	}
	switch c.FailMode {
	case "open", "closed":
	default:
		return config.Invalid("SIDECAR_FAIL_MODE", "%q: want open or closed", c.FailMode)
	}
	if c.SnapshotFile != "" && c.SnapshotInterval <= 0 {
		return config.Invalid("SIDECAR_SNAPSHOT_INTERVAL", "must be positive")
	}
	if c.SweepInterval <= 0 {
		return config.Invalid("SIDECAR_SWEEP_INTERVAL", "must be positive")
	}
	if c.MaxBatch <= 0 {
		return config.Invalid("SIDECAR_MAX_BATCH", "must be positive")
	}
	if c.MaxConns <= 0 {
		return config.Invalid("SIDECAR_MAX_CONNS", "must be positive")
	}
	if c.MaxBufferedBytes < maxBatchBody {
		return config.Invalid("SIDECAR_MAX_BUFFERED_BYTES", "%d is less than one batch body (%d bytes)", c.MaxBufferedBytes, maxBatchBody)
	}
	if c.KafkaCheckInterval <= 0 {
		return config.Invalid("SIDECAR_KAFKA_CHECK_INTERVAL", "must be positive")
	}
	if c.ShutdownTimeout <= 0 {
		return config.Invalid("SIDECAR_SHUTDOWN_TIMEOUT", "must be positive")
	}
	return nil
}

func (c Config) grpcOff() bool { return c.GRPCAddr == "" || strings.EqualFold(c.GRPCAddr, "off") }

func validHeader(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// canonicalHeader is the header name in the canonical form fasthttp
// stores header names in (X-Real-Ip).
func canonicalHeader(h string) string { return http.CanonicalHeaderKey(h) }
