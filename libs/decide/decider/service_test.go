package decider_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/overrides"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

type running struct {
	svc  *decider.Service
	reg  *prometheus.Registry
	stop func()
}

func startService(t *testing.T, b *embedkafka.Broker, rulesFile string) running {
	t.Helper()
	cfg := decider.Config{RulesFile: rulesFile, Group: "decider-test", ReloadInterval: 50 * time.Millisecond, ReloadSettle: 20 * time.Millisecond, Overrides: overrides.DefaultLimits(),
		ExpiryTick: 50 * time.Millisecond, Resolver: fakeResolver{}}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := prometheus.NewRegistry()
	svc, err := decider.NewService(cfg, kafkatest.Config(b), log, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-svc.Ready():
	case err := <-done:
		t.Fatalf("service stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("service not ready")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("service did not stop")
		}
	}
	t.Cleanup(stop)
	return running{svc: svc, reg: reg, stop: stop}
}

func produce(t *testing.T, cl *kgo.Client, topic, key string, m proto.Message) {
	t.Helper()
	rec := &kgo.Record{Topic: topic, Key: []byte(key)}
	if m != nil {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		rec.Value = b
	}
	if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// verdictLog follows the verdict topic from the start.
type verdictLog struct {
	t    *testing.T
	cl   *kgo.Client
	recs []*kgo.Record
}

func followVerdicts(t *testing.T, b *embedkafka.Broker) *verdictLog {
	return &verdictLog{t: t, cl: kafkatest.Client(t, b, kgo.ConsumeTopics("bulwark.verdicts.v1"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))}
}

// waitFor reads until cond holds over everything read, or fails.
func (l *verdictLog) waitFor(what string, cond func([]*kgo.Record) bool) {
	l.t.Helper()
	held := false
	defer func() {
		if !held {
			l.t.Logf("waiting for %s: read %s", what, l.describe())
		}
	}()
	testkit.Eventually(l.t, 30*time.Second, what, func() bool {
		if cond(l.recs) {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		l.cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { l.recs = append(l.recs, r) })
		return cond(l.recs)
	})
	held = true
}

// settle proves that every verdict the scores produced so far cause is
// read: the decider commits a score's offset only once the verdicts it
// caused are acknowledged, so once the group's committed offsets reach the
// scores topic's end, reading the verdict topic to its end offsets reads
// them all. No quiet period stands in for the proof.
func (l *verdictLog) settle(b *embedkafka.Broker) {
	l.t.Helper()
	adm := kadm.NewClient(kafkatest.Client(l.t, b))
	ctx := context.Background()
	testkit.Eventually(l.t, 30*time.Second, "every score decided and committed", func() bool {
		ends, err := adm.ListEndOffsets(ctx, "bulwark.scores.v1")
		if err != nil || ends.Error() != nil {
			return false
		}
		committed, err := adm.FetchOffsets(ctx, "decider-test")
		if err != nil {
			return false
		}
		done := true
		ends.Each(func(o kadm.ListedOffset) {
			c, ok := committed.Lookup(o.Topic, o.Partition)
			if o.Offset > 0 && (!ok || c.At < o.Offset) {
				done = false
			}
		})
		return done
	})
	ends, err := adm.ListEndOffsets(ctx, "bulwark.verdicts.v1")
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		l.t.Fatal(err)
	}
	l.waitFor("the verdict topic read to its end", func(recs []*kgo.Record) bool {
		next := map[int32]int64{}
		for _, r := range recs {
			next[r.Partition] = r.Offset + 1
		}
		done := true
		ends.Each(func(o kadm.ListedOffset) {
			if next[o.Partition] < o.Offset {
				done = false
			}
		})
		return done
	})
}

func (l *verdictLog) of(subject string) []string {
	var out []string
	for _, r := range l.recs {
		if string(r.Key) != subject {
			continue
		}
		if r.Value == nil {
			out = append(out, "-")
			continue
		}
		v := &eventpb.Verdict{}
		if err := proto.Unmarshal(r.Value, v); err != nil {
			l.t.Fatal(err)
		}
		out = append(out, v.Action.String())
	}
	return out
}

func (l *verdictLog) describe() string {
	s := ""
	for _, r := range l.recs {
		s += string(r.Key) + "=" + map[bool]string{true: "tombstone", false: "verdict"}[r.Value == nil] + " "
	}
	return s
}

