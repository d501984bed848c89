package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestWithoutCredentials: nothing but the login page and its assets is
// served to a client that has not signed in.
func TestWithoutCredentials(t *testing.T) {
	fx := start(t)
	f := func(method, path, token string, wantCode int, wantIn string) {
		t.Helper()
		code, body := fx.call(t, method, path, token, url.Values{})
		if method == "GET" {
			code, body = fx.call(t, method, path, token, nil)
		}
		if code != wantCode || !strings.Contains(body, wantIn) {
			t.Fatalf("%s %s: %d %.200s, want %d with %q", method, path, code, body, wantCode, wantIn)
		}
	}
	f("GET", "/", "", http.StatusSeeOther, "/login?next=%2F")
	f("GET", "/clients/ip:203.0.113.7", "", http.StatusSeeOther, "/login?next=%2Fclients%2Fip%3A203.0.113.7")
	f("GET", "/audit", "", http.StatusSeeOther, "/login")
	f("GET", "/clients/ip:203.0.113.7", "wrong-token-0123456789", http.StatusUnauthorized, "sign in")
	f("POST", "/actions", "", http.StatusUnauthorized, "sign in")
	f("GET", "/login", "", http.StatusOK, `name="token"`)
	f("GET", "/static/console.css", "", http.StatusOK, "body{")
	f("GET", "/clients/ip:203.0.113.7", adminToken, http.StatusOK, `"Subject":"ip:203.0.113.7"`)
	f("GET", "/clients/nonsense:x", adminToken, http.StatusBadRequest, "error")

	// Two Authorization headers are ambiguous: refused, even if one is good.
	req, _ := http.NewRequest("GET", fx.url+"/clients/ip:203.0.113.7", nil)
	req.Header.Add("Authorization", "Bearer "+adminToken)
	req.Header.Add("Authorization", "Bearer nobody")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("two Authorization headers: %d", resp.StatusCode)
	}
}

