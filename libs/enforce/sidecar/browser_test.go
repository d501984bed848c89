package sidecar_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit/chromium"
)

// feedbackSink keeps the feedback the sidecar's challenge pages give.
type feedbackSink struct {
	mu  sync.Mutex
	got []*eventpb.Feedback
}

func (s *feedbackSink) Publish(_ context.Context, f *eventpb.Feedback) {
	s.mu.Lock()
	s.got = append(s.got, f)
	s.mu.Unlock()
}

func (s *feedbackSink) count(k eventpb.FeedbackKind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.got {
		if f.GetKind() == k {
			n++
		}
	}
	return n
}

// TestBrowserThroughNginx: Debian's nginx with deploy/nginx/bulwark-site.conf
// in front of an app, the sidecar answering its auth_request and serving
// /.bulwark/. A person's chromium, challenged (the sidecar holds CHALLENGE
// for 127.0.0.1), solves the built-in challenge by itself and lands on the
// app's page it asked for, and the clearance lets the next page through;
// curl gets the challenge page and never the app; chromium under
// automation is refused; a blocked client gets nginx's 403 in the browser.
func TestBrowserThroughNginx(t *testing.T) {
	browser := chromium.Start(t, true)
	b := kafkatest.Start(t)
	seed(t, b) // ip:127.0.0.1 CHALLENGE, ip:203.0.113.7 BLOCK

	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Shop</title><h1 id="welcome">Welcome to the shop</h1><p id="path">%s</p><p id="action">%s</p>`,
			r.URL.RequestURI(), r.Header.Get("X-Bulwark-Action"))
	}))
	defer app.Close()

	cfg := sidecar.DefaultConfig()
	cfg.Addr, cfg.GRPCAddr = "127.0.0.1:0", "off"
	sc, err := sidecar.New(cfg, kafkatest.Config(b), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ccfg := challengeConfig()
	// Plain HTTP on 127.0.0.1: chromium keeps a Secure cookie from
	// localhost only.
	ccfg.InsecureCookie = true
	fb := &feedbackSink{}
	if _, err := sc.EnableChallenges(ccfg, challenge.RandomKeys(), fb, prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	defer func() {
		cancel()
		if err := waitRun(t, done); err != nil {
			t.Error(err)
		}
	}()
	waitReady(t, sc)
	base := startNginx(t, sc.Addr(), strings.TrimPrefix(app.URL, "http://"))

	t.Run("person solves and lands", func(t *testing.T) {
		var took []time.Duration
		for i := range 3 {
			tab, closeTab := chromium.Tab(t, browser)
			start := time.Now()
			want := fmt.Sprintf("/product/%d?ref=mail&x=%%2F", i)
			if got := chromium.Text(t, tab, base+want, "#path", 20*time.Second); got != want {
				t.Fatalf("landed on %q, want %q", got, want)
			}
			took = append(took, time.Since(start))
			if got := chromium.Text(t, tab, base+"/cart", "#action", 10*time.Second); got != "ALLOW" {
				t.Fatalf("next page with the clearance: action %q", got)
			}
			closeTab()
		}
		slices.Sort(took)
		t.Logf("chromium through nginx, light level (%d bits): median %s, all %v", challenge.LevelLight.Bits(), took[len(took)/2].Round(time.Millisecond), took)
		testkit.Eventually(t, 5*time.Second, "three passes recorded", func() bool {
			return fb.count(eventpb.FeedbackKind_CHALLENGE_PASSED) == 3
		})
	})

	t.Run("curl gets the challenge page", func(t *testing.T) {
		curl, err := exec.LookPath("curl")
		if err != nil {
			t.Skip("curl is not installed")
		}
		out, err := exec.Command(curl, "-s", "-i", base+"/product/1").CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		s := string(out)
		if !strings.HasPrefix(s, "HTTP/1.1 200") || !strings.Contains(s, `action="/.bulwark/verify"`) ||
			!strings.Contains(s, "X-Bulwark-Action: CHALLENGE") || strings.Contains(s, "Welcome to the shop") {
			t.Fatalf("curl got:\n%s", s)
		}
	})

	t.Run("automation is refused", func(t *testing.T) {
		bot := chromium.Start(t, false)
		got := chromium.Text(t, bot, base+"/product/1", "p.err", 20*time.Second)
		if !strings.Contains(got, "could not confirm") {
			t.Fatalf("failure page says %q", got)
		}
	})

	t.Run("blocked client gets 403", func(t *testing.T) {
		tab, closeTab := chromium.Tab(t, browser)
		defer closeTab()
		// nginx's realip module believes 127.0.0.1's X-Forwarded-For, as
		// for a site behind a balancer: this browser is 203.0.113.7.
		if _, err := chromedp.Call(tab, network.Enable, network.EnableParams{}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(tab, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"X-Forwarded-For": "203.0.113.7"}}); err != nil {
			t.Fatal(err)
		}
		nctx, ncancel := context.WithTimeout(tab, 20*time.Second)
		defer ncancel()
		resp, err := chromedp.RunResponse(nctx, chromedp.Navigate(base+"/product/1"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusForbidden {
			t.Fatalf("status %d", resp.Status)
		}
		if got := chromium.Text(t, tab, base+"/product/2", "h1", 10*time.Second); got != "Access denied" {
			t.Fatalf("blocked page heading %q", got)
		}
	})
}
