package failover

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// scalePartitions is a busy deployment's partition count.
const scalePartitions = 64

// scaleTraffic is n events of clients spread over every partition, in event
// time order, an hour ago: people reading pages with their assets, and
// scrapers (python-requests) at ten times their rate.
func scaleTraffic(n int) []*eventpb.RequestEvent {
	rng := rand.New(rand.NewPCG(22, 64))
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
	evs := make([]*eventpb.RequestEvent, 0, n)
	for i := 0; len(evs) < n; i++ {
		c := rng.IntN(640)
		ua, path := chromeUA, fmt.Sprintf("/static/app%d.js", rng.IntN(6))
		if c%10 == 0 {
			ua, path = "python-requests/2.32", fmt.Sprintf("/product/%d", rng.IntN(100000))
		} else if rng.IntN(10) < 9 {
			c = 1 + rng.IntN(639)/10*10 + rng.IntN(9) // a person: mostly their page's assets
		} else {
			path = fmt.Sprintf("/product/%d", rng.IntN(5000))
		}
		evs = append(evs, &eventpb.RequestEvent{TimeUnixNano: t0.Add(time.Duration(i) * 5 * time.Millisecond).UnixNano(),
			ClientIp: fmt.Sprintf("198.18.%d.%d", c/250, c%250+1), Method: "GET", Path: path, Status: 200,
			UserAgent: ua, Protocol: "HTTP/1.1", Host: "shop.example"})
	}
	return evs
}

// gapMonitor samples the group's committed offsets and the end offsets of
// the requests topic: a partition's scoring gap is how long its committed
// offset (which moves only with the transaction holding its scores) stands
// still while it has records waiting.
type gapMonitor struct {
	mu      sync.Mutex
	phase   string
	worst   map[string]time.Duration // by phase: longest gap of any partition
	perPart map[int32]time.Duration  // longest gap of each partition, whole run
	stop    context.CancelFunc
	done    chan struct{}
}

