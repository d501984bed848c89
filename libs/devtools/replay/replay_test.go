package replay_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/gzip"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// simulated is one simulated run written to a file, shared by the tests.
type simulated struct {
	path   string
	labels map[string]simulate.Label
	counts map[simulate.Kind]int
	lines  int64
	cfg    simulate.Config
}

var (
	simOnce sync.Once
	sim     simulated
	simErr  error
)

// traffic returns 40 simulated minutes with every kind of client.
func traffic(t testing.TB) simulated {
	t.Helper()
	simOnce.Do(func() {
		dir, err := os.MkdirTemp("", "replay-test")
		if err != nil {
			simErr = err
			return
		}
		cfg := simulate.DefaultConfig()
		cfg.Seed = 5
		cfg.Duration = 40 * time.Minute
		sim, simErr = simulateTo(filepath.Join(dir, "access.log"), cfg)
	})
	if simErr != nil {
		t.Fatal(simErr)
	}
	return sim
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sim.path != "" {
		os.RemoveAll(filepath.Dir(sim.path))
	}
	os.Exit(code)
}

func simulateTo(path string, cfg simulate.Config) (simulated, error) {
	g, err := simulate.New(cfg)
	if err != nil {
		return simulated{}, err
	}
	f, err := os.Create(path)
	if err != nil {
		return simulated{}, err
	}
	n, err := simulate.Write(context.Background(), g, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return simulated{path: path, labels: g.Labels(), counts: g.Counts(), lines: n, cfg: cfg}, err
}

func run(t *testing.T, cfg replay.Config) ([]byte, *replay.Result) {
	t.Helper()
	var out bytes.Buffer
	cfg.Output = &out
	res, err := replay.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), res
}

// checkVerdicts checks that out is contract JSON lines in event-time order.
func checkVerdicts(t *testing.T, out []byte) int {
	t.Helper()
	var last time.Time
	n := 0
	for line := range bytes.Lines(out) {
		sub, v, err := verdict.Unmarshal(line)
		if err != nil || sub == "" {
			t.Fatalf("line %d is not a verdict: %v: %s", n, err, line)
		}
		at := verdict.At(v)
		if at.Before(last) {
			t.Fatalf("line %d at %s is before the previous one at %s", n, at, last)
		}
		last = at
		n++
	}
	return n
}

func TestDeterministic(t *testing.T) {
	s := traffic(t)
	cfg := replay.Config{Files: []string{s.path}, Format: logparse.FormatNginx}
	a, res := run(t, cfg)
	b, _ := run(t, cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("two replays of the same file differ")
	}
	n := checkVerdicts(t, a)
	if n == 0 || res.Verdicts != int64(n) {
		t.Fatalf("%d verdict lines, result says %d", n, res.Verdicts)
	}
	if res.Lines != s.lines || res.Events != s.lines || len(res.Bad) != 0 {
		t.Fatalf("read %d lines, %d events, bad %v; the file has %d lines", res.Lines, res.Events, res.Bad, s.lines)
	}
	if res.ByAction["BLOCK"] == 0 {
		t.Fatalf("no BLOCK in 40 minutes with every kind of bot: %v", res.ByAction)
	}
}

func TestLabels(t *testing.T) {
	s := traffic(t)
	_, res := run(t, replay.Config{Files: []string{s.path}, Format: logparse.FormatNginx, Labels: s.labels})
	ev := res.Evaluation
	if ev == nil {
		t.Fatal("no evaluation with labels")
	}
	byKind := map[string]replay.KindEval{}
	for _, k := range ev.Kinds {
		byKind[k.Kind] = k
	}
	for kind, n := range s.counts {
		k, ok := byKind[string(kind)]
		if !ok || k.Requests != int64(n) || k.Label != simulate.LabelOf(kind) {
			t.Errorf("kind %s: evaluated %+v, simulated %d requests", kind, k, n)
		}
	}
	if ev.Unlabelled != 0 || ev.Precision < 0 || ev.Precision > 1 || ev.Recall < 0 || ev.Recall > 1 {
		t.Errorf("evaluation out of range: %+v", ev)
	}
	var report bytes.Buffer
	if err := ev.WriteReport(&report); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| scraper_fast | bot |", "| human | human |", "| crawler_google | verified_crawler |", "precision"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
	t.Logf("labels report:\n%s", report.String())
}

