package fwsync_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/enforce/fwsync"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdictlog"
)

// BenchmarkBlockToSet measures the time from a BLOCK verdict written to the
// topic to the address being in the nftables set (default 250ms sync
// interval), in a network namespace; the baseline is a bare verdict reader
// seeing the same record. "stream": each verdict right after the previous
// one landed (it waits for the interval); "quiet": after a pause longer
// than the interval (it goes out at once).
func BenchmarkBlockToSet(b *testing.B) {
	b.Run("stream", func(b *testing.B) { benchBlockToSet(b, 0) })
	b.Run("quiet", func(b *testing.B) { benchBlockToSet(b, 300*time.Millisecond) })
}

func benchBlockToSet(b *testing.B, pause time.Duration) {
	lab := newLab(b)
	br := kafkatest.Start(b)
	cl := kafkatest.Client(b, br)
	cfg := fwsync.Config{Table: "bulwark_bench", Actions: "BLOCK", InstallChain: true, SyncInterval: 250 * time.Millisecond,
		ResyncInterval: time.Hour, NetNS: nsPath(lab.host)}
	startSyncer(b, cfg, kafkatest.Config(br))

	var mu sync.Mutex
	seen := map[string]time.Time{}
	r := verdictlog.New(kafkatest.Config(br), "bench", func(s string, _ *eventpb.Verdict) {
		mu.Lock()
		seen[s] = time.Now()
		mu.Unlock()
	}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	<-r.Ready()

	var lat, base []time.Duration
	b.ResetTimer()
	for i := range b.N {
		ip := fmt.Sprintf("10.%d.%d.%d", 100+i/65536%100, i/256%256, i%256)
		// What `bulwark block IP --ttl 1h` writes.
		_, ov, err := overrides.Verdict(eventpb.Action_BLOCK, ip, time.Hour, "bench", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		v, _ := proto.Marshal(ov)
		if pause > 0 {
			b.StopTimer()
			time.Sleep(pause) // the quiet interval the benchmark measures after: not a wait
			b.StartTimer()
		}
		t0 := time.Now()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "bulwark.verdicts.v1", Key: []byte("ip:" + ip), Value: v}).FirstErr(); err != nil {
			b.Fatal(err)
		}
		testkit.EventuallyEvery(b, time.Minute, time.Millisecond, ip+" in the set", func() bool {
			return slices.Contains(lab.setElements(b, "bulwark_bench", fwsync.Set4), ip)
		})
		lat = append(lat, time.Since(t0))
		var at time.Time
		testkit.EventuallyEvery(b, time.Minute, time.Millisecond, ip+" on the verdict topic", func() bool {
			mu.Lock()
			defer mu.Unlock()
			var ok bool
			at, ok = seen["ip:"+ip]
			return ok
		})
		base = append(base, at.Sub(t0))
	}
	b.StopTimer()
	b.ReportMetric(pct(lat, 0.50), "p50_ms")
	b.ReportMetric(pct(lat, 0.99), "p99_ms")
	b.ReportMetric(pct(base, 0.50), "topic_p50_ms")
	b.ReportMetric(pct(base, 0.99), "topic_p99_ms")
}

func pct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[min(int(float64(len(s))*p), len(s)-1)]) / float64(time.Millisecond)
}
