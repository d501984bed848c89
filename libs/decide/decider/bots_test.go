package decider_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Per-category and per-bot policies, and what each verification state gets.
func TestBotPolicies(t *testing.T) {
	const (
		google  = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
		gpt     = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
		ahrefs  = "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"
		yandex  = "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"
		semrush = "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)"
		slack   = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
	)
	y2015 := time.Date(2015, 5, 17, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, rules, sub, ua string
		at                   time.Time
		score                float64
		rate1m               float64
		want                 string // "" for no verdict
		reason               string // a reason the verdict must carry
	}{
		{"verified search is allowed whatever its score", "", "ip:66.249.66.1", google, t0, 99, 0, "", ""},
		{"impostor search is blocked", "", "ip:192.0.2.66", google, t0, 10, 0, "BLOCK(fake_crawler) new", "bot=googlebot category=search status=impostor"},
		{"ai-training monitored by default (declared: unverifiable)", "", "ip:192.0.2.70", gpt, t0, 10, 0, "MONITOR(bot_policy) new", "bot=gptbot category=ai-training policy=monitor"},
		{"ai-training blocked per bot", "bots: {bots: {gptbot: block}}", "ip:192.0.2.71", gpt, t0, 10, 0, "BLOCK(bot_policy) new", "bot=gptbot category=ai-training policy=block"},
		{"a category switched to challenge", "bots: {categories: {seo: challenge}}", "ip:192.0.2.72", semrush, t0, 10, 0, "CHALLENGE(bot_policy) new", "bot=semrushbot category=seo policy=challenge"},
		{"ahrefs from a host rDNS refutes", "", "ip:192.0.2.75", ahrefs, t0, 10, 0, "BLOCK(fake_crawler) new", "bot=ahrefsbot category=seo status=impostor"},
		{"verified ahrefs by rDNS, rate limited under the limit", "bots: {bots: {ahrefsbot: rate_limit}}", "ip:203.0.113.20", ahrefs, t0, 99, 30, "", ""},
		{"verified ahrefs over the limit", "bots: {bots: {ahrefsbot: rate_limit}}", "ip:203.0.113.20", ahrefs, t0, 10, 120, "BLOCK(bot_policy) new", "bot=ahrefsbot category=seo policy=rate_limit"},
		{"verified monitor policy replaces the ladder", "bots: {categories: {seo: monitor}}", "ip:203.0.113.20", ahrefs, t0, 99, 0, "MONITOR(bot_policy) new", "bot=ahrefsbot category=seo policy=monitor"},
		{"unverifiable search: scored like anyone, never fake", "crawlers: {rdns: false}", "ip:100.43.90.10", yandex, y2015, 10, 0, "", ""},
		{"unverifiable search with a high score: held at MONITOR", "crawlers: {rdns: false}", "ip:100.43.90.10", yandex, y2015, 95, 0, "MONITOR(ladder) new", "bot=yandexbot category=search policy=allow"},
		{"unverifiable search still meets the rules", "crawlers: {rdns: false}", "ip:100.43.90.10", yandex, y2015, 10, 0, "BLOCK(scanner) new", "bot=yandexbot category=search policy=allow"},
		{"preview bot declared only: allow grants nothing", "", "ip:192.0.2.73", slack, t0, 95, 0, "BLOCK(ladder) new", "bot=slackbot category=preview policy=allow"},
		{"a rule over bot fields", "rules: [{name: no_ai, when: 'bot.category startsWith \"ai-\" && !bot.impostor', action: CHALLENGE}]", "ip:192.0.2.74", gpt, t0, 10, 0, "CHALLENGE(no_ai) new", "bot=gptbot category=ai-training policy=monitor"},
		{"unverifiable monitored bot with a high score: held at MONITOR", "crawlers: {rdns: false}", "ip:203.0.113.21", ahrefs, t0, 95, 0, "MONITOR(bot_policy) new", "bot=ahrefsbot category=seo policy=monitor"},
		{"verified google against robots.txt: not exempt, the rule in learning mode", "bots: {robots: {'*': 'ROBOTS'}}", "ip:66.249.66.1", google, t0, 10, 0, "MONITOR(robots_violation)~CHALLENGE new", "robots_violation"},
		{"declared gptbot against robots.txt", "bots: {robots: {shop.example: 'ROBOTS'}}", "ip:192.0.2.76", gpt, t0, 10, 0, "MONITOR(robots_violation)~CHALLENGE new", "bot=gptbot category=ai-training policy=monitor"},
		{"robots.txt of another host", "bots: {robots: {blog.example: 'ROBOTS'}}", "ip:66.249.66.1", google, t0, 10, 0, "", ""},
		{"impostors are impostors, not robots.txt violators", "bots: {robots: {'*': 'ROBOTS'}}", "ip:192.0.2.66", google, t0, 10, 0, "BLOCK(fake_crawler) new", "bot=googlebot category=search status=impostor"},
		{"no policy on network subjects", "bots: {bots: {gptbot: block}}", "net:192.0.2.0/24", gpt, t0, 10, 0, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			robotsFile := filepath.Join(t.TempDir(), "robots.txt")
			if err := os.WriteFile(robotsFile, []byte("User-agent: *\nDisallow: /cart\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			d := newDecider(t, strings.ReplaceAll(tc.rules, "ROBOTS", robotsFile))
			s := mkScore(tc.sub, tc.at, tc.score, ua(tc.ua), feat("rate_1m", tc.rate1m))
			if tc.want == "BLOCK(scanner) new" {
				s.Features["sensitive_hits_10m"] = 12
			}
			s.Trigger.Host, s.Trigger.Path = "shop.example", "/cart"
			if tc.sub[:4] == "net:" {
				s.Trigger.ClientIp = "192.0.2.9"
			}
			got := d.Decide(context.Background(), s)
			if tc.want == "" {
				expect(t, got)
				return
			}
			expect(t, got, tc.sub+" "+tc.want)
			if r := got[0].Verdict.Reasons; !slices.Contains(r, tc.reason) {
				t.Fatalf("reasons %q lack %q", r, tc.reason)
			}
		})
	}
}
