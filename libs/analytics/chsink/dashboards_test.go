package chsink_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/analytics/dashboards"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// TestDashboardQueries runs every panel's SQL of dashboards/*.json, with the
// plugin's macros expanded for 18.16, against data the sink wrote, and wants
// each to return rows.
func TestDashboardQueries(t *testing.T) {
	boards, err := dashboards.LoadDir(filepath.Join("..", "..", "..", "dashboards"))
	if err != nil {
		t.Fatal(err)
	}
	if len(boards) < 5 {
		t.Fatalf("%d dashboards, want overview, subject, rules, pipeline, savings", len(boards))
	}
	e := newEnv(t, "dash")
	ctx := context.Background()
	at := base.UnixNano()
	sec := int64(time.Second)
	mk := func(topic, key string, m proto.Message) *kgo.Record {
		r := &kgo.Record{Topic: topic, Key: []byte(key)}
		if m != nil {
			r.Value, _ = proto.Marshal(m)
		}
		return r
	}
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, mk(e.kcfg.Topics.Scores, "ip:203.0.113.7", &eventpb.Score{Subject: "ip:203.0.113.7",
			TimeUnixNano: at + int64(i)*5*sec, Score: 80 + float64(i), Scorer: "weighted/v1",
			Features: map[string]float64{"rate_10s": 40 + float64(i), "login_failures_1m": 3, "no_static_assets": 1},
			Reasons:  []string{"rate_10s=48/s", "no_static_assets"}, Trigger: request(7),
			ModelScore: proto.Float64(0.5 + float64(i)/50), Model: "gbdt-0123456789ab/shadow"}))
	}
	recs = append(recs,
		mk(e.kcfg.Topics.Verdicts, "ip:203.0.113.7", &eventpb.Verdict{Subject: "ip:203.0.113.7", Action: eventpb.Action_BLOCK, Score: 96.5,
			Reasons: []string{"rate_10s=48/s", "no_static_assets"}, AtUnixNano: at - sec, ExpiresAtUnixNano: at + 3600*sec, Origin: eventpb.Origin_COMPUTED, Rule: "ladder"}),
		mk(e.kcfg.Topics.Verdicts, "ip:203.0.113.9", &eventpb.Verdict{Subject: "ip:203.0.113.9", Action: eventpb.Action_CHALLENGE, Score: 71,
			Reasons: []string{"login_failures_1m=12"}, AtUnixNano: at - sec, Origin: eventpb.Origin_COMPUTED, Rule: "login_stuffing"}),
		mk(e.kcfg.Topics.Verdicts, "ip:203.0.113.8", &eventpb.Verdict{Subject: "ip:203.0.113.8", Action: eventpb.Action_MONITOR,
			WouldBe: eventpb.Action_BLOCK, Score: 90, Reasons: []string{"rate_10s=30/s"}, AtUnixNano: at - sec, Rule: "ladder"}),
		mk(e.kcfg.Topics.Verdicts, "ip:203.0.113.3", &eventpb.Verdict{Subject: "ip:203.0.113.3", Action: eventpb.Action_BLOCK, Score: 20,
			Reasons: []string{"bot_policy", "bot=gptbot category=ai-training policy=block"}, AtUnixNano: at - sec, ExpiresAtUnixNano: at + 3600*sec, Origin: eventpb.Origin_COMPUTED, Rule: "bot_policy"}),
		mk(e.kcfg.Topics.RequestsDLQ, "/var/log/nginx/access.log", &eventpb.DeadLetter{Raw: []byte("\x16\x03\x01 garbage"), Reason: "bad_syntax",
			Detail: "no request line", Source: "/var/log/nginx/access.log", ReceivedUnixNano: at + 10*sec}),
	)
	for i := range 3 {
		a := &eventpb.Attack{Id: "login-failures-t", EndpointClass: "login", Signal: "failures", StartedUnixNano: at,
			TimeUnixNano: at + int64(i)*300*sec, Strength: 40 + float64(i), Observed: 0.8, Expected: 0.02, Source: "aggregator",
			Fingerprints: []string{"02f1bea35578836f"}, Enforcing: i < 2, Reason: "login failure ratio 0.80 vs baseline 0.02"}
		if i == 2 {
			a.EndedUnixNano, a.Source = a.TimeUnixNano, "operator"
		}
		recs = append(recs, mk(e.kcfg.Topics.Attacks, a.Id, a))
	}
	recs = append(recs, mk(e.kcfg.Topics.Attacks, "cart-operator-t", &eventpb.Attack{Id: "cart-operator-t", EndpointClass: "cart", Signal: "operator",
		StartedUnixNano: at, TimeUnixNano: at, UntilUnixNano: at + 1800*sec, Enforcing: true, Source: "operator", Reason: "forced"}))
	for i, k := range []eventpb.FeedbackKind{eventpb.FeedbackKind_CHALLENGE_ISSUED, eventpb.FeedbackKind_CHALLENGE_PASSED,
		eventpb.FeedbackKind_CHALLENGE_ISSUED, eventpb.FeedbackKind_CHALLENGE_FAILED} {
		nonce := []string{"n1", "n2"}[i/2]
		recs = append(recs, mk(e.kcfg.Topics.Feedback, "ip:203.0.113.9", &eventpb.Feedback{Subject: "ip:203.0.113.9", Kind: k,
			TimeUnixNano: at + int64(i)*sec, Challenge: "pow", Level: 1, SolveMillis: 900, Rule: "login_stuffing", Nonce: nonce}))
	}
	cl := kafkatest.Client(t, e.broker)
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// The shop's robots.txt forbids GPTBot the product pages.
	robotsFile := filepath.Join(t.TempDir(), "robots.txt")
	if err := os.WriteFile(robotsFile, []byte("User-agent: GPTBot\nDisallow: /p/1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.cfg.Robots = "shop.example=" + robotsFile
	e.start(nil)
	waitCount := func(q string, want uint64) {
		t.Helper()
		testkit.Eventually(t, 60*time.Second, fmt.Sprintf("%s to reach %d", q, want), func() bool { return e.count(q) >= want })
	}
	waitCount("SELECT count() FROM dash.verdicts", 4)
	// Requests after the verdicts, so the sink marks the blocked client's.
	e.produce(0, 3000)
	if err := cl.ProduceSync(ctx, mk(e.kcfg.Topics.Verdicts, "ip:203.0.113.9", nil)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.waitRows(3000, 60*time.Second)
	waitCount("SELECT count() FROM dash.verdicts", 5)
	// Every fifth request declares GPTBot: the sink names the bot and its
	// category, and marks those robots.txt forbids it: of GPTBot's paths
	// /p/3, /p/8, /p/13 and /p/18, the last two are under /p/1.
	if n := e.count("SELECT count() FROM dash.requests FINAL WHERE bot = 'gptbot' AND bot_category = 'ai-training'"); n != 600 {
		t.Fatalf("requests declaring gptbot: %d, want 600", n)
	}
	if n := e.count("SELECT count() FROM dash.requests FINAL WHERE robots_disallowed = 1"); n != 300 {
		t.Fatalf("requests against robots.txt: %d, want 300", n)
	}
	waitCount("SELECT count() FROM dash.scores", 20)
	waitCount("SELECT count() FROM dash.dead_letters", 1)
	waitCount("SELECT count() FROM dash.feedback", 4)
	waitCount("SELECT count() FROM dash.attacks", 4)

	// Pipeline samples as the sink's stats loop records them.
	b, err := e.conn.PrepareBatch(ctx, "INSERT INTO dash.pipeline_metrics (time, source, name, labels, value)")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		ts := base.Add(time.Duration(i) * 20 * time.Second)
		_ = b.Append(ts, "bulwark-aggregator", "consumer_lag", "topic=bulwark.requests.v1", float64(100-i*10))
		_ = b.Append(ts, "sidecar:8480", "bulwark_sidecar_lookups_total", "action=ALLOW,api=authz", float64(1000*i))
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}

	from, to := base.Add(-10*time.Minute), base.Add(time.Hour)
	for _, d := range boards {
		vars := d.Variables()
		vars["database"] = "dash"
		qs := d.Queries()
		if len(qs) == 0 {
			t.Errorf("%s: no queries", d.File)
		}
		for _, q := range qs {
			if strings.Contains(q.SQL, "toStartOfInterval") {
				t.Errorf("%s / %s: use $__timeInterval, not toStartOfInterval (18.16 lacks it)", d.Title, q.Panel)
			}
			sql := dashboards.Expand(q.SQL, from, to, vars)
			if strings.Contains(sql, "$") {
				t.Errorf("%s / %s: unexpanded macro or variable in\n%s", d.Title, q.Panel, sql)
				continue
			}
			rows, err := e.conn.Query(ctx, sql)
			if err != nil {
				t.Errorf("%s / %s: %v\n%s", d.Title, q.Panel, err, sql)
				continue
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil {
				t.Errorf("%s / %s: %v", d.Title, q.Panel, err)
			}
			rows.Close()
			if n == 0 {
				t.Errorf("%s / %s: no rows\n%s", d.Title, q.Panel, sql)
			}
		}
	}
}
