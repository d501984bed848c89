package aggregator

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

type stateRecord struct{ key, value []byte }

// stateOf returns the state records of an engine that saw ips clients, each
// in a /24 of its own (an ip:, a session: and a net: subject each).
func stateOf(ips int) []stateRecord {
	e := NewEngine(testConfig())
	e.TrackChanges()
	ev := &eventpb.RequestEvent{Method: "GET", Path: "/", Status: 200, UserAgent: chromeUA}
	for j := 0; j < ips; j++ {
		ev.ClientIp = netip.AddrFrom4([4]byte{byte(11 + j>>16), byte(j >> 8), byte(j), 1}).String()
		ev.TimeUnixNano = t0.Add(time.Duration(j) * time.Microsecond).UnixNano()
		e.Process(ev, nil)
	}
	var out []stateRecord
	e.Changes(func(k, v []byte) { out = append(out, stateRecord{k, v}) })
	return out
}

// stateFixture is a broker whose state topic has parts partitions.
func stateFixture(tb testing.TB, parts int32) (*embedkafka.Broker, *Aggregator) {
	tb.Helper()
	b := kafkatest.Start(tb, kafkatest.WithPartitions(parts))
	a, err := New(DefaultConfig(), kafkatest.Config(b), testConfig(), nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.EnsureStateTopic(ctx); err != nil {
		tb.Fatal(err)
	}
	return b, a
}

// writeState writes recs and the offset record next to partition p of the
// state topic in one transaction, committed or aborted.
func writeState(tb testing.TB, cl *kgo.Client, topic string, p int32, recs []stateRecord, next int64, commit bool) {
	tb.Helper()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		tb.Fatal(err)
	}
	out := make([]*kgo.Record, 0, len(recs)+1)
	for _, r := range recs {
		out = append(out, &kgo.Record{Topic: topic, Partition: p, Key: r.key, Value: r.value})
	}
	out = append(out, &kgo.Record{Topic: topic, Partition: p, Key: offsetKey, Value: binary.LittleEndian.AppendUint64(nil, uint64(next))})
	for len(out) > 0 {
		n := min(len(out), 20000)
		if err := cl.ProduceSync(ctx, out[:n]...).FirstErr(); err != nil {
			tb.Fatalf("write state: %v", err)
		}
		out = out[n:]
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		tb.Fatal(err)
	}
}

func stateWriter(tb testing.TB, b *embedkafka.Broker) *kgo.Client {
	return kafkatest.Client(tb, b, kgo.TransactionalID(fmt.Sprintf("state-writer-%d", time.Now().UnixNano())),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(8<<20))
}

func startRestorer(tb testing.TB, a *Aggregator, workers int) (*restorer, *prometheus.Registry) {
	tb.Helper()
	cl, err := kafka.NewClient(a.kcfg.WithClientID("restore-test"), nil, restoreClientOpts()...)
	if err != nil {
		tb.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rs := newRestorer(cl, a.cfg.StateTopic, a.newEngine, newMetrics(reg), slog.New(slog.DiscardHandler))
	if workers > 0 {
		rs.workers = workers
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rs.run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done; cl.Close() })
	return rs, reg
}

// awaitAll waits for one result per partition in ids.
func awaitAll(tb testing.TB, rs *restorer, n int, timeout time.Duration) map[int32]restored {
	tb.Helper()
	got := map[int32]restored{}
	deadline := time.After(timeout)
	for len(got) < n {
		for _, r := range rs.take() {
			if r.err != nil {
				tb.Fatalf("restore partition %d: %v", r.id, r.err)
			}
			got[r.id] = r
		}
		if len(got) >= n {
			break
		}
		select {
		case <-rs.ready:
		case <-deadline:
			tb.Fatalf("%d of %d partitions restored after %s", len(got), n, timeout)
		}
	}
	return got
}

