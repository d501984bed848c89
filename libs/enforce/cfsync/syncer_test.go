package cfsync_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/enforce/cfsync"
	"github.com/bulwarkhq/bulwark/libs/enforce/cfsync/cffake"
	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

const (
	token   = "test-token"
	account = "0123456789abcdef0123456789abcdef"
	waitFor = 30 * time.Second
)

type env struct {
	t    testing.TB
	b    *embedkafka.Broker
	cl   *kgo.Client
	fake *cffake.Server
}

func newEnv(t testing.TB, opDelay time.Duration) *env {
	t.Helper()
	b := kafkatest.Start(t)
	fake := cffake.New(cffake.Config{Token: token, AccountID: account, OpDelay: opDelay})
	t.Cleanup(fake.Close)
	return &env{t: t, b: b, cl: kafkatest.Client(t, b), fake: fake}
}

func (e *env) config() cfsync.Config {
	return cfsync.Config{
		APIToken:       token,
		AccountID:      account,
		List:           "bulwark_block",
		BaseURL:        e.fake.BaseURL(),
		SyncInterval:   50 * time.Millisecond,
		Capacity:       10000,
		RateLimit:      100000,
		PollInterval:   10 * time.Millisecond,
		RetryBase:      10 * time.Millisecond,
		RetryMax:       200 * time.Millisecond,
		ResyncInterval: time.Hour,
		ExpirySlack:    time.Hour,
	}
}

// start runs a syncer until the test ends (or stop is called) and waits
// for its first sync.
func (e *env) start(cfg cfsync.Config) (s *cfsync.Syncer, reg *prometheus.Registry, stop func()) {
	e.t.Helper()
	reg = prometheus.NewRegistry()
	s, err := cfsync.New(cfg, kafkatest.Config(e.b), nil, reg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
	}
	e.t.Cleanup(stop)
	select {
	case <-s.Synced():
	case err := <-done:
		e.t.Fatalf("syncer stopped before its first sync: %v", err)
	case <-time.After(waitFor):
		e.t.Fatal("no first sync")
	}
	return s, reg, stop
}

func (e *env) put(subject string, v *eventpb.Verdict) {
	e.t.Helper()
	rec := &kgo.Record{Topic: "bulwark.verdicts.v1", Key: []byte(subject)}
	if v != nil {
		v.Subject = subject
		rec.Value, _ = proto.Marshal(v)
	}
	if err := e.cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

func block(score float64, ttl time.Duration, reasons ...string) *eventpb.Verdict {
	v := &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: score, Reasons: reasons, AtUnixNano: time.Now().UnixNano()}
	if ttl > 0 {
		v.ExpiresAtUnixNano = time.Now().Add(ttl).UnixNano()
	}
	return v
}

// eventually waits until the list holds exactly want.
func (e *env) eventually(list string, want ...string) {
	e.t.Helper()
	slices.Sort(want)
	testkit.Eventually(e.t, waitFor, fmt.Sprintf("list %s to hold %v", list, want), func() bool {
		got := e.fake.IPs(list)
		return slices.Equal(got, want) || len(got) == 0 && len(want) == 0
	})
}

func TestStartupReconcile(t *testing.T) {
	e := newEnv(t, 20*time.Millisecond)
	keepExp := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	e.fake.Seed("bulwark_block",
		cffake.Item{IP: "192.0.2.1", Comment: "bulwark BLOCK score=90 expires=2020-01-01T00:00:00Z"}, // stale
		cffake.Item{IP: "198.51.100.0/24", Comment: "added by hand"},                                 // foreign
		cffake.Item{IP: "192.0.2.7", Comment: "bulwark BLOCK score=99 expires=" + keepExp.UTC().Format(time.RFC3339)},
	)
	before := e.fake.Items("bulwark_block")
	e.put("ip:192.0.2.7", &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 99, ExpiresAtUnixNano: keepExp.UnixNano()})
	e.put("ip:203.0.113.9", block(80, time.Hour, "rate_10s=48/s"))
	e.put("net:203.0.113.0/28", block(70, 0))
	e.put("session:abc", block(99, time.Hour)) // not enforceable at the edge
	_, reg, _ := e.start(e.config())
	e.eventually("bulwark_block", "192.0.2.7", "203.0.113.0/28", "203.0.113.9")

	after := e.fake.Items("bulwark_block")
	if before[1].IP != "192.0.2.7" || after[0].ID != before[1].ID || after[0].ModifiedOn != before[1].ModifiedOn {
		t.Errorf("item 192.0.2.7 was rewritten although it was already listed: before %+v, after %+v", before[1], after[0])
	}
	st := e.fake.Stats()
	if st.ItemsAdded != 2 || st.ItemsRemoved != 2 || st.ItemsUpdated != 0 {
		t.Errorf("added %d, removed %d, updated %d items; want only the difference: 2, 2, 0", st.ItemsAdded, st.ItemsRemoved, st.ItemsUpdated)
	}
	if st.ByRoute["PUT items"] != 0 {
		t.Errorf("the syncer replaced the whole list (%d PUT)", st.ByRoute["PUT items"])
	}
	for _, it := range after {
		if it.IP == "203.0.113.9" && !strings.Contains(it.Comment, "rate_10s=48/s") || !strings.Contains(it.Comment, "expires=") {
			t.Errorf("item %s comment %q lacks the reason or expiry", it.IP, it.Comment)
		}
	}
	if got := (testkit.Metric(t, reg, "bulwark_blockset_skipped_total")); got != 1 {
		t.Errorf("skipped sessions = %v, want 1", got)
	}
}

