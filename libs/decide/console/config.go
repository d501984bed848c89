package console

import (
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// Config of the console (BULWARK_CONSOLE_*).
type Config struct {
	Addr          string `env:"CONSOLE_ADDR" envDefault:"127.0.0.1:8490" help:"Address the console listens on; loopback unless you put it behind TLS and OIDC."`
	Token         string `env:"CONSOLE_TOKEN" help:"Static admin token (Authorization: Bearer TOKEN, or the login form). Required unless OIDC is configured; there is no default password."`
	MetricsAddr   string `env:"CONSOLE_METRICS_ADDR" envDefault:"127.0.0.1:8491" help:"Where the console serves /metrics, /healthz and /readyz (no sign-in: keep it private)."`
	OperatorToken string `env:"CONSOLE_OPERATOR_TOKEN" help:"Optional static token with the operator role (look up, block, allow, label; no policy)."`
	ViewerToken   string `env:"CONSOLE_VIEWER_TOKEN" help:"Optional static token with the viewer role (read only)."`
	// A fixed key lets sessions survive restarts and work across replicas.
	SessionKey string        `env:"CONSOLE_SESSION_KEY" help:"Secret (at least 32 bytes) signing session cookies; default: random per process, so a restart logs everyone out."`
	SessionTTL time.Duration `env:"CONSOLE_SESSION_TTL" envDefault:"12h" help:"How long a login lasts."`

	TLSCertFile string `env:"CONSOLE_TLS_CERT_FILE" help:"PEM certificate: serve HTTPS (session cookies are then Secure)."`
	TLSKeyFile  string `env:"CONSOLE_TLS_KEY_FILE" help:"PEM key of BULWARK_CONSOLE_TLS_CERT_FILE."`

	OIDCIssuer       string   `env:"CONSOLE_OIDC_ISSUER" help:"OpenID Connect issuer URL; enables login with the identity provider (authorization code + PKCE)."`
	OIDCClientID     string   `env:"CONSOLE_OIDC_CLIENT_ID" help:"OIDC client id registered for the console."`
	OIDCClientSecret string   `env:"CONSOLE_OIDC_CLIENT_SECRET" help:"OIDC client secret (empty for a public client)."`
	OIDCRedirectURL  string   `env:"CONSOLE_OIDC_REDIRECT_URL" help:"The console's callback URL as registered with the provider, ending in /auth/callback."`
	OIDCAdmins       []string `env:"CONSOLE_OIDC_ADMINS" envSeparator:"," help:"E-mail addresses (or OIDC subjects) with the admin role."`
	OIDCOperators    []string `env:"CONSOLE_OIDC_OPERATORS" envSeparator:"," help:"E-mail addresses (or OIDC subjects) with the operator role; everyone else the provider lets in is a viewer."`

	// The deciders' own variable: one file, one setting, so the console
	// cannot check a policy against a file the deciders do not run.
	RulesFile  string   `env:"RULES_FILE" help:"The deciders' rule file (mount the same file): a live policy is checked against it before it is written, and the replay comparison runs it; empty: the shipped one."`
	Sidecars   []string `env:"CONSOLE_SIDECARS" envSeparator:"," help:"Base URLs of sidecars (http://host:8480) whose live answer the client page shows beside the console's own table."`
	GrafanaURL string   `env:"CONSOLE_GRAFANA_URL" help:"Base URL of Grafana, for links into the dashboards from the overview and client pages."`
	// RequestsPerIP bounds the requests topic fallback (no ClickHouse).
	RecentRequests int `env:"CONSOLE_RECENT_REQUESTS" envDefault:"50" help:"Recent requests kept and shown per client when no ClickHouse is configured (read from the requests topic)."`
	RecentClients  int `env:"CONSOLE_RECENT_CLIENTS" envDefault:"100000" help:"Clients whose recent requests and feedback are kept in memory when no ClickHouse is configured; the least recently seen are forgotten first."`
}

// OIDC reports whether OIDC login is configured.
func (c Config) OIDC() bool { return c.OIDCIssuer != "" }

// TLS reports whether the console serves HTTPS.
func (c Config) TLS() bool { return c.TLSCertFile != "" }

// Validate checks the values, naming the variable at fault.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return config.Invalid("CONSOLE_ADDR", "%q is not host:port", c.Addr)
	}
	if c.Token == "" && !c.OIDC() {
		return config.Invalid("CONSOLE_TOKEN", "required unless BULWARK_CONSOLE_OIDC_ISSUER is set: the console has no default password")
	}
	for _, t := range []struct{ v, name string }{{c.Token, "CONSOLE_TOKEN"}, {c.OperatorToken, "CONSOLE_OPERATOR_TOKEN"}, {c.ViewerToken, "CONSOLE_VIEWER_TOKEN"}} {
		if t.v != "" && len(t.v) < 16 {
			return config.Invalid(t.name, "at least 16 characters, got %d (generate one with `openssl rand -hex 24`)", len(t.v))
		}
	}
	if c.Token != "" && (c.Token == c.OperatorToken || c.Token == c.ViewerToken) || c.OperatorToken != "" && c.OperatorToken == c.ViewerToken {
		return config.Invalid("CONSOLE_OPERATOR_TOKEN", "each role needs its own token")
	}
	if c.SessionKey != "" && len(c.SessionKey) < 32 {
		return config.Invalid("CONSOLE_SESSION_KEY", "at least 32 bytes, got %d", len(c.SessionKey))
	}
	if c.SessionTTL < time.Minute {
		return config.Invalid("CONSOLE_SESSION_TTL", "at least 1m, got %s", c.SessionTTL)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return config.Invalid("CONSOLE_TLS_CERT_FILE", "set both BULWARK_CONSOLE_TLS_CERT_FILE and BULWARK_CONSOLE_TLS_KEY_FILE, or neither")
	}
	if c.OIDC() {
		if u, err := url.Parse(c.OIDCIssuer); err != nil || u.Scheme == "" || u.Host == "" {
			return config.Invalid("CONSOLE_OIDC_ISSUER", "%q is not an absolute URL", c.OIDCIssuer)
		}
		if c.OIDCClientID == "" {
			return config.Invalid("CONSOLE_OIDC_CLIENT_ID", "required with BULWARK_CONSOLE_OIDC_ISSUER")
		}
		u, err := url.Parse(c.OIDCRedirectURL)
		if err != nil || u.Scheme == "" || u.Host == "" || !strings.HasSuffix(u.Path, callbackPath) {
			return config.Invalid("CONSOLE_OIDC_REDIRECT_URL", "want the absolute URL of the console's %s, got %q", callbackPath, c.OIDCRedirectURL)
		}
	}
	if c.GrafanaURL != "" {
		if u, err := url.Parse(c.GrafanaURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return config.Invalid("CONSOLE_GRAFANA_URL", "%q is not an http(s) URL", c.GrafanaURL)
		}
	}
	for _, sc := range c.Sidecars {
		if u, err := url.Parse(sc); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return config.Invalid("CONSOLE_SIDECARS", "%q is not an http(s) URL", sc)
		}
	}
	if c.RecentRequests < 1 || c.RecentRequests > 10000 {
		return config.Invalid("CONSOLE_RECENT_REQUESTS", "want 1-10000, got %d", c.RecentRequests)
	}
	if c.RecentClients < 1 {
		return config.Invalid("CONSOLE_RECENT_CLIENTS", "must be positive, got %d", c.RecentClients)
	}
	return nil
}
