// Package chromium starts Debian's chromium for browser tests (through
// chromedp) and reads pages with it. Only test code imports it; it is apart
// from testkit so that tests without a browser do not link chromedp.
package chromium

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path is where Debian's chromium package installs the browser.
const Path = "/usr/bin/chromium"

// UserAgent is a current desktop Chrome's, which a person's browser sends
// (headless chromium's own names HeadlessChrome).
const UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// Start starts chromium, headless, and returns its context; the browser
// stops at the test's end. It skips the test when chromium is not
// installed or with -short. human hides the automation markers
// (navigator.webdriver, the HeadlessChrome user agent), as a person's
// browser has none; without it the browser is what a scraper running
// chromedp as shipped looks like.
func Start(t *testing.T, human bool) context.Context {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		t.Skipf("chromium is not installed at %s (apt-get install chromium): the browser tests need it", Path)
	}
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(Path), chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true))
	if human {
		opts = append(opts,
			chromedp.Flag("enable-automation", false),
			chromedp.Flag("disable-blink-features", "AutomationControlled"),
			chromedp.UserAgent(UserAgent))
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	// Start the browser now, so timeouts below measure pages, not start-up.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// Tab opens a tab with a cookie jar of its own (a fresh visitor); cancel
// closes it.
func Tab(t *testing.T, browser context.Context) (context.Context, context.CancelFunc) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	// The tab lives as long as the context of its first action: open it
	// here, not under a page's timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	return ctx, cancel
}

// Text navigates to url, waits (within the given time) for sel to be
// visible and returns its text; on a timeout it fails the test with the
// page the browser shows.
func Text(t *testing.T, ctx context.Context, url, sel string, within time.Duration) string {
	t.Helper()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		hctx, hcancel := context.WithTimeout(parent, 5*time.Second)
		defer hcancel()
		html, _ := chromedp.Run(hctx, chromedp.OuterHTML(chromedp.CSS("html")))
		t.Fatalf("%s: waiting for %s: %v\n%s", url, sel, err, html)
	}
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: text of %s: %v", url, sel, err)
	}
	return s
}
