package challenge

import (
	"net/url"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// Config is the challenge's configuration, shared by the gate and the
// sidecar; variables are BULWARK_CHALLENGE_*.
type Config struct {
	// SecretFile is read when Secret is empty.
	Secret         string        `env:"CHALLENGE_SECRET" help:"Signs clearances and challenge tokens: \"ID:SECRET,ID:SECRET\" (the first signs; the others still verify, for rotation) or one bare secret of at least 16 bytes."`
	SecretFile     string        `env:"CHALLENGE_SECRET_FILE" help:"File holding BULWARK_CHALLENGE_SECRET (for secrets mounted from a secret store)."`
	ClearanceTTL   time.Duration `env:"CHALLENGE_CLEARANCE_TTL" envDefault:"1h" help:"How long a pass clears the client."`
	TokenTTL       time.Duration `env:"CHALLENGE_TOKEN_TTL" envDefault:"5m" help:"How long a challenge page may take to be answered; after it an unanswered challenge counts as abandoned."`
	InsecureCookie bool          `env:"CHALLENGE_INSECURE_COOKIE" envDefault:"false" help:"Drops the cookie's Secure attribute, for sites served over plain HTTP (a browser keeps Secure cookies only from HTTPS and from localhost)."`
	StringsFile    string        `env:"CHALLENGE_STRINGS_FILE" help:"Adds or replaces the pages' languages (see Strings)."`
	Provider       string        `env:"CHALLENGE_PROVIDER" envDefault:"builtin" help:"Provider: \"builtin\" (proof of work and browser checks), \"turnstile\", \"hcaptcha\", \"recaptcha-v2\", \"recaptcha-v3\"."`
	SiteKey        string        `env:"CHALLENGE_SITE_KEY" help:"The third-party provider's site key (shown on the page)."`
	ProviderSecret string        `env:"CHALLENGE_PROVIDER_SECRET" help:"The third-party provider's secret key (siteverify)."`
	VerifyURL      string        `env:"CHALLENGE_VERIFY_URL" help:"Replaces the provider's siteverify endpoint (a proxy, or a test's fake)."`
	Hostnames      string        `env:"CHALLENGE_HOSTNAMES" help:"Hostnames the provider must report the challenge was solved on, comma-separated; empty accepts any."`
	Action         string        `env:"CHALLENGE_ACTION" envDefault:"" help:"Action the reCAPTCHA v3 (or Turnstile) token must carry; empty accepts any."`
	MinScore       float64       `env:"CHALLENGE_MIN_SCORE" envDefault:"0.5" help:"reCAPTCHA v3's threshold (0 bot .. 1 human)."`
	VerifyTimeout  time.Duration `env:"CHALLENGE_VERIFY_TIMEOUT" envDefault:"3s" help:"Bounds one siteverify call; it is tried VerifyAttempts times in all."`
	VerifyAttempts int           `env:"CHALLENGE_VERIFY_ATTEMPTS" envDefault:"2" help:"How many times a siteverify call is tried on timeouts, 5xx and 429."`
}

// Validate checks the values, naming the variable at fault. A missing
// secret is not an error here: programs decide whether to make one up.
func (c Config) Validate() error {
	if c.Secret != "" {
		if _, err := ParseKeys(c.Secret); err != nil {
			return config.Invalid("CHALLENGE_SECRET", "%v", err)
		}
	}
	if c.ClearanceTTL <= 0 {
		return config.Invalid("CHALLENGE_CLEARANCE_TTL", "must be positive")
	}
	if c.TokenTTL <= 0 {
		return config.Invalid("CHALLENGE_TOKEN_TTL", "must be positive")
	}
	switch c.Provider {
	case "builtin":
	case ProviderTurnstile, ProviderHCaptcha, ProviderRecaptchaV2, ProviderRecaptchaV3:
		if c.SiteKey == "" {
			return config.Invalid("CHALLENGE_SITE_KEY", "required with BULWARK_CHALLENGE_PROVIDER=%s", c.Provider)
		}
		if c.ProviderSecret == "" {
			return config.Invalid("CHALLENGE_PROVIDER_SECRET", "required with BULWARK_CHALLENGE_PROVIDER=%s", c.Provider)
		}
	default:
		return config.Invalid("CHALLENGE_PROVIDER", "%q: want builtin, turnstile, hcaptcha, recaptcha-v2 or recaptcha-v3", c.Provider)
	}
	if c.VerifyURL != "" {
		if u, err := url.Parse(c.VerifyURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return config.Invalid("CHALLENGE_VERIFY_URL", "%q is not an http(s) URL", c.VerifyURL)
		}
	}
	if c.MinScore < 0 || c.MinScore > 1 {
		return config.Invalid("CHALLENGE_MIN_SCORE", "%v: want 0..1", c.MinScore)
	}
	if c.VerifyTimeout <= 0 {
		return config.Invalid("CHALLENGE_VERIFY_TIMEOUT", "must be positive")
	}
	if c.VerifyAttempts < 1 {
		return config.Invalid("CHALLENGE_VERIFY_ATTEMPTS", "must be at least 1")
	}
	return nil
}

// Keys loads the configured secret; without one, it makes one up when
// allowRandom (bulwark dev) and fails naming the variable otherwise.
func (c Config) Keys(allowRandom bool) (*Keys, error) {
	if c.Secret == "" && c.SecretFile == "" {
		if allowRandom {
			return RandomKeys(), nil
		}
		return nil, config.Invalid("CHALLENGE_SECRET", "required (or BULWARK_CHALLENGE_SECRET_FILE): the key clearance cookies are signed with, at least 16 bytes")
	}
	ks, err := LoadKeys(c.Secret, c.SecretFile)
	if err != nil {
		if c.Secret == "" {
			return nil, config.Invalid("CHALLENGE_SECRET_FILE", "%v", err)
		}
		return nil, config.Invalid("CHALLENGE_SECRET", "%v", err)
	}
	return ks, nil
}

func (c Config) hostnames() []string {
	var out []string
	for _, h := range strings.Split(c.Hostnames, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, strings.ToLower(h))
		}
	}
	return out
}
