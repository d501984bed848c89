package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestFingerprintInConsole: an fp: verdict is shown on its own page with
// the addresses it lists, and on each listed address's page as what acts on
// it; an operator may allow a fingerprint but not block, challenge or
// label it a bot.
func TestFingerprintInConsole(t *testing.T) {
	fx := start(t)
	now := time.Now()
	const fp = "fp:02f1bea35578836f"
	fx.produce(t, fx.kcfg.Topics.Verdicts, fp, &eventpb.Verdict{Subject: fp, Action: eventpb.Action_BLOCK, Score: 92, Rule: "ladder",
		Reasons: []string{"score=92", "attack=login-failures-2026-12-03T10:14Z", "fp=02f1bea35578836f"}, AtUnixNano: now.UnixNano(),
		ExpiresAtUnixNano: now.Add(time.Hour).UnixNano(), Addresses: []string{"203.0.113.7", "198.51.100.3"}})
	testkit.Eventually(t, 10*time.Second, "the fingerprint's verdict in the console", func() bool {
		return fx.effective(t, "ip:203.0.113.7") == "BLOCK"
	})
	var d struct {
		Kind      string
		Matched   string
		Addresses []string
		Effective struct{ Action string }
		Verdicts  []struct{ Subject string }
	}
	_, body := fx.call(t, "GET", "/clients/"+fp, adminToken, nil)
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if d.Kind != "fp" || d.Effective.Action != "BLOCK" || !slices.Equal(d.Addresses, []string{"203.0.113.7", "198.51.100.3"}) {
		t.Fatalf("fingerprint page: %.500s", body)
	}
	d = struct {
		Kind      string
		Matched   string
		Addresses []string
		Effective struct{ Action string }
		Verdicts  []struct{ Subject string }
	}{}
	_, body = fx.call(t, "GET", "/clients/ip:198.51.100.3", adminToken, nil)
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if d.Matched != fp || !slices.ContainsFunc(d.Verdicts, func(v struct{ Subject string }) bool { return v.Subject == fp }) {
		t.Fatalf("address page: %.500s", body)
	}

	// The HTML page lists the addresses and offers neither block nor challenge.
	c, _ := browserClient(t, fx, adminToken)
	resp, err := c.Get(fx.url + "/clients/" + fp)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(html), `<li><a href="/clients/ip:198.51.100.3">198.51.100.3</a></li>`) ||
		strings.Contains(string(html), `id="do-block"`) || strings.Contains(string(html), `id="do-bot"`) || !strings.Contains(string(html), `id="do-allow"`) {
		t.Fatalf("fingerprint page:\n%s", html)
	}

	for _, form := range []url.Values{
		{"subject": {fp}, "action": {"block"}, "ttl": {"1h"}},
		{"subject": {fp}, "action": {"challenge"}, "ttl": {"1h"}},
		{"subject": {fp}, "action": {"label"}, "label": {"bot"}},
	} {
		code, body := fx.call(t, "POST", "/actions", operatorToken, form)
		if code != http.StatusBadRequest || !strings.Contains(body, "bulwark attack start CLASS --fingerprint "+fp) {
			t.Fatalf("%v: %d %s", form, code, body)
		}
	}
	code, body := fx.call(t, "POST", "/actions", operatorToken, url.Values{"subject": {fp}, "action": {"allow"}, "ttl": {"1h"}, "reason": {"our app"}})
	if code != http.StatusOK {
		t.Fatalf("allow: %d %s", code, body)
	}
	testkit.Eventually(t, 10*time.Second, "the fingerprint's ALLOW lifting its addresses", func() bool {
		return fx.effective(t, "ip:203.0.113.7") == "ALLOW"
	})
}
