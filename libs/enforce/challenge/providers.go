package challenge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/backoff"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Third-party providers (BULWARK_CHALLENGE_PROVIDER).
const (
	ProviderTurnstile   = "turnstile"
	ProviderHCaptcha    = "hcaptcha"
	ProviderRecaptchaV2 = "recaptcha-v2"
	ProviderRecaptchaV3 = "recaptcha-v3"
)

// ErrProviderUnavailable: the provider's verify API could not be asked
// (timeouts, 5xx) after every attempt. The visitor is not failed for it.
var ErrProviderUnavailable = errors.New("challenge provider unavailable")

// provider is a third-party CAPTCHA verified server-side against its
// siteverify API: Turnstile, hCaptcha and reCAPTCHA share one form-POST
// protocol and differ in field names, script and endpoint.
type provider struct {
	name      string
	verifyURL string
	field     string // form field the widget puts its token in
	script    string
	siteKey   string
	secret    string
	hostnames []string
	action    string
	minScore  float64 // v3 only
	timeout   time.Duration
	attempts  int
	client    *http.Client
}

var providerDefaults = map[string]struct{ verifyURL, field, script string }{
	ProviderTurnstile:   {"https://challenges.cloudflare.com/turnstile/v0/siteverify", "cf-turnstile-response", "https://challenges.cloudflare.com/turnstile/v0/api.js"},
	ProviderHCaptcha:    {"https://api.hcaptcha.com/siteverify", "h-captcha-response", "https://js.hcaptcha.com/1/api.js"},
	ProviderRecaptchaV2: {"https://www.google.com/recaptcha/api/siteverify", "g-recaptcha-response", "https://www.google.com/recaptcha/api.js"},
	ProviderRecaptchaV3: {"https://www.google.com/recaptcha/api/siteverify", "g-recaptcha-response", "https://www.google.com/recaptcha/api.js"},
}

func newProvider(c Config) *provider {
	d, ok := providerDefaults[c.Provider]
	if !ok {
		return nil
	}
	p := &provider{
		name: c.Provider, verifyURL: d.verifyURL, field: d.field, script: d.script,
		siteKey: c.SiteKey, secret: c.ProviderSecret, hostnames: c.hostnames(), action: c.Action,
		minScore: c.MinScore, timeout: c.VerifyTimeout, attempts: c.VerifyAttempts,
		client: &http.Client{},
	}
	if c.VerifyURL != "" {
		p.verifyURL = c.VerifyURL
	}
	return p
}

// widget is the provider's markup, placed inside the verify form; its
// callback submits the form.
func (p *provider) widget() template.HTML {
	esc := template.HTMLEscapeString
	done := `<script>function bulwarkDone(){document.getElementById("f").submit()}</script>`
	switch p.name {
	case ProviderRecaptchaV3:
		// v3 shows nothing: it scores the visit and hands back a token.
		js, _ := json.Marshal(map[string]string{"k": p.siteKey, "a": p.actionOr("challenge")})
		return template.HTML(`<input type="hidden" name="g-recaptcha-response" id="g">` +
			`<script src="` + esc(p.script) + `?render=` + url.QueryEscape(p.siteKey) + `"></script>` +
			`<script>(function(c){grecaptcha.ready(function(){grecaptcha.execute(c.k,{action:c.a}).then(function(t){document.getElementById("g").value=t;document.getElementById("f").submit()})})})(` + string(js) + `)</script>`)
	case ProviderTurnstile:
		return template.HTML(`<script src="` + esc(p.script) + `" async defer></script>` +
			`<div class="cf-turnstile" data-sitekey="` + esc(p.siteKey) + `" data-action="` + esc(p.actionOr("challenge")) + `" data-callback="bulwarkDone"></div>` + done)
	case ProviderHCaptcha:
		return template.HTML(`<script src="` + esc(p.script) + `" async defer></script>` +
			`<div class="h-captcha" data-sitekey="` + esc(p.siteKey) + `" data-callback="bulwarkDone"></div>` + done)
	default:
		return template.HTML(`<script src="` + esc(p.script) + `" async defer></script>` +
			`<div class="g-recaptcha" data-sitekey="` + esc(p.siteKey) + `" data-callback="bulwarkDone"></div>` + done)
	}
}

func (p *provider) actionOr(def string) string {
	if p.action != "" {
		return p.action
	}
	return def
}

// siteverifyAnswer is the union of the three providers' answers.
type siteverifyAnswer struct {
	Success    bool     `json:"success"`
	Hostname   string   `json:"hostname"`
	Action     string   `json:"action"`
	Score      *float64 `json:"score"`
	ErrorCodes []string `json:"error-codes"`
}

// verify asks the provider about a response token; the outcomes are the
// checks of the feedback record. An error means the provider could not be
// asked (ErrProviderUnavailable), not that the visitor failed.
func (p *provider) verify(ctx context.Context, response string, ip netip.Addr) ([]*eventpb.CheckOutcome, error) {
	if response == "" {
		return []*eventpb.CheckOutcome{check(p.name, false, "the form carried no "+p.field)}, nil
	}
	form := url.Values{"secret": {p.secret}, "response": {response}}
	if ip.IsValid() {
		form.Set("remoteip", ip.String())
	}
	if p.name == ProviderHCaptcha {
		form.Set("sitekey", p.siteKey)
	}
	var ans siteverifyAnswer
	var lastErr error
	for attempt := range p.attempts {
		if attempt > 0 {
			if err := backoff.Sleep(ctx, time.Duration(attempt)*200*time.Millisecond); err != nil {
				break
			}
		}
		var retry bool
		ans, retry, lastErr = p.ask(ctx, form)
		if lastErr == nil || !retry {
			break
		}
	}
	if lastErr != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrProviderUnavailable, p.name, lastErr)
	}
	out := []*eventpb.CheckOutcome{check(p.name, ans.Success, strings.Join(ans.ErrorCodes, ","))}
	if !ans.Success {
		return out, nil
	}
	if len(p.hostnames) > 0 {
		ok := slices.Contains(p.hostnames, strings.ToLower(ans.Hostname))
		out = append(out, check("hostname", ok, "solved on "+ans.Hostname))
	}
	if p.action != "" && (p.name == ProviderRecaptchaV3 || p.name == ProviderTurnstile) {
		out = append(out, check("action", ans.Action == p.action, "action "+ans.Action))
	}
	if p.name == ProviderRecaptchaV3 {
		if ans.Score == nil {
			out = append(out, check("score", false, "no score in the answer"))
		} else {
			out = append(out, check("score", *ans.Score >= p.minScore, fmt.Sprintf("score %.2f, threshold %.2f", *ans.Score, p.minScore)))
		}
	}
	return out, nil
}

// ask makes one siteverify call; retry says whether another may succeed
// (network trouble, timeouts, 5xx, 429).
func (p *provider) ask(ctx context.Context, form url.Values) (siteverifyAnswer, bool, error) {
	var ans siteverifyAnswer
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.verifyURL, strings.NewReader(form.Encode()))
	if err != nil {
		return ans, false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		return ans, true, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return ans, true, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return ans, true, fmt.Errorf("siteverify answered %s", resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return ans, false, fmt.Errorf("siteverify answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return ans, false, fmt.Errorf("siteverify answer: %w", err)
	}
	return ans, false, nil
}
