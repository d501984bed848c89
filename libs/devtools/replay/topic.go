package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// clockSkew is how much earlier than an event's time its record may have
// been produced (producers' clocks differ); records produced earlier than
// since minus this are skipped without reading.
const clockSkew = 5 * time.Minute

// maxQueued is how many records of one partition wait for the merge before
// the partition's fetching pauses, which bounds memory when one partition is
// far ahead of another.
const maxQueued = 20000

// partitionQueue holds one partition's fetched events, oldest first.
type partitionQueue struct {
	p      int32
	end    int64 // offset after the last record to read
	next   int64 // offset of the next record expected
	events []*eventpb.RequestEvent
	head   int
	paused bool
}

func (q *partitionQueue) done() bool  { return q.next >= q.end && q.head == len(q.events) }
func (q *partitionQueue) empty() bool { return q.head == len(q.events) }

// topic reads the requests topic from the offsets where --since begins to
// the end offsets at the start, and merges the partitions by event time (on
// equal times the lower partition first). A record's timestamp is when it
// was produced, which for a backfill is long after its event time, so the
// end of the range is found by reading to the end and filtering, never by
// timestamp.
type topic struct {
	cl    *kgo.Client
	name  string
	w     window
	c     *counters
	qs    []*partitionQueue
	um    proto.UnmarshalOptions
	spare []*eventpb.RequestEvent
}

func openTopic(ctx context.Context, kc kafka.Config, w window, c *counters) (*topic, error) {
	name := kc.Topics.Requests
	admCl, err := kafka.NewClient(kc.WithClientID("replay-admin"), nil)
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	ends, err := adm.ListEndOffsets(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", name, err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", name, err)
	}
	var starts kadm.ListedOffsets
	if w.since != 0 {
		starts, err = adm.ListOffsetsAfterMilli(ctx, time.Unix(0, w.since).Add(-clockSkew).UnixMilli(), name)
	} else {
		starts, err = adm.ListStartOffsets(ctx, name)
	}
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %s: %w", name, err)
	}
	t := &topic{name: name, w: w, c: c}
	assign := map[int32]kgo.Offset{}
	ends.Each(func(e kadm.ListedOffset) {
		s, ok := starts.Lookup(name, e.Partition)
		if !ok || s.Offset >= e.Offset || s.Offset < 0 {
			return
		}
		t.qs = append(t.qs, &partitionQueue{p: e.Partition, end: e.Offset, next: s.Offset})
		assign[e.Partition] = kgo.NewOffset().At(s.Offset)
	})
	// Partition order is fixed so that equal event times merge the same way.
	sortQueues(t.qs)
	if len(t.qs) == 0 {
		return t, nil
	}
	t.cl, err = kafka.NewClient(kc.WithClientID("replay"), nil,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{name: assign}),
		kgo.FetchMaxBytes(16<<20),
	)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func sortQueues(qs []*partitionQueue) {
	for i := 1; i < len(qs); i++ {
		for j := i; j > 0 && qs[j].p < qs[j-1].p; j-- {
			qs[j], qs[j-1] = qs[j-1], qs[j]
		}
	}
}

func (t *topic) close() error {
	if t.cl != nil {
		t.cl.Close()
	}
	return nil
}

func (t *topic) queue(p int32) *partitionQueue {
	for _, q := range t.qs {
		if q.p == p {
			return q
		}
	}
	return nil
}

// idleWait is how long a partition may deliver nothing before its end
// offset counts as reached. Normally the last record read is the one before
// the end offset; a transaction's commit marker can be the last offset
// instead, and is never delivered.
const (
	idleWait        = 5 * time.Second
	idleWaitRecords = 60 * time.Second
)

// poll fetches more records into the partition queues and returns how many
// it queued; a poll that ctx ends returns 0 and no error.
func (t *topic) poll(ctx context.Context) (int, error) {
	fs := t.cl.PollFetches(ctx)
	if ctx.Err() != nil {
		return 0, nil
	}
	var ferr error
	fs.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			ferr = fmt.Errorf("fetch %s/%d: %w", topic, p, err)
		}
	})
	if ferr != nil {
		return 0, ferr
	}
	added := 0
	fs.EachRecord(func(r *kgo.Record) {
		q := t.queue(r.Partition)
		if q == nil || r.Offset < q.next || r.Offset >= q.end {
			return
		}
		q.next = r.Offset + 1
		t.c.lines.Add(1)
		ev := t.newEvent()
		if err := t.um.Unmarshal(r.Value, ev); err != nil {
			t.c.badLine(err)
			t.spare = append(t.spare, ev)
			return
		}
		if !t.w.keep(ev.TimeUnixNano) {
			t.c.skipped.Add(1)
			t.spare = append(t.spare, ev)
			return
		}
		q.events = append(q.events, ev)
		added++
	})
	var pause, resume []int32
	for _, q := range t.qs {
		switch full := len(q.events)-q.head >= maxQueued; {
		case full && !q.paused:
			pause = append(pause, q.p)
			q.paused = true
		case !full && q.paused:
			resume = append(resume, q.p)
			q.paused = false
		}
	}
	if len(pause) > 0 {
		t.cl.PauseFetchPartitions(map[string][]int32{t.name: pause})
	}
	if len(resume) > 0 {
		t.cl.ResumeFetchPartitions(map[string][]int32{t.name: resume})
	}
	return added, nil
}

func (t *topic) newEvent() *eventpb.RequestEvent {
	if n := len(t.spare); n > 0 {
		ev := t.spare[n-1]
		t.spare = t.spare[:n-1]
		return ev
	}
	return &eventpb.RequestEvent{}
}

func (t *topic) fill(ctx context.Context, b *batch) error {
	for !b.full() {
		var best *partitionQueue
		for _, q := range t.qs {
			if q.done() {
				continue
			}
			for q.empty() {
				if q.paused {
					q.paused = false
					t.cl.ResumeFetchPartitions(map[string][]int32{t.name: {q.p}})
				}
				// A commit marker is one offset at a partition's end; with more
				// than one offset still to come, records are on their way (a
				// starved machine can delay them), so the wait is longer: only
				// an aborted transaction's records never come.
				wait := idleWait
				if q.end-q.next > 1 {
					wait = idleWaitRecords
				}
				pctx, cancel := context.WithTimeout(ctx, wait)
				n, err := t.poll(pctx)
				idle := pctx.Err() != nil && ctx.Err() == nil && n == 0
				cancel()
				if err != nil {
					return err
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if idle {
					q.end = q.next // nothing more will come
				}
				if q.done() {
					break
				}
			}
			if q.done() {
				continue
			}
			if best == nil || q.events[q.head].TimeUnixNano < best.events[best.head].TimeUnixNano {
				best = q
			}
		}
		if best == nil {
			return io.EOF
		}
		ev := best.events[best.head]
		best.events[best.head] = nil
		best.head++
		if best.head == len(best.events) {
			best.events, best.head = best.events[:0], 0
		}
		// The decoded event takes the slot's place; the slot's old event
		// (done with by the engine) is decoded into later.
		s := b.slots[b.n]
		t.spare = append(t.spare, s.ev)
		s.ev = ev
		b.n++
		t.c.events.Add(1)
	}
	return nil
}
