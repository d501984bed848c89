package gate

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit/chromium"
)

// shop is the upstream the browser should land on.
var shop = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>Shop</title><h1 id="welcome">Welcome to the shop</h1><p id="path">%s</p>`, r.URL.RequestURI())
})

// TestBrowserSolvesChallenge: a person's browser, challenged by the gate,
// solves the built-in challenge by itself and lands on the page it asked
// for; the clearance then lets it through without a new challenge. The
// solve time (navigation to landing) is logged; BENCHMARKS.md records it.
func TestBrowserSolvesChallenge(t *testing.T) {
	ctx := chromium.Start(t, true)
	fx := startGate(t, shop, nil)
	_ = fx.table.Apply("ip:127.0.0.1", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 72})

	var took []time.Duration
	for i := range 5 {
		// A fresh browser context (cookie jar) per solve: no clearance yet.
		bctx, cancel := chromium.Tab(t, ctx)
		start := time.Now()
		got := chromium.Text(t, bctx, fmt.Sprintf("%s/product/%d?ref=mail", fx.url, i), "#path", 20*time.Second)
		took = append(took, time.Since(start))
		if got != fmt.Sprintf("/product/%d?ref=mail", i) {
			t.Fatalf("landed on %q", got)
		}
		// With the clearance, the next page is the shop's at once.
		if got := chromium.Text(t, bctx, fx.url+"/cart", "#path", 10*time.Second); got != "/cart" {
			t.Fatalf("second page %q", got)
		}
		cancel()
	}
	slices.Sort(took)
	t.Logf("chromium solve at the default level (light, %d bits): median %s, all %v", 16, took[len(took)/2].Round(time.Millisecond), took)
	passes := 0
	fx.feedback.mu.Lock()
	for _, f := range fx.feedback.got {
		if f.GetKind() == eventpb.FeedbackKind_CHALLENGE_PASSED {
			passes++
		}
	}
	fx.feedback.mu.Unlock()
	if passes != 5 {
		t.Fatalf("%d passes recorded, want 5", passes)
	}
}

// TestBrowserAutomationFails: chromium as chromedp starts it (webdriver
// flag, HeadlessChrome) runs the page too, but its answer is refused, and
// it never reaches the shop.
func TestBrowserAutomationFails(t *testing.T) {
	ctx := chromium.Start(t, false)
	fx := startGate(t, shop, nil)
	_ = fx.table.Apply("ip:127.0.0.1", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 72})
	got := chromium.Text(t, ctx, fx.url+"/product/1", "p.err", 20*time.Second)
	if !strings.Contains(got, "could not confirm") {
		t.Fatalf("failure page says %q", got)
	}
	var f *eventpb.Feedback
	fx.feedback.mu.Lock()
	for _, x := range fx.feedback.got {
		if x.GetKind() == eventpb.FeedbackKind_CHALLENGE_FAILED {
			f = x
		}
	}
	fx.feedback.mu.Unlock()
	if f == nil || !strings.Contains(f.GetReason(), "webdriver") || !strings.Contains(f.GetReason(), "headless") {
		t.Fatalf("failed record %v", f)
	}
}

// TestBrowserBlocked: a BLOCKed client gets the 403 page in the browser.
func TestBrowserBlocked(t *testing.T) {
	ctx := chromium.Start(t, true)
	fx := startGate(t, shop, nil)
	_ = fx.table.Apply("ip:127.0.0.1", &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 95})
	if got := chromium.Text(t, ctx, fx.url+"/", "h1", 20*time.Second); got != "Access denied" {
		t.Fatalf("blocked page heading %q", got)
	}
}
