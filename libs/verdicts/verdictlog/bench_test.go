//go:build unix

package verdictlog_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdictlog"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

const startUpVerdicts = 1_000_000

// writeVerdicts writes n verdicts in force (IPv4 subjects spread over the
// address space, so over every partition) to the verdict topic.
func writeVerdicts(tb testing.TB, br *embedkafka.Broker, n int) {
	tb.Helper()
	cl := kafkatest.Client(tb, br, kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(100_000), kgo.ProducerLinger(5*time.Millisecond))
	at := time.Now().UnixNano()
	var wg sync.WaitGroup
	var once sync.Once
	var perr error
	for i := range n {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], uint32(i)*2654435761)
		subj := "ip:" + netip.AddrFrom4(a).String()
		v := &eventpb.Verdict{Subject: subj, Action: eventpb.Action(2 + i%3), Score: float64(i%1000) / 10,
			Reasons: []string{"rate_10s=" + strconv.Itoa(i%97) + "/s", "no_static_assets"}, Rule: "ladder",
			AtUnixNano: at, ExpiresAtUnixNano: at + int64(time.Hour)}
		val, _ := proto.Marshal(v)
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Topic: "bulwark.verdicts.v1", Key: []byte(subj), Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				once.Do(func() { perr = err })
			}
			wg.Done()
		})
	}
	wg.Wait()
	if perr != nil {
		tb.Fatal(perr)
	}
}

// waitReady waits for ready or fails after five minutes.
func waitReady(tb testing.TB, ready <-chan struct{}) {
	tb.Helper()
	select {
	case <-ready:
	case <-time.After(5 * time.Minute):
		tb.Fatal("never caught up")
	}
}

// run runs fn until the returned stop is called.
func run(fn func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = fn(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// BenchmarkStartUp measures how long the verdict topic's readers take from
// start to serving, with 1,000,000 verdicts in force, on 4 partitions (the
// same-run baseline) and on 64: a bare reader (cfsync's and fwsync's
// start-up), the sidecar's table, and the decider (verdicts restored, then
// the first score decided: its consumer group joined on the scores topic).
// Run it with -benchtime=1x.
func BenchmarkStartUp(b *testing.B) {
	for _, parts := range []int32{4, 64} {
		br := kafkatest.Start(b, kafkatest.WithPartitions(parts))
		writeVerdicts(b, br, startUpVerdicts)
		cfg := kafkatest.Config(br)
		b.Run(fmt.Sprintf("partitions=%d/reader", parts), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var mu sync.Mutex
				set := make(map[string]eventpb.Action, startUpVerdicts)
				r := verdictlog.New(cfg, "bench", func(s string, v *eventpb.Verdict) {
					mu.Lock()
					set[s] = v.GetAction()
					mu.Unlock()
				}, nil, nil)
				start, cpu0 := time.Now(), processCPU()
				stop := run(r.Run)
				waitReady(b, r.Ready())
				b.ReportMetric(time.Since(start).Seconds(), "startup-s")
				b.ReportMetric((processCPU() - cpu0).Seconds(), "cpu-s")
				stop()
				if len(set) != startUpVerdicts {
					b.Fatalf("read %d verdicts, want %d", len(set), startUpVerdicts)
				}
			}
		})
		b.Run(fmt.Sprintf("partitions=%d/sidecar-table", parts), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tab := verdicttable.New()
				f := verdicttable.NewFollower(tab, cfg, verdicttable.FollowOptions{})
				start, cpu0 := time.Now(), processCPU()
				stop := run(f.Run)
				waitReady(b, f.Ready())
				b.ReportMetric(time.Since(start).Seconds(), "startup-s")
				b.ReportMetric((processCPU() - cpu0).Seconds(), "cpu-s")
				stop()
				if tab.Len() != startUpVerdicts {
					b.Fatalf("table holds %d verdicts, want %d", tab.Len(), startUpVerdicts)
				}
			}
		})
		b.Run(fmt.Sprintf("partitions=%d/decider", parts), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				// One score waiting on the scores topic: the decider has
				// started when it has decided on it.
				sc, _ := proto.Marshal(&eventpb.Score{Subject: "ip:192.0.2.1", Score: 10, TimeUnixNano: time.Now().UnixNano()})
				pcl := kafkatest.Client(b, br)
				if err := pcl.ProduceSync(context.Background(), &kgo.Record{Topic: "bulwark.scores.v1", Key: []byte("ip:192.0.2.1"), Value: sc}).FirstErr(); err != nil {
					b.Fatal(err)
				}
				reg := prometheus.NewRegistry()
				svc, err := decider.NewService(decider.Config{Group: fmt.Sprintf("bench-decider-%d-%d", parts, i),
					ReloadInterval: time.Second, ExpiryTick: time.Second}, cfg, nil, reg)
				if err != nil {
					b.Fatal(err)
				}
				start, cpu0 := time.Now(), processCPU()
				stop := run(svc.Run)
				waitReady(b, svc.Ready())
				restored := time.Since(start)
				testkit.EventuallyEvery(b, 2*time.Minute, 5*time.Millisecond, "the decider to decide on the waiting score", func() bool {
					return testkit.Metric(b, reg, "bulwark_decider_scores_total") >= 1
				})
				b.ReportMetric(restored.Seconds(), "restored-s")
				b.ReportMetric(time.Since(start).Seconds(), "startup-s")
				b.ReportMetric((processCPU() - cpu0).Seconds(), "cpu-s")
				stop()
			}
		})
	}
}

// processCPU is the process's CPU time (user + system): unlike the wall
// clock it does not grow when other processes take the shared cores. The
// embedded broker runs in the process, so it is counted too.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
