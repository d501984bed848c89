package aggregator

import (
	"context"
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

const siteParts = 3

// partitionOfIP spreads clients over the test's partitions as a key
// partitioner does.
func partitionOfIP(ip string) int32 {
	h := fnv.New32a()
	h.Write([]byte(ip))
	return int32(h.Sum32() % siteParts)
}

// produceTo writes events to the requests topic, each to its client's
// partition.
func produceTo(t *testing.T, cl *kgo.Client, evs []*eventpb.RequestEvent) {
	t.Helper()
	recs := make([]*kgo.Record, len(evs))
	for i, ev := range evs {
		v, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = &kgo.Record{Topic: "bulwark.requests.v1", Partition: partitionOfIP(ev.ClientIp), Key: []byte(ev.ClientIp), Value: v}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func siteBroker(t *testing.T) (*embedkafka.Broker, *kgo.Client) {
	b := kafkatest.Start(t, kafkatest.WithPartitions(siteParts))
	return b, kafkatest.Client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
}

// TestServiceSiteWide: credential stuffing spread over three partitions is
// one attack of the site, written once, with the site's full counts (a
// partition alone sees a third of them).
func TestServiceSiteWide(t *testing.T) {
	b, cl := siteBroker(t)
	evs := stuffedShop(50, 40).sorted()
	perPart := map[int32]int{}
	for _, ev := range evs {
		perPart[partitionOfIP(ev.ClientIp)]++
	}
	if len(perPart) != siteParts {
		t.Fatalf("the traffic reaches %d partitions, want %d", len(perPart), siteParts)
	}
	produceTo(t, cl, evs)
	a, _, _ := startAggregator(t, b, "agg-site", 0)
	testkit.Eventually(t, 60*time.Second, "all events processed", func() bool { return testutil.ToFloat64(a.m.events) >= float64(len(evs)) })
	var ids map[string]bool
	var most uint32
	testkit.Eventually(t, 30*time.Second, "the site-wide attack at full strength", func() bool {
		ids, most = map[string]bool{}, 0
		seen := map[string]bool{}
		for _, r := range attackRecords(t, b, 1) {
			if !strings.HasPrefix(r.GetId(), "login-failures-") {
				continue
			}
			ids[r.GetId()] = true
			most = max(most, r.GetFailures())
			k := r.GetId() + "@" + time.Unix(0, r.GetTimeUnixNano()).String()
			if seen[k] {
				t.Fatalf("attack record %s written twice", k)
			}
			seen[k] = true
		}
		return len(ids) > 0 && most >= 150
	})
	if len(ids) != 1 {
		t.Errorf("login-failures attacks %v, want one", ids)
	}
	if testutil.ToFloat64(a.sf.late) != 0 {
		t.Errorf("%v minute counts came after their minute was folded", testutil.ToFloat64(a.sf.late))
	}
}

// TestServiceSiteWideLagging: normal traffic whose partition 2 runs three
// minutes of event time behind the others (its events are produced later)
// raises no attack: the fold waits for it, and drops nothing.
func TestServiceSiteWideLagging(t *testing.T) {
	b, cl := siteBroker(t)
	evs := stuffedShop(45, 1000).sorted()
	a, _, _ := startAggregator(t, b, "agg-site-lag", 0)
	start := evs[0].GetTimeUnixNano()
	const lag = 3
	sent, lagged := 0, 0
	var p2 []*eventpb.RequestEvent
	for m := 1; m <= 45+lag; m++ {
		var now []*eventpb.RequestEvent
		end := start + int64(m)*int64(time.Minute)
		for ; sent < len(evs) && evs[sent].GetTimeUnixNano() < end; sent++ {
			if ev := evs[sent]; partitionOfIP(ev.ClientIp) == 2 {
				p2 = append(p2, ev)
			} else {
				now = append(now, ev)
			}
		}
		for ; lagged < len(p2) && p2[lagged].GetTimeUnixNano() < end-lag*int64(time.Minute); lagged++ {
			now = append(now, p2[lagged])
		}
		if len(now) == 0 {
			continue
		}
		produceTo(t, cl, now)
		want := float64(sent - len(p2) + lagged)
		testkit.Eventually(t, 30*time.Second, "minute processed", func() bool { return testutil.ToFloat64(a.m.events) >= want })
	}
	if lagged != len(p2) || sent != len(evs) {
		t.Fatalf("sent %d of %d events, %d of partition 2's %d", sent, len(evs), lagged, len(p2))
	}
	testkit.Eventually(t, 30*time.Second, "the last minutes folded", func() bool {
		return testutil.ToFloat64(a.sf.folded) >= float64(siteParts*40)
	})
	for _, r := range attackRecords(t, b, 0) {
		t.Errorf("false attack with a lagging partition: %s: %s", r.GetId(), r.GetReason())
	}
	if n := testutil.ToFloat64(a.sf.late); n != 0 {
		t.Errorf("%v minute counts dropped as late: the fold did not wait for the lagging partition", n)
	}
}
