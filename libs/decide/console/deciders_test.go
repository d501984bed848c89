package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bulwarkhq/bulwark/libs/decide/console"
	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// A rule file whose block threshold (75) is below the shipped challenge
// one: a policy raising challenge to 80 fits the shipped file, not this one.
const lowLadder = "version: 1\nladder:\n  monitor: 40\n  challenge: 60\n  block: 75\n"

func writeRules(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPolicyCheckedAgainstDecidersFile: with BULWARK_RULES_FILE set, the
// console checks a policy against that file, not the shipped one.
func TestPolicyCheckedAgainstDecidersFile(t *testing.T) {
	f := func(name, rulesFile, challenge string, wantCode int, want string) {
		t.Helper()
		fx := start(t, func(c *console.Config) { c.RulesFile = rulesFile })
		code, body := fx.call(t, "POST", "/policy/preview", adminToken, url.Values{"challenge": {challenge}})
		if code != wantCode || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s; want %d with %q", name, code, body, wantCode, want)
		}
		code, body = fx.call(t, "POST", "/policy/apply", adminToken, url.Values{"doc": {"ladder: {challenge: " + challenge + "}\n"}})
		if code != wantCode || !strings.Contains(body, want) {
			t.Errorf("%s: apply: %d %s; want %d with %q", name, code, body, wantCode, want)
		}
	}
	low := writeRules(t, lowLadder)
	f("shipped file", "", "80", http.StatusOK, "")
	f("the deciders' file", low, "80", http.StatusBadRequest, "thresholds must rise")
	f("the deciders' file, a fitting change", low, "70", http.StatusOK, "")
	f("a file that is not there", filepath.Join(t.TempDir(), "missing.yaml"), "70", http.StatusBadRequest, "BULWARK_RULES_FILE")
}

// TestDeciderRefusalShown: a decider whose rule file cannot take a policy
// the console accepted (its file differs from the console's) refuses it,
// and the policy page says which decider refused it and why, next to the
// one that applied it.
func TestDeciderRefusalShown(t *testing.T) {
	fx := start(t)
	good := fx.startDecider(t, func(c *decider.Config) { c.Name = "decider-good"; c.Group = "g1" })
	fx.startDecider(t, func(c *decider.Config) {
		c.Name = "decider-stale"
		c.Group = "g2"
		c.RulesFile = writeRules(t, lowLadder)
	})

	type status struct {
		Decider, Result, Digest string
		Current, Refused        bool
	}
	statuses := func() map[string]status {
		code, body := fx.call(t, "GET", "/policy", viewerToken, nil)
		if code != http.StatusOK {
			t.Fatalf("policy page: %d %s", code, body)
		}
		var p struct{ Deciders []status }
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		out := map[string]status{}
		for _, d := range p.Deciders {
			out[d.Decider] = d
		}
		return out
	}
	// On start, each reports the rules it runs (no policy yet).
	testkit.Eventually(t, 10*time.Second, "both deciders' start-up reports", func() bool {
		s := statuses()
		return s["decider-good"].Current && s["decider-stale"].Current && s["decider-good"].Result == "ok"
	})

	if code, body := fx.call(t, "POST", "/policy/apply", adminToken, url.Values{"doc": {"ladder: {challenge: 80}\n"}}); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	testkit.Eventually(t, 10*time.Second, "both deciders' answers to the policy", func() bool {
		s := statuses()
		return s["decider-good"].Current && s["decider-stale"].Current
	})
	s := statuses()
	if g := s["decider-good"]; g.Refused || g.Result != "ok" || good.Decider().Rules().Ladder.Challenge != 80 {
		t.Errorf("the good decider: %+v", g)
	}
	if st := s["decider-stale"]; !st.Refused || !strings.Contains(st.Result, "thresholds must rise") {
		t.Errorf("the stale decider: %+v", st)
	}
	t.Logf("the stale decider: %s", s["decider-stale"].Result)

	// In the browser: the refusal is on the policy page, with the reason.
	ctx := browser(t)
	signIn(t, ctx, fx.url+"/policy", viewerToken)
	do(t, ctx, "deciders", chromedp.WaitVisible(chromedp.CSS("#deciders")))
	tbl := text(t, ctx, "#deciders")
	if !strings.Contains(tbl, "decider-stale") || !strings.Contains(tbl, "refused: ") || !strings.Contains(tbl, "this policy") {
		t.Fatalf("deciders table %q", tbl)
	}
}
