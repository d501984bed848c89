package crawlers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
)

func TestBuiltinDirectory(t *testing.T) {
	d := crawlers.BuiltinDirectory()
	// Every bot the issue names, and the other widely documented ones.
	for _, name := range []string{
		"googlebot", "bingbot", "msnbot", "applebot", "duckduckbot", "baiduspider", "yandexbot", "sogou",
		"seznambot", "petalbot", "yeti", "gptbot", "oai-searchbot", "chatgpt-user", "claudebot", "claude-user",
		"claude-searchbot", "perplexitybot", "perplexity-user", "google-extended", "ccbot", "bytespider",
		"amazonbot", "applebot-extended", "meta-externalagent", "facebookbot", "facebookexternalhit",
		"twitterbot", "slackbot", "discordbot", "linkedinbot", "ahrefsbot", "semrushbot", "mj12bot", "dotbot",
		"uptimerobot", "pingdom", "feedly", "ia-archiver", "adsbot-google", "mediapartners-google",
	} {
		if _, ok := d.Lookup(name); !ok {
			t.Errorf("directory lacks %s", name)
		}
	}
	cs, err := d.Crawlers()
	if err != nil {
		t.Fatal(err)
	}
	v, err := crawlers.New(crawlers.Config{Crawlers: cs}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Real user agents, as the operators document them: each is claimed by
	// its own entry (the first match wins, so order matters).
	for ua, want := range map[string]string{
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": "googlebot",
		"AdsBot-Google (+http://www.google.com/adsbot.html)":                       "adsbot-google",
		"Mediapartners-Google": "mediapartners-google",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)":                                      "bingbot",
		"msnbot/2.0b (+http://search.msn.com/msnbot.htm)":                                                              "msnbot",
		"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)":                          "baiduspider",
		"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)":                                             "yandexbot",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)":       "gptbot",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; +https://openai.com/bot":    "chatgpt-user",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; OAI-SearchBot/1.0; +https://openai.com/bot":   "oai-searchbot",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)":      "claudebot",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; +https://perplexity.ai/pb)": "perplexitybot",
		"CCBot/2.0 (https://commoncrawl.org/faq/)":                                                                     "ccbot",
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)":                                    "facebookexternalhit",
		"meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)":                    "meta-externalagent",
		"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)":                                                   "slackbot",
		"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)":                                           "ahrefsbot",
		"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)":                                  "semrushbot",
		"Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)":                                                "mj12bot",
		"Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)":                                       "uptimerobot",
		"Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers)":                                              "feedly",
		"ia_archiver (+http://www.alexa.com/site/help/webmasters; crawler@alexa.com)":                                  "ia-archiver",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36":                      "",
	} {
		got := ""
		if i := v.Claimed(ua); i >= 0 {
			got = v.Crawlers()[i].Name
		}
		if got != want {
			t.Errorf("%q claims %q, want %q", ua, got, want)
		}
	}
}

func TestParseDirectoryErrors(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"version":  {"version: 2\nbots: [{name: a, operator: o, category: seo, user_agent: a, source: s}]", "unsupported version"},
		"empty":    {"version: 1\nbots: []", "no bots"},
		"category": {"version: 1\nbots: [{name: a, operator: o, category: evil, user_agent: a, source: s}]", "category"},
		"regexp":   {"version: 1\nbots: [{name: a, operator: o, category: seo, user_agent: '(', source: s}]", "user_agent"},
		"twice":    {"version: 1\nbots: [{name: a, operator: o, category: seo, user_agent: a, source: s}, {name: a, operator: o, category: seo, user_agent: a, source: s}]", "twice"},
		"source":   {"version: 1\nbots: [{name: a, operator: o, category: seo, user_agent: a}]", "source"},
		"unknown":  {"version: 1\nbots: [{name: a, nick: b}]", "nick"},
		"builtin":  {"version: 1\nbots: [{name: a, operator: o, category: seo, user_agent: a, source: s, ranges: builtin}]", "no builtin"},
		"url":      {"version: 1\nbots: [{name: a, operator: o, category: seo, user_agent: a, source: s, ranges_url: 'ftp://x'}]", "ranges_url"},
		"date":     {"version: 1\nbots: [{name: a, operator: o, category: seo, user_agent: a, source: s, ranges_date: '2015'}]", "ranges_date"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := crawlers.ParseDirectory([]byte(tc.yaml))
			if !errors.Is(err, crawlers.ErrBadDirectory) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrBadDirectory mentioning %q", err, tc.want)
			}
		})
	}
}

func FuzzParseDirectory(f *testing.F) {
	f.Add(crawlers.BuiltinDirectoryYAML())
	f.Add([]byte("version: 1\nbots: [{name: a, operator: o, category: seo, user_agent: a, source: s}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := crawlers.ParseDirectory(b)
		if err == nil {
			if _, err := d.Crawlers(); err != nil && !errors.Is(err, crawlers.ErrNoBuiltin) {
				t.Fatalf("a parsed directory gives no crawlers: %v", err)
			}
		}
	})
}