func TestBlockUnblockExpiry(t *testing.T) {
	e := newEnv(t, 10*time.Millisecond)
	e.start(e.config())
	e.eventually("bulwark_block")

	e.put("ip:192.0.2.10", block(90, time.Hour))
	e.put("ip:192.0.2.11", block(90, time.Hour))
	e.put("ip:192.0.2.12", block(90, 1500*time.Millisecond)) // expires by itself
	e.eventually("bulwark_block", "192.0.2.10", "192.0.2.11", "192.0.2.12")

	e.put("ip:192.0.2.10", nil) // unblock: tombstone
	e.put("ip:192.0.2.11", &eventpb.Verdict{Action: eventpb.Action_MONITOR, Score: 40})
	e.eventually("bulwark_block")

	// Operator overrides, as `bulwark block|allow|unblock` write them.
	ctx := context.Background()
	kcfg := kafkatest.Config(e.b)
	operator := func(a eventpb.Action, sub string) {
		e.t.Helper()
		key, v, err := overrides.Verdict(a, sub, time.Hour, "test", time.Now())
		if err == nil {
			err = overrides.Write(ctx, kcfg, key, v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	operator(eventpb.Action_BLOCK, "198.51.100.0/24")
	operator(eventpb.Action_BLOCK, "2001:db8::7")
	e.eventually("bulwark_block", "198.51.100.0/24", "2001:db8::/64")
	operator(eventpb.Action_ALLOW, "198.51.100.0/24")
	if err := overrides.Write(ctx, kcfg, "ip:2001:db8::7", nil); err != nil { // unblock
		t.Fatal(err)
	}
	e.eventually("bulwark_block")
}

func TestIPv6MergeAndWidening(t *testing.T) {
	e := newEnv(t, 10*time.Millisecond)
	e.put("ip:2001:db8::1", block(90, time.Hour, "a"))
	e.put("ip:2001:db8::2", block(95, 2*time.Hour, "b"))
	e.put("net:2001:db8:1::/48", block(80, 0))
	e.put("net:2001:db8:2::/96", block(80, 0))
	e.put("net:10.0.0.0/4", block(80, 0)) // too wide for a list
	e.put("ip:::ffff:192.0.2.5", block(80, 0))
	_, reg, _ := e.start(e.config())
	e.eventually("bulwark_block", "192.0.2.5", "2001:db8:1::/48", "2001:db8:2::/64", "2001:db8::/64")
	for _, it := range e.fake.Items("bulwark_block") {
		if it.IP == "2001:db8::/64" && !(strings.Contains(it.Comment, "subjects=2") && strings.Contains(it.Comment, "score=95")) {
			t.Errorf("merged /64 comment = %q, want both subjects and the highest score", it.Comment)
		}
	}
	if got := (testkit.Metric(t, reg, "bulwark_cfsync_unlistable_subjects")); got != 1 {
		t.Errorf("unlistable = %v, want 1", got)
	}
	// The /64 stays while any of its subjects is blocked.
	e.put("ip:2001:db8::1", nil)
	e.put("ip:::ffff:192.0.2.5", nil)
	e.eventually("bulwark_block", "2001:db8:1::/48", "2001:db8:2::/64", "2001:db8::/64")
	e.put("ip:2001:db8::2", nil)
	e.eventually("bulwark_block", "2001:db8:1::/48", "2001:db8:2::/64")
}

func TestResyncUndoesEditsByHand(t *testing.T) {
	e := newEnv(t, 10*time.Millisecond)
	e.put("ip:192.0.2.1", block(90, time.Hour))
	cfg := e.config()
	cfg.ResyncInterval = 300 * time.Millisecond
	e.start(cfg)
	e.eventually("bulwark_block", "192.0.2.1")
	e.fake.Seed("bulwark_block", cffake.Item{IP: "198.51.100.7", Comment: "added in the dashboard"})
	e.eventually("bulwark_block", "192.0.2.1")
}

func TestCapacityOverflow(t *testing.T) {
	e := newEnv(t, 10*time.Millisecond)
	e.fake.Seed("someone_elses_list", cffake.Item{IP: "198.51.100.1"}, cffake.Item{IP: "198.51.100.2"})
	e.put("ip:192.0.2.1", block(10, time.Hour))
	e.put("ip:192.0.2.2", block(99, time.Hour))
	e.put("ip:192.0.2.3", block(50, time.Hour))
	e.put("ip:192.0.2.4", block(50, 0)) // same score, never expires: outlives .3
	e.put("ip:192.0.2.5", block(20, time.Hour))
	cfg := e.config()
	cfg.Capacity = 5 // 2 are held by the other list
	_, reg, _ := e.start(cfg)
	e.eventually("bulwark_block", "192.0.2.2", "192.0.2.3", "192.0.2.4")
	if got := (testkit.Metric(t, reg, "bulwark_cfsync_overflow_items")); got != 2 {
		t.Errorf("overflow = %v, want 2", got)
	}
	e.put("ip:192.0.2.4", nil) // room frees up: the next best moves in
	e.eventually("bulwark_block", "192.0.2.2", "192.0.2.3", "192.0.2.5")
}

func TestStormsAndOutagesConverge(t *testing.T) {
	e := newEnv(t, 20*time.Millisecond)
	_, reg, _ := e.start(e.config())

	e.fake.Storm(15, 0)
	e.put("ip:192.0.2.1", block(90, time.Hour))
	e.eventually("bulwark_block", "192.0.2.1")

	e.fake.Outage(503)
	backoffs := testkit.Metric(t, reg, "bulwark_cfsync_backoffs_total")
	e.put("ip:192.0.2.2", block(90, time.Hour))
	e.put("ip:192.0.2.1", nil)
	testkit.Eventually(t, waitFor, "the syncer to meet the outage and back off", func() bool {
		return testkit.Metric(t, reg, "bulwark_cfsync_backoffs_total") > backoffs
	})
	e.fake.Outage(0)
	e.eventually("bulwark_block", "192.0.2.2")

	// A Retry-After holds every request back, not only the one answered.
	e.fake.Storm(2, time.Second)
	start := time.Now()
	e.put("ip:192.0.2.4", block(90, time.Hour))
	e.eventually("bulwark_block", "192.0.2.2", "192.0.2.4")
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("converged %s after a 429 with Retry-After: 1, before the server allowed it", d)
	}

	e.fake.FailOperations(2)
	e.put("ip:192.0.2.3", block(90, time.Hour))
	e.eventually("bulwark_block", "192.0.2.2", "192.0.2.3", "192.0.2.4")

	if got := (testkit.Metric(t, reg, "bulwark_cfsync_api_errors_total", "code", "503")); got == 0 {
		t.Error("the outage's 503s were not counted")
	}
	if got := (testkit.Metric(t, reg, "bulwark_cfsync_bulk_operations_total", "status", "failed")); got != 2 {
		t.Errorf("failed operations = %v, want 2", got)
	}
}

func TestOnePendingOperationPerAccount(t *testing.T) {
	// Another writer's operation is pending on the account: the syncer's
	// write gets 429 and is queued behind it, never lost.
	e := newEnv(t, 300*time.Millisecond)
	e.start(e.config())
	e.fake.Seed("other_tool_list")
	if err := e.fake.StartForeignOperation("other_tool_list", "198.51.100.9"); err != nil {
		t.Fatal(err)
	}
	e.put("ip:192.0.2.1", block(90, time.Hour))
	e.eventually("bulwark_block", "192.0.2.1")
	if e.fake.Stats().Rejected429 == 0 {
		t.Error("the syncer's write never met the pending operation")
	}
}

func TestRestartConvergesWithoutRewriting(t *testing.T) {
	e := newEnv(t, 10*time.Millisecond)
	for i, s := range []string{"ip:192.0.2.1", "ip:192.0.2.2", "net:198.51.100.0/24", "ip:2001:db8::1"} {
		e.put(s, block(float64(50+i), time.Hour, "r"))
	}
	_, _, stop := e.start(e.config())
	e.eventually("bulwark_block", "192.0.2.1", "192.0.2.2", "198.51.100.0/24", "2001:db8::/64")
	stop()
	before := e.fake.Stats()

	// A newer verdict that moves the expiry a little changes the comment
	// only: not worth a write.
	e.put("ip:192.0.2.1", block(50, time.Hour+time.Minute, "r", "more"))
	_, reg, _ := e.start(e.config()) // returns after the first sync, which saw that verdict
	// Proof that nothing more follows from it: a later verdict is synced
	// by a later write, and that write is the only one.
	e.put("ip:192.0.2.9", block(50, time.Hour, "r"))
	e.eventually("bulwark_block", "192.0.2.1", "192.0.2.2", "192.0.2.9", "198.51.100.0/24", "2001:db8::/64")
	after := e.fake.Stats()
	if n := after.Operations - before.Operations; n != 1 {
		t.Errorf("restart wrote %d bulk operations, want only the later verdict's", n)
	}
	if n := testkit.Metric(t, reg, "bulwark_cfsync_items_rewritten_total", "list", "bulwark_block"); n != 0 {
		t.Errorf("restart rewrote %v items, want none", n)
	}
	if n := after.ByRoute["GET items"] - before.ByRoute["GET items"]; n != 1 {
		t.Errorf("restart read %d pages, want 1", n)
	}
}

func TestConfigValidate(t *testing.T) {
	f := func(mut func(*cfsync.Config), wantVar string) {
		t.Helper()
		cfg := cfsync.Config{APIToken: "t", AccountID: "a", List: "bulwark_block", BaseURL: cfsync.DefaultBaseURL,
			SyncInterval: time.Second, Capacity: 10, RateLimit: 10, PollInterval: time.Second, RetryBase: time.Second,
			RetryMax: time.Minute, ResyncInterval: time.Minute}
		mut(&cfg)
		err := cfg.Validate()
		if wantVar == "" {
			if err != nil {
				t.Errorf("Validate: %v", err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), wantVar) {
			t.Errorf("Validate = %v, want an error naming %s", err, wantVar)
		}
	}
	f(func(*cfsync.Config) {}, "")
	f(func(c *cfsync.Config) { c.APIToken = "" }, "BULWARK_CLOUDFLARE_API_TOKEN")
	f(func(c *cfsync.Config) { c.AccountID = "" }, "BULWARK_CLOUDFLARE_ACCOUNT_ID")
	f(func(c *cfsync.Config) { c.List = "Bad-Name" }, "BULWARK_CLOUDFLARE_LIST")
	f(func(c *cfsync.Config) { c.ChallengeList = "bulwark_block" }, "BULWARK_CLOUDFLARE_CHALLENGE_LIST")
	f(func(c *cfsync.Config) { c.BaseURL = "ftp://x" }, "BULWARK_CLOUDFLARE_BASE_URL")
	f(func(c *cfsync.Config) { c.SyncInterval = 0 }, "BULWARK_CLOUDFLARE_SYNC_INTERVAL")
	f(func(c *cfsync.Config) { c.Capacity = 0 }, "BULWARK_CLOUDFLARE_CAPACITY")
	f(func(c *cfsync.Config) { c.RetryMax = time.Millisecond }, "BULWARK_CLOUDFLARE_RETRY_MAX")
}

func TestChallengeList(t *testing.T) {
	e := newEnv(t, 10*time.Millisecond)
	e.put("ip:192.0.2.1", block(90, time.Hour))
	e.put("ip:192.0.2.2", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 70})
	e.put("ip:2001:db8::1", block(90, time.Hour))
	e.put("ip:2001:db8::2", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 70}) // same /64: BLOCK wins
	cfg := e.config()
	cfg.ChallengeList = "bulwark_challenge"
	e.start(cfg)
	e.eventually("bulwark_block", "192.0.2.1", "2001:db8::/64")
	e.eventually("bulwark_challenge", "192.0.2.2")
}
