package shipper

import (
	"math"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Requests records are partitioned by a hash of their key computed in the
// parse workers (recMeta.hash), not on the client's producing goroutine:
// kgo partitions every record there, one at a time, and hashing the key
// was most of that (BENCHMARKS.md, shipper). The partition chosen is the
// one kgo's default partitioner picks for a keyed record, Kafka's Java
// client's too (murmur2, high bit masked, modulo the partition count), so
// consumers, compaction and a client-IP's partition do not change; the
// count is still applied by kgo when it partitions, so a topic that grows
// partitions is handled as before.

// keyHashSpace, as the partition count given to kgo's key partitioner,
// makes it return the key's masked murmur2 hash itself (a hash below 2^31
// modulo a larger number): kgo's own hashing, not a copy of it. Only where
// int has 64 bits; elsewhere records carry no hash (noKeyHash) and are
// hashed when partitioned.
const (
	keyHashSpace = math.MaxInt
	noKeyHash    = -1
)

// keyHasher returns a function giving the masked murmur2 hash of a
// record's key, as kgo's default partitioner computes it; it is used by
// one goroutine.
func keyHasher(topic string) func(*kgo.Record) int32 {
	kp := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	if keyHashSpace <= math.MaxInt32 {
		return func(*kgo.Record) int32 { return noKeyHash }
	}
	return func(r *kgo.Record) int32 { return int32(kp.Partition(r, keyHashSpace)) }
}

// hashedPartitioner partitions the requests topic by recMeta.hash and
// every other topic (dead letters) with kgo's default partitioner.
type hashedPartitioner struct {
	requests string
	other    kgo.Partitioner
}

func newHashedPartitioner(requests string) kgo.Partitioner {
	// kgo's default partitioner (kgo/config.go defaultCfg).
	return hashedPartitioner{requests: requests, other: kgo.UniformBytesPartitioner(64<<10, true, true, nil)}
}

func (p hashedPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic != p.requests {
		return p.other.ForTopic(topic)
	}
	return &hashedTopicPartitioner{keyed: kgo.StickyKeyPartitioner(nil).ForTopic(topic)}
}

type hashedTopicPartitioner struct {
	keyed kgo.TopicPartitioner // for a record without a hash
}

// RequiresConsistency: a key's records always go to its partition, even
// while another partition has no leader (as kgo does for keyed records).
func (*hashedTopicPartitioner) RequiresConsistency(*kgo.Record) bool { return true }

func (p *hashedTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if m, ok := r.Context.(*recMeta); ok && m.hash != noKeyHash {
		return int(m.hash) % n
	}
	return p.keyed.Partition(r, n)
}
