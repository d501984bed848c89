package decider_test

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

type scoreOpt func(*eventpb.Score)

func ua(s string) scoreOpt { return func(sc *eventpb.Score) { sc.Trigger.UserAgent = s } }
func post(path string) scoreOpt {
	return func(sc *eventpb.Score) { sc.Trigger.Method, sc.Trigger.Path = "POST", path }
}
func feat(k string, v float64) scoreOpt { return func(sc *eventpb.Score) { sc.Features[k] = v } }

func mkScore(sub string, at time.Time, score float64, opts ...scoreOpt) *eventpb.Score {
	s := &eventpb.Score{Subject: sub, TimeUnixNano: at.UnixNano(), Score: score, Features: map[string]float64{},
		Reasons: []string{"rate_10s=48/s"},
		Trigger: &eventpb.RequestEvent{Method: "GET", Path: "/", UserAgent: "Mozilla/5.0", ClientIp: strings.TrimPrefix(sub, "ip:")}}
	for _, o := range opts {
		o(s)
	}
	return s
}

func newDecider(t *testing.T, ruleYAML string) *decider.Decider {
	t.Helper()
	rs, err := rules.Parse([]byte(ruleYAML), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := decider.New(rs, decider.Options{Resolver: &fakeResolver{}, SyncCrawlerChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// summary prints changes compactly: "ip:x BLOCK(rule) new" or "ip:x - expire".
func summary(cs []decider.Change) []string {
	var out []string
	for _, c := range cs {
		if c.Verdict == nil {
			out = append(out, c.Subject+" - "+c.Why.String())
			continue
		}
		s := c.Subject + " " + verdict.ActionString(c.Verdict.Action) + "(" + c.Verdict.Rule + ")"
		if c.Verdict.WouldBe != 0 {
			s += "~" + verdict.ActionString(c.Verdict.WouldBe)
		}
		out = append(out, s+" "+c.Why.String())
	}
	return out
}

func expect(t *testing.T, got []decider.Change, want ...string) {
	t.Helper()
	if g := summary(got); !slices.Equal(g, want) {
		t.Fatalf("changes\n got %q\nwant %q", g, want)
	}
}

func TestLadderAndHysteresis(t *testing.T) {
	d := newDecider(t, "rules: []\n")
	ctx := context.Background()
	ip := "ip:203.0.113.7"
	f := func(at time.Duration, score float64, want ...string) {
		t.Helper()
		expect(t, d.Decide(ctx, mkScore(ip, t0.Add(at), score)), want...)
	}
	f(0, 49.9)
	f(time.Second, 50, ip+" MONITOR(ladder) new")
	f(2*time.Second, 69 /* same action, plenty of TTL left */)
	f(3*time.Second, 70, ip+" CHALLENGE(ladder) upgrade")
	f(4*time.Second, 95, ip+" BLOCK(ladder) upgrade")
	// A thousand more scores in the next 29 minutes: nothing is rewritten.
	var n int
	for i := range 1000 {
		n += len(d.Decide(ctx, mkScore(ip, t0.Add(5*time.Second+time.Duration(i)*1700*time.Millisecond), 96)))
	}
	if n != 0 {
		t.Fatalf("%d rewrites of an unchanged BLOCK", n)
	}
	f(10*time.Minute, 75) // weaker: the BLOCK stays
	// Less than half of the 1h TTL left: extend, once.
	f(35*time.Minute, 96, ip+" BLOCK(ladder) extend")
	f(36*time.Minute, 96)
	v := d.Current(ip)
	if got := verdict.ExpiresAt(v); !got.Equal(t0.Add(95 * time.Minute)) {
		t.Fatalf("extended expiry %v", got)
	}
	if v.Score != 96 || v.Origin != eventpb.Origin_COMPUTED || v.Reasons[0] != "score=96" || v.Reasons[1] != "rate_10s=48/s" {
		t.Fatalf("verdict %v", v)
	}
	// Expiry: nothing before, a tombstone at the time, nothing after.
	expect(t, d.Expire(t0.Add(94*time.Minute)))
	if next, ok := d.NextExpiry(); !ok || !next.Equal(t0.Add(95*time.Minute)) {
		t.Fatalf("NextExpiry %v %v", next, ok)
	}
	expect(t, d.Expire(t0.Add(95*time.Minute)), ip+" - expire")
	expect(t, d.Expire(t0.Add(200*time.Minute)))
	if d.Len() != 0 {
		t.Fatalf("%d verdicts held after expiry", d.Len())
	}
}

func TestExpiredBeforeTimerIsReplacedOrTombstoned(t *testing.T) {
	d := newDecider(t, "rules: []\n")
	ctx := context.Background()
	ip := "ip:203.0.113.8"
	expect(t, d.Decide(ctx, mkScore(ip, t0, 75)), ip+" CHALLENGE(ladder) new")
	// 31 minutes later, before any Expire: a new verdict replaces the expired one.
	expect(t, d.Decide(ctx, mkScore(ip, t0.Add(31*time.Minute), 55)), ip+" MONITOR(ladder) new")
	// Past the MONITOR's 10m with a harmless score: its tombstone.
	expect(t, d.Decide(ctx, mkScore(ip, t0.Add(42*time.Minute), 10)), ip+" - expire")
}

func TestRules(t *testing.T) {
	d := newDecider(t, `
rules:
  - name: login_stuffing
    when: 'event.method == "POST" && event.path startsWith "/login" && features.login_failures_1m >= 20'
    action: BLOCK
    ttl: 1h
    reason: login_stuffing
  - name: api
    when: 'event.path startsWith "/api/" && score >= 60'
    action: CHALLENGE
  - name: health
    when: 'event.path == "/healthz"'
    action: ALLOW
ttl: {block: 10m}
`)
	ctx := context.Background()
	f := func(s *eventpb.Score, want ...string) {
		t.Helper()
		expect(t, d.Decide(ctx, s), want...)
	}
	f(mkScore("ip:192.0.2.1", t0, 10, post("/login"), feat("login_failures_1m", 19)))
	f(mkScore("ip:192.0.2.1", t0, 10, post("/login"), feat("login_failures_1m", 20)), "ip:192.0.2.1 BLOCK(login_stuffing) new")
	v := d.Current("ip:192.0.2.1")
	if verdict.ExpiresAt(v).Sub(verdict.At(v)) != time.Hour || v.Reasons[0] != "login_stuffing" {
		t.Fatalf("rule TTL and reason: %v", v)
	}
	s := mkScore("ip:192.0.2.2", t0, 60)
	s.Trigger.Path = "/api/items"
	f(s, "ip:192.0.2.2 CHALLENGE(api) new")
	s = mkScore("ip:192.0.2.3", t0, 95)
	s.Trigger.Path = "/api/items"
	f(s, "ip:192.0.2.3 BLOCK(ladder) new") // the ladder's BLOCK is stronger than the rule
	s = mkScore("ip:192.0.2.3", t0.Add(time.Second), 99)
	s.Trigger.Path = "/healthz"
	f(s, "ip:192.0.2.3 - lift") // an ALLOW rule exempts and lifts
}

func TestAllowListBeatsRules(t *testing.T) {
	yaml := `
allow: {cidrs: [10.0.0.0/8], subjects: ["session:probe"]}
rules:
  - name: login_stuffing
    when: 'features.login_failures_1m >= 20'
    action: BLOCK
`
	d := newDecider(t, yaml)
	ctx := context.Background()
	expect(t, d.Decide(ctx, mkScore("ip:10.1.2.3", t0, 99, feat("login_failures_1m", 50))))
	expect(t, d.Decide(ctx, mkScore("net:10.1.2.0/24", t0, 99)))
	expect(t, d.Decide(ctx, mkScore("session:probe", t0, 99)))
	expect(t, d.Decide(ctx, mkScore("ip:11.1.2.3", t0, 99, feat("login_failures_1m", 50))), "ip:11.1.2.3 BLOCK(login_stuffing) new")
	// Allowing it in a new rule file lifts the verdict at its next score.
	rs, err := rules.Parse([]byte(strings.Replace(yaml, "10.0.0.0/8", "10.0.0.0/8, 11.0.0.0/8", 1)), "t2")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetRules(rs); err != nil {
		t.Fatal(err)
	}
	expect(t, d.Decide(ctx, mkScore("ip:11.1.2.3", t0.Add(time.Second), 99)), "ip:11.1.2.3 - lift")
}

func operator(sub string, a eventpb.Action, at time.Time, ttl time.Duration) *eventpb.Verdict {
	return &eventpb.Verdict{Subject: sub, Action: a, Score: 100, Reasons: []string{"operator"}, AtUnixNano: at.UnixNano(),
		ExpiresAtUnixNano: at.Add(ttl).UnixNano(), Origin: eventpb.Origin_OPERATOR, Rule: "operator"}
}

func TestOverridesBeatComputedAndExpire(t *testing.T) {
	d := newDecider(t, "rules: []\noverrides: {unblock_grace: 15m}\n")
	ctx := context.Background()
	ip := "ip:198.51.100.4"
	expect(t, d.Decide(ctx, mkScore(ip, t0, 95)), ip+" BLOCK(ladder) new")

	// An operator allows it for 10 minutes: no computed verdict meanwhile.
	d.Observe(ip, operator(ip, eventpb.Action_ALLOW, t0.Add(time.Minute), 10*time.Minute), t0.Add(time.Minute))
	expect(t, d.Decide(ctx, mkScore(ip, t0.Add(2*time.Minute), 99)))
	expect(t, d.Expire(t0.Add(10*time.Minute)))
	expect(t, d.Expire(t0.Add(11*time.Minute)), ip+" - expire")
	expect(t, d.Decide(ctx, mkScore(ip, t0.Add(12*time.Minute), 99)), ip+" BLOCK(ladder) new")

	// An operator blocks a harmless client: kept until it expires.
	ip2 := "ip:198.51.100.5"
	d.Observe(ip2, operator(ip2, eventpb.Action_BLOCK, t0, time.Hour), t0)
	expect(t, d.Decide(ctx, mkScore(ip2, t0.Add(time.Minute), 1)))
	if v := d.Current(ip2); v.Origin != eventpb.Origin_OPERATOR || v.Action != eventpb.Action_BLOCK {
		t.Fatalf("override replaced: %v", v)
	}

	// Unblock (a tombstone): no re-block from the aggregator's stale windows
	// during the grace period, then computed verdicts resume.
	d.Observe(ip, nil, t0.Add(13*time.Minute))
	if d.Current(ip) != nil {
		t.Fatal("unblock did not lift")
	}
	expect(t, d.Decide(ctx, mkScore(ip, t0.Add(14*time.Minute), 99)))
	expect(t, d.Decide(ctx, mkScore(ip, t0.Add(27*time.Minute), 99)))
	expect(t, d.Decide(ctx, mkScore(ip, t0.Add(28*time.Minute), 99)), ip+" BLOCK(ladder) new")

	// An operator ALLOW on a network covers the addresses in it.
	d.Observe("net:192.0.2.0/24", operator("net:192.0.2.0/24", eventpb.Action_ALLOW, t0, time.Hour), t0)
	expect(t, d.Decide(ctx, mkScore("ip:192.0.2.9", t0.Add(time.Minute), 99)))
	expect(t, d.Decide(ctx, mkScore("ip:192.0.3.9", t0.Add(time.Minute), 99)), "ip:192.0.3.9 BLOCK(ladder) new")
	// An operator ALLOW on an address keeps its network from being judged.
	d.Observe("ip:192.0.4.4", operator("ip:192.0.4.4", eventpb.Action_ALLOW, t0, time.Hour), t0)
	expect(t, d.Decide(ctx, mkScore("net:192.0.4.0/24", t0.Add(time.Minute), 99)))
	expect(t, d.Decide(ctx, mkScore("net:192.0.5.0/24", t0.Add(time.Minute), 99)), "net:192.0.5.0/24 BLOCK(ladder) new")
	sess := mkScore("session:abc", t0.Add(time.Minute), 99)
	sess.Trigger.ClientIp = "192.0.4.4"
	expect(t, d.Decide(ctx, sess))
}

func TestCrawlers(t *testing.T) {
	d := newDecider(t, "")
	ctx := context.Background()
	google := "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	// Real Googlebot: from the published ranges, or by reverse DNS. Never blocked.
	expect(t, d.Decide(ctx, mkScore("ip:66.249.66.1", t0, 99, ua(google))))
	expect(t, d.Decide(ctx, mkScore("ip:203.0.113.10", t0, 99, ua(google))))
	// Fake: a bot borrowing the name. Blocked by the fake_crawler rule, even with a low score.
	got := d.Decide(ctx, mkScore("ip:192.0.2.66", t0, 20, ua(google)))
	expect(t, got, "ip:192.0.2.66 BLOCK(fake_crawler) new")
	if r := got[0].Verdict.Reasons; r[0] != "fake_crawler" {
		t.Fatalf("reasons %q", r)
	}
	expect(t, d.Decide(ctx, mkScore("ip:203.0.113.11", t0, 20, ua("bingbot/2.0"))), "ip:203.0.113.11 BLOCK(fake_crawler) new")
	// Without the rule, a fake crawler still carries the reason.
	d2 := newDecider(t, "rules: []\n")
	got = d2.Decide(ctx, mkScore("ip:192.0.2.66", t0, 75, ua(google)))
	if len(got) != 1 || !slices.Contains(got[0].Verdict.Reasons, "fake_crawler") {
		t.Fatalf("fake crawler reason missing: %q", summary(got))
	}
}

func TestLearningMode(t *testing.T) {
	d := newDecider(t, "learning: true\n")
	ctx := context.Background()
	ip := "ip:203.0.113.20"
	var all []decider.Change
	for i, sc := range []float64{55, 75, 95, 95, 60} {
		all = append(all, d.Decide(ctx, mkScore(ip, t0.Add(time.Duration(i)*time.Second), sc))...)
	}
	all = append(all, d.Decide(ctx, mkScore("ip:192.0.2.66", t0, 10, ua("Googlebot/2.1")))...)
	expect(t, all, ip+" MONITOR(ladder)~MONITOR new", ip+" MONITOR(ladder)~CHALLENGE upgrade", ip+" MONITOR(ladder)~BLOCK upgrade",
		"ip:192.0.2.66 MONITOR(fake_crawler)~BLOCK new")
	for _, c := range all {
		if c.Verdict.Action != eventpb.Action_MONITOR || !slices.Contains(c.Verdict.Reasons, "would_be="+verdict.ActionString(c.Verdict.WouldBe)) {
			t.Fatalf("learning verdict %v", c.Verdict)
		}
	}
	// Leaving learning mode enforces at the next score.
	if err := d.SetRules(rules.Default()); err != nil {
		t.Fatal(err)
	}
	expect(t, d.Decide(ctx, mkScore(ip, t0.Add(time.Minute), 95)), ip+" BLOCK(ladder) upgrade")
}

func TestRuleLearningMode(t *testing.T) {
	d := newDecider(t, `
rules:
  - name: trial
    when: features.enum_10m >= 10
    action: BLOCK
    learning: true
`)
	ctx := context.Background()
	// The trial rule alone: MONITOR, would be BLOCK.
	expect(t, d.Decide(ctx, mkScore("ip:192.0.2.1", t0, 10, feat("enum_10m", 12))), "ip:192.0.2.1 MONITOR(trial)~BLOCK new")
	// With a CHALLENGE from the ladder: the CHALLENGE is enforced, the trial says BLOCK.
	expect(t, d.Decide(ctx, mkScore("ip:192.0.2.2", t0, 75, feat("enum_10m", 12))), "ip:192.0.2.2 CHALLENGE(trial)~BLOCK new")
	// The ladder alone is enforced as usual.
	expect(t, d.Decide(ctx, mkScore("ip:192.0.2.3", t0, 95, feat("enum_10m", 12))), "ip:192.0.2.3 BLOCK(ladder) new")
}

func TestRepeatOffenders(t *testing.T) {
	d := newDecider(t, "rules: []\nttl: {block: 1h}\nescalation: {factor: 2, max_ttl: 3h, window: 24h}\n")
	ctx := context.Background()
	ip := "ip:203.0.113.30"
	at := t0
	for i, want := range []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour} {
		cs := d.Decide(ctx, mkScore(ip, at, 95))
		if len(cs) != 1 {
			t.Fatalf("offence %d: %q", i+1, summary(cs))
		}
		v := cs[0].Verdict
		if got := verdict.ExpiresAt(v).Sub(at); got != want {
			t.Fatalf("offence %d: TTL %v, want %v", i+1, got, want)
		}
		if i > 0 && !slices.Contains(v.Reasons, "repeat_offender="+string(rune('1'+i))) {
			t.Fatalf("offence %d reasons %q", i+1, v.Reasons)
		}
		at = verdict.ExpiresAt(v)
		expect(t, d.Expire(at), ip+" - expire")
		at = at.Add(time.Minute)
	}
	// A restarted decider restores the count from the reasons.
	v := d.Decide(ctx, mkScore(ip, at, 95))[0].Verdict
	d2 := newDecider(t, "rules: []\nttl: {block: 1h}\nescalation: {factor: 2, max_ttl: 3h, window: 24h}\n")
	d2.Restore(ip, v)
	expect(t, d2.Decide(ctx, mkScore(ip, at.Add(time.Minute), 95)))
	expect(t, d2.Expire(verdict.ExpiresAt(v)), ip+" - expire")
	v = d2.Decide(ctx, mkScore(ip, verdict.ExpiresAt(v).Add(time.Minute), 95))[0].Verdict
	if !slices.Contains(v.Reasons, "repeat_offender=5") {
		t.Fatalf("after restore: %q", v.Reasons)
	}
}

func TestRestore(t *testing.T) {
	d := newDecider(t, "rules: []\n")
	ctx := context.Background()
	v := d.Decide(ctx, mkScore("ip:192.0.2.1", t0, 95))[0].Verdict
	d2 := newDecider(t, "rules: []\n")
	d2.Restore("ip:192.0.2.1", v)
	d2.Restore("ip:192.0.2.2", operator("ip:192.0.2.2", eventpb.Action_BLOCK, t0, time.Hour))
	d2.Restore("ip:192.0.2.3", v)
	d2.Restore("ip:192.0.2.3", nil)
	if d2.Len() != 2 {
		t.Fatalf("held %d", d2.Len())
	}
	expect(t, d2.Decide(ctx, mkScore("ip:192.0.2.1", t0.Add(time.Second), 95)))
	expect(t, d2.Decide(ctx, mkScore("ip:192.0.2.2", t0.Add(time.Second), 10)))
	expect(t, d2.Expire(t0.Add(time.Hour)), "ip:192.0.2.1 - expire", "ip:192.0.2.2 - expire")
}

func TestBadScores(t *testing.T) {
	d := newDecider(t, "")
	ctx := context.Background()
	expect(t, d.Decide(ctx, &eventpb.Score{Subject: "nonsense", Score: 99, TimeUnixNano: t0.UnixNano()}))
	expect(t, d.Decide(ctx, &eventpb.Score{Subject: "ip:203.0.113.9", Score: 99})) // no event time
	expect(t, d.Decide(ctx, &eventpb.Score{Subject: "203.0.113.9", Score: 99, TimeUnixNano: t0.UnixNano()}), "ip:203.0.113.9 BLOCK(ladder) new")
	expect(t, d.Decide(ctx, &eventpb.Score{Subject: "session:abc", Score: 75, TimeUnixNano: t0.UnixNano()}), "session:abc CHALLENGE(ladder) new")
}

// fakeResolver: 203.0.113.10 is a real Googlebot and 203.0.113.20 a real
// AhrefsBot by reverse DNS; nothing else resolves.
type fakeResolver struct{}

var fakePTR = map[string]string{"203.0.113.10": "crawl-203-0-113-10.googlebot.com", "203.0.113.20": "ip-203-0-113-20.ahrefs.com"}

func (fakeResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	if n, ok := fakePTR[addr]; ok {
		return []string{n + "."}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
}

func (fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	for a, n := range fakePTR {
		if n == host {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestTombstoneOfExpiredVerdictIsNoUnblock(t *testing.T) {
	d := newDecider(t, "rules: []\n")
	ctx := context.Background()
	ip := "ip:198.51.100.40"
	expect(t, d.Decide(ctx, mkScore(ip, t0, 95)), ip+" BLOCK(ladder) new")
	// Another replica's expiry tombstone, read after the verdict ran out.
	d.Observe(ip, nil, t0.Add(61*time.Minute))
	expect(t, d.Decide(ctx, mkScore(ip, t0.Add(62*time.Minute), 95)), ip+" BLOCK(ladder) new")
}
