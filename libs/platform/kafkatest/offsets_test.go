package kafkatest_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

func TestEndOffsets(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.WithPartitions(2))
	cfg := kafkatest.Config(b)
	cl := kafkatest.Client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	topic := cfg.Topics.Requests
	if end := kafkatest.EndOffsets(t, cl, topic); len(end) != 2 || end[0] != 0 || end[1] != 0 {
		t.Fatalf("end offsets of an empty topic %v, want 0 on both partitions", end)
	}
	for i := range 3 {
		r := &kgo.Record{Topic: topic, Partition: 1, Value: []byte{byte(i)}}
		if err := cl.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	end := kafkatest.EndOffsets(t, cl, topic)
	if end[0] != 0 || end[1] != 3 {
		t.Fatalf("end offsets %v, want 0 and 3", end)
	}
	if kafkatest.Reached(map[int32]int64{1: 2}, end) || !kafkatest.Reached(map[int32]int64{1: 3}, end) {
		t.Fatal("Reached does not compare every partition with its end offset")
	}
}