func TestCompare(t *testing.T) {
	s := traffic(t)
	strict := filepath.Join(t.TempDir(), "strict.yaml")
	if err := os.WriteFile(strict, []byte("ladder:\n  monitor: 30\n  challenge: 40\n  block: 60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := replay.Config{Files: []string{s.path}, Format: logparse.FormatNginx, Compare: strict, Labels: s.labels}
	out, res := run(t, cfg)
	if res.Evaluation == nil || res.CompareEvaluation == nil {
		t.Fatal("no evaluation of both rule files with labels")
	}
	if a, b := res.Evaluation.Recall, res.CompareEvaluation.Recall; b < a {
		t.Errorf("a stricter ladder lowered recall from %.4f to %.4f", a, b)
	}
	plain, _ := run(t, replay.Config{Files: []string{s.path}, Format: logparse.FormatNginx})
	if !bytes.Equal(out, plain) {
		t.Fatal("--compare changed the verdicts of --rules")
	}
	d := res.Diff
	if d == nil || len(d.Changes) == 0 {
		t.Fatalf("a stricter ladder changed nothing: %+v", d)
	}
	sum := 0
	for _, c := range d.Changes {
		if c.Before == c.After || c.Rule == "" || c.Example == "" {
			t.Fatalf("bad change %+v", c)
		}
		sum++
	}
	n := 0
	for _, k := range d.ByTransition {
		n += k
	}
	if n != sum {
		t.Fatalf("transitions count %d subjects, changes %d", n, sum)
	}
	var report bytes.Buffer
	if err := d.WriteReport(&report); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report.String(), "by rule") || !strings.Contains(report.String(), "e.g. ") {
		t.Fatalf("report:\n%s", report.String())
	}
}

func TestSinceUntil(t *testing.T) {
	s := traffic(t)
	since := s.cfg.Start.Add(10 * time.Minute)
	until := s.cfg.Start.Add(20 * time.Minute)
	out, res := run(t, replay.Config{Files: []string{s.path}, Format: logparse.FormatNginx, Since: since, Until: until})
	if res.Skipped == 0 || res.Events == 0 || res.Events+res.Skipped != res.Lines {
		t.Fatalf("lines %d, events %d, skipped %d", res.Lines, res.Events, res.Skipped)
	}
	if res.First.Before(since) || !res.Last.Before(until) {
		t.Fatalf("events from %s to %s, window %s .. %s", res.First, res.Last, since, until)
	}
	checkVerdicts(t, out)
}

// TestFilesMerge: the same traffic split over a plain and a gzipped file,
// with a broken line, merges back into the same verdicts.
func TestFilesMerge(t *testing.T) {
	s := traffic(t)
	data, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var odd, even bytes.Buffer
	odd.WriteString("this is not a log line\n")
	for line := range bytes.Lines(data) {
		// Split by network, so that each file keeps the order of the
		// requests of each network (whose verdicts depend on it).
		ip, _, _ := bytes.Cut(line, []byte(" "))
		net := subject.Net(subject.NetOf(netip.MustParseAddr(string(ip))))
		if xxhash.Sum64String(net)%2 == 0 {
			even.Write(line)
		} else {
			odd.Write(line)
		}
	}
	a := filepath.Join(dir, "a.log")
	if err := os.WriteFile(a, odd.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(even.Bytes())
	zw.Close()
	b := filepath.Join(dir, "b.log.gz")
	if err := os.WriteFile(b, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, res := run(t, replay.Config{Files: []string{a, b}, Format: logparse.FormatNginx})
	if res.Bad["bad_syntax"] != 1 || res.Events != s.lines {
		t.Fatalf("bad %v, events %d of %d", res.Bad, res.Events, s.lines)
	}
	whole, _ := run(t, replay.Config{Files: []string{s.path}, Format: logparse.FormatNginx})
	// Requests of one second from different networks interleave in another
	// order; the verdicts are the same, but their lines may be too.
	if x, y := sortedLines(out), sortedLines(whole); x != y {
		t.Fatalf("merged files give other verdicts than the whole file (%d vs %d bytes)", len(out), len(whole))
	}
}

func sortedLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestTopic replays the requests topic: deterministic, all events read,
// none written.
func TestTopic(t *testing.T) {
	s := traffic(t)
	b := kafkatest.Start(t)
	kc := kafkatest.Config(b)
	cl := kafkatest.Client(t, b, kgo.DefaultProduceTopic(kc.Topics.Requests))
	data, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := logparse.New(logparse.FormatNginx, logparse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ev eventpb.RequestEvent
	var recs []*kgo.Record
	for line := range bytes.Lines(data) {
		if err := p.Parse(bytes.TrimSuffix(line, []byte("\n")), &ev); err != nil {
			t.Fatal(err)
		}
		v, err := proto.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Key: []byte(ev.ClientIp), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	since := s.cfg.Start.Add(5 * time.Minute)
	cfg := replay.Config{Topic: true, Kafka: kc, Since: since}
	out1, res := run(t, cfg)
	out2, _ := run(t, cfg)
	if !bytes.Equal(out1, out2) {
		t.Fatal("two replays of the topic differ")
	}
	if res.Lines != int64(len(recs)) || res.Events == 0 || res.Events+res.Skipped != res.Lines || res.First.Before(since) {
		t.Fatalf("read %d records, %d events, %d skipped, first %s; produced %d", res.Lines, res.Events, res.Skipped, res.First, len(recs))
	}
	if checkVerdicts(t, out1) == 0 {
		t.Fatal("no verdicts from the topic")
	}
	for _, topic := range []string{kc.Topics.Scores, kc.Topics.Verdicts} {
		if got := kafkatest.ReadAll(t, b, topic, 1, 2*time.Second); len(got) != 0 {
			t.Fatalf("replay wrote %d records to %s", len(got), topic)
		}
	}
}

func TestValidate(t *testing.T) {
	f := func(name string, cfg replay.Config) {
		t.Helper()
		if _, err := replay.Run(context.Background(), cfg); err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
	f("no input", replay.Config{Format: logparse.FormatNginx})
	f("both inputs", replay.Config{Files: []string{"x"}, Topic: true, Format: logparse.FormatNginx})
	f("bad format", replay.Config{Files: []string{"x"}, Format: "apache"})
	f("missing file", replay.Config{Files: []string{filepath.Join(t.TempDir(), "none")}, Format: logparse.FormatNginx})
	f("missing rules", replay.Config{Files: []string{traffic(t).path}, Format: logparse.FormatNginx, Rules: "/nonexistent.yaml"})
	now := time.Now()
	f("until before since", replay.Config{Files: []string{"x"}, Format: logparse.FormatNginx, Since: now, Until: now.Add(-time.Hour)})
}

// TestTopicTransactional: a topic written in transactions ends with commit
// markers, which a consumer never sees; the replay still ends.
func TestTopicTransactional(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.WithPartitions(2))
	kc := kafkatest.Config(b)
	cl := kafkatest.Client(t, b, kgo.DefaultProduceTopic(kc.Topics.Requests), kgo.TransactionalID("replay-test"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	const n = 200
	for i := range n {
		ev := &eventpb.RequestEvent{
			TimeUnixNano: start.Add(time.Duration(i) * 100 * time.Millisecond).UnixNano(),
			ClientIp:     "203.0.113.7", Method: "GET", Path: "/product/" + strconv.Itoa(10001+i), Status: 200,
			UserAgent: "curl/8.11.1", Protocol: "HTTP/1.1",
		}
		v, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(ev.ClientIp), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	out, res := run(t, replay.Config{Topic: true, Kafka: kc})
	if res.Events != n {
		t.Fatalf("replayed %d events of %d", res.Events, n)
	}
	if !bytes.Contains(out, []byte(`"subject":"ip:203.0.113.7"`)) {
		t.Fatalf("no verdict for a curl client at 10 req/s:\n%s", out)
	}
}
