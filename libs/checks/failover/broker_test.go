package failover

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/twmb/franz-go/pkg/kgo"
)

// seqRecord is a record carrying its sequence number.
func seqRecord(i int) *kgo.Record {
	v := binary.BigEndian.AppendUint64(nil, uint64(i))
	return &kgo.Record{Topic: "bulwark.requests.v1", Key: v[4:], Value: v}
}

// TestBrokerLossLosesNothing: producing and a consumer group keep working
// when the broker leading most partitions dies; every record is in the log
// exactly once (idempotent producer) and the group saw every one.
func TestBrokerLossLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test")
	}
	c := startCluster(t, 3)
	prod := c.client(t, "failover-producer")
	cons := c.client(t, "failover-consumer", kgo.ConsumerGroup("failover-group"),
		kgo.ConsumeTopics("bulwark.requests.v1"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))

	seen := map[uint64]int{}
	consumed := make(chan struct{})
	stopConsuming := make(chan struct{})
	const total = 3000
	go func() {
		defer close(consumed)
		for len(seen) < total {
			select {
			case <-stopConsuming:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			fs := cons.PollFetches(ctx)
			cancel()
			fs.EachRecord(func(r *kgo.Record) { seen[binary.BigEndian.Uint64(r.Value)]++ })
		}
	}()

	produce := func(from, to int) {
		t.Helper()
		recs := make([]*kgo.Record, 0, to-from)
		for i := from; i < to; i++ {
			recs = append(recs, seqRecord(i))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce %d..%d: %v", from, to, err)
		}
	}
	produce(0, total/2)
	victim := c.leaderOfMost(t, "bulwark.requests.v1")
	c.kill(t, victim)
	t.Logf("killed broker %d", victim)
	produce(total/2, total)

	select {
	case <-consumed:
	case <-time.After(60 * time.Second):
		close(stopConsuming)
		<-consumed
		t.Fatalf("the consumer group saw %d of %d records after the broker loss", len(seen), total)
	}
	for i := 0; i < total; i++ {
		if seen[uint64(i)] == 0 {
			t.Fatalf("record %d never reached the consumer group", i)
		}
	}
	inLog := map[uint64]int{}
	for _, r := range readAll(t, c, "bulwark.requests.v1", total+1, 5*time.Second) {
		inLog[binary.BigEndian.Uint64(r.Value)]++
	}
	for i := 0; i < total; i++ {
		if inLog[uint64(i)] != 1 {
			t.Fatalf("record %d is %d times in the log, want once", i, inLog[uint64(i)])
		}
	}
	if len(inLog) != total {
		t.Fatalf("%d distinct records in the log, want %d", len(inLog), total)
	}
}

// TestBrokerLossAggregatorScores: a broker dies while the aggregator is
// being replaced (the pod is stopped, a broker goes with its node, the new
// pod starts on the surviving brokers): the new pod finds the moved group
// and transaction coordinators and partition leaders, restores the state,
// and the committed scores are exactly an in-process engine's.
//
// The broker dies between the pods, not under a running consumer: kfake
// answers OffsetForLeaderEpoch after a leader change with an end offset of
// 0, so a running client believes records were lost and resets to the
// start, which a real cluster does only after an unclean leader election.
func TestBrokerLossAggregatorScores(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test")
	}
	c := startCluster(t, 3)
	prod := c.client(t, "failover-producer")
	evs := traffic()
	half := len(evs) / 2
	produceEvents(t, prod, evs[:half])
	a := startAggregator(t, c, "agg-0")
	testkit.Eventually(t, 60*time.Second, "the first half processed", func() bool {
		return testkit.Metric(t, a.reg, "bulwark_aggregator_events_total") >= float64(half)
	})
	a.sigterm(t)
	victim := c.leaderOfMost(t, "bulwark.requests.v1")
	c.kill(t, victim)
	t.Logf("killed broker %d", victim)
	b := startAggregator(t, c, "agg-1")
	produceEvents(t, prod, evs[half:])
	want := expectedScores(t, c, len(evs))
	got := committedScores(t, c, len(want), 60*time.Second)
	select {
	case err := <-b.done:
		t.Fatalf("the new pod stopped: %v", err)
	default:
	}
	sameScores(t, got, want)
	if n := testkit.Metric(t, b.reg, "bulwark_aggregator_events_total"); n != float64(len(evs)-half) {
		t.Fatalf("the new pod processed %v events, want %d", n, len(evs)-half)
	}
}
