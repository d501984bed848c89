package decider_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/bulwarkhq/bulwark/libs/decide/overrides"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// BenchmarkLineToVerdictLatency is the end-to-end figure: from a
// line appended to an access log to its client's verdict read from the
// verdict topic, through the shipper (following the file), the requests
// topic, the aggregator, the scores topic, the decider and the verdict
// topic, all on one embedded broker. Each line is a vulnerability probe
// with curl's User-Agent from a new address: its first request scores
// CHALLENGE, so one line makes one verdict. Lines are written open-loop,
// one every 20 ms, as traffic arrives, not one at a time.
//
// "defaults" runs the services as configured out of the box: the shipper
// polls the file every 250 ms and the aggregator commits its transaction
// (which makes its scores visible) every second, which dominate. "tuned"
// polls every 20 ms and commits every 100 ms.
func BenchmarkLineToVerdictLatency(b *testing.B) {
	b.Run("defaults", func(b *testing.B) { benchFullPath(b, 0, 0) })
	b.Run("tuned", func(b *testing.B) { benchFullPath(b, 20*time.Millisecond, 100*time.Millisecond) })
}

func benchFullPath(b *testing.B, poll, snapshot time.Duration) {
	br := kafkatest.Start(b)
	kcfg := kafkatest.Config(br)
	dir := b.TempDir()
	logFile := filepath.Join(dir, "access.log")
	if err := os.WriteFile(logFile, nil, 0o600); err != nil {
		b.Fatal(err)
	}

	scfg, err := config.LoadFrom[shipper.Config](map[string]string{
		"BULWARK_SHIPPER_FILES": logFile, "BULWARK_SHIPPER_CHECKPOINT_FILE": filepath.Join(dir, "cp.json"),
	})
	if err != nil {
		b.Fatal(err)
	}
	if poll > 0 {
		scfg.PollInterval = poll
	}
	acfg := aggregator.DefaultConfig()
	if snapshot > 0 {
		acfg.SnapshotInterval = snapshot
	}
	reg := prometheus.NewRegistry()
	ship, err := shipper.New(scfg, kcfg, nil, prometheus.WrapRegistererWithPrefix("s_", reg))
	if err != nil {
		b.Fatal(err)
	}
	agg, err := aggregator.New(acfg, kcfg, scoring.DefaultConfig(), nil, prometheus.WrapRegistererWithPrefix("a_", reg))
	if err != nil {
		b.Fatal(err)
	}
	dec, err := decider.NewService(decider.Config{Group: "bench", ReloadInterval: time.Second, ReloadSettle: time.Millisecond, Overrides: overrides.Limits{MaxTTL: time.Hour, MaxNetV4: 16, MaxNetV6: 32}, ExpiryTick: time.Second},
		kcfg, nil, prometheus.WrapRegistererWithPrefix("d_", reg))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return ship.Run(gctx) })
	g.Go(func() error { return agg.Run(gctx) })
	g.Go(func() error { return dec.Run(gctx) })
	defer func() {
		cancel()
		_ = g.Wait()
	}()
	<-dec.Ready()

	// The consumer records when each verdict arrives.
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	cons := kafkatest.Client(b, br, kgo.ConsumeTopics(kcfg.Topics.Verdicts), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	warm(b, cons)
	go func() {
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			now := time.Now()
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if _, ok := arrived[string(r.Key)]; !ok {
					arrived[string(r.Key)] = now
				}
			})
			mu.Unlock()
		}
	}()

	f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	written := make(map[string]time.Time, b.N)
	b.ResetTimer()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range b.N {
		<-tick.C
		ip := fmt.Sprintf("10.%d.%d.%d", 100+i>>16&63, i>>8&255, i&255)
		now := time.Now()
		line := fmt.Sprintf("%s - - [%s] \"GET /.env HTTP/1.1\" 404 153 \"-\" \"curl/8.5.0\"\n", ip, now.UTC().Format("02/Jan/2006:15:04:05 -0700"))
		written["ip:"+ip] = now
		if _, err := f.WriteString(line); err != nil {
			b.Fatal(err)
		}
	}
	var lat []time.Duration
	testkit.Eventually(b, 60*time.Second, fmt.Sprintf("a verdict for each of the %d lines", len(written)), func() bool {
		mu.Lock()
		defer mu.Unlock()
		lat = lat[:0]
		for k, w := range written {
			if a, ok := arrived[k]; ok {
				lat = append(lat, a.Sub(w))
			}
		}
		return len(lat) == len(written)
	})
	reportLatency(b, lat)
}