// The verification states, for an event in 2015 and one in 2026.
func TestVerificationStates(t *testing.T) {
	d := crawlers.BuiltinDirectory()
	cs, err := d.Crawlers()
	if err != nil {
		t.Fatal(err)
	}
	answers, err := crawlers.ReadAnswers(strings.NewReader(`{"format":"bulwark-rdns-cache/1","answers":[
		{"addr":"100.43.90.10","ptr":["spider-100-43-90-10.yandex.com"],"confirmed":["spider-100-43-90-10.yandex.com"],"at":"2026-11-20T00:00:00Z"},
		{"addr":"203.0.113.5","ptr":["host.example.net"],"confirmed":[],"at":"2026-11-20T00:00:00Z"},
		{"addr":"203.0.113.6","ptr":["x.googlebot.com"],"confirmed":[],"refuted":["x.googlebot.com"],"at":"2026-11-20T00:00:00Z"},
		{"addr":"203.0.113.7","ptr":["x.googlebot.com"],"confirmed":[],"at":"2026-11-20T00:00:00Z"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	replay := crawlers.Config{Crawlers: cs, RangesValid: 30 * 24 * time.Hour}
	withCache := replay
	withCache.Answers = answers
	y2015 := time.Date(2015, 5, 17, 10, 0, 0, 0, time.UTC)
	y2026 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	const (
		google = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
		bing   = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
		yandex = "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"
		baidu  = "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"
		gpt    = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
		semrsh = "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)"
	)
	for _, tc := range []struct {
		name   string
		cfg    crawlers.Config
		ua, ip string
		at     time.Time
		want   crawlers.Status
		by     string
	}{
		{"google in ranges", replay, google, "66.249.66.1", y2026, crawlers.Verified, "ranges"},
		{"google outside ranges, no rDNS", replay, google, "198.51.100.7", y2026, crawlers.Impostor, "ranges"},
		{"google outside ranges in 2015: the list is of 2026", replay, google, "198.51.100.7", y2015, crawlers.Unverifiable, "ranges_date"},
		{"bing 157.55.39 in 2015: in this year's list, which verifies at any date", replay, bing, "157.55.39.4", y2015, crawlers.Verified, "ranges"},
		{"bing 157.55.33 in 2015: not in this year's list", replay, bing, "157.55.33.4", y2015, crawlers.Unverifiable, "ranges_date"},
		{"bing 157.56 in 2015", replay, bing, "157.56.92.1", y2015, crawlers.Unverifiable, "ranges_date"},
		{"msnbot 65.55 in 2015", replay, "msnbot/2.0b (+http://search.msn.com/msnbot.htm)", "65.55.213.1", y2015, crawlers.Unverifiable, "ranges_date"},
		{"yandex without a cache", replay, yandex, "100.43.90.10", y2015, crawlers.Unverifiable, "no_rdns"},
		{"baidu without a cache", replay, baidu, "180.76.15.5", y2015, crawlers.Unverifiable, "no_rdns"},
		{"yandex with a cache", withCache, yandex, "100.43.90.10", y2015, crawlers.Verified, "rdns_cache"},
		{"yandex from a host the cache knows is not", withCache, yandex, "203.0.113.5", y2015, crawlers.Impostor, "rdns_cache"},
		{"google from a host outside its domains", withCache, google, "203.0.113.5", y2015, crawlers.Impostor, "rdns_cache"},
		{"forward lookup refused", withCache, google, "203.0.113.6", y2015, crawlers.Impostor, "rdns_cache"},
		{"a PTR name nobody resolved", withCache, google, "203.0.113.7", y2015, crawlers.Unverifiable, "rdns_cache"},
		{"gptbot before `bots update`", replay, gpt, "198.51.100.7", y2026, crawlers.Unverifiable, "no_ranges"},
		{"semrush is declared only", replay, semrsh, "198.51.100.7", y2026, crawlers.Unverifiable, "declared"},
		{"not a bot", replay, "Mozilla/5.0 Firefox/120", "198.51.100.7", y2026, crawlers.NotClaimed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := crawlers.New(tc.cfg, newResolver(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := v.CheckAt(context.Background(), tc.ua, netip.MustParseAddr(tc.ip), tc.at)
			if got.Status != tc.want || got.By != tc.by {
				t.Fatalf("got %v by %q, want %v by %q", got.Status, got.By, tc.want, tc.by)
			}
		})
	}
}

// A pinned date makes a saved historical list speak for its own time.
func TestRangesDatePinned(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bing-2015.json")
	if err := os.WriteFile(file, []byte(`{"prefixes":[{"ipv4Prefix":"157.55.39.0/24"}],"creationTime":"2026-11-19T10:00:00.00"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cs := []crawlers.Crawler{{Name: "bingbot", UserAgent: regexpMust(`(?i)bingbot`), Ranges: file, RangesDate: time.Date(2015, 5, 1, 0, 0, 0, 0, time.UTC)}}
	v, err := crawlers.New(crawlers.Config{Crawlers: cs, RangesValid: 30 * 24 * time.Hour}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2015, 5, 17, 0, 0, 0, 0, time.UTC)
	if got := v.CheckAt(context.Background(), "bingbot", netip.MustParseAddr("157.55.39.4"), at); got.Status != crawlers.Verified {
		t.Fatalf("in the pinned list: %v", got.Status)
	}
	if got := v.CheckAt(context.Background(), "bingbot", netip.MustParseAddr("192.0.2.1"), at); got.Status != crawlers.Impostor {
		t.Fatalf("outside the pinned list, no rDNS: %v", got.Status)
	}
}

// Live answers go to the cache file and come back as the same verdicts.
func TestExportAnswersRoundTrip(t *testing.T) {
	res := newResolver()
	v, err := crawlers.New(testConfig(), res, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"203.0.113.10", "203.0.113.11", "192.0.2.77"} {
		v.Check(context.Background(), googleUA, netip.MustParseAddr(ip))
	}
	var buf bytes.Buffer
	if err := crawlers.WriteAnswers(&buf, v.Answers(), time.Now()); err != nil {
		t.Fatal(err)
	}
	answers, err := crawlers.ReadAnswers(&buf)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.RDNS, cfg.Answers = false, answers
	rv, err := crawlers.New(cfg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]crawlers.Status{"203.0.113.10": crawlers.Verified, "203.0.113.11": crawlers.Impostor, "192.0.2.77": crawlers.Impostor} {
		if got := rv.Check(context.Background(), googleUA, netip.MustParseAddr(ip)); got.Status != want || got.By != "rdns_cache" {
			t.Errorf("%s from the cache file: %v by %s, want %v", ip, got.Status, got.By, want)
		}
	}
	// A reloaded verifier keeps what the old one learnt.
	again, err := crawlers.New(testConfig(), res, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	again.Adopt(v)
	calls := res.Calls()
	if got := again.CheckAsync(googleUA, netip.MustParseAddr("203.0.113.10")); got.Status != crawlers.Verified || res.Calls() != calls {
		t.Fatalf("after Adopt: %v with %d more lookups", got.Status, res.Calls()-calls)
	}
	if _, err := crawlers.ReadAnswers(strings.NewReader(`{"format":"other"}`)); err == nil {
		t.Fatal("a file of another format was read")
	}
}

func TestUpdate(t *testing.T) {
	dirYAML := []byte(`version: 1
bots:
  - {name: gptbot, operator: OpenAI, category: ai-training, user_agent: '(?i)gptbot', ranges_url: RANGES/gptbot.json, source: https://platform.openai.com/docs/bots}
  - {name: broken, operator: X, category: other, user_agent: '(?i)brokenbot', ranges_url: RANGES/broken.json, source: https://example.com}
`)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := bytes.ReplaceAll(dirYAML, []byte("RANGES"), []byte(srv.URL))
		switch r.URL.Path {
		case "/bots.yaml":
			_, _ = w.Write(body)
		case "/bots.yaml.sha256":
			sum := sha256.Sum256(body)
			_, _ = w.Write([]byte(hex.EncodeToString(sum[:]) + "  bots.yaml\n"))
		case "/gptbot.json":
			_, _ = w.Write([]byte(`{"creationTime":"2026-11-20T00:00:00Z","prefixes":[{"ipv4Prefix":"192.0.2.0/24"}]}`))
		default:
			http.Error(w, "no", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	out := t.TempDir()
	res, err := crawlers.Update(context.Background(), crawlers.UpdateConfig{DirectoryURL: srv.URL + "/bots.yaml", Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bots != 2 || res.Ranges["gptbot"] != 1 || res.Failed["broken"] == nil {
		t.Fatalf("result %+v", res)
	}
	d, err := crawlers.LoadDirectory(out)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := d.Crawlers()
	if err != nil {
		t.Fatal(err)
	}
	v, err := crawlers.New(crawlers.Config{Crawlers: cs}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Check(context.Background(), "GPTBot/1.2", netip.MustParseAddr("192.0.2.7")); got.Status != crawlers.Verified {
		t.Fatalf("gptbot in the fetched ranges: %v", got.Status)
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil || !strings.Contains(string(sums), "ranges/gptbot.json") || !strings.Contains(string(sums), "bots.yaml") {
		t.Fatalf("SHA256SUMS %q %v", sums, err)
	}

	// A wrong checksum writes nothing.
	out2 := t.TempDir()
	_, err = crawlers.Update(context.Background(), crawlers.UpdateConfig{DirectoryURL: srv.URL + "/bots.yaml", SHA256: strings.Repeat("0", 64), Output: out2})
	if !errors.Is(err, crawlers.ErrChecksum) {
		t.Fatalf("wrong checksum: %v", err)
	}
	if entries, _ := os.ReadDir(out2); slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == "bots.yaml" }) {
		t.Fatal("a directory with a wrong checksum was written")
	}
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }
