package replay

import (
	"context"
	"github.com/cespare/xxhash/v2"
	"net/netip"
	"sync"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// batchSize is how many events travel between the goroutines at a time:
// large enough that hand-offs cost nothing per event, small enough to keep
// every goroutine busy.
const batchSize = 512

// slot is an event with the storage of its optional fields and its partition.
type slot struct {
	ev   *eventpb.RequestEvent
	o    optionals
	part int
	seq  uint64 // read order within its file, for the reorder buffer
}

// batch is a run of events in event-time order, with the verdict changes
// each partition decided on them. Its slots are reused once the batch is
// written (the engine clones what it keeps); the strings of their events
// are not (see arena).
type batch struct {
	slots   []*slot
	n       int
	changes [partitions][]change
	scores  [partitions]int64
	pending sync.WaitGroup
	// seq numbers the batches from 1, in input order; counts are the
	// site-wide counts each lane's engines closed in it (site.go).
	seq    uint64
	counts [2][partitions][]*eventpb.SiteCounts
}

func newBatch() *batch {
	b := &batch{slots: make([]*slot, batchSize)}
	for i := range b.slots {
		b.slots[i] = &slot{ev: &eventpb.RequestEvent{}}
	}
	return b
}

func (b *batch) full() bool { return b.n == len(b.slots) }

// partition assigns each event to a partition by its client's network.
func (b *batch) partition() {
	for _, s := range b.slots[:b.n] {
		if ip := s.ev.GetClientIp(); ip != "" || s.ev.GetSessionId() == "" {
			s.part = partitionOf(ip)
		} else {
			// An anonymised event: its session's events stay together.
			s.part = int(xxhash.Sum64String(s.ev.GetSessionId()) % partitions)
		}
	}
}

func partitionOf(ip string) int {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return 0 // the engine counts it as a bad event
	}
	a = a.Unmap()
	var h uint64
	if a.Is4() {
		b := a.As4()
		h = uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
	} else {
		b := a.As16()
		for _, x := range b[:8] {
			h = h<<8 | uint64(x)
		}
	}
	h *= 0x9E3779B97F4A7C15
	return int((h >> 32) % partitions)
}

// run scores and decides partition p's events of the batch, for every lane.
func (b *batch) run(ctx context.Context, p int, lanes []*lane) {
	out := b.changes[p][:0]
	for i, s := range b.slots[:b.n] {
		if s.part != p {
			continue
		}
		t := s.ev.GetTimeUnixNano()
		for li, l := range lanes {
			pt := &l.parts[p]
			out = pt.expire(t, out, int32(i), uint8(li))
			scores := lanes[0].parts[p].scores
			if !l.shared {
				if l.site == nil {
					pt.operate(l.ops, t) // site-wide: the merge applies them to the fold
				}
				pt.scores = pt.eng.Process(s.ev, pt.scores[:0])
				scores = pt.scores
				if recs := pt.eng.TakeAttacks(); len(recs) > 0 {
					pt.attacks = append(pt.attacks, recs...)
				}
			}
			if li == 0 {
				b.scores[p] += int64(len(scores))
			}
			out = pt.decide(ctx, scores, out, int32(i), uint8(li))
		}
	}
	b.changes[p] = out
	for li, l := range lanes {
		if l.site != nil {
			b.counts[li][p] = lanes[li].parts[p].eng.TakeSiteCounts()
		}
	}
}

// reset drops the batch's changes before it is refilled.
func (b *batch) reset() {
	for p := range b.changes {
		clear(b.changes[p])
		b.changes[p] = b.changes[p][:0]
		b.scores[p] = 0
	}
	for li := range b.counts {
		for p := range b.counts[li] {
			b.counts[li][p] = nil
		}
	}
	b.n = 0
}
