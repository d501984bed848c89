package rules_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

func TestDefault(t *testing.T) {
	rs := rules.Default()
	if rs.Ladder != (rules.Ladder{Monitor: 50, Challenge: 70, Block: 90}) {
		t.Fatalf("ladder %+v", rs.Ladder)
	}
	if rs.TTL.Block != time.Hour || rs.Learning || !rs.CrawlersEnabled || len(rs.Crawlers.Crawlers) < 3 {
		t.Fatalf("default rule set %+v", rs)
	}
	names := map[string]bool{}
	for _, r := range rs.Rules {
		names[r.Name] = true
	}
	for _, n := range []string{"login_stuffing", "fake_crawler"} {
		if !names[n] {
			t.Fatalf("default rules miss %s", n)
		}
	}
	if len(rs.Features.Weights) == 0 {
		t.Fatal("features section defaults are missing")
	}
}

func TestLadderBoundaries(t *testing.T) {
	l := rules.Default().Ladder
	f := func(score float64, want eventpb.Action) {
		t.Helper()
		if got := l.Action(score); got != want {
			t.Fatalf("Action(%v) = %v, want %v", score, got, want)
		}
	}
	f(0, eventpb.Action_ALLOW)
	f(49.999, eventpb.Action_ALLOW)
	f(50, eventpb.Action_MONITOR)
	f(69.99, eventpb.Action_MONITOR)
	f(70, eventpb.Action_CHALLENGE)
	f(89.99, eventpb.Action_CHALLENGE)
	f(90, eventpb.Action_BLOCK)
	f(100, eventpb.Action_BLOCK)
}

func TestEscalation(t *testing.T) {
	e := rules.Escalation{Factor: 2, MaxTTL: 5 * time.Hour, Window: 24 * time.Hour}
	f := func(n int, want time.Duration) {
		t.Helper()
		if got := e.Apply(time.Hour, n); got != want {
			t.Fatalf("Apply(1h, %d) = %v, want %v", n, got, want)
		}
	}
	f(1, time.Hour)
	f(2, 2*time.Hour)
	f(3, 4*time.Hour)
	f(4, 5*time.Hour)
	f(4000, 5*time.Hour)
}

// score builds a score whose trigger is a request.
func score(sub string, s float64, feats map[string]float64, method, path, ua string) *eventpb.Score {
	return &eventpb.Score{Subject: sub, Score: s, Features: feats,
		Trigger: &eventpb.RequestEvent{Method: method, Path: path, UserAgent: ua, ClientIp: strings.TrimPrefix(sub, "ip:")}}
}

