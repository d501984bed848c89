package chsink_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/analytics/chschema/chtest"
	"github.com/bulwarkhq/bulwark/libs/analytics/chsink"
	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

var server *chtest.Server

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "chsink-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !testing.Short() {
		server, err = chtest.Start(dir)
		if err != nil && !errors.Is(err, chtest.ErrNoServer) {
			fmt.Fprintln(os.Stderr, "start clickhouse:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	if server != nil {
		server.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testLog() *slog.Logger {
	if os.Getenv("CHSINK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return quiet
}

type env struct {
	t      testing.TB
	broker *embedkafka.Broker
	kcfg   kafka.Config
	cfg    chsink.Config
	conn   driver.Conn
	db     string
}

func newEnv(t testing.TB, db string, opts ...kafkatest.Option) *env {
	t.Helper()
	if server == nil {
		t.Skip("needs Debian's clickhouse-server (not installed, or -short)")
	}
	b := kafkatest.Start(t, opts...)
	cfg := chsink.Config{
		ClickHouse:        server.Config(db),
		Group:             "chsink-" + db,
		BatchRows:         1000,
		InsertRows:        2000,
		InsertParallelism: 2, // exercise split inserts
		FlushInterval:     100 * time.Millisecond,
		MaxBackoff:        500 * time.Millisecond,
		Migrate:           true,
	}
	cfg.ClickHouse.RetentionDays = 30
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := chschema.Open(ctx, cfg.ClickHouse)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// A fresh database each time, also under -count.
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		t.Fatal(err)
	}
	if _, err := chschema.Apply(ctx, conn, cfg.ClickHouse, quiet); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, broker: b, kcfg: kafkatest.Config(b), cfg: cfg, conn: conn, db: db}
}

// start runs a sink until the test ends or stop is called; done gets Run's
// result; metric sums a counter of the sink's registry.
func (e *env) start(hook func(string) error) (stop func(), done <-chan error, metric func(name string) float64) {
	e.t.Helper()
	reg := prometheus.NewRegistry()
	s, err := chsink.New(e.cfg, e.kcfg, testLog(), reg)
	if err != nil {
		e.t.Fatal(err)
	}
	if hook != nil {
		s.SetAfterInsert(hook)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	finished := make(chan struct{})
	go func() { ch <- s.Run(ctx); close(finished) }()
	stop = func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			e.t.Error("sink did not stop within 30s")
		}
	}
	e.t.Cleanup(stop)
	metric = func(name string) float64 {
		mfs, _ := reg.Gather()
		total := 0.0
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, m := range mf.GetMetric() {
					total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
		return total
	}
	return stop, ch, metric
}

var base = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func request(i int) *eventpb.RequestEvent {
	statuses := []uint32{200, 200, 200, 304, 404, 403, 500}
	countries := []string{"DE", "US", "", "FR"}
	uas := []string{"test-agent", "test-agent", "test-agent", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", "test-agent"}
	ev := &eventpb.RequestEvent{
		TimeUnixNano:  base.Add(time.Duration(i) * 37 * time.Millisecond).UnixNano(),
		ClientIp:      fmt.Sprintf("203.0.113.%d", i%50),
		Method:        "GET",
		Host:          "shop.example",
		Path:          fmt.Sprintf("/p/%d", i%20),
		Protocol:      "HTTP/1.1",
		Status:        statuses[i%len(statuses)],
		ResponseBytes: uint64(100 + i%1000),
		UserAgent:     uas[i%len(uas)],
		CdnCountry:    countries[i%len(countries)],
		CdnAsn:        uint32(64500 + i%3),
		Source:        "/var/log/nginx/access.log",
		SourceOffset:  int64(i * 120),
		Format:        "nginx",
	}
	if i%3 == 0 {
		rt := 0.012
		ev.RequestTimeSeconds = &rt
	}
	return ev
}

// produce sends requests [from, to) keyed by client IP.
func (e *env) produce(from, to int) {
	e.t.Helper()
	cl := kafkatest.Client(e.t, e.broker, kgo.DefaultProduceTopic(e.kcfg.Topics.Requests))
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		ev := request(i)
		v, _ := proto.Marshal(ev)
		recs = append(recs, &kgo.Record{Key: []byte(ev.ClientIp), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) count(q string) uint64 {
	e.t.Helper()
	var n uint64
	if err := e.conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (e *env) rawCount() uint64 {
	return e.count("SELECT count() FROM " + e.db + ".requests FINAL")
}

func (e *env) rollupCount(table string) uint64 {
	return e.count("SELECT toUInt64(sum(requests)) FROM " + e.db + "." + table + " FINAL")
}

// waitRows waits until the raw table and every rollup count n requests.
func (e *env) waitRows(n uint64, timeout time.Duration) {
	e.t.Helper()
	ok := func() bool {
		if e.rawCount() != n {
			return false
		}
		for _, r := range []string{"requests_1m", "requests_geo_1m", "requests_subjects_1m"} {
			if e.rollupCount(r) != n {
				return false
			}
		}
		return true
	}
	if !ok() {
		testkit.Eventually(e.t, timeout, fmt.Sprintf("the raw table and every rollup to count %d requests", n), ok)
	}
	if !ok() { // they counted n once: a later change is a duplicate
		e.t.Fatalf("raw %d (want %d), rollups %d %d %d", e.rawCount(), n,
			e.rollupCount("requests_1m"), e.rollupCount("requests_geo_1m"), e.rollupCount("requests_subjects_1m"))
	}
}

// checkRollupsMatchRaw compares the rollups with the raw rows group by group.
func (e *env) checkRollupsMatchRaw() {
	e.t.Helper()
	f := func(raw, rollup string) {
		e.t.Helper()
		q := fmt.Sprintf("SELECT count() FROM (%s) ALL FULL OUTER JOIN (%s) USING k WHERE a != b", raw, rollup)
		if n := e.count(q); n != 0 {
			e.t.Errorf("%d groups differ between\n%s\nand\n%s", n, raw, rollup)
		}
	}
	db := e.db
	f("SELECT concat(toString(toStartOfMinute(time)), host, toString(intDiv(status, 100))) AS k, (count(), sum(response_bytes)) AS a FROM "+db+".requests FINAL GROUP BY k",
		"SELECT concat(toString(minute), host, toString(status_class)) AS k, (sum(requests), sum(bytes)) AS b FROM "+db+".requests_1m FINAL GROUP BY k")
	f("SELECT concat(toString(toStartOfMinute(time)), country, toString(asn)) AS k, count() AS a FROM "+db+".requests FINAL GROUP BY k",
		"SELECT concat(toString(minute), country, toString(asn)) AS k, sum(requests) AS b FROM "+db+".requests_geo_1m FINAL GROUP BY k")
	f("SELECT concat(toString(toStartOfMinute(time)), client_ip) AS k, (count(), countIf(status >= 400)) AS a FROM "+db+".requests FINAL GROUP BY k",
		"SELECT concat(toString(minute), client_ip) AS k, (sum(requests), sum(errors)) AS b FROM "+db+".requests_subjects_1m FINAL GROUP BY k")
}

func TestNRequestsGiveNRows(t *testing.T) {
	e := newEnv(t, "n_rows")
	const n = 4000
	e.start(nil)
	e.produce(0, n/2)
	e.waitRows(n/2, 60*time.Second)
	e.produce(n/2, n)
	e.waitRows(n, 60*time.Second)
	e.checkRollupsMatchRaw()
	// After merges, even queries without FINAL see each record once.
	for _, tbl := range []string{"requests", "requests_1m", "requests_geo_1m", "requests_subjects_1m"} {
		if err := e.conn.Exec(context.Background(), "OPTIMIZE TABLE "+e.db+"."+tbl+" FINAL"); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.count("SELECT count() FROM n_rows.requests"); got != n {
		t.Errorf("after OPTIMIZE: %d rows, want %d", got, n)
	}
	if got := e.count("SELECT toUInt64(sum(requests)) FROM n_rows.requests_1m"); got != n {
		t.Errorf("after OPTIMIZE: rollup sums to %d, want %d", got, n)
	}
}

func TestCrashBetweenInsertAndCommit(t *testing.T) {
	e := newEnv(t, "crash")
	const n = 3000
	e.produce(0, n)
	var inserts atomic.Int32
	_, done, _ := e.start(func(table string) error {
		if table == "requests" && inserts.Add(1) == 1 {
			return errors.New("simulated crash after insert, before commit")
		}
		return nil
	})
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("sink returned nil, want the simulated crash")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the crash hook never ran")
	}
	if raw := e.rawCount(); raw == 0 {
		t.Fatal("nothing was inserted before the crash")
	}
	// The restarted sink re-reads the uncommitted rows and writes them again.
	_, _, metric := e.start(nil)
	testkit.Eventually(t, 60*time.Second, fmt.Sprintf("the restarted sink to write the %d uncommitted rows again", n), func() bool {
		return metric("bulwark_chsink_rows_written_total") >= n
	})
	e.waitRows(n, 60*time.Second)
	e.checkRollupsMatchRaw()
}

func TestClickHouseDownLosesNothing(t *testing.T) {
	e := newEnv(t, "down")
	const n = 3000
	_, _, metric := e.start(nil)
	e.produce(0, n/3)
	e.waitRows(n/3, 60*time.Second)

	e.conn.Close()
	server.Kill()
	t.Cleanup(func() { _ = server.Restart() }) // for the next tests, if this one fails early
	e.produce(n/3, n)
	testkit.Eventually(t, 30*time.Second, "the sink to notice ClickHouse is down (insert errors, fetching paused)", func() bool {
		return metric("bulwark_chsink_insert_errors_total") >= 2 && metric("bulwark_chsink_fetch_paused") == 1
	})
	if err := server.Restart(); err != nil {
		t.Fatal(err)
	}
	if metric("bulwark_chsink_records_total") < n {
		t.Errorf("the sink read %v records while ClickHouse was down; it should keep reading up to its bounds", metric("bulwark_chsink_records_total"))
	}
	conn, err := chschema.Open(context.Background(), e.cfg.ClickHouse)
	if err != nil {
		t.Fatal(err)
	}
	e.conn = conn
	t.Cleanup(func() { conn.Close() })
	e.waitRows(n, 90*time.Second)
	e.checkRollupsMatchRaw()
}

func TestScoresVerdictsDeadLetters(t *testing.T) {
	e := newEnv(t, "others")
	cl := kafkatest.Client(t, e.broker)
	ctx := context.Background()
	mk := func(topic, key string, m proto.Message) *kgo.Record {
		r := &kgo.Record{Topic: topic, Key: []byte(key)}
		if m != nil {
			r.Value, _ = proto.Marshal(m)
		}
		return r
	}
	at := base.UnixNano()
	recs := []*kgo.Record{
		mk(e.kcfg.Topics.Scores, "ip:203.0.113.7", &eventpb.Score{Subject: "ip:203.0.113.7", TimeUnixNano: at, Score: 96.5,
			Features: map[string]float64{"rate_10s": 48, "login_failures_1m": 3}, Reasons: []string{"rate_10s=48/s"},
			Trigger: request(7), Scorer: "weighted/v1"}),
		mk(e.kcfg.Topics.Verdicts, "ip:203.0.113.7", &eventpb.Verdict{Subject: "ip:203.0.113.7", Action: eventpb.Action_BLOCK, Score: 96.5,
			Reasons: []string{"rate_10s=48/s"}, AtUnixNano: at, ExpiresAtUnixNano: at + int64(time.Hour), Origin: eventpb.Origin_COMPUTED, Rule: "ladder"}),
		mk(e.kcfg.Topics.Verdicts, "ip:203.0.113.8", &eventpb.Verdict{Subject: "ip:203.0.113.8", Action: eventpb.Action_MONITOR,
			WouldBe: eventpb.Action_BLOCK, AtUnixNano: at, Rule: "login_stuffing"}),
		mk(e.kcfg.Topics.Verdicts, "ip:203.0.113.8", nil),
		mk(e.kcfg.Topics.RequestsDLQ, "/var/log/x", &eventpb.DeadLetter{Raw: []byte("garbage"), Reason: "bad_syntax", Source: "/var/log/x", ReceivedUnixNano: at}),
		{Topic: e.kcfg.Topics.Scores, Key: []byte("bad"), Value: []byte{0xff, 0xff, 0xff}},
		mk(e.kcfg.Topics.Feedback, "ip:203.0.113.9", &eventpb.Feedback{Subject: "ip:203.0.113.9", Kind: eventpb.FeedbackKind_CHALLENGE_FAILED,
			TimeUnixNano: at, Challenge: "pow", Level: 1, SolveMillis: 850, Rule: "ladder", Reason: "webdriver",
			Checks: []*eventpb.CheckOutcome{{Name: "pow", Passed: true}, {Name: "webdriver", Passed: false}}}),
		mk(e.kcfg.Topics.Audit, "token:operator", &eventpb.AuditEvent{TimeUnixNano: at, Actor: "token:operator", Role: "operator",
			Action: "unblock", Subject: "ip:203.0.113.7", Reason: "ticket 4711", Result: "ok", RemoteAddr: "127.0.0.1:50000"}),
		mk(e.kcfg.Topics.Attacks, "login-failures-x", &eventpb.Attack{Id: "login-failures-x", EndpointClass: "login", Signal: "failures",
			StartedUnixNano: at, TimeUnixNano: at + int64(time.Minute), Strength: 41.5, Observed: 0.82, Expected: 0.02,
			Fingerprints: []string{"02f1bea35578836f"}, Enforcing: true, Reason: "login failure ratio 0.82", Source: "aggregator", Requests: 124, Failures: 102}),
		mk(e.kcfg.Topics.Attacks, "login-failures-x", &eventpb.Attack{Id: "login-failures-x", EndpointClass: "login", Signal: "failures",
			StartedUnixNano: at, EndedUnixNano: at + int64(2*time.Minute), TimeUnixNano: at + int64(2*time.Minute), Source: "operator"}),
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.start(nil)
	f := func(q string, want uint64) {
		t.Helper()
		testkit.Eventually(t, 60*time.Second, fmt.Sprintf("%s to give %d", q, want), func() bool { return e.count(q) == want })
	}
	f("SELECT count() FROM others.scores FINAL", 1)
	f("SELECT count() FROM others.scores FINAL WHERE has(feature_names, 'rate_10s') AND feature_values[indexOf(feature_names, 'rate_10s')] = 48 AND client_ip = '203.0.113.7'", 1)
	f("SELECT count() FROM others.verdicts FINAL", 3)
	f("SELECT count() FROM others.verdicts FINAL WHERE action = 'LIFTED' AND lifted = 1 AND subject = 'ip:203.0.113.8'", 1)
	f("SELECT count() FROM others.verdicts FINAL WHERE action = 'MONITOR' AND would_be = 'BLOCK' AND rule = 'login_stuffing'", 1)
	f("SELECT count() FROM others.dead_letters FINAL WHERE reason = 'bad_syntax' AND raw = 'garbage'", 1)
	f("SELECT count() FROM others.feedback FINAL WHERE kind = 'CHALLENGE_FAILED' AND checks_failed = ['webdriver'] AND solve_ms = 850 AND rule = 'ladder'", 1)
	f("SELECT count() FROM others.audit FINAL WHERE actor = 'token:operator' AND action = 'unblock' AND subject = 'ip:203.0.113.7' AND reason = 'ticket 4711' AND result = 'ok'", 1)
	f("SELECT count() FROM others.attacks FINAL WHERE id = 'login-failures-x'", 2)
	f("SELECT count() FROM others.attacks FINAL WHERE id = 'login-failures-x' AND enforcing = 1 AND fingerprints = ['02f1bea35578836f'] AND failures = 102 AND toUInt32(ended) = 0", 1)
	f("SELECT count() FROM (SELECT id, argMax(ended, time) AS e, argMax(source, time) AS s FROM others.attacks GROUP BY id) WHERE toUInt32(e) > 0 AND s = 'operator'", 1)
	// Requests read after the BLOCK verdict are marked with it.
	e.produce(0, 100)
	f("SELECT count() FROM others.requests FINAL", 100)
	// 203.0.113.7 is request i with i%50 == 7: 2 of the first 100, both in the verdict's hour.
	f("SELECT count() FROM others.requests FINAL WHERE action = 'BLOCK'", 2)
	f("SELECT toUInt64(sum(blocked_requests)) FROM others.requests_1m FINAL", 2)

	// A restarted sink starts from the verdicts in ClickHouse: the BLOCK
	// (until base+1h) holds, the lifted MONITOR does not.
	got, err := chsink.LoadedActions(ctx, e.conn, "others", base.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["ip:203.0.113.7"] != "BLOCK" {
		t.Errorf("loaded verdicts %v, want only ip:203.0.113.7 BLOCK", got)
	}
	if got, _ := chsink.LoadedActions(ctx, e.conn, "others", base.Add(2*time.Hour)); len(got) != 0 {
		t.Errorf("expired verdicts loaded: %v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := chsink.Config{
		ClickHouse: chschema.Config{Addr: "127.0.0.1:9000", Database: "bulwark", DialTimeout: time.Second},
		Group:      "g", BatchRows: 100, InsertRows: 100, InsertParallelism: 1, FlushInterval: time.Second, MaxBackoff: time.Second,
	}
	f := func(mut func(*chsink.Config), wantVar string) {
		t.Helper()
		c := ok
		mut(&c)
		err := c.Validate()
		if wantVar == "" && err != nil {
			t.Errorf("unexpected error %v", err)
		}
		if wantVar != "" && (err == nil || !contains(err.Error(), wantVar)) {
			t.Errorf("got %v, want an error naming %s", err, wantVar)
		}
	}
	f(func(*chsink.Config) {}, "")
	f(func(c *chsink.Config) { c.ClickHouse.Addr = "" }, "BULWARK_CLICKHOUSE_ADDR")
	f(func(c *chsink.Config) { c.Group = "" }, "BULWARK_CHSINK_GROUP")
	f(func(c *chsink.Config) { c.BatchRows = 0 }, "BULWARK_CHSINK_BATCH_ROWS")
	f(func(c *chsink.Config) { c.FlushInterval = 0 }, "BULWARK_CHSINK_FLUSH_INTERVAL")
	f(func(c *chsink.Config) { c.InsertRows = 10 }, "BULWARK_CHSINK_INSERT_ROWS")
	f(func(c *chsink.Config) { c.InsertParallelism = 0 }, "BULWARK_CHSINK_INSERT_PARALLELISM")
	f(func(c *chsink.Config) { c.MaxBackoff = 0 }, "BULWARK_CHSINK_MAX_BACKOFF")
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestRebalanceBetweenSinks: two sinks share the group; partitions move
// between them (one joins, later one leaves) while records flow, and every
// request is counted once.
func TestRebalanceBetweenSinks(t *testing.T) {
	e := newEnv(t, "rebalance")
	const n = 6000
	stopA, _, _ := e.start(nil)
	e.produce(0, n/3)
	e.waitRows(n/3, 60*time.Second)
	e.start(nil) // B joins: partitions are split
	e.produce(n/3, 2*n/3)
	e.waitRows(2*n/3, 60*time.Second)
	stopA() // A leaves: B takes everything
	e.produce(2*n/3, n)
	e.waitRows(n, 90*time.Second)
	e.checkRollupsMatchRaw()
}
