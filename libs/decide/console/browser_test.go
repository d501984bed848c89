package console_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts Debian's chromium, headless, with its own profile (so
// two browsers do not share cookies).
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("chromium is not installed at %s (apt-get install chromium): the browser tests need it", chromiumPath)
	}
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs steps within 20 s, failing with the page's HTML.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		fail(t, ctx, what, err)
	}
}

// get runs one action that returns a value, within 20 s.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		fail(t, ctx, what, err)
	}
	return v
}

func fail(t *testing.T, ctx context.Context, what string, err error) {
	t.Helper()
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	defer hcancel()
	html, _ := chromedp.Run(hctx, chromedp.OuterHTML(chromedp.CSS("html")))
	t.Fatalf("%s: %v\n%s", what, err, html)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return get(t, ctx, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func signIn(t *testing.T, ctx context.Context, url, token string) {
	t.Helper()
	do(t, ctx, "sign in",
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#whoami")))
}

// TestBrowserOperatorUnblocks: an operator signs in, looks up a blocked
// simulated bot, sees why it is blocked and what the sidecar answers,
// unblocks it, and sees the sidecar's answer change. A viewer sees the same
// page without the means to act, and a POST without the CSRF token from a
// signed-in page is refused.
func TestBrowserOperatorUnblocks(t *testing.T) {
	fx := start(t)
	const bot = "ip:203.0.113.50"
	fx.produce(t, fx.kcfg.Topics.Verdicts, bot, botVerdict(time.Now()))
	testkit.Eventually(t, 10*time.Second, "the bot's block in the console", func() bool { return fx.effective(t, bot) == "BLOCK" })

	ctx := browser(t)
	// Not signed in: the client URL shows the login page, and after
	// signing in the client page it asked for.
	signIn(t, ctx, fx.url+"/clients/"+bot, operatorToken)
	action, reasons := text(t, ctx, "#effective-action"), text(t, ctx, "#reasons")
	sidecarAnswer, who := text(t, ctx, "#sidecars .sidecar-action"), text(t, ctx, "#whoami")
	if action != "BLOCK" || !strings.Contains(reasons, "rate_10s=48/s") || !strings.Contains(reasons, "no_static_assets") {
		t.Fatalf("client page: action %q reasons %q", action, reasons)
	}
	if strings.TrimSpace(sidecarAnswer) != "BLOCK" || !strings.Contains(who, "operator") {
		t.Fatalf("sidecar answer %q, user %q", sidecarAnswer, who)
	}

	// The keyboard: "/" focuses the search box, Enter looks up.
	do(t, ctx, "search with the keyboard", chromedp.KeyEvent("/"))
	focused := get(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.id`))
	if focused != "q" {
		t.Fatalf("after '/', focus is on %q", focused)
	}

	// The headless browser cannot click a confirm() dialog: answer yes.
	get(t, ctx, "accept confirm", chromedp.Evaluate[bool](`window.confirm = () => true, true`))
	do(t, ctx, "unblock",
		chromedp.SendKeys(chromedp.CSS("#reason"), "customer complaint, ticket 4711"),
		chromedp.Click(chromedp.CSS("#do-unblock")),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	testkit.Eventually(t, 10*time.Second, "the sidecar's answer after the unblock, on the page", func() bool {
		do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#sidecars")))
		return strings.TrimSpace(text(t, ctx, "#sidecars .sidecar-action")) == "ALLOW"
	})
	audit := text(t, ctx, "#subject-audit")
	if !strings.Contains(audit, "token:operator") || !strings.Contains(audit, "ticket 4711") {
		t.Fatalf("subject audit %q", audit)
	}

	// A POST from the signed-in page without the CSRF token is refused.
	status := get(t, ctx, "POST without CSRF token",
		chromedp.Evaluate[int](`fetch('/actions', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
			body: 'subject=203.0.113.50&action=block&ttl=1h'}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if status != 403 {
		t.Fatalf("POST without CSRF token: %d", status)
	}

	// A viewer sees the page but cannot act.
	vctx := browser(t)
	signIn(t, vctx, fx.url+"/clients/"+bot, viewerToken)
	do(t, vctx, "viewer page", chromedp.WaitVisible(chromedp.CSS("#readonly")))
	n := get(t, vctx, "forms", chromedp.Evaluate[int](`document.querySelectorAll('#act-form, #label-form').length`))
	if n != 0 {
		t.Fatal("a viewer is shown the action forms")
	}
}