// TestRestorerParallel: partitions with committed state, with an aborted
// transaction on top, with an open one, and without state, all restored in
// one go; each gets exactly its committed state and offset.
func TestRestorerParallel(t *testing.T) {
	const parts = 8
	b, a := stateFixture(t, parts)
	w := stateWriter(t, b)
	full, small := stateOf(300), stateOf(20)
	topic := a.cfg.StateTopic
	for p := int32(0); p < parts-2; p++ {
		writeState(t, w, topic, p, full, 1000+int64(p), true)
	}
	// Partition 1: a later transaction aborted (a crash, a rebalance).
	writeState(t, w, topic, 1, small, 5000, false)
	// Partition 2: a second committed transaction adds subjects.
	writeState(t, w, topic, 2, stateOf(400), 2000, true)
	// Partition 3: another producer's transaction is still open.
	open := stateWriter(t, b)
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: 3, Key: offsetKey, Value: make([]byte, 8)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = open.EndTransaction(context.Background(), kgo.TryAbort) })

	rs, _ := startRestorer(t, a, 2)
	ids := make([]int32, parts)
	for i := range ids {
		ids[i] = int32(i)
	}
	rs.ask(ids...)
	got := awaitAll(t, rs, parts, 30*time.Second)
	for p := int32(0); p < parts; p++ {
		r := got[p]
		wantNext, wantIPs := 1000+int64(p), 300
		switch {
		case p == 2:
			wantNext, wantIPs = 2000, 400
		case p >= parts-2:
			wantNext, wantIPs = -1, 0
		}
		if r.next != wantNext || r.eng.Stats().IPs != wantIPs {
			t.Errorf("partition %d: state offset %d with %d ips, want %d with %d", p, r.next, r.eng.Stats().IPs, wantNext, wantIPs)
		}
	}
	// Asked again (an abort): a fresh, equal state.
	rs.ask(4)
	again := awaitAll(t, rs, 1, 30*time.Second)
	if r := again[4]; r.next != 1004 || r.eng.Stats().IPs != 300 {
		t.Errorf("partition 4 again: offset %d with %d ips", r.next, r.eng.Stats().IPs)
	}
}

// BenchmarkRestore restores every partition of a state topic through one
// client, as an aggregator that gets them all does. "read" is the same-run
// baseline: the same records read through the same kind of client without
// loading them into engines.
func BenchmarkRestore(b *testing.B) {
	for _, c := range []struct {
		parts int32
		ips   int // client IPs per partition (3 subjects each)
	}{{64, 0}, {64, 3_400}, {16, 33_400}} {
		recs := stateOf(c.ips)
		subjects := 0
		if c.ips > 0 {
			subjects = len(recs) - 1 // all but the engine's record
		}
		name := fmt.Sprintf("partitions=%d/subjects=%d", c.parts, subjects)
		// One broker for both sub-benchmarks, stopped when the parent ends.
		br, a := stateFixture(b, c.parts)
		if c.ips > 0 {
			w := stateWriter(b, br)
			for p := int32(0); p < c.parts; p++ {
				writeState(b, w, a.cfg.StateTopic, p, recs, 100, true)
			}
		}
		ids := make([]int32, c.parts)
		for i := range ids {
			ids[i] = int32(i)
		}
		b.Run(name+"/restore", func(b *testing.B) {
			b.ReportAllocs()
			var worst time.Duration
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rs, _ := startRestorer(b, a, 0)
				start := time.Now()
				rs.ask(ids...)
				got := awaitAll(b, rs, int(c.parts), 5*time.Minute)
				worst = max(worst, time.Since(start))
				if st := got[0].eng.Stats(); st.IPs != c.ips {
					b.Fatalf("restored %d ips, want %d", st.IPs, c.ips)
				}
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/restore")
			b.ReportMetric(float64(worst.Milliseconds()), "max-ms")
			if subjects > 0 {
				total := float64(subjects) * float64(c.parts) * float64(b.N)
				b.ReportMetric(total/b.Elapsed().Seconds(), "subjects/s")
				b.ReportMetric(total/cpu.Seconds(), "subjects/cpu-s")
			}
		})
		b.Run(name+"/read", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if c.ips > 0 {
					readState(b, br, a.cfg.StateTopic, c.parts)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/restore")
		})
	}
}

// readState reads every partition of the state topic to its high
// watermark with a fresh client, loading nothing.
func readState(tb testing.TB, br *embedkafka.Broker, topic string, parts int32) {
	tb.Helper()
	at := map[int32]kgo.Offset{}
	for p := int32(0); p < parts; p++ {
		at[p] = kgo.NewOffset().AtStart()
	}
	cl := kafkatest.Client(tb, br, append(restoreClientOpts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: at}))...)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done := map[int32]bool{}
	for len(done) < int(parts) && ctx.Err() == nil {
		cl.PollFetches(ctx).EachPartition(func(fp kgo.FetchTopicPartition) {
			if n := len(fp.Records); n > 0 && fp.Records[n-1].Offset+1 >= fp.HighWatermark {
				done[fp.Partition] = true
			}
		})
	}
	if len(done) < int(parts) {
		tb.Fatalf("read %d of %d state partitions", len(done), parts)
	}
}
