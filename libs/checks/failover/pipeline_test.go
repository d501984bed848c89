package failover

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"

// traffic is a few minutes of people and bots, an hour ago (the aggregator
// drops events from the future), in event-time order.
func traffic() []*eventpb.RequestEvent {
	rng := rand.New(rand.NewPCG(9, 9))
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
	var evs []*eventpb.RequestEvent
	add := func(at time.Duration, ip, path, ua string) {
		evs = append(evs, &eventpb.RequestEvent{TimeUnixNano: t0.Add(at).UnixNano(), ClientIp: ip, Method: "GET",
			Path: path, Status: 200, UserAgent: ua, Protocol: "HTTP/1.1", Host: "shop.example"})
	}
	for i := 0; i < 16; i++ { // people: pages with their assets, at a human pace
		ip := fmt.Sprintf("198.51.100.%d", i+1)
		for at := time.Duration(i) * time.Second; at < 4*time.Minute; at += time.Duration(8+rng.IntN(30)) * time.Second {
			add(at, ip, fmt.Sprintf("/product/%d", rng.IntN(5000)), chromeUA)
			for a := 0; a < 5; a++ {
				add(at+time.Duration(50+rng.IntN(400))*time.Millisecond, ip, fmt.Sprintf("/static/app%d.js", a), chromeUA)
			}
		}
	}
	for i, ip := range []string{"203.0.113.7", "203.0.113.8", "203.0.114.9"} { // scrapers
		for at := time.Duration(20*i) * time.Second; at < 3*time.Minute; at += 100 * time.Millisecond {
			add(at, ip, fmt.Sprintf("/product/%d", rng.IntN(100000)), "python-requests/2.32")
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].TimeUnixNano < evs[j].TimeUnixNano })
	return evs
}

func produceEvents(tb testing.TB, cl *kgo.Client, evs []*eventpb.RequestEvent) {
	tb.Helper()
	recs := make([]*kgo.Record, len(evs))
	for i, ev := range evs {
		v, err := proto.Marshal(ev)
		if err != nil {
			tb.Fatal(err)
		}
		recs[i] = &kgo.Record{Topic: "bulwark.requests.v1", Key: []byte(ev.ClientIp), Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		tb.Fatalf("produce: %v", err)
	}
}

// readAll reads topic from the start with a fresh client until it has n
// records (or the timeout), keeping each partition's order.
func readAll(tb testing.TB, c *cluster, topic string, n int, timeout time.Duration, opts ...kgo.Opt) []*kgo.Record {
	tb.Helper()
	opts = append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	cl := c.client(tb, "failover-read", opts...)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func scoringConfig() scoring.Config { return scoring.DefaultConfig() }

// expectedScores runs the requests topic through one in-process engine per
// partition, in offset order, as the aggregator must, whatever happened to
// brokers or aggregator pods meanwhile.
func expectedScores(tb testing.TB, c *cluster, n int) []string {
	tb.Helper()
	recs := readAll(tb, c, "bulwark.requests.v1", n, 30*time.Second)
	if len(recs) != n {
		tb.Fatalf("read %d of %d requests", len(recs), n)
	}
	cfg := aggregator.DefaultConfig()
	engines := map[int32]*aggregator.Engine{}
	var out []string
	for _, r := range recs {
		e := engines[r.Partition]
		if e == nil {
			e = aggregator.NewEngine(scoringConfig(), aggregator.WithAllowedLateness(cfg.AllowedLateness), aggregator.WithIdleTimeout(cfg.IdleTimeout))
			engines[r.Partition] = e
		}
		ev := &eventpb.RequestEvent{}
		if err := proto.Unmarshal(r.Value, ev); err != nil {
			tb.Fatal(err)
		}
		for _, s := range e.Process(ev, nil) {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(s)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, string(b))
		}
	}
	slices.Sort(out)
	return out
}

// committedScores reads the scores topic as the decider does (read
// committed) until it has want records and nothing more arrives for a while.
func committedScores(tb testing.TB, c *cluster, want int, timeout time.Duration) []string {
	tb.Helper()
	cl := c.client(tb, "failover-scores", kgo.ConsumeTopics("bulwark.scores.v1"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	var out []string
	for _, r := range kafkatest.ReadUntilQuiet(tb, cl, want, timeout) {
		out = append(out, string(r.Value))
	}
	slices.Sort(out)
	return out
}

func sameScores(tb testing.TB, got, want []string) {
	tb.Helper()
	if len(want) == 0 {
		tb.Fatal("the traffic produced no scores; the test checks nothing")
	}
	if len(got) != len(want) {
		tb.Fatalf("got %d committed scores, want %d (lost or duplicated)", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			g, w := &eventpb.Score{}, &eventpb.Score{}
			_ = proto.Unmarshal([]byte(got[i]), g)
			_ = proto.Unmarshal([]byte(want[i]), w)
			tb.Fatalf("score %d differs from the in-process engine's:\n got %v\nwant %v", i, g, w)
		}
	}
}

// runningAggregator is one aggregator "pod".
type runningAggregator struct {
	reg  *prometheus.Registry
	stop context.CancelFunc
	done chan error
}

// startAggregator starts an aggregator as a pod would (its own registry,
// transactional ID from the group, host and a random suffix).
func startAggregator(tb testing.TB, c *cluster, name string) *runningAggregator {
	tb.Helper()
	cfg := aggregator.DefaultConfig()
	cfg.SnapshotInterval = 100 * time.Millisecond
	reg := prometheus.NewRegistry()
	a, err := aggregator.New(cfg, c.config(name), scoringConfig(), nil, reg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAggregator{reg: reg, stop: cancel, done: make(chan error, 1)}
	finished := make(chan struct{})
	go func() { r.done <- a.Run(ctx); close(finished) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			tb.Errorf("aggregator %s did not stop within 30s", name)
		}
	})
	return r
}

// sigterm stops the pod as Kubernetes does (cancel = SIGTERM in main),
// waits for a clean exit and returns how long the pod took to stop (commit
// its last transaction and leave the group).
func (r *runningAggregator) sigterm(tb testing.TB) time.Duration {
	tb.Helper()
	start := time.Now()
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			tb.Fatalf("aggregator stopped with %v", err)
		}
		r.done <- nil
	case <-time.After(30 * time.Second):
		tb.Fatal("aggregator did not stop within 30s of SIGTERM")
	}
	return time.Since(start)
}
