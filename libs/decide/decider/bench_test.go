package decider_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/bulwarkhq/bulwark/libs/decide/overrides"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// benchScores is a mix like live traffic: most subjects harmless, some
// monitored, a few bots, and every score with the full feature set.
func benchScores(n int) []*eventpb.Score {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]*eventpb.Score, n)
	for i := range out {
		ip := fmt.Sprintf("ip:10.%d.%d.%d", rng.IntN(4), rng.IntN(250), rng.IntN(250))
		s := rng.Float64() * 60
		if rng.IntN(10) == 0 {
			s = 60 + rng.Float64()*40
		}
		feats := map[string]float64{}
		for _, f := range []string{"rate_10s", "rate_1m", "rate_10m", "login_failures_1m", "sensitive_hits_10m", "ua_tool", "net_alike_ips_10m", "enum_10m"} {
			feats[f] = rng.Float64() * 5
		}
		out[i] = mkScore(ip, t0.Add(time.Duration(i)*time.Millisecond), s, func(sc *eventpb.Score) { sc.Features = feats })
		out[i].Trigger.ClientIp = ip[3:]
	}
	return out
}

func benchDecide(b *testing.B, rs *rules.RuleSet) {
	d, err := decider.New(rs, decider.Options{})
	if err != nil {
		b.Fatal(err)
	}
	scores := benchScores(1 << 14)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Decide(ctx, scores[i&(len(scores)-1)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scores/s")
}

// BenchmarkDecide is the in-process decider (what replay runs) with the
// shipped rules; BenchmarkDecideLadderOnly is its baseline without rules.
func BenchmarkDecide(b *testing.B) { benchDecide(b, rules.Default()) }

// BenchmarkDecideNoVerification is BenchmarkDecide without bot
// verification: the pair says what checking the bot directory costs for
// scores whose clients (browsers, in benchScores) claim no bot.
func BenchmarkDecideNoVerification(b *testing.B) {
	rs, err := rules.Parse([]byte("crawlers: {enabled: false}\n"), "no-verification")
	if err != nil {
		b.Fatal(err)
	}
	benchDecide(b, rs)
}

func BenchmarkDecideLadderOnly(b *testing.B) {
	rs, err := rules.Parse([]byte("rules: []\ncrawlers: {enabled: false}\n"), "ladder-only")
	if err != nil {
		b.Fatal(err)
	}
	benchDecide(b, rs)
}

// BenchmarkServiceThroughput pushes scores through bulwark-decider on the
// embedded broker: from produced to decided and committed. Its baseline,
// BenchmarkPassthroughThroughput, is a consumer-group loop on the same
// broker that decodes each score, copies it to the verdict topic and
// commits, deciding nothing: what Kafka alone costs.
func BenchmarkServiceThroughput(b *testing.B) {
	br := kafkatest.Start(b)
	reg := prometheus.NewRegistry()
	svc, err := decider.NewService(decider.Config{Group: "bench", ReloadInterval: time.Second, ReloadSettle: time.Millisecond, Overrides: overrides.Limits{MaxTTL: time.Hour, MaxNetV4: 16, MaxNetV6: 32}, ExpiryTick: time.Second},
		kafkatest.Config(br), nil, reg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-svc.Ready()
	cl := kafkatest.Client(b, br, kgo.ProducerLinger(5*time.Millisecond))
	scores := benchScores(1 << 14)
	// Wall-clock event time, so verdicts do not expire at once.
	now := time.Now()
	for _, s := range scores {
		s.TimeUnixNano = now.UnixNano()
	}
	b.ResetTimer()
	start := time.Now()
	produceScores(b, cl, scores, b.N)
	waitCounter(b, reg, "bulwark_decider_scores_total", float64(b.N))
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "scores/s")
}

func BenchmarkPassthroughThroughput(b *testing.B) {
	br := kafkatest.Start(b)
	kcfg := kafkatest.Config(br)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	copied := make(chan int, 1024)
	go passthrough(ctx, b, kcfg, copied)
	cl := kafkatest.Client(b, br, kgo.ProducerLinger(5*time.Millisecond))
	scores := benchScores(1 << 14)
	b.ResetTimer()
	start := time.Now()
	produceScores(b, cl, scores, b.N)
	for n := 0; n < b.N; {
		n += <-copied
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "scores/s")
}

func passthrough(ctx context.Context, b *testing.B, kcfg kafka.Config, copied chan<- int) {
	cl, err := kafka.NewClient(kcfg, nil, kgo.ConsumerGroup("passthrough"), kgo.ConsumeTopics(kcfg.Topics.Scores),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.ProducerLinger(0))
	if err != nil {
		b.Error(err)
		return
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		recs := fs.Records()
		out := make([]*kgo.Record, 0, len(recs))
		for _, r := range recs {
			s := &eventpb.Score{}
			_ = proto.Unmarshal(r.Value, s)
			out = append(out, &kgo.Record{Topic: kcfg.Topics.Verdicts, Key: r.Key, Value: r.Value})
		}
		if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil && ctx.Err() == nil {
			b.Error(err)
			return
		}
		_ = cl.CommitRecords(ctx, recs...)
		copied <- len(recs)
	}
}

func produceScores(b *testing.B, cl *kgo.Client, scores []*eventpb.Score, n int) {
	for i := range n {
		s := scores[i&(len(scores)-1)]
		v, err := proto.Marshal(s)
		if err != nil {
			b.Fatal(err)
		}
		cl.Produce(context.Background(), &kgo.Record{Topic: "bulwark.scores.v1", Key: []byte(s.Subject), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// waitCounter polls every 2 ms: the interval is the resolution of the
// throughput measured.
func waitCounter(b *testing.B, reg *prometheus.Registry, name string, want float64) {
	testkit.EventuallyEvery(b, 5*time.Minute, 2*time.Millisecond, fmt.Sprintf("%s to reach %v", name, want), func() bool {
		return testkit.Metric(b, reg, name) >= want
	})
}

// BenchmarkScoreToVerdictLatency measures, one score at a time, from
// producing a score that must block a new subject to a consumer of the
// verdict topic receiving the verdict (what a sidecar sees). Its baseline,
// BenchmarkBrokerHopLatency, is one produce-to-consume hop on the same
// broker; the decider's path is two hops plus the decision.
func BenchmarkScoreToVerdictLatency(b *testing.B) {
	br := kafkatest.Start(b)
	svc, err := decider.NewService(decider.Config{Group: "bench", ReloadInterval: time.Second, ReloadSettle: time.Millisecond, Overrides: overrides.Limits{MaxTTL: time.Hour, MaxNetV4: 16, MaxNetV6: 32}, ExpiryTick: time.Second},
		kafkatest.Config(br), nil, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-svc.Ready()
	prod := kafkatest.Client(b, br, kgo.ProducerLinger(0))
	cons := kafkatest.Client(b, br, kgo.ConsumeTopics("bulwark.verdicts.v1"), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	warm(b, cons)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		sub := fmt.Sprintf("ip:10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		s := mkScore(sub, time.Now(), 95)
		v, _ := proto.Marshal(s)
		start := time.Now()
		prod.Produce(context.Background(), &kgo.Record{Topic: "bulwark.scores.v1", Key: []byte(sub), Value: v}, nil)
		waitKey(b, cons, sub)
		lat = append(lat, time.Since(start))
	}
	reportLatency(b, lat)
}

func BenchmarkBrokerHopLatency(b *testing.B) {
	br := kafkatest.Start(b)
	prod := kafkatest.Client(b, br, kgo.ProducerLinger(0))
	cons := kafkatest.Client(b, br, kgo.ConsumeTopics("bulwark.scores.v1"), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	warm(b, cons)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		sub := fmt.Sprintf("ip:10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		v, _ := proto.Marshal(mkScore(sub, time.Now(), 95))
		start := time.Now()
		prod.Produce(context.Background(), &kgo.Record{Topic: "bulwark.scores.v1", Key: []byte(sub), Value: v}, nil)
		waitKey(b, cons, sub)
		lat = append(lat, time.Since(start))
	}
	reportLatency(b, lat)
}

// warm makes the consumer join its partitions before timing starts.
func warm(b *testing.B, cl *kgo.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	cl.PollFetches(ctx)
}

func waitKey(b *testing.B, cl *kgo.Client, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		found := false
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { found = found || string(r.Key) == key })
		if found {
			return
		}
		if ctx.Err() != nil {
			b.Fatalf("no record for %s", key)
		}
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
