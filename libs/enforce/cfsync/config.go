package cfsync

import (
	"net/url"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// DefaultBaseURL is Cloudflare's public API.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4/"

// Config configures the Cloudflare list syncer (env BULWARK_CLOUDFLARE_*).
type Config struct {
	APIToken  string `env:"CLOUDFLARE_API_TOKEN,required" help:"API token with Account Filter Lists Edit."`
	AccountID string `env:"CLOUDFLARE_ACCOUNT_ID,required" help:"Cloudflare account that owns the lists."`
	// Use it in a WAF custom rule: ip.src in $bulwark_block.
	List           string        `env:"CLOUDFLARE_LIST" envDefault:"bulwark_block" help:"The account IP list kept equal to the BLOCK verdicts; created if missing."`
	ChallengeList  string        `env:"CLOUDFLARE_CHALLENGE_LIST" help:"When set, is a second list kept equal to the CHALLENGE verdicts (for a Managed Challenge rule)."`
	BaseURL        string        `env:"CLOUDFLARE_BASE_URL" envDefault:"https://api.cloudflare.com/client/v4/" help:"Cloudflare API base URL (tests point it at a fake)."`
	SyncInterval   time.Duration `env:"CLOUDFLARE_SYNC_INTERVAL" envDefault:"5s" help:"Batches verdict changes: at most one sync per interval."`
	Capacity       int           `env:"CLOUDFLARE_CAPACITY" envDefault:"10000" help:"The number of list items the account may hold across all its lists (10,000 on non-Enterprise plans); items of lists Bulwark does not own count against it too."`
	RateLimit      int           `env:"CLOUDFLARE_RATE_LIMIT" envDefault:"1200" help:"The requests allowed per 5 minutes for the token (Cloudflare's limit is 1,200); the syncer stays under it by itself."`
	PollInterval   time.Duration `env:"CLOUDFLARE_POLL_INTERVAL" envDefault:"1s" help:"How often a pending bulk operation is polled."`
	RetryBase      time.Duration `env:"CLOUDFLARE_RETRY_BASE" envDefault:"1s" help:"First wait of the jittered exponential backoff after a 429, a 5xx or a failed sync."`
	RetryMax       time.Duration `env:"CLOUDFLARE_RETRY_MAX" envDefault:"2m" help:"Longest wait between retries after a 429, a 5xx or a failed sync."`
	ResyncInterval time.Duration `env:"CLOUDFLARE_RESYNC_INTERVAL" envDefault:"15m" help:"How often the lists are re-read from Cloudflare, undoing edits made by hand."`
	ExpirySlack    time.Duration `env:"CLOUDFLARE_EXPIRY_SLACK" envDefault:"1h" help:"An item is rewritten (for its comment) only when its verdict's expiry moved by more than this."`
	MetricsAddr    string        `env:"CFSYNC_METRICS_ADDR" envDefault:"127.0.0.1:9483" help:"Serves /metrics, /healthz and /readyz (bulwark-cfsync only)."`
}

// Validate names the variable at fault.
func (c Config) Validate() error {
	if c.APIToken == "" {
		return config.Invalid("CLOUDFLARE_API_TOKEN", "is required")
	}
	if c.AccountID == "" {
		return config.Invalid("CLOUDFLARE_ACCOUNT_ID", "is required")
	}
	if msg := listNameProblem(c.List); msg != "" {
		return config.Invalid("CLOUDFLARE_LIST", "%q: %s", c.List, msg)
	}
	if c.ChallengeList != "" {
		if msg := listNameProblem(c.ChallengeList); msg != "" {
			return config.Invalid("CLOUDFLARE_CHALLENGE_LIST", "%q: %s", c.ChallengeList, msg)
		}
		if c.ChallengeList == c.List {
			return config.Invalid("CLOUDFLARE_CHALLENGE_LIST", "must differ from BULWARK_CLOUDFLARE_LIST")
		}
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return config.Invalid("CLOUDFLARE_BASE_URL", "%q is not an http(s) URL", c.BaseURL)
	}
	if c.SyncInterval <= 0 {
		return config.Invalid("CLOUDFLARE_SYNC_INTERVAL", "must be positive, got %s", c.SyncInterval)
	}
	if c.Capacity <= 0 {
		return config.Invalid("CLOUDFLARE_CAPACITY", "must be positive, got %d", c.Capacity)
	}
	if c.RateLimit <= 0 {
		return config.Invalid("CLOUDFLARE_RATE_LIMIT", "must be positive, got %d", c.RateLimit)
	}
	if c.PollInterval <= 0 {
		return config.Invalid("CLOUDFLARE_POLL_INTERVAL", "must be positive, got %s", c.PollInterval)
	}
	if c.RetryBase <= 0 || c.RetryMax < c.RetryBase {
		return config.Invalid("CLOUDFLARE_RETRY_MAX", "must be at least BULWARK_CLOUDFLARE_RETRY_BASE (%s), got %s", c.RetryBase, c.RetryMax)
	}
	if c.ResyncInterval <= 0 {
		return config.Invalid("CLOUDFLARE_RESYNC_INTERVAL", "must be positive, got %s", c.ResyncInterval)
	}
	if c.ExpirySlack < 0 {
		return config.Invalid("CLOUDFLARE_EXPIRY_SLACK", "must not be negative, got %s", c.ExpirySlack)
	}
	return nil
}

// listNameProblem applies Cloudflare's rule for list names: lowercase
// letters, digits and underscores, at most 50 characters.
func listNameProblem(n string) string {
	if n == "" || len(n) > 50 {
		return "must be 1 to 50 characters"
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return "may only contain lowercase letters, digits and underscores"
		}
	}
	return ""
}
