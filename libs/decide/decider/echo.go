package decider

import (
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// ownWrites remembers the records this decider wrote and has not yet read
// back from the verdict topic, per subject in write order (a subject lives
// in one partition, so they come back in that order). Reading the topic
// back is how the decider sees operators' overrides and unblocks; its own
// records must not count as those.
type ownWrites struct {
	mu      sync.Mutex
	pending map[string][]*eventpb.Verdict // nil entry: a tombstone
}

func newOwnWrites() *ownWrites { return &ownWrites{pending: map[string][]*eventpb.Verdict{}} }

func (o *ownWrites) add(subject string, v *eventpb.Verdict) {
	o.mu.Lock()
	o.pending[subject] = append(o.pending[subject], v)
	o.mu.Unlock()
}

// match reports whether a record read back is this decider's own, and
// whether it is the last of its pending writes for the subject.
func (o *ownWrites) match(subject string, v *eventpb.Verdict) (own, last bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.pending[subject]
	if len(q) == 0 {
		return false, false
	}
	front := q[0]
	if (front == nil) != (v == nil) || (front != nil && !proto.Equal(front, v)) {
		return false, false
	}
	if len(q) == 1 {
		delete(o.pending, subject)
		return true, true
	}
	o.pending[subject] = q[1:]
	return true, false
}
