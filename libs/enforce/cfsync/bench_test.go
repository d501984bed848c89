package cfsync_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdictlog"
)

// arrivals records when a plain verdict reader saw each subject: the
// baseline, i.e. what the verdict topic itself costs.
type arrivals struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (a *arrivals) apply(s string, _ *eventpb.Verdict) {
	a.mu.Lock()
	a.at[s] = time.Now()
	a.mu.Unlock()
}

func (a *arrivals) get(s string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[s]
	return t, ok
}

func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[min(int(float64(len(s))*p), len(s)-1)]) / float64(time.Millisecond)
}

// BenchmarkBlockToList measures the time from a BLOCK verdict written to the
// topic to the item being in the (fake) Cloudflare list, with a 200ms sync
// interval and 50ms bulk operations; the baseline is a bare verdict reader
// seeing the same record. "stream": each verdict right after the previous
// one landed (it waits for the interval); "quiet": after a pause longer
// than the interval (it goes out at once).
func BenchmarkBlockToList(b *testing.B) {
	b.Run("stream", func(b *testing.B) { benchBlockToList(b, 0) })
	b.Run("quiet", func(b *testing.B) { benchBlockToList(b, 250*time.Millisecond) })
}

func benchBlockToList(b *testing.B, pause time.Duration) {
	e := newEnv(b, 50*time.Millisecond)
	cfg := e.config()
	cfg.SyncInterval = 200 * time.Millisecond
	cfg.PollInterval = 20 * time.Millisecond
	e.start(cfg)
	arr := &arrivals{at: map[string]time.Time{}}
	r := verdictlog.New(kafkatest.Config(e.b), "bench", arr.apply, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	<-r.Ready()

	var lat, base []time.Duration
	b.ResetTimer()
	for i := range b.N {
		ip := fmt.Sprintf("10.%d.%d.%d", 100+i/65536%100, i/256%256, i%256)
		if pause > 0 {
			b.StopTimer()
			time.Sleep(pause) // the quiet interval the benchmark measures after: not a wait
			b.StartTimer()
		}
		// What `bulwark block IP --ttl 1h` writes.
		key, v, err := overrides.Verdict(eventpb.Action_BLOCK, ip, time.Hour, "bench", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		e.put(key, v)
		testkit.EventuallyEvery(b, time.Minute, time.Millisecond, ip+" listed", func() bool { return e.fake.Contains("bulwark_block", ip) })
		lat = append(lat, time.Since(t0))
		var at time.Time
		testkit.EventuallyEvery(b, time.Minute, time.Millisecond, ip+" on the verdict topic", func() bool {
			var ok bool
			at, ok = arr.get("ip:" + ip)
			return ok
		})
		base = append(base, at.Sub(t0))
	}
	b.StopTimer()
	b.ReportMetric(percentile(lat, 0.50), "p50_ms")
	b.ReportMetric(percentile(lat, 0.99), "p99_ms")
	b.ReportMetric(percentile(base, 0.50), "topic_p50_ms")
	b.ReportMetric(percentile(base, 0.99), "topic_p99_ms")
}

// BenchmarkAPICallsPer1000Changes writes 1,000 verdict changes (700 blocks,
// 300 of them lifted again) over about 5 s with a 1 s sync interval and
// counts the Cloudflare API requests until the list has converged. The
// baseline is a syncer without batching: one write and at least one poll
// per change, 2,000 requests.
func BenchmarkAPICallsPer1000Changes(b *testing.B) {
	for range b.N {
		b.StopTimer()
		e := newEnv(b, 100*time.Millisecond)
		cfg := e.config()
		cfg.SyncInterval = time.Second
		cfg.PollInterval = 50 * time.Millisecond
		e.start(cfg)
		before := e.fake.Stats().Requests
		b.StartTimer()
		var want []string
		tick := time.NewTicker(5 * time.Millisecond)
		for i := range 1000 {
			<-tick.C
			if i < 700 {
				e.put(fmt.Sprintf("ip:10.1.%d.%d", i/256, i%256), block(90, time.Hour))
				continue
			}
			j := (i - 700) * 2 // lift every other early block
			e.put(fmt.Sprintf("ip:10.1.%d.%d", j/256, j%256), nil)
		}
		tick.Stop()
		for i := range 700 {
			if i%2 == 1 || i >= 600 {
				want = append(want, fmt.Sprintf("10.1.%d.%d", i/256, i%256))
			}
		}
		e.eventually("bulwark_block", want...)
		b.StopTimer()
		calls := e.fake.Stats().Requests - before
		b.ReportMetric(float64(calls), "calls/1000changes")
		b.ReportMetric(2000, "naive_calls/1000changes")
	}
}