// TestActionsThroughOverrides: an operator's block and unblock reach the
// verdict topic (the console's table and the sidecar see them), a viewer
// is refused, a guard of the CLI holds, and every attempt is audited.
func TestActionsThroughOverrides(t *testing.T) {
	fx := start(t)
	now := time.Now()
	fx.produce(t, fx.kcfg.Topics.Verdicts, "ip:203.0.113.7", botVerdict(now))
	testkit.Eventually(t, 10*time.Second, "the bot's block in the console", func() bool {
		return fx.effective(t, "ip:203.0.113.7") == "BLOCK"
	})

	code, body := fx.call(t, "POST", "/actions", viewerToken, url.Values{"subject": {"203.0.113.7"}, "action": {"unblock"}})
	if code != http.StatusForbidden || !strings.Contains(body, "operator role") {
		t.Fatalf("viewer unblock: %d %s", code, body)
	}
	code, body = fx.call(t, "POST", "/actions", operatorToken, url.Values{"subject": {"net:10.0.0.0/8"}, "action": {"block"}, "ttl": {"1h"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "BULWARK_OVERRIDE_MAX_NET_V4") {
		t.Fatalf("too wide a block: %d %s", code, body)
	}
	code, body = fx.call(t, "POST", "/actions", operatorToken, url.Values{"subject": {"ip:203.0.113.7"}, "action": {"block"}, "ttl": {"1000000h"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "BULWARK_OVERRIDE_MAX_TTL") {
		t.Fatalf("too long a block: %d %s", code, body)
	}
	code, body = fx.call(t, "POST", "/actions", operatorToken, url.Values{"subject": {"203.0.113.7"}, "action": {"unblock"}, "reason": {"ticket 4711"}})
	if code != http.StatusOK || !strings.Contains(body, `"result":"ok"`) {
		t.Fatalf("unblock: %d %s", code, body)
	}
	testkit.Eventually(t, 10*time.Second, "the unblock in the console", func() bool {
		return fx.effective(t, "ip:203.0.113.7") == "ALLOW"
	})
	code, body = fx.call(t, "POST", "/actions", adminToken, url.Values{"subject": {"198.51.100.9"}, "action": {"challenge"}, "ttl": {"2h"}, "reason": {"card testing"}})
	if code != http.StatusOK || !strings.Contains(body, `"action":"CHALLENGE"`) || !strings.Contains(body, "card testing (by token:admin)") {
		t.Fatalf("challenge: %d %s", code, body)
	}
	code, body = fx.call(t, "POST", "/actions", operatorToken, url.Values{"subject": {"198.51.100.9"}, "action": {"label"}, "label": {"bot"}, "reason": {"obvious"}})
	if code != http.StatusOK {
		t.Fatalf("label: %d %s", code, body)
	}

	recs := kafkatest.ReadAll(t, fx.b, fx.kcfg.Topics.Audit, 6, 30*time.Second)
	var got []string
	for _, r := range recs {
		a := &eventpb.AuditEvent{}
		if err := proto.Unmarshal(r.Value, a); err != nil {
			t.Fatal(err)
		}
		got = append(got, a.GetActor()+" "+a.GetAction()+" "+a.GetSubject()+" "+strings.SplitN(a.GetResult(), ":", 2)[0])
	}
	want := []string{
		"token:viewer unblock ip:203.0.113.7 refused",
		"token:operator block net:10.0.0.0/8 refused",
		"token:operator block ip:203.0.113.7 refused",
		"token:operator unblock ip:203.0.113.7 ok",
		"token:admin challenge ip:198.51.100.9 ok",
		"token:operator label_bot ip:198.51.100.9 ok",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	fb := kafkatest.ReadAll(t, fx.b, fx.kcfg.Topics.Feedback, 1, 30*time.Second)
	f := &eventpb.Feedback{}
	if err := proto.Unmarshal(fb[0].Value, f); err != nil || f.GetKind() != eventpb.FeedbackKind_LABEL_BOT || f.GetSource() != "console:token:operator" {
		t.Fatalf("label record %v %v", f, err)
	}
	if v := testkit.Metric(t, fx.reg, "bulwark_console_actions_total", "action", "block", "result", "refused"); v != 2 {
		t.Fatalf("refused blocks counted %v", v)
	}
}

// TestClientViewFromTopics: without ClickHouse the client page shows the
// client's recent requests, scores with features, and labels from the
// topics, and nothing of other clients.
func TestClientViewFromTopics(t *testing.T) {
	fx := start(t)
	now := time.Now()
	fx.produce(t, fx.kcfg.Topics.Requests, "203.0.113.9", &eventpb.RequestEvent{TimeUnixNano: now.UnixNano(), ClientIp: "203.0.113.9",
		Method: "POST", Host: "shop.example", Path: "/login", Status: 401, UserAgent: "curl/8", SessionId: "s-42"})
	fx.produce(t, fx.kcfg.Topics.Requests, "203.0.113.10", &eventpb.RequestEvent{TimeUnixNano: now.UnixNano(), ClientIp: "203.0.113.10", Path: "/other"})
	fx.produce(t, fx.kcfg.Topics.Scores, "ip:203.0.113.9", &eventpb.Score{Subject: "ip:203.0.113.9", TimeUnixNano: now.UnixNano(), Score: 88,
		Features: map[string]float64{"login_failures_1m": 12, "rate_10s": 3}, Reasons: []string{"login_failures_1m=12"}})
	fx.produce(t, fx.kcfg.Topics.Feedback, "ip:203.0.113.9", &eventpb.Feedback{Subject: "ip:203.0.113.9", TimeUnixNano: now.UnixNano(),
		Kind: eventpb.FeedbackKind_LABEL_BOT, Source: "cli"})
	var d struct {
		Requests []struct{ Path, Session string }
		Scores   []struct {
			Score    float64
			Features []struct{ Name string }
		}
		Labels []struct{ Kind string }
	}
	testkit.Eventually(t, 10*time.Second, "requests, scores and labels on the page", func() bool {
		_, body := fx.call(t, "GET", "/clients/ip:203.0.113.9", adminToken, nil)
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			t.Fatal(err)
		}
		return len(d.Requests) == 1 && len(d.Scores) == 1 && len(d.Labels) == 1
	})
	if d.Requests[0].Path != "/login" || d.Scores[0].Features[0].Name != "login_failures_1m" || d.Labels[0].Kind != "LABEL_BOT" {
		t.Fatalf("%+v", d)
	}
	_, body := fx.call(t, "GET", "/clients/session:s-42", adminToken, nil)
	if !strings.Contains(body, `"Path":"/login"`) {
		t.Fatalf("the session's page lacks its request: %.300s", body)
	}
}
