package shipper

import (
	"strconv"
	"sync"

	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
)

// ackTracker turns out-of-order Kafka acknowledgements of a file's lines
// (records go to different partitions) into the contiguous position up to
// which every line is acknowledged: the only position safe to checkpoint.
type ackTracker struct {
	mu      sync.Mutex
	base    uint64 // sequence number of pending[0]
	pending []pendingLine
	head    int // index of the first pending entry in the ring
	n       int

	pos   tail.Position           // every line before pos is acknowledged
	marks map[topicPartition]Mark // offset after the last record of those lines
}

// topicPartition keys marks while acknowledgements arrive: a string key
// ("topic/partition", the checkpoint's) would be built once per record.
type topicPartition struct {
	topic     string
	partition int32
}

type pendingLine struct {
	end       tail.Position
	done      bool
	topic     string
	partition int32
	offset    int64
}

func newAckTracker(start tail.Position, marks map[string]Mark) *ackTracker {
	m := make(map[topicPartition]Mark, len(marks))
	for _, v := range marks {
		m[topicPartition{v.Topic, v.Partition}] = v
	}
	return &ackTracker{pending: make([]pendingLine, 1024), pos: start, marks: m}
}

// add registers a line about to be produced and returns its sequence number.
// A line that needs no record (already delivered before a crash) is added
// done, so the position still moves past it in order.
func (a *ackTracker) add(end tail.Position, done bool) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == len(a.pending) {
		grown := make([]pendingLine, 2*len(a.pending))
		for i := range a.n {
			grown[i] = a.pending[(a.head+i)%len(a.pending)]
		}
		a.pending, a.head = grown, 0
	}
	seq := a.base + uint64(a.n)
	a.pending[(a.head+a.n)%len(a.pending)] = pendingLine{end: end, done: done, offset: -1}
	a.n++
	a.advance()
	return seq
}

// ack marks line seq acknowledged at topic/partition/offset.
func (a *ackTracker) ack(seq uint64, topic string, partition int32, offset int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := (a.head + int(seq-a.base)) % len(a.pending)
	p := &a.pending[i]
	p.done, p.topic, p.partition, p.offset = true, topic, partition, offset
	a.advance()
}

func (a *ackTracker) advance() {
	for a.n > 0 {
		p := &a.pending[a.head]
		if !p.done {
			return
		}
		a.pos = p.end
		if p.offset >= 0 {
			k := topicPartition{p.topic, p.partition}
			if m, ok := a.marks[k]; !ok || p.offset+1 > m.Offset {
				a.marks[k] = Mark{Topic: p.topic, Partition: p.partition, Offset: p.offset + 1}
			}
		}
		*p = pendingLine{}
		a.head = (a.head + 1) % len(a.pending)
		a.n--
		a.base++
	}
}

// checkpoint returns the position and marks safe to persist.
func (a *ackTracker) checkpoint() Checkpoint {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[string]Mark, len(a.marks))
	for k, v := range a.marks {
		m[markKey(k.topic, k.partition)] = v
	}
	return Checkpoint{Version: checkpointVersion, Position: a.pos, Partitions: m}
}

func markKey(topic string, partition int32) string {
	return topic + "/" + strconv.Itoa(int(partition))
}
