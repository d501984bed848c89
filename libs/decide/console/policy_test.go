package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// startDecider runs a decider on the shipped rule file next to the
// console; opts change its Config (its rule file, its name).
func (fx *fixture) startDecider(t *testing.T, opts ...func(*decider.Config)) *decider.Service {
	t.Helper()
	cfg := decider.Config{Group: "decider-console-test", ReloadInterval: time.Second, ReloadSettle: 10 * time.Millisecond,
		Overrides: overrides.DefaultLimits(), ExpiryTick: 100 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := decider.NewService(cfg, fx.kcfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-svc.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("decider not ready")
	}
	return svc
}

// TestPolicyRoles: previewing and applying a policy needs the admin role;
// a bad value is refused with the field named, and nothing is written.
func TestPolicyRoles(t *testing.T) {
	fx := start(t)
	form := url.Values{"challenge": {"60"}}
	if code, body := fx.call(t, "POST", "/policy/preview", operatorToken, form); code != http.StatusForbidden || !strings.Contains(body, "admin") {
		t.Fatalf("operator preview: %d %s", code, body)
	}
	if code, body := fx.call(t, "POST", "/policy/preview", adminToken, url.Values{"challenge": {"sixty"}}); code != http.StatusBadRequest || !strings.Contains(body, "ladder.challenge") {
		t.Fatalf("bad value: %d %s", code, body)
	}
	if code, body := fx.call(t, "POST", "/policy/preview", adminToken, url.Values{"challenge": {"95"}}); code != http.StatusBadRequest || !strings.Contains(body, "thresholds must rise") {
		t.Fatalf("ladder out of order: %d %s", code, body)
	}
	if code, body := fx.call(t, "POST", "/policy/apply", adminToken, url.Values{"doc": {"rules: []\n"}}); code != http.StatusBadRequest || !strings.Contains(body, "refused") {
		t.Fatalf("apply of a document that is not a policy: %d %s", code, body)
	}
	code, body := fx.call(t, "POST", "/policy/preview", adminToken, form)
	if code != http.StatusOK || !strings.Contains(body, `"+","Text":"    challenge: 60"`) {
		t.Fatalf("preview: %d %s", code, body)
	}
	if code, body := fx.call(t, "GET", "/policy", viewerToken, nil); code != http.StatusOK || !strings.Contains(body, `"policy":""`) {
		t.Fatalf("a preview wrote the policy: %d %s", code, body)
	}
}

// TestBrowserPolicyReachesDecider: an admin changes the challenge
// threshold in the browser, previews the diff, applies it, and a running
// decider puts it in force.
func TestBrowserPolicyReachesDecider(t *testing.T) {
	fx := start(t)
	dec := fx.startDecider(t)
	before := dec.Decider().Rules().Ladder.Challenge

	ctx := browser(t)
	signIn(t, ctx, fx.url+"/policy", adminToken)
	do(t, ctx, "preview",
		chromedp.SendKeys(chromedp.CSS("#challenge"), "60"),
		chromedp.SendKeys(chromedp.CSS("#policy-reason"), "too many challenges on the sale"),
		chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS("#diff")))
	if diff := text(t, ctx, "#diff"); !strings.Contains(diff, "+ ladder:") || !strings.Contains(diff, "+     challenge: 60") {
		t.Fatalf("diff %q", diff)
	}
	if dec.Decider().Rules().Ladder.Challenge != before {
		t.Fatal("the preview changed the decider")
	}
	start := time.Now()
	do(t, ctx, "apply", chromedp.Click(chromedp.CSS("#apply")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	testkit.Eventually(t, 10*time.Second, "the decider applying the new threshold", func() bool {
		return dec.Decider().Rules().Ladder.Challenge == 60
	})
	t.Logf("threshold in force in the decider %v after Apply was clicked (target 2s)", time.Since(start).Round(time.Millisecond))
	if doc := text(t, ctx, "#policy-doc"); !strings.Contains(doc, "challenge: 60") {
		t.Fatalf("policy in force on the page: %q", doc)
	}
	do(t, ctx, "audit", chromedp.Navigate(fx.url+"/audit"), chromedp.WaitVisible(chromedp.CSS("#audit")))
	if a := text(t, ctx, "#audit"); !strings.Contains(a, "policy") || !strings.Contains(a, "too many challenges on the sale") {
		t.Fatalf("audit %q", a)
	}
}

// TestPolicyCompare: the comparison replays the last hour of the requests
// topic under the policy in force and under the previewed one: a scraper
// acted on today is let through with the ladder raised to its top.
func TestPolicyCompare(t *testing.T) {
	fx := start(t)
	now := time.Now().Add(-10 * time.Minute)
	var recs []*kgo.Record
	for i := range 600 {
		ev := &eventpb.RequestEvent{TimeUnixNano: now.Add(time.Duration(i) * 100 * time.Millisecond).UnixNano(),
			ClientIp: "203.0.113.66", Method: "GET", Host: "shop.example", Path: fmt.Sprintf("/product/%d", i),
			Protocol: "HTTP/1.1", Status: 200, UserAgent: "python-requests/2.31", ResponseBytes: 5000}
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: fx.kcfg.Topics.Requests, Key: []byte(ev.ClientIp), Value: b})
	}
	if err := kafkatest.Client(t, fx.b).ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	code, body := fx.call(t, "POST", "/policy/compare", adminToken, url.Values{"doc": {"ladder: {monitor: 97, challenge: 98, block: 99}\n"}})
	if code != http.StatusOK {
		t.Fatalf("compare: %d %s", code, body)
	}
	var res struct {
		Events int64
		Diff   struct {
			Changes []struct{ Subject, Before, After string }
		}
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range res.Diff.Changes {
		if c.Subject == "ip:203.0.113.66" && c.Before != c.After {
			found = true
		}
	}
	if res.Events != 600 || !found {
		t.Fatalf("replayed %d events, changes %+v", res.Events, res.Diff.Changes)
	}
}