func count(recs []*kgo.Record, key string) int {
	n := 0
	for _, r := range recs {
		if string(r.Key) == key {
			n++
		}
	}
	return n
}

func TestServiceEndToEnd(t *testing.T) {
	b := kafkatest.Start(t)
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte("ttl: {monitor: 2s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := startService(t, b, rulesFile)
	cl := kafkatest.Client(t, b)
	vl := followVerdicts(t, b)
	score := func(sub string, s float64) {
		t.Helper()
		produce(t, cl, "bulwark.scores.v1", sub, mkScore(sub, time.Now(), s))
	}

	// One record per action change: MONITOR, CHALLENGE, BLOCK; repeats write nothing.
	a := "ip:203.0.113.1"
	for _, s := range []float64{75, 75, 95, 95, 95, 80} {
		score(a, s)
	}
	vl.waitFor("BLOCK of "+a, func(r []*kgo.Record) bool { return count(r, a) >= 2 })
	// A short MONITOR verdict expires: its tombstone follows.
	e := "ip:203.0.113.5"
	score(e, 55)
	vl.waitFor("expiry of "+e, func(r []*kgo.Record) bool { return count(r, e) >= 2 })
	if got := vl.of(e); len(got) != 2 || got[0] != "MONITOR" || got[1] != "-" {
		t.Fatalf("%s: %v", e, got)
	}

	// An operator block of a harmless client holds against its scores.
	op := "ip:198.51.100.7"
	produce(t, cl, "bulwark.verdicts.v1", op, operator(op, eventpb.Action_BLOCK, time.Now(), time.Hour))
	// An operator unblock of a blocked client: no re-block from stale scores.
	produce(t, cl, "bulwark.verdicts.v1", a, nil)
	testkit.Eventually(t, 30*time.Second, "unblock seen", func() bool { return run.svc.Decider().Current(a) == nil })
	score(op, 1)
	score(a, 99)
	c := "ip:203.0.113.3"
	score(c, 96)
	vl.waitFor("BLOCK of "+c, func(r []*kgo.Record) bool { return count(r, c) >= 1 })
	vl.settle(b)
	if got := vl.of(a); len(got) != 3 || got[0] != "CHALLENGE" || got[1] != "BLOCK" || got[2] != "-" {
		t.Fatalf("%s: %v (want CHALLENGE, BLOCK, the operator's tombstone)", a, got)
	}
	if got := vl.of(op); len(got) != 1 {
		t.Fatalf("%s: %v (want only the operator's BLOCK)", op, got)
	}

	// A restart restores the verdicts in force: C is not blocked again, the
	// operator's BLOCK still holds, and new clients are decided.
	run.stop()
	run = startService(t, b, rulesFile)
	if v := run.svc.Decider().Current(op); v == nil || v.Origin != eventpb.Origin_OPERATOR {
		t.Fatalf("operator verdict not restored: %v", v)
	}
	score(c, 97)
	score(op, 2)
	d := "ip:203.0.113.4"
	score(d, 91)
	vl.waitFor("BLOCK of "+d, func(r []*kgo.Record) bool { return count(r, d) >= 1 })
	vl.settle(b)
	if got := vl.of(c); len(got) != 1 {
		t.Fatalf("%s after restart: %v (want its one BLOCK)", c, got)
	}
	if got := vl.of(op); len(got) != 1 {
		t.Fatalf("%s after restart: %v", op, got)
	}
}

func TestServiceReloadsRules(t *testing.T) {
	b := kafkatest.Start(t)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte("rules: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := startService(t, b, rulesFile)
	digest := run.svc.Decider().Rules().Digest
	// A broken file is refused: the rules in force stay.
	writeLater(t, rulesFile, "ladder: {monitor: 90, challenge: 70, block: 50}\n")
	testkit.Eventually(t, 30*time.Second, "the broken file refused", func() bool { return reloads(t, run.reg, "failed") >= 1 })
	if got := run.svc.Decider().Rules().Digest; got != digest {
		t.Fatal("a broken rule file was put in force")
	}
	// A good one is put in force without a restart.
	writeLater(t, rulesFile, "learning: true\n")
	testkit.Eventually(t, 30*time.Second, "reload", func() bool { return run.svc.Decider().Rules().Learning })
	// Truncated (`: > rules.yaml`), then deleted: both refused, the
	// operator's rules stay instead of the shipped defaults.
	for i, change := range []func(){
		func() { writeLater(t, rulesFile, "") },
		func() {
			if err := os.Remove(rulesFile); err != nil {
				t.Fatal(err)
			}
		},
	} {
		change()
		testkit.Eventually(t, 30*time.Second, "the change refused", func() bool { return reloads(t, run.reg, "failed") >= float64(2+i) })
		if !run.svc.Decider().Rules().Learning {
			t.Fatalf("change %d put the shipped defaults in force", i)
		}
	}
}

func TestReloaderKeepsRulesOnBadFile(t *testing.T) {
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte("ladder: {block: 95}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := decider.NewMetrics(reg)
	d, err := decider.New(rs, decider.Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	r := decider.NewReloader(rulesFile, d, time.Second, time.Millisecond, nil)
	f := func(content string, wantErr bool, wantBlock float64) {
		t.Helper()
		if err := os.WriteFile(rulesFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		err := r.Reload(context.Background())
		if (err != nil) != wantErr {
			t.Fatalf("Reload(%q) = %v", content, err)
		}
		if wantErr && !errors.Is(err, rules.ErrInvalid) && !os.IsNotExist(err) {
			t.Fatalf("error %v", err)
		}
		if got := d.Rules().Ladder.Block; got != wantBlock {
			t.Fatalf("block threshold %v, want %v", got, wantBlock)
		}
	}
	f("ladder: {block: 97}\n", false, 97)
	f("ladder: {block: 101}\n", true, 97)
	f("rules: [{name: x, when: 'features.nope > 1', action: BLOCK}]\n", true, 97)
	f("{{{", true, 97)
	f("crawlers: {list: [{name: x, user_agent: x, ranges: /nonexistent.json}]}\n", true, 97)
	f("ladder: {block: 92}\n", false, 92)
	if n := reloads(t, reg, "failed"); n != 4 {
		t.Fatalf("failed reloads counted %v", n)
	}
}

// reloads is the count of rule reloads with result (0 before the first).
func reloads(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	return testkit.Metric(t, reg, "bulwark_decider_rule_reloads_total", "result", result)
}

// writeLater writes a file so that its modification time differs from the
// previous write even on coarse file-system clocks.
func writeLater(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Duration(time.Now().UnixNano()%1000+1) * time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
}

func TestConfig(t *testing.T) {
	f := func(env map[string]string, want string) {
		t.Helper()
		c, err := config.LoadFrom[decider.Config](env)
		if want == "" {
			if err != nil {
				t.Fatal(err)
			}
			if len(env) == 0 && c != decider.DefaultConfig() {
				t.Fatalf("env defaults %+v differ from DefaultConfig %+v", c, decider.DefaultConfig())
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want %q", err, want)
		}
	}
	f(map[string]string{}, "")
	f(map[string]string{"BULWARK_DECIDER_GROUP": ""}, "")
	f(map[string]string{"BULWARK_DECIDER_METRICS_ADDR": "nope"}, "BULWARK_DECIDER_METRICS_ADDR")
	f(map[string]string{"BULWARK_DECIDER_RELOAD_INTERVAL": "0s"}, "BULWARK_DECIDER_RELOAD_INTERVAL")
	f(map[string]string{"BULWARK_DECIDER_RELOAD_SETTLE": "0s"}, "BULWARK_DECIDER_RELOAD_SETTLE")
	f(map[string]string{"BULWARK_OVERRIDE_MAX_TTL": "0s"}, "BULWARK_OVERRIDE_MAX_TTL")
	f(map[string]string{"BULWARK_DECIDER_EXPIRY_TICK": "-1s"}, "BULWARK_DECIDER_EXPIRY_TICK")
	if _, err := decider.NewService(decider.Config{RulesFile: "/nonexistent.yaml", Group: "g", ReloadInterval: time.Second, ReloadSettle: time.Millisecond, Overrides: overrides.Limits{MaxTTL: time.Hour, MaxNetV4: 16, MaxNetV6: 32}, ExpiryTick: time.Second},
		kafkatest.Config(kafkatest.Start(t)), nil, nil); err == nil {
		t.Fatal("a missing rule file must stop the service at start")
	}
}
