package gate

import (
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// Config is bulwark-gate's configuration; variables are BULWARK_GATE_*.
type Config struct {
	Upstream            string        `env:"GATE_UPSTREAM" help:"The site the gate protects (required): http(s)://host[:port][/base]."`
	Addr                string        `env:"GATE_ADDR" envDefault:"127.0.0.1:8080" help:"Where the gate listens for visitors."`
	TrustedProxies      string        `env:"GATE_TRUSTED_PROXIES" help:"The CIDRs (a load balancer, a CDN) whose ClientIPHeader is believed; by default none, so the socket's address is the client and X-Forwarded-For is ignored."`
	ClientIPHeader      string        `env:"GATE_CLIENT_IP_HEADER" envDefault:"X-Forwarded-For" help:"Header carrying the client address from a trusted proxy (X-Forwarded-For chains are walked from the right)."`
	SessionCookie       string        `env:"GATE_SESSION_COOKIE" help:"Names the site's session cookie, so session verdicts apply and request events carry the session."`
	MetricsAddr         string        `env:"GATE_METRICS_ADDR" envDefault:"127.0.0.1:8487" help:"Serves /metrics, /healthz and /readyz (not on Addr: every path there belongs to the site)."`
	FailMode            string        `env:"GATE_FAIL_MODE" envDefault:"open" help:"FailMode: before the verdict table has caught up, \"open\" lets every request through, \"closed\" answers 503."`
	PublishEvents       bool          `env:"GATE_PUBLISH_EVENTS" envDefault:"true" help:"Sends a request event for every request to the requests topic, so traffic through the gate is scored without a shipper."`
	RetryAfter          time.Duration `env:"GATE_RETRY_AFTER" envDefault:"30s" help:"What a challenged API client is told to wait."`
	MaxIdleConnsPerHost int           `env:"GATE_UPSTREAM_IDLE_CONNS" envDefault:"256" help:"Keeps connections to the upstream open for reuse."`
	ShutdownTimeout     time.Duration `env:"GATE_SHUTDOWN_TIMEOUT" envDefault:"10s" help:"Bounds the graceful stop of the proxy's connections."`
}

// Validate checks the values, naming the variable at fault.
func (c Config) Validate() error {
	if c.Upstream == "" {
		return config.Invalid("GATE_UPSTREAM", "required: the URL of the site to protect, e.g. http://127.0.0.1:3000")
	}
	if u, err := url.Parse(c.Upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return config.Invalid("GATE_UPSTREAM", "%q is not an http(s) URL", c.Upstream)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return config.Invalid("GATE_ADDR", "%q is not host:port", c.Addr)
	}
	if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
		return config.Invalid("GATE_METRICS_ADDR", "%q is not host:port", c.MetricsAddr)
	}
	if _, err := clientip.ParseCIDRs(c.TrustedProxies); err != nil {
		return config.Invalid("GATE_TRUSTED_PROXIES", "%v", err)
	}
	if http.CanonicalHeaderKey(c.ClientIPHeader) == "" {
		return config.Invalid("GATE_CLIENT_IP_HEADER", "must not be empty")
	}
	switch c.FailMode {
	case "open", "closed":
	default:
		return config.Invalid("GATE_FAIL_MODE", "%q: want open or closed", c.FailMode)
	}
	if c.RetryAfter <= 0 {
		return config.Invalid("GATE_RETRY_AFTER", "must be positive")
	}
	if c.MaxIdleConnsPerHost < 1 {
		return config.Invalid("GATE_UPSTREAM_IDLE_CONNS", "must be at least 1")
	}
	if c.ShutdownTimeout <= 0 {
		return config.Invalid("GATE_SHUTDOWN_TIMEOUT", "must be positive")
	}
	return nil
}
