package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// serviceTraffic is a few minutes of people and bots over several partitions.
func serviceTraffic() []*eventpb.RequestEvent {
	tr := newTraffic(5)
	for i := 0; i < 12; i++ {
		tr.human(fmt.Sprintf("198.51.100.%d", i+1), chromeUA, time.Duration(i)*time.Second, 4*time.Minute)
	}
	tr.fast("203.0.113.7", chromeUA, 30*time.Second, time.Minute, 20)
	tr.fast("203.0.113.8", "curl/8.5.0", time.Minute, time.Minute, 5)
	for i := 0; i < 60; i++ {
		tr.add(90*time.Second+time.Duration(i)*time.Second, "203.0.113.9", "POST", "/login", "", 401, chromeUA, "")
	}
	for i := 0; i < 20; i++ {
		ip := fmt.Sprintf("203.0.114.%d", i+1)
		for j := 0; j < 3; j++ {
			tr.add(time.Duration(i*5+j*30)*time.Second, ip, "GET", fmt.Sprintf("/product/%d", i*10+j), "", 200, chromeUA, "")
		}
	}
	return tr.sorted()
}

func produceEvents(t *testing.T, b *embedkafka.Broker, evs []*eventpb.RequestEvent) {
	t.Helper()
	cl := kafkatest.Client(t, b, kgo.DefaultProduceTopic("bulwark.requests.v1"))
	recs := make([]*kgo.Record, len(evs))
	for i, ev := range evs {
		v, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = &kgo.Record{Key: []byte(ev.ClientIp), Value: v}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// expectedScores runs the records of the requests topic through one engine
// per partition, in offset order, as the aggregator must, and returns the
// marshalled scores.
func expectedScores(t *testing.T, b *embedkafka.Broker, n int) []string {
	t.Helper()
	recs := kafkatest.ReadAll(t, b, "bulwark.requests.v1", n, 30*time.Second)
	if len(recs) != n {
		t.Fatalf("read %d of %d requests", len(recs), n)
	}
	engines := map[int32]*Engine{}
	var out []string
	for _, r := range recs { // ReadAll keeps each partition's order
		e := engines[r.Partition]
		if e == nil {
			e = NewEngine(testConfig(), WithAllowedLateness(30*time.Second))
			engines[r.Partition] = e
		}
		ev := &eventpb.RequestEvent{}
		if err := proto.Unmarshal(r.Value, ev); err != nil {
			t.Fatal(err)
		}
		for _, s := range e.Process(ev, nil) {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
	}
	slices.Sort(out)
	return out
}

// committedScores reads the scores topic as the decider does (read
// committed) until it has want records and nothing more arrives for a while.
func committedScores(t *testing.T, b *embedkafka.Broker, want int, timeout time.Duration) []string {
	t.Helper()
	cl := kafkatest.Client(t, b, kgo.ConsumeTopics("bulwark.scores.v1"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []string
	for _, r := range kafkatest.ReadUntilQuiet(t, cl, want, timeout) {
		out = append(out, string(r.Value))
	}
	slices.Sort(out)
	return out
}

func startAggregator(t *testing.T, b *embedkafka.Broker, txnID string, crashAfter int) (*Aggregator, context.CancelFunc, chan error) {
	t.Helper()
	return startAggregatorWith(t, b, txnID, crashAfter, nil)
}

// startAggregatorWith is startAggregator with set applied to the config.
func startAggregatorWith(t *testing.T, b *embedkafka.Broker, txnID string, crashAfter int, set func(*Config)) (*Aggregator, context.CancelFunc, chan error) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SnapshotInterval = 100 * time.Millisecond
	cfg.TransactionalID = txnID
	if set != nil {
		set(&cfg)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if !testing.Verbose() {
		log = nil
	}
	a, err := New(cfg, kafkatest.Config(b), testConfig(), log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	a.crashAfter = crashAfter
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() { done <- a.Run(ctx); close(finished) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(20 * time.Second):
			t.Error("aggregator did not stop within 20s")
		}
	})
	return a, cancel, done
}

func sameScores(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d committed scores, want %d (lost or duplicated)", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			s := &eventpb.Score{}
			_ = proto.Unmarshal([]byte(got[i]), s)
			t.Fatalf("score %d differs from the in-process engine's: %v", i, s)
		}
	}
}

func TestServiceOnce(t *testing.T) {
	b := kafkatest.Start(t)
	evs := serviceTraffic()
	produceEvents(t, b, evs)
	want := expectedScores(t, b, len(evs))
	a, _, _ := startAggregator(t, b, "agg-once", 0)
	got := committedScores(t, b, len(want), 60*time.Second)
	sameScores(t, got, want)
	if n := testutil.ToFloat64(a.m.events); n != float64(len(evs)) {
		t.Errorf("events_total %v, want %d", n, len(evs))
	}
}

func TestServiceCrashAndRestart(t *testing.T) {
	b := kafkatest.Start(t)
	evs := serviceTraffic()
	half := len(evs) / 2
	produceEvents(t, b, evs[:half])
	a, _, done := startAggregator(t, b, "agg-crash", half+1)
	testkit.Eventually(t, 30*time.Second, "first half committed", func() bool { return testutil.ToFloat64(a.m.events) >= float64(half) })
	// The rest in chunks: the first is committed, and the aggregator dies
	// with the second in an open transaction.
	rest := evs[half:]
	chunk := len(rest)/4 + 1
	crashed := false
	for len(rest) > 0 {
		n := min(chunk, len(rest))
		produceEvents(t, b, rest[:n])
		rest = rest[n:]
		select {
		case err := <-done:
			if !errors.Is(err, errCrashed) {
				t.Fatalf("first aggregator: %v, want the simulated crash", err)
			}
			crashed = true
		case <-time.After(time.Second):
		}
	}
	if !crashed {
		select {
		case err := <-done:
			if !errors.Is(err, errCrashed) {
				t.Fatalf("first aggregator: %v, want the simulated crash", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("first aggregator did not reach its crash point")
		}
	}
	// The restarted process takes the same transactional id, which fences
	// the dead one and aborts its open transaction.
	a2, _, _ := startAggregator(t, b, "agg-crash", 0)
	want := expectedScores(t, b, len(evs))
	got := committedScores(t, b, len(want), 60*time.Second)
	sameScores(t, got, want)
	if testutil.ToFloat64(a2.m.events) == 0 || testutil.ToFloat64(a2.m.restores) == 0 {
		t.Fatal("the restarted aggregator did not restore state and process the rest")
	}
}

func TestServiceRebalance(t *testing.T) {
	b := kafkatest.Start(t)
	evs := serviceTraffic()
	half := len(evs) / 2
	produceEvents(t, b, evs[:half])
	a1, stop1, done1 := startAggregator(t, b, "agg-a", 0)
	testkit.Eventually(t, 30*time.Second, "first aggregator to commit", func() bool {
		return testutil.ToFloat64(a1.m.txns.WithLabelValues("committed")) > 0
	})
	a2, _, _ := startAggregator(t, b, "agg-b", 0)
	testkit.Eventually(t, 60*time.Second, "second aggregator to get partitions", func() bool {
		return testutil.ToFloat64(a2.m.rebalances.WithLabelValues("assigned")) > 0 &&
			testutil.ToFloat64(a1.m.rebalances.WithLabelValues("revoked")) > 0
	})
	produceEvents(t, b, evs[half:])
	testkit.Eventually(t, 60*time.Second, "second aggregator to process events", func() bool {
		return testutil.ToFloat64(a2.m.events) > 0
	})
	// then the first leaves: the second takes over everything
	stop1()
	if err := <-done1; err != nil {
		t.Fatalf("first aggregator: %v", err)
	}
	want := expectedScores(t, b, len(evs))
	got := committedScores(t, b, len(want), 60*time.Second)
	sameScores(t, got, want)
}
