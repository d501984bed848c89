package chsink_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// BenchmarkSinkStartUp measures a sink's start-up (from Run to the first
// rows in ClickHouse: group join, partition assignment, first insert) and
// catch-up (100,000 requests waiting, all of them in ClickHouse) on 4
// partitions (the same-run baseline) and on 64; then a second sink joins
// the group while rows flow, and the rebalance figure is the time from its
// start until the new rows are all in. Run it with -benchtime=1x.
func BenchmarkSinkStartUp(b *testing.B) {
	const n = 100_000
	for _, parts := range []int32{4, 64} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				benchRuns++
				e := newEnv(b, fmt.Sprintf("bench%d", benchRuns), kafkatest.WithPartitions(parts))
				e.cfg.BatchRows = 16384
				e.cfg.InsertRows = 131072
				e.cfg.FlushInterval = 200 * time.Millisecond
				e.cfg.StatsInterval = 0
				e.produce(0, n)
				start := time.Now()
				e.start(nil)
				testkit.Eventually(b, 5*time.Minute, "the first rows in ClickHouse", func() bool { return e.rawCount() > 0 })
				b.ReportMetric(time.Since(start).Seconds(), "startup-s")
				e.waitRows(n, 5*time.Minute)
				b.ReportMetric(time.Since(start).Seconds(), "catchup-s")

				start = time.Now()
				e.start(nil)
				e.produce(n, n+10_000)
				e.waitRows(n+10_000, 5*time.Minute)
				b.ReportMetric(time.Since(start).Seconds(), "rebalance-s")
			}
		})
	}
}
