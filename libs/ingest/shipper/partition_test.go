package shipper

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The partition chosen from the workers' hash must be the one kgo's own
// key partitioners choose (StickyKeyPartitioner with Kafka's murmur2, and
// the default UniformBytesPartitioner for keyed records), for every
// partition count: otherwise a client IP's events would change partition.
func TestHashedPartitionerMatchesKgo(t *testing.T) {
	const topic = "bulwark.requests.v1"
	rng := rand.New(rand.NewPCG(1, 2))
	keys := [][]byte{{}, []byte("0"), []byte("198.51.100.7"), []byte("2001:db8::1"), []byte("255.255.255.255")}
	for range 2000 {
		k := make([]byte, rng.IntN(48))
		for i := range k {
			k[i] = byte(rng.UintN(256))
		}
		keys = append(keys, k)
	}
	hash := keyHasher(topic)
	ours := newHashedPartitioner(topic).ForTopic(topic)
	sticky := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	def := kgo.UniformBytesPartitioner(64<<10, true, true, nil).ForTopic(topic).(kgo.TopicBackupPartitioner)
	for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 31, 32, 64, 100, 1000, 1 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			for _, k := range keys {
				meta := &recMeta{}
				r := &kgo.Record{Topic: topic, Key: k, Context: meta}
				meta.hash = hash(r)
				if !ours.RequiresConsistency(r) {
					t.Fatal("a keyed record must keep its partition")
				}
				got, want, wantDef := ours.Partition(r, n), sticky.Partition(r, n), def.PartitionByBackup(r, n, nil)
				if got != want || got != wantDef {
					t.Fatalf("key %q, %d partitions: hashed %d, StickyKeyPartitioner %d, default %d", k, n, got, want, wantDef)
				}
			}
		})
	}
	t.Run("no hash", func(t *testing.T) {
		// A record that did not come from an encoder is hashed when
		// partitioned, as kgo would.
		for _, k := range keys {
			r := &kgo.Record{Topic: topic, Key: k}
			if got, want := ours.Partition(r, 7), sticky.Partition(r, 7); got != want {
				t.Fatalf("key %q: %d, want %d", k, got, want)
			}
		}
	})
}

// BenchmarkPartition is the per-record cost of partitioning on the
// client's producing goroutine: kgo's default partitioner hashing the key
// (the same-run baseline, x-default) against hashedPartitioner taking the
// workers' hash modulo the partition count.
func BenchmarkPartition(b *testing.B) {
	const topic = "bulwark.requests.v1"
	keys := make([]*kgo.Record, 1024)
	hash := keyHasher(topic)
	for i := range keys {
		meta := &recMeta{}
		keys[i] = &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "198.51.%d.%d", i/256, i%256), Context: meta}
		meta.hash = hash(keys[i])
	}
	def := kgo.UniformBytesPartitioner(64<<10, true, true, nil).ForTopic(topic).(kgo.TopicBackupPartitioner)
	ours := newHashedPartitioner(topic).ForTopic(topic)
	var sink int
	b.Run("x-default", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sink += def.PartitionByBackup(keys[i%len(keys)], 12, nil)
		}
	})
	b.Run("hashed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sink += ours.Partition(keys[i%len(keys)], 12)
		}
	})
	b.Run("worker-hash", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sink += int(hash(keys[i%len(keys)]))
		}
	})
	_ = sink
}
