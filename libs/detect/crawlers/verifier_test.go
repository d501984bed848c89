package crawlers_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
)

// fakeResolver answers from tables, like a DNS zone; a name or address it
// does not know is NXDOMAIN, and one in fail is a SERVFAIL.
type fakeResolver struct {
	mu    sync.Mutex
	ptr   map[string][]string
	a     map[string][]netip.Addr
	fail  map[string]bool
	calls int
}

func (r *fakeResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail[addr] {
		return nil, &net.DNSError{Err: "server misbehaving", Name: addr, IsTemporary: true}
	}
	if n, ok := r.ptr[addr]; ok {
		return n, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.a[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (r *fakeResolver) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func testConfig() crawlers.Config {
	return crawlers.Config{
		RDNS: true, RDNSTimeout: time.Second,
		Crawlers: []crawlers.Crawler{
			{Name: "googlebot", UserAgent: regexp.MustCompile(`(?i)googlebot`), Ranges: "builtin", RDNSSuffixes: []string{"googlebot.com", "google.com"}},
			{Name: "bingbot", UserAgent: regexp.MustCompile(`(?i)bingbot`), Ranges: "builtin", RDNSSuffixes: []string{"search.msn.com"}},
			{Name: "yandexbot", UserAgent: regexp.MustCompile(`(?i)yandexbot`), RDNSSuffixes: []string{"yandex.ru"}},
		},
	}
}

func newResolver() *fakeResolver {
	return &fakeResolver{
		ptr: map[string][]string{
			"203.0.113.10": {"crawl-203-0-113-10.googlebot.com."},
			"203.0.113.11": {"crawl-203-0-113-11.googlebot.com."}, // forward points elsewhere
			"203.0.113.12": {"evil.example.net."},
			"203.0.113.13": {"spoof.googlebot.com.evil.net."},
			"198.51.100.5": {"5-100-51-198.spider.yandex.ru."},
		},
		a: map[string][]netip.Addr{
			"crawl-203-0-113-10.googlebot.com": {netip.MustParseAddr("203.0.113.10")},
			"crawl-203-0-113-11.googlebot.com": {netip.MustParseAddr("192.0.2.1")},
			"5-100-51-198.spider.yandex.ru":    {netip.MustParseAddr("198.51.100.5")},
		},
		fail: map[string]bool{"203.0.113.99": true},
	}
}

const googleUA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

func TestCheck(t *testing.T) {
	res := newResolver()
	v, err := crawlers.New(testConfig(), res, crawlers.NewMetrics(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := func(ua, ip string, want crawlers.Status, wantName string) {
		t.Helper()
		got := v.Check(context.Background(), ua, netip.MustParseAddr(ip))
		if got.Status != want || got.Crawler != wantName {
			t.Fatalf("Check(%q, %s) = %+v, want %v %q", ua, ip, got, want, wantName)
		}
	}
	f("Mozilla/5.0 Firefox/120", "66.249.66.1", crawlers.NotClaimed, "")
	f(googleUA, "66.249.66.1", crawlers.Verified, "googlebot")          // published range
	f(googleUA, "::ffff:66.249.66.1", crawlers.Verified, "googlebot")   // mapped form
	f(googleUA, "2001:4860:4801:10::5", crawlers.Verified, "googlebot") // IPv6 range
	f(googleUA, "203.0.113.10", crawlers.Verified, "googlebot")         // FCrDNS
	f(googleUA, "203.0.113.11", crawlers.Fake, "googlebot")             // forward mismatch
	f(googleUA, "203.0.113.12", crawlers.Fake, "googlebot")             // wrong domain
	f(googleUA, "203.0.113.13", crawlers.Fake, "googlebot")             // suffix trick
	f(googleUA, "192.0.2.77", crawlers.Fake, "googlebot")               // no PTR
	f(googleUA, "203.0.113.99", crawlers.Unverified, "googlebot")       // DNS failing
	f("Mozilla/5.0 (compatible; bingbot/2.0)", "157.55.39.4", crawlers.Verified, "bingbot")
	f("Mozilla/5.0 (compatible; bingbot/2.0)", "66.249.66.1", crawlers.Fake, "bingbot") // Google's range is not Bing's
	f("Mozilla/5.0 (compatible; YandexBot/3.0)", "198.51.100.5", crawlers.Verified, "yandexbot")
}

func TestCacheAndNoRDNS(t *testing.T) {
	res := newResolver()
	v, err := crawlers.New(testConfig(), res, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		v.Check(context.Background(), googleUA, netip.MustParseAddr("203.0.113.10"))
	}
	if c := res.Calls(); c != 1 {
		t.Fatalf("PTR lookups %d, want 1 (cached)", c)
	}
	for range 2 {
		v.Check(context.Background(), googleUA, netip.MustParseAddr("203.0.113.99"))
	}
	if c := res.Calls(); c != 3 {
		t.Fatalf("PTR lookups %d, want 3 (failures are not cached)", c)
	}

	cfg := testConfig()
	cfg.RDNS = false
	v, err = crawlers.New(cfg, res, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Check(context.Background(), googleUA, netip.MustParseAddr("203.0.113.10")); got.Status != crawlers.Fake {
		t.Fatalf("without reverse DNS an address outside the ranges is fake, got %v", got.Status)
	}
}

func TestCheckAsync(t *testing.T) {
	res := newResolver()
	v, err := crawlers.New(testConfig(), res, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr("203.0.113.10")
	if got := v.CheckAsync(googleUA, addr); got.Status != crawlers.Unverified {
		t.Fatalf("first async check: %v, want unverified", got.Status)
	}
	testkit.Eventually(t, 10*time.Second, "the async lookup to verify the crawler", func() bool {
		return v.CheckAsync(googleUA, addr).Status == crawlers.Verified
	})
	if got := v.CheckAsync(googleUA, netip.MustParseAddr("66.249.66.1")); got.Status != crawlers.Verified {
		t.Fatalf("ranges answer at once, got %v", got.Status)
	}
}

func TestRefresh(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "googlebot.json")
	if err := os.WriteFile(file, []byte(`{"creationTime":"x","prefixes":[{"ipv4Prefix":"192.0.2.0/24"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var body = `{"prefixes":[{"ipv4Prefix":"198.51.100.0/24"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }))
	defer srv.Close()

	cfg := testConfig()
	cfg.RDNS = false
	cfg.Crawlers[0].RangesURL = file
	cfg.Crawlers[1].RangesURL = srv.URL
	v, err := crawlers.New(cfg, nil, crawlers.NewMetrics(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	check := func(ua, ip string, want crawlers.Status) {
		t.Helper()
		if got := v.Check(context.Background(), ua, netip.MustParseAddr(ip)); got.Status != want {
			t.Fatalf("%s from %s: %v, want %v", ua, ip, got.Status, want)
		}
	}
	check(googleUA, "192.0.2.9", crawlers.Verified)
	check(googleUA, "66.249.66.1", crawlers.Fake) // the refreshed file replaced the builtin ranges
	check("bingbot", "198.51.100.9", crawlers.Verified)

	body = `{"prefixes":[]}` // a broken source keeps the current ranges
	if err := v.Refresh(context.Background()); !errors.Is(err, crawlers.ErrBadRanges) {
		t.Fatalf("refresh with empty ranges: %v, want ErrBadRanges", err)
	}
	check("bingbot", "198.51.100.9", crawlers.Verified)
}

func TestBuiltinRangesParse(t *testing.T) {
	for _, name := range []string{"googlebot", "bingbot", "applebot"} {
		data, err := crawlers.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := crawlers.ParseRanges(data)
		if err != nil || len(p) < 10 {
			t.Fatalf("%s: %d prefixes, %v", name, len(p), err)
		}
	}
	if _, err := crawlers.Builtin("nosuchbot"); !errors.Is(err, crawlers.ErrNoBuiltin) {
		t.Fatalf("unknown builtin: %v", err)
	}
}

func FuzzParseRanges(f *testing.F) {
	data, _ := crawlers.Builtin("bingbot")
	f.Add(data)
	f.Add([]byte(`{"prefixes":[{"ipv6Prefix":"2001:db8::/32"},{"ipv4Prefix":"192.0.2.1/32"}]}`))
	f.Add([]byte(`{"prefixes":[{"ipv4Prefix":"2001:db8::/32"}]}`))
	f.Add([]byte(`{"prefixes":[{}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := crawlers.ParseRanges(b)
		if err == nil && len(p) == 0 {
			t.Fatal("no error and no prefixes")
		}
		for _, x := range p {
			if !x.IsValid() || x != x.Masked() {
				t.Fatalf("prefix %v not valid and masked", x)
			}
		}
	})
}

func BenchmarkCheckInRanges(b *testing.B) {
	v, err := crawlers.New(testConfig(), newResolver(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	addr := netip.MustParseAddr("66.249.66.1")
	b.ReportAllocs()
	for b.Loop() {
		v.CheckAsync(googleUA, addr)
	}
}
