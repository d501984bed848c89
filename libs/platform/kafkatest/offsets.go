package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EndOffsets returns the high watermark of every partition of topic: the
// offset the next acknowledged record will get. A test that has consumed up
// to these offsets has seen everything acknowledged so far, which proves
// "nothing more arrived" without sleeping.
func EndOffsets(tb testing.TB, cl *kgo.Client, topic string) map[int32]int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lo, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		tb.Fatalf("kafkatest.EndOffsets(%s): list end offsets: %v", topic, err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// Reached reports whether next (the next offset to consume, per partition)
// has reached every end offset in end.
func Reached(next, end map[int32]int64) bool {
	for p, e := range end {
		if next[p] < e {
			return false
		}
	}
	return true
}
