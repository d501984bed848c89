package shipper

import (
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
)

// ackTracker turns out-of-order Kafka acknowledgements of a file's lines
// (records go to different partitions) into the contiguous position up to
// which every line is acknowledged: the only position safe to checkpoint.
//
// The reader numbers lines with add and registers them in bulk with commit
// (before their records are produced), and the client's promises report
// them with ack: one lock per batch of lines on the reader's side instead
// of one per line, which the reader and the promises contended for.
type ackTracker struct {
	mu      sync.Mutex
	base    uint64 // sequence number of pending[0]
	pending []pendingLine
	head    int // index of the first pending entry in the ring
	n       int

	pos   tail.Position // every line before pos is acknowledged
	marks []topicMarks  // offset after the last record of those lines

	// The reader's alone: lines numbered but not yet committed, and the
	// number of the next line (base + n + len(staged)).
	staged []pendingLine
	next   uint64
}

// topicMarks holds a topic's marks by partition (noMark: none), so that an
// acknowledgement finds its mark without hashing: there are two topics
// (requests and dead letters) and a handful of partitions.
type topicMarks struct {
	topic string
	offs  []int64
}

const noMark = math.MinInt64

type pendingLine struct {
	end       tail.Position
	done      bool
	topic     string
	partition int32
	offset    int64
}

func newAckTracker(start tail.Position, marks map[string]Mark) *ackTracker {
	a := &ackTracker{pending: make([]pendingLine, 1024), pos: start}
	for _, m := range marks {
		a.mark(m.Topic, m.Partition, m.Offset)
	}
	return a
}

// add numbers a line about to be produced; commit registers it, and must
// come before the line's record is produced. A line that needs no record
// (already delivered before a crash) is added done, so the position still
// moves past it in order. Only the reader calls add and commit.
func (a *ackTracker) add(end tail.Position, done bool) uint64 {
	a.staged = append(a.staged, pendingLine{end: end, done: done, offset: -1})
	seq := a.next
	a.next++
	return seq
}

// commit registers the lines added since the last commit.
func (a *ackTracker) commit() {
	if len(a.staged) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if need := a.n + len(a.staged); need > len(a.pending) {
		grown := make([]pendingLine, max(2*len(a.pending), need))
		for i := range a.n {
			grown[i] = a.pending[(a.head+i)%len(a.pending)]
		}
		a.pending, a.head = grown, 0
	}
	for _, l := range a.staged {
		a.pending[(a.head+a.n)%len(a.pending)] = l
		a.n++
	}
	clear(a.staged)
	a.staged = a.staged[:0]
	a.advance()
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
			a.mark(p.topic, p.partition, p.offset+1)
		}
		*p = pendingLine{}
		a.head = (a.head + 1) % len(a.pending)
		a.n--
		a.base++
	}
}

// mark raises the mark of topic/partition to off.
func (a *ackTracker) mark(topic string, partition int32, off int64) {
	i := slices.IndexFunc(a.marks, func(t topicMarks) bool { return t.topic == topic })
	if i < 0 {
		a.marks = append(a.marks, topicMarks{topic: topic})
		i = len(a.marks) - 1
	}
	t := &a.marks[i]
	for int(partition) >= len(t.offs) {
		t.offs = append(t.offs, noMark)
	}
	if off > t.offs[partition] {
		t.offs[partition] = off
	}
}

// checkpoint returns the position and marks safe to persist.
func (a *ackTracker) checkpoint() Checkpoint {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := map[string]Mark{}
	for _, t := range a.marks {
		for p, off := range t.offs {
			if off != noMark {
				m[markKey(t.topic, int32(p))] = Mark{Topic: t.topic, Partition: int32(p), Offset: off}
			}
		}
	}
	return Checkpoint{Version: checkpointVersion, Position: a.pos, Partitions: m}
}

func markKey(topic string, partition int32) string {
	return topic + "/" + strconv.Itoa(int(partition))
}
