package replay

import (
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Site-wide attack mode in a replay, as in the aggregator
// (BULWARK_AGGREGATOR_ATTACK_SITE_WIDE): each replay partition's engines
// count their share, and one fold per lane judges the site. The partitions
// run a batch concurrently; the merge goroutine folds the batch's counts
// (and applies the operators' actions due by its last event) once all of
// them are done with it, and only then are they given the next batch, so
// that the fold is never read while it is written and the decisions depend
// on the input alone (the batches are cut the same way every time). An
// operator's action takes effect from the batch after the one its time
// falls in (512 events later at most), as a live one does at the
// aggregators' next poll after it is written.

// siteLane is a lane's fold and what it recorded.
type siteLane struct {
	fold    *attacks.Fold
	attacks []*eventpb.Attack // the fold's records and the operators' it took
	nextOp  int
}

// foldBatch folds the counts the lane's engines closed in batch b and
// applies the operators' actions due by t, its last event's time.
func (s *siteLane) foldBatch(l *lane, counts [partitions][]*eventpb.SiteCounts, t int64) {
	for p := range counts {
		for _, sc := range counts[p] {
			sc.Partition, sc.Partitions = int32(p), partitions
			s.fold.Add(sc, time.Time{}) // no wall time: a replay partition never falls silent
		}
	}
	if s.fold.Advance(time.Time{}) {
		s.attacks = append(s.attacks, s.fold.Detector().Take()...)
	}
	d := s.fold.Detector()
	for s.nextOp < len(l.ops) && l.ops[s.nextOp].At <= t {
		op := l.ops[s.nextOp]
		s.nextOp++
		took := false
		if op.Force != nil {
			took = d.Force(op.Force)
		} else {
			took = d.EndByOperator(op.End)
		}
		if took {
			s.attacks = append(s.attacks, op.Record)
		}
	}
}

// barrier lets the partitions start batch seq once the batch before it was
// folded.
type barrier struct {
	mu     sync.Mutex
	cond   *sync.Cond
	folded uint64 // the last batch folded (batches count from 1)
	closed bool
}

func newBarrier() *barrier {
	b := &barrier{}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// wait blocks until batch seq-1 was folded or the barrier closed; it
// reports whether the batch may run.
func (b *barrier) wait(seq uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.folded+1 < seq && !b.closed {
		b.cond.Wait()
	}
	return !b.closed
}

func (b *barrier) done(seq uint64) {
	b.mu.Lock()
	b.folded = seq
	b.mu.Unlock()
	b.cond.Broadcast()
}

// close releases every waiter (the merge stopped).
func (b *barrier) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cond.Broadcast()
}