func startGapMonitor(tb testing.TB, c *cluster, group string) *gapMonitor {
	tb.Helper()
	adm := kadm.NewClient(c.client(tb, "gap-monitor"))
	ctx, cancel := context.WithCancel(context.Background())
	m := &gapMonitor{phase: "start", worst: map[string]time.Duration{}, perPart: map[int32]time.Duration{}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		last := map[int32]int64{}
		since := map[int32]time.Time{}
		for ctx.Err() == nil {
			qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
			ends, err1 := adm.ListEndOffsets(qctx, "bulwark.requests.v1")
			committed, err2 := adm.FetchOffsets(qctx, group)
			qcancel()
			now := time.Now()
			if err1 == nil && err2 == nil {
				ends.Each(func(e kadm.ListedOffset) {
					at := int64(0)
					if o, ok := committed.Lookup(e.Topic, e.Partition); ok {
						at = o.At
					}
					p := e.Partition
					if _, seen := since[p]; !seen || at != last[p] || at >= e.Offset {
						last[p], since[p] = at, now // advanced, or nothing waiting
						return
					}
					m.observe(p, now.Sub(since[p]))
				})
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	tb.Cleanup(m.close)
	return m
}

func (m *gapMonitor) observe(p int32, gap time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.worst[m.phase] = max(m.worst[m.phase], gap)
	m.perPart[p] = max(m.perPart[p], gap)
}

func (m *gapMonitor) enter(phase string) {
	m.mu.Lock()
	m.phase = phase
	m.mu.Unlock()
}

func (m *gapMonitor) close() {
	m.stop()
	<-m.done
}

// longest returns the longest gap of a phase.
func (m *gapMonitor) longest(phase string) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.worst[phase]
}

// median is the median over partitions of each partition's longest gap.
func (m *gapMonitor) median() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	gaps := make([]time.Duration, 0, scalePartitions)
	for p := int32(0); p < scalePartitions; p++ {
		gaps = append(gaps, m.perPart[p])
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2]
}

// scaleResult is what one scale-out run measured.
type scaleResult struct {
	events, scores          int
	rolling, down, up, calm time.Duration // longest gap of any partition per phase
	median                  time.Duration // median partition's longest gap
	stop                    time.Duration // longest SIGTERM to exit of a pod (commit, leave the group)
}

// scaleOut runs the scenario: 64 partitions on three brokers, traffic
// produced at a steady rate throughout, three aggregator replicas, a rolling
// restart (a new pod surges in, an old one gets SIGTERM, three times), a
// scale-down to two and a scale-up from two to four. The committed scores
// must be exactly those of an uninterrupted in-process run.
func scaleOut(tb testing.TB, n int, rate int) scaleResult {
	c := startClusterWith(tb, 3, scalePartitions)
	prod := c.client(tb, "scale-producer")
	evs := scaleTraffic(n)
	gaps := startGapMonitor(tb, c, aggregator.DefaultConfig().Group)

	// The producer: chunks every 100 ms at the given rate, until all is out.
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		chunk := max(rate/10, 1)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for rest := evs; len(rest) > 0; {
			k := min(chunk, len(rest))
			recs := make([]*kgo.Record, k)
			for i, ev := range rest[:k] {
				v, _ := proto.Marshal(ev)
				recs[i] = &kgo.Record{Topic: "bulwark.requests.v1", Key: []byte(ev.ClientIp), Value: v}
			}
			if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				tb.Errorf("produce: %v", err)
				return
			}
			rest = rest[k:]
			<-tick.C
		}
	}()
	restored := func(r *runningAggregator) func() bool {
		return func() bool { return testkit.Metric(tb, r.reg, "bulwark_aggregator_restores_total") > 0 }
	}
	// scoring: the replicas own every partition between them, each has
	// some, and none waits for state.
	scoring := func(rs ...*runningAggregator) func() bool {
		return func() bool {
			sum := 0.0
			for _, r := range rs {
				n := testkit.Metric(tb, r.reg, "bulwark_aggregator_assigned_partitions")
				if n == 0 || testkit.Metric(tb, r.reg, "bulwark_aggregator_paused_partitions") > 0 {
					return false
				}
				sum += n
			}
			return sum == scalePartitions
		}
	}

	pods := []*runningAggregator{}
	var stop time.Duration
	for i := range 3 {
		pods = append(pods, startAggregator(tb, c, fmt.Sprintf("agg-%d", i)))
	}
	testkit.Eventually(tb, 60*time.Second, "three replicas scoring", scoring(pods...))

	gaps.enter("rolling")
	for i := range 3 {
		surge := startAggregator(tb, c, fmt.Sprintf("agg-new-%d", i))
		testkit.Eventually(tb, 60*time.Second, "the surge pod to get partitions", restored(surge))
		stop = max(stop, pods[i].sigterm(tb))
		pods[i] = surge
	}
	testkit.Eventually(tb, 60*time.Second, "the new replicas scoring", scoring(pods...))

	gaps.enter("scale-down")
	stop = max(stop, pods[2].sigterm(tb))
	pods = pods[:2]
	testkit.Eventually(tb, 60*time.Second, "two replicas scoring", scoring(pods...))

	gaps.enter("scale-up")
	for i := range 2 {
		pods = append(pods, startAggregator(tb, c, fmt.Sprintf("agg-up-%d", i)))
	}
	testkit.Eventually(tb, 60*time.Second, "four replicas scoring", scoring(pods...))

	gaps.enter("calm")
	<-produced
	want := expectedScores(tb, c, len(evs))
	got := committedScores(tb, c, len(want), 90*time.Second)
	gaps.close()
	sameScores(tb, got, want)
	return scaleResult{
		events: len(evs), scores: len(want),
		rolling: gaps.longest("rolling"), down: gaps.longest("scale-down"), up: gaps.longest("scale-up"),
		calm: gaps.longest("calm"), median: gaps.median(), stop: stop,
	}
}

// TestAggregatorScaleOut64: exact scores across a rolling restart, a
// scale-down and a scale-up at 64 partitions under steady traffic.
func TestAggregatorScaleOut64(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test")
	}
	r := scaleOut(t, 12000, 600)
	t.Logf("%d events, %d scores, exact; longest scoring gap of a partition: rolling restart %s, scale 3->2 %s, scale 2->4 %s, afterwards %s; median partition's longest %s; longest SIGTERM to exit %s",
		r.events, r.scores, r.rolling, r.down, r.up, r.calm, r.median, r.stop)
}

// BenchmarkAggregatorScaleOut64 reports the longest scoring gap of any
// partition per phase of the scale-out scenario; "calm" (after the last
// rebalance, the same traffic) is the same-run baseline.
func BenchmarkAggregatorScaleOut64(b *testing.B) {
	b.ReportAllocs()
	var worst scaleResult
	for i := 0; i < b.N; i++ {
		r := scaleOut(b, 24000, 1000)
		worst.rolling, worst.down = max(worst.rolling, r.rolling), max(worst.down, r.down)
		worst.up, worst.calm, worst.median = max(worst.up, r.up), max(worst.calm, r.calm), max(worst.median, r.median)
		worst.stop = max(worst.stop, r.stop)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(worst.rolling), "rolling-max-gap-ms")
	b.ReportMetric(ms(worst.down), "scaledown-max-gap-ms")
	b.ReportMetric(ms(worst.up), "scaleup-max-gap-ms")
	b.ReportMetric(ms(worst.calm), "calm-max-gap-ms")
	b.ReportMetric(ms(worst.median), "median-partition-max-gap-ms")
	b.ReportMetric(ms(worst.stop), "sigterm-to-exit-max-ms")
	b.ReportMetric(0, "ns/op")
}
