package aggregator

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// TestServiceScoresFingerprint runs the service on the embedded broker with
// the stuffing traffic of shopTraffic: the stuffer's fingerprint is scored
// on the scores topic (keyed fp:HEX, in the same transactions as the rest),
// listing only stuffing addresses.
func TestServiceScoresFingerprint(t *testing.T) {
	evs, stuffers := shopTraffic(true, false)
	b := kafkatest.Start(t)
	produceEvents(t, b, evs)
	// Each partition judges its own share here: this backlog of 50 minutes
	// is processed in well under a second, before the site-wide fold has
	// read the partitions' counts back from their topic, so the site-wide
	// attack would start after the last stuffing request (live, event time
	// follows the clock and the fold keeps up; bulwark replay folds in step
	// and writes fp: verdicts in site-wide mode too).
	startAggregatorWith(t, b, "agg-fp", 0, func(c *Config) { c.AttackSiteWide = false })
	cl := kafkatest.Client(t, b, kgo.ConsumeTopics("bulwark.scores.v1"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var fps []*eventpb.Score
	// Read until the first fp: scores, and the rest of that fetch.
	for len(fps) == 0 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			if !strings.HasPrefix(string(r.Key), "fp:") {
				return
			}
			s := &eventpb.Score{}
			if err := proto.Unmarshal(r.Value, s); err != nil {
				t.Fatal(err)
			}
			if string(r.Key) != s.GetSubject() {
				t.Fatalf("record keyed %q holds %q", r.Key, s.GetSubject())
			}
			fps = append(fps, s)
		})
	}
	if len(fps) == 0 {
		t.Fatal("no fp: score on the scores topic")
	}
	for _, s := range fps {
		for _, a := range s.GetAddresses() {
			if !stuffers[a] {
				t.Fatalf("fp score lists %s, not a stuffer", a)
			}
		}
	}
}
