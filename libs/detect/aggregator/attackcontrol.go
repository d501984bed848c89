package aggregator

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// Operators' attack records (bulwark attack start|end) reach every
// partition this way: each aggregator follows the attacks topic from its
// start with a client of its own, keeps the operators' records here, and
// Run's loop hands them to every partition's engine when they changed (and
// to each engine it loads), so all partitions apply them within a poll
// (the follower cuts the poll short). Engines keep no operator state in
// their snapshots: a reloaded engine is given the records again.

// attackControl holds the operators' attack records seen so far.
type attackControl struct {
	mu      sync.Mutex
	version uint64
	forced  map[string]*eventpb.Attack // in force unless ended
	ended   map[string]bool
}

func newAttackControl() *attackControl {
	return &attackControl{forced: map[string]*eventpb.Attack{}, ended: map[string]bool{}}
}

// add takes one record of the attacks topic; it reports whether it was an
// operator's.
func (c *attackControl) add(a *eventpb.Attack) bool {
	if a.GetSource() != attacks.SourceOperator || a.GetId() == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a.GetEndedUnixNano() != 0 {
		c.ended[a.GetId()] = true
		delete(c.forced, a.GetId())
	} else if !c.ended[a.GetId()] {
		c.forced[a.GetId()] = a
	}
	c.version++
	return true
}

// apply gives the records to eng if they changed since version v, and
// returns the version eng now has.
func (c *attackControl) apply(eng *Engine, v uint64) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version == v || eng.attack == nil {
		return c.version
	}
	for id := range c.ended {
		eng.EndAttack(id)
	}
	for _, a := range c.forced {
		eng.ForceAttack(a)
	}
	return c.version
}

// applyAttackControl brings every partition's engine up to date with the
// operators' records. It runs on Run's goroutine.
func (a *Aggregator) applyAttackControl() {
	for _, p := range a.parts {
		p.ctl = a.ctl.apply(p.eng, p.ctl)
	}
}

// followAttacks reads the attacks topic from its start until ctx ends and
// keeps the operators' records in a.ctl.
func (a *Aggregator) followAttacks(ctx context.Context) error {
	topic := a.kcfg.Topics.Attacks
	cl, err := kafka.NewClient(a.kcfg.WithClientID("aggregator-attacks"), nil,
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.WithLogger(kafka.Logger(a.log)))
	if err != nil {
		return fmt.Errorf("attacks topic follower: %w", err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			a.am.controlErrors.Inc()
			a.log.Warn("fetch attacks topic", "topic", t, "partition", p, "err", err)
		})
		changed := false
		fs.EachRecord(func(r *kgo.Record) {
			at := &eventpb.Attack{}
			if err := proto.Unmarshal(r.Value, at); err != nil {
				a.am.controlErrors.Inc()
				a.log.Warn("undecodable record on the attacks topic", "offset", r.Offset, "err", err)
				return
			}
			if a.ctl.add(at) {
				changed = true
				action := "start"
				if at.GetEndedUnixNano() != 0 {
					action = "end"
				}
				a.am.control.WithLabelValues(action).Inc()
				a.log.Info("operator attack record", "action", action, "attack", at.GetId(), "reason", at.GetReason())
			}
		})
		if changed {
			a.wakePoll()
		}
	}
}
