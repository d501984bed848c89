package failover

import (
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestAggregatorRollingRestart rolls the aggregator as a Deployment with
// maxSurge 1, maxUnavailable 0 does: a new pod joins, the old one gets
// SIGTERM, twice over, with traffic flowing between the steps. The
// committed scores are exactly those of an in-process engine: nothing lost,
// nothing duplicated.
func TestAggregatorRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test")
	}
	c := startCluster(t, 3)
	prod := c.client(t, "failover-producer")
	evs := traffic()
	third := len(evs) / 3
	assigned := func(r *runningAggregator) func() bool {
		return func() bool {
			return testkit.Metric(t, r.reg, "bulwark_aggregator_rebalances_total", "event", "assigned") > 0
		}
	}
	processed := func(rs ...*runningAggregator) float64 {
		n := 0.0
		for _, r := range rs {
			n += testkit.Metric(t, r.reg, "bulwark_aggregator_events_total")
		}
		return n
	}

	old := startAggregator(t, c, "agg-old")
	produceEvents(t, prod, evs[:third])
	testkit.Eventually(t, 60*time.Second, "the old pod to process the first third", func() bool { return processed(old) >= float64(third) })

	// Step 1: a new pod surges in, then the old one is stopped mid-stream.
	surge := startAggregator(t, c, "agg-new-1")
	testkit.Eventually(t, 60*time.Second, "the new pod to get partitions", assigned(surge))
	produceEvents(t, prod, evs[third:2*third])
	old.sigterm(t)

	// Step 2: the second new pod, then the first new pod is stopped.
	second := startAggregator(t, c, "agg-new-2")
	testkit.Eventually(t, 60*time.Second, "the second new pod to get partitions", assigned(second))
	surge.sigterm(t)
	produceEvents(t, prod, evs[2*third:])

	want := expectedScores(t, c, len(evs))
	got := committedScores(t, c, len(want), 60*time.Second)
	sameScores(t, got, want)
	t.Logf("%d events, %d scores, exact across two rolling restarts", len(evs), len(want))
}