func TestExpressions(t *testing.T) {
	rs, err := rules.Parse([]byte(`
rules:
  - name: login
    when: 'event.method == "POST" && event.path startsWith "/login" && features.login_failures_1m >= 20'
    action: BLOCK
    ttl: 1h
  - name: api_flood
    when: 'kind == "ip" && event.path matches "^/api/v[0-9]+/" && features.rate_10s > 20'
    action: CHALLENGE
  - name: fake
    when: crawler.fake && crawler.name == "googlebot"
    action: BLOCK
  - name: cdn
    when: event.cdn_bot_score >= 0 && event.cdn_bot_score < 5
    action: BLOCK
  - name: reasons
    when: '"no_static_assets" in reasons && score > 40'
    action: MONITOR
  - name: geo
    when: 'ip.asn in [64500, 64501] && geo.country == "DE" && ip.as_org contains "Hosting"'
    action: CHALLENGE
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*rules.Rule{}
	for _, r := range rs.Rules {
		byName[r.Name] = r
	}
	f := func(rule string, env rules.Env, want bool) {
		t.Helper()
		got, err := byName[rule].Match(nil, &env)
		if err != nil || got != want {
			t.Fatalf("%s on %+v = %v, %v; want %v", rule, env, got, err, want)
		}
	}
	env := func(s *eventpb.Score, c rules.Crawler) rules.Env { return rules.NewEnv(s, c) }
	login := map[string]float64{"login_failures_1m": 20}
	f("login", env(score("ip:192.0.2.1", 10, login, "POST", "/login", "x"), rules.Crawler{}), true)
	f("login", env(score("ip:192.0.2.1", 10, login, "GET", "/login", "x"), rules.Crawler{}), false)
	f("login", env(score("ip:192.0.2.1", 10, map[string]float64{"login_failures_1m": 19}, "POST", "/login/x", "x"), rules.Crawler{}), false)
	f("login", env(score("ip:192.0.2.1", 10, nil, "POST", "/login", "x"), rules.Crawler{}), false) // a missing feature reads 0
	f("api_flood", env(score("ip:192.0.2.1", 0, map[string]float64{"rate_10s": 21}, "GET", "/api/v2/items", ""), rules.Crawler{}), true)
	f("api_flood", env(score("net:192.0.2.0/24", 0, map[string]float64{"rate_10s": 21}, "GET", "/api/v2/items", ""), rules.Crawler{}), false)
	f("fake", env(score("ip:192.0.2.1", 0, nil, "GET", "/", "Googlebot"), rules.Crawler{Name: "googlebot", Claimed: true, Fake: true}), true)
	f("fake", env(score("ip:192.0.2.1", 0, nil, "GET", "/", "Googlebot"), rules.Crawler{Name: "googlebot", Claimed: true, Verified: true}), false)
	cdn := score("ip:192.0.2.1", 0, nil, "GET", "/", "")
	f("cdn", env(cdn, rules.Crawler{}), false) // not logged: -1
	v := uint32(2)
	cdn.Trigger.CdnBotScore = &v
	f("cdn", env(cdn, rules.Crawler{}), true)
	withReasons := score("ip:192.0.2.1", 41, nil, "GET", "/", "")
	withReasons.Reasons = []string{"rate_10s=48/s", "no_static_assets"}
	f("reasons", env(withReasons, rules.Crawler{}), true)
	geo := score("ip:198.51.100.7", 0, nil, "GET", "/", "")
	f("geo", env(geo, rules.Crawler{}), false)
	geo.Trigger.GeoCountry, geo.Trigger.Asn, geo.Trigger.AsOrg = "DE", 64500, "Example Hosting GmbH"
	f("geo", env(geo, rules.Crawler{}), true)
	geo.Trigger.GeoCountry, geo.Trigger.CdnCountry = "", "DE" // an event from a CDN, not enriched
	f("geo", env(geo, rules.Crawler{}), true)
	geo.Trigger.Asn = 64502
	f("geo", env(geo, rules.Crawler{}), false)
}

func TestAllowList(t *testing.T) {
	rs, err := rules.Parse([]byte(`
allow:
  cidrs: [10.0.0.0/8, 192.0.2.7, "2001:db8::/48"]
  subjects: [session:monitoring, 198.51.100.9]
`), "t")
	if err != nil {
		t.Fatal(err)
	}
	f := func(sub, client string, want bool) {
		t.Helper()
		s, err := subject.Parse(sub)
		if err != nil {
			t.Fatal(err)
		}
		var c netip.Addr
		if client != "" {
			c = netip.MustParseAddr(client)
		}
		if got := rs.Allow.Allows(s.String(), s, c); got != want {
			t.Fatalf("Allows(%s, %s) = %v, want %v", sub, client, got, want)
		}
	}
	f("ip:10.1.2.3", "", true)
	f("ip:11.1.2.3", "", false)
	f("ip:192.0.2.7", "", true)
	f("ip:192.0.2.8", "", false)
	f("net:192.0.2.0/24", "", true) // contains an allowed address
	f("net:10.9.9.0/24", "", true)  // inside an allowed CIDR
	f("net:198.18.0.0/24", "", false)
	f("ip:2001:db8:0:1::5", "", true)
	f("session:monitoring", "", true)
	f("session:other", "10.0.0.1", true) // its request came from an allowed address
	f("session:other", "203.0.113.1", false)
	f("ip:198.51.100.9", "", true)
}

func TestValidationNamesLineAndField(t *testing.T) {
	f := func(yaml string, want ...string) {
		t.Helper()
		_, err := rules.Parse([]byte(yaml), "bad.yaml")
		if err == nil {
			t.Fatalf("no error for %q", yaml)
		}
		if !errors.Is(err, rules.ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("error %q does not contain %q", err, w)
			}
		}
	}
	f("ladder:\n  monitor: 50\n  challenge: 95\n  block: 90\n", "bad.yaml:2: ladder: thresholds must rise")
	f("ladder:\n  monitr: 50\n", `bad.yaml:2: ladder.monitr: unknown field "monitr"`)
	f("ttl:\n  block: soon\n", "bad.yaml:2: ttl.block:", "soon")
	f("rules:\n  - name: a\n    when: 'true'\n    action: BLOCK\n    ttl: [1]\n", "bad.yaml:5: rules[0].ttl:")
	f("rules:\n  - name: a\n    when: features.rate_10s >\n    action: BLOCK\n", "bad.yaml:3: rules[0].when")
	f("rules:\n  - name: a\n    when: features.rate_10 > 1\n    action: BLOCK\n", "bad.yaml:3: rules[0].when", `unknown feature "rate_10"`)
	f("rules:\n  - name: a\n    when: event.path\n    action: BLOCK\n", "bad.yaml:3: rules[0].when")
	f("rules:\n  - name: a\n    when: 'true'\n    action: SMITE\n", "bad.yaml:4: rules[0].action")
	f("rules:\n  - name: a\n    when: 'true'\n    action: BLOCK\n  - name: a\n    when: 'true'\n    action: BLOCK\n", "bad.yaml:5: rules[1].name", "twice")
	f("allow:\n  cidrs: [10.0.0.0/8, nonsense]\n", "bad.yaml:2: allow.cidrs[1]")
	f("crawlers:\n  list:\n    - name: googlebot\n      user_agent: '(?i'\n      ranges: builtin\n", "bad.yaml:4: crawlers.list[0].user_agent")
	f("crawlers:\n  list:\n    - name: nobot\n      user_agent: nobot\n      ranges: builtin\n", "bad.yaml:5: crawlers.list[0].ranges")
	f("bots:\n  categories:\n    evil: allow\n", "bad.yaml:3: bots.categories.evil", "unknown category")
	f("bots:\n  categories:\n    seo: ban\n", "bad.yaml:3: bots.categories.seo", "not a policy")
	f("bots:\n  bots:\n    nobot: block\n", "bad.yaml:3: bots.bots.nobot", "unknown bot")
	f("bots:\n  rate_limit:\n    action: ALLOW\n", "bad.yaml:3: bots.rate_limit.action")
	f("bots:\n  robots:\n    shop.example: ''\n", "bad.yaml:3: bots.robots.shop.example")
	f("crawlers:\n  directory: /no/such/dir\n", "bad.yaml:2: crawlers.directory")
	f("crawlers:\n  list:\n    - name: x\n      category: evil\n      user_agent: x\n      rdns_suffixes: [x.example]\n", "bad.yaml:4: crawlers.list[0].category")
	f("features:\n  weights:\n    rate_10s: {weight: 500}\n", "features", "rate_10s")
	f("features:\n  wieghts: {}\n", "bad.yaml:2: features.wieghts:", "wieghts")
	f("version: 2\n", "bad.yaml:1: version")
	f("ladder: [1, 2]\n", "bad.yaml:1")
	f("rules: {\n", "bad.yaml")
}

func TestOverDefaults(t *testing.T) {
	rs, err := rules.Parse([]byte("learning: true\nladder:\n  block: 95\nrules: []\n"), "t")
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Learning || rs.Ladder.Block != 95 || rs.Ladder.Monitor != 50 || len(rs.Rules) != 0 || rs.TTL.Block != time.Hour {
		t.Fatalf("not read over the defaults: %+v", rs)
	}
	empty, err := rules.Parse(nil, "empty")
	if err != nil || len(empty.Rules) != len(rules.Default().Rules) {
		t.Fatalf("an empty file is the default: %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(p, rules.DefaultYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(p)
	if err != nil || rs.Source != p || rs.Digest == "" {
		t.Fatalf("Load: %v %+v", err, rs)
	}
	if _, err := rules.Load(filepath.Join(dir, "missing.yaml")); err == nil || errors.Is(err, rules.ErrInvalid) {
		t.Fatalf("a missing file is not an invalid one: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(rules.DefaultYAML())
	f.Add([]byte("ladder: {monitor: 1, challenge: 2, block: 3}\nrules: [{name: x, when: 'score > 1', action: BLOCK}]"))
	f.Add([]byte("allow: {cidrs: ['::/0']}"))
	f.Add([]byte("rules: [{name: x, when: 'features[\"a\"] > 1', action: BLOCK}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := rules.Parse(b, "fuzz")
		if err != nil {
			if !errors.Is(err, rules.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		env := rules.NewEnv(&eventpb.Score{Subject: "ip:192.0.2.1", Score: 50}, rules.Crawler{})
		for _, r := range rs.Rules {
			_, _ = r.Match(nil, &env)
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	rs := rules.Default()
	s := score("ip:192.0.2.1", 60, map[string]float64{"login_failures_1m": 3, "rate_1m": 2}, "POST", "/login", "curl/8")
	env := rules.NewEnv(s, rules.Crawler{})
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range rs.Rules {
			_, _ = r.Match(nil, &env)
		}
	}
}
