package failover

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwarkhq/bulwark/libs/enforce/leader"
	"github.com/bulwarkhq/bulwark/libs/enforce/leader/leadertest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// brokerTrial measures how long a record produced at a mark takes to reach
// a consumer group on a three-broker cluster. With kill, the broker leading
// most partitions dies at the mark: the time is then how long until records
// flow again (new leaders, reconnects, and the group's coordinator moving).
func brokerTrial(b *testing.B, kill bool) time.Duration {
	c := startCluster(b, 3)
	prod := c.client(b, "bench-producer")
	cons := c.client(b, "bench-consumer", kgo.ConsumerGroup("bench-group"),
		kgo.ConsumeTopics("bulwark.requests.v1"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := make(chan uint64, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got <- binary.BigEndian.Uint64(r.Value) })
		}
	}()
	// Warm up: the group has joined and every partition has been read.
	for i := 0; i < 4*partitions; i++ {
		if err := prod.ProduceSync(ctx, seqRecord(i)).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	for n := 0; n < 4*partitions; {
		select {
		case <-got:
			n++
		case <-time.After(60 * time.Second):
			b.Fatal("warm-up records never consumed")
		}
	}
	const marker = 1 << 40
	start := time.Now()
	if kill {
		c.kill(b, c.leaderOfMost(b, "bulwark.requests.v1"))
	}
	go prod.Produce(ctx, seqRecord(marker), func(_ *kgo.Record, err error) {
		if err != nil && ctx.Err() == nil {
			b.Errorf("produce after the broker loss: %v", err)
		}
	})
	for {
		select {
		case v := <-got:
			if v == marker {
				return time.Since(start)
			}
		case <-time.After(60 * time.Second):
			b.Fatal("records never flowed again")
		}
	}
}

func reportTrials(b *testing.B, unit string, ds []time.Duration) {
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(ds[len(ds)/2]), "p50-"+unit)
	b.ReportMetric(ms(ds[len(ds)-1]), "max-"+unit)
	b.ReportMetric(0, "ns/op")
}

// BenchmarkBrokerFailover: broker loss until records flow again.
func BenchmarkBrokerFailover(b *testing.B) {
	b.ReportAllocs()
	var ds []time.Duration
	for i := 0; i < b.N; i++ {
		ds = append(ds, brokerTrial(b, true))
	}
	reportTrials(b, "ms", ds)
}

// BenchmarkBrokerHealthy is the baseline: the same record path without a loss.
func BenchmarkBrokerHealthy(b *testing.B) {
	b.ReportAllocs()
	var ds []time.Duration
	for i := 0; i < b.N; i++ {
		ds = append(ds, brokerTrial(b, false))
	}
	reportTrials(b, "ms", ds)
}

// leaderTrial: two candidates; the leader is cut off from the API server
// (crash) or stopped (clean, releasing the lease); the time is until the
// standby runs the guarded work.
func leaderTrial(b *testing.B, crash bool) time.Duration {
	api := leadertest.NewAPI()
	leading := make(chan string, 4)
	cutClient, cut := leadertest.Cuttable(api)
	elA, err := leader.New(electionConfig("a"), cutClient, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	regB := prometheus.NewRegistry()
	elB, err := leader.New(electionConfig("b"), api, nil, regB)
	if err != nil {
		b.Fatal(err)
	}
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	work := func(id string) func(context.Context) error {
		return func(ctx context.Context) error { leading <- id; <-ctx.Done(); return nil }
	}
	go func() { doneA <- elA.Run(ctxA, work("a")) }()
	select {
	case id := <-leading:
		if id != "a" {
			b.Fatalf("%s leads first", id)
		}
	case <-time.After(20 * time.Second):
		b.Fatal("a never leads")
	}
	go func() { doneB <- elB.Run(ctxB, work("b")) }()
	testkit.Eventually(b, 20*time.Second, "b to stand by (it has read the lease)", func() bool {
		return testkit.Metric(b, regB, "bulwark_leader_campaigning") == 1
	})
	start := time.Now()
	if crash {
		cut.Store(true)
	} else {
		stopA()
	}
	select {
	case id := <-leading:
		if id != "b" {
			b.Fatalf("%s leads after the failover", id)
		}
	case <-time.After(30 * time.Second):
		b.Fatal("the standby never took over")
	}
	took := time.Since(start)
	stopA()
	stopB()
	<-doneA
	<-doneB
	return took
}

// BenchmarkLeaderFailoverCrash: the leader is cut off (or dies without
// releasing); bounded below by LeaseDuration.
func BenchmarkLeaderFailoverCrash(b *testing.B) {
	b.ReportAllocs()
	var ds []time.Duration
	for i := 0; i < b.N; i++ {
		ds = append(ds, leaderTrial(b, true))
	}
	reportTrials(b, "ms", ds)
	b.ReportMetric(float64(electionConfig("x").LeaseDuration/time.Millisecond), "lease-ms")
}

// BenchmarkLeaderFailoverClean: the leader gets SIGTERM and releases the
// lease; bounded below by nothing but RetryPeriod.
func BenchmarkLeaderFailoverClean(b *testing.B) {
	b.ReportAllocs()
	var ds []time.Duration
	for i := 0; i < b.N; i++ {
		ds = append(ds, leaderTrial(b, false))
	}
	reportTrials(b, "ms", ds)
	b.ReportMetric(float64(electionConfig("x").RetryPeriod/time.Millisecond), "retry-ms")
}
