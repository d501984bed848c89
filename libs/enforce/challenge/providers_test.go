package challenge

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// fakeSiteverify is a local stand-in for the providers' siteverify APIs:
// it answers by the response token the form carries.
func fakeSiteverify(t *testing.T, secret string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", 400)
			return
		}
		if r.PostForm.Get("secret") != secret {
			_, _ = w.Write([]byte(`{"success":false,"error-codes":["invalid-input-secret"]}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.PostForm.Get("response") {
		case "good":
			_, _ = w.Write([]byte(`{"success":true,"hostname":"shop.example","action":"challenge","score":0.9}`))
		case "bad":
			_, _ = w.Write([]byte(`{"success":false,"error-codes":["invalid-input-response"]}`))
		case "elsewhere":
			_, _ = w.Write([]byte(`{"success":true,"hostname":"evil.example","action":"challenge","score":0.9}`))
		case "botlike":
			_, _ = w.Write([]byte(`{"success":true,"hostname":"shop.example","action":"challenge","score":0.1}`))
		case "otheraction":
			_, _ = w.Write([]byte(`{"success":true,"hostname":"shop.example","action":"login","score":0.9}`))
		case "slow":
			time.Sleep(300 * time.Millisecond) // longer than the client's timeout: the thing under test
			_, _ = w.Write([]byte(`{"success":true,"hostname":"shop.example"}`))
		case "flaky":
			if n%2 == 1 {
				http.Error(w, "overloaded", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte(`{"success":true,"hostname":"shop.example","action":"challenge","score":0.9}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestProviders(t *testing.T) {
	for _, name := range []string{ProviderTurnstile, ProviderHCaptcha, ProviderRecaptchaV2, ProviderRecaptchaV3} {
		t.Run(name, func(t *testing.T) {
			srv, _ := fakeSiteverify(t, "provider-secret")
			fx := newFixture(t, func(c *Config) {
				c.Provider, c.SiteKey, c.ProviderSecret, c.VerifyURL = name, "site-key", "provider-secret", srv.URL
				c.Hostnames, c.VerifyTimeout, c.VerifyAttempts = "shop.example", 100*time.Millisecond, 2
				if name == ProviderRecaptchaV3 {
					c.Action = "challenge"
				}
			})
			field := providerDefaults[name].field
			f := func(response string, wantStatus int, wantFailed string) {
				t.Helper()
				w, tok := fx.page(t, "203.0.113.7", "/")
				if !strings.Contains(w.Body.String(), "site-key") {
					t.Fatalf("page has no widget: %s", w.Body)
				}
				form := url.Values{"token": {tok.raw}, "return": {"/"}, field: {response}}
				got := fx.answer("203.0.113.7", testUA, form)
				if got.Code != wantStatus {
					t.Fatalf("%s: status %d, want %d", response, got.Code, wantStatus)
				}
				last := fx.sink.last()
				if wantFailed == "" {
					if last.Kind != eventpb.FeedbackKind_CHALLENGE_PASSED || last.Challenge != name {
						t.Fatalf("%s: %+v", response, last)
					}
				} else if last.Kind != eventpb.FeedbackKind_CHALLENGE_FAILED || !strings.Contains(last.Reason, wantFailed) {
					t.Fatalf("%s: %v %q, want failed %q", response, last.Kind, last.Reason, wantFailed)
				}
			}
			f("good", http.StatusSeeOther, "")
			f("bad", http.StatusForbidden, name)
			f("", http.StatusForbidden, name)
			f("elsewhere", http.StatusForbidden, "hostname")
			f("flaky", http.StatusSeeOther, "")
			if name == ProviderRecaptchaV3 {
				f("botlike", http.StatusForbidden, "score")
				f("otheraction", http.StatusForbidden, "action")
			}
			// A provider that does not answer in time is not the visitor's
			// failure: 503 with a way to try again, and no failed record.
			before := fx.sink.last()
			w, tok := fx.page(t, "203.0.113.7", "/")
			_ = w
			got := fx.answer("203.0.113.7", testUA, url.Values{"token": {tok.raw}, field: {"slow"}})
			if got.Code != http.StatusServiceUnavailable || !strings.Contains(got.Body.String(), PathChallenge) {
				t.Fatalf("timeout: %d", got.Code)
			}
			if l := fx.sink.last(); l.Kind != eventpb.FeedbackKind_CHALLENGE_ISSUED || l == before {
				t.Fatalf("timeout recorded %v", l.Kind)
			}
		})
	}
}

func TestProviderConfig(t *testing.T) {
	base := Config{ClearanceTTL: time.Hour, TokenTTL: time.Minute, MinScore: 0.5, VerifyTimeout: time.Second, VerifyAttempts: 1}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Provider = "builtin" }, ""},
		{func(c *Config) { c.Provider = "captcha-co" }, "BULWARK_CHALLENGE_PROVIDER"},
		{func(c *Config) { c.Provider = ProviderTurnstile }, "BULWARK_CHALLENGE_SITE_KEY"},
		{func(c *Config) { c.Provider, c.SiteKey = ProviderTurnstile, "k" }, "BULWARK_CHALLENGE_PROVIDER_SECRET"},
		{func(c *Config) { c.Provider, c.MinScore = "builtin", 2 }, "BULWARK_CHALLENGE_MIN_SCORE"},
		{func(c *Config) { c.Provider, c.Secret = "builtin", "short" }, "BULWARK_CHALLENGE_SECRET"},
		{func(c *Config) { c.Provider, c.VerifyURL = "builtin", "ftp://x" }, "BULWARK_CHALLENGE_VERIFY_URL"},
	} {
		cfg := base
		c.mod(&cfg)
		err := cfg.Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", cfg, err, c.want)
		}
	}
}
