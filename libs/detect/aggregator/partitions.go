package aggregator

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A partition this instance gets (assignment, or reload after an abort) is
// paused, its state is asked of the restorer, and it is resumed once its
// state is in: each partition starts scoring as soon as its own state is
// loaded, and the others never stop.

// syncPartitions asks for the state of newly assigned partitions and puts
// the states that are ready to work. It runs on Run's goroutine.
func (a *Aggregator) syncPartitions(cl *kgo.Client) error {
	a.mu.Lock()
	newly := a.assigned
	a.assigned = nil
	a.mu.Unlock()
	for _, id := range newly {
		// With the cooperative balancer a partition assigned again was
		// revoked first, which aborts the open transaction: its engine
		// is not worth keeping.
		delete(a.parts, id)
		a.waiting[id] = true
	}
	a.rs.ask(newly...)
	for _, res := range a.rs.take() {
		if err := a.install(cl, res); err != nil {
			return err
		}
	}
	a.m.paused.Set(float64(len(a.waiting)))
	return nil
}

// install puts a loaded state to work and resumes fetching its partition.
func (a *Aggregator) install(cl *kgo.Client, res restored) error {
	if !a.waiting[res.id] {
		return nil // superseded: loaded again since
	}
	if res.err != nil {
		return fmt.Errorf("restore partition %d: %w", res.id, res.err)
	}
	delete(a.waiting, res.id)
	a.mu.Lock()
	owned := a.owned[res.id]
	a.mu.Unlock()
	if !owned {
		return nil // revoked while loading
	}
	a.parts[res.id] = &partition{eng: res.eng, next: res.next, fresh: true, counted: res.eng.Stats()}
	cl.ResumeFetchPartitions(map[string][]int32{a.kcfg.Topics.Requests: {res.id}})
	return nil
}

// reload drops the engines of ids; those still owned are paused and their
// state asked for.
func (a *Aggregator) reload(cl *kgo.Client, ids []int32) {
	var keep []int32
	a.mu.Lock()
	for _, id := range ids {
		delete(a.parts, id)
		if a.owned[id] {
			keep = append(keep, id)
		}
	}
	a.mu.Unlock()
	if len(keep) == 0 {
		return
	}
	cl.PauseFetchPartitions(map[string][]int32{a.kcfg.Topics.Requests: keep})
	for _, id := range keep {
		a.waiting[id] = true
	}
	a.rs.ask(keep...)
}

// partition returns the engine for records of partition id starting at
// first (the offset the group resumes from, for a fresh engine). A state
// loaded in the background is checked against first: both were committed
// in one transaction, so they match unless the transaction's markers were
// not all visible when the state was read; then it is read again for up to
// 15 s, then processing goes on with it (counted in stale_state_total).
// Records of a partition that has no engine (fetched before the pause took
// hold) wait for its state here.
func (a *Aggregator) partition(ctx context.Context, cl *kgo.Client, id int32, first int64) (*partition, error) {
	p, ok := a.parts[id]
	if ok && !p.fresh {
		return p, nil
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if ok {
			switch {
			case p.next < 0 || p.next == first:
			case p.next > first || time.Now().After(deadline):
				a.m.staleState.Inc()
				a.log.Warn("partition state does not match the committed offset; continuing with it", "partition", id, "state_offset", p.next, "offset", first)
			default:
				delete(a.parts, id)
				ok = false
			}
			if ok {
				p.next, p.fresh = first, false
				return p, nil
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		a.waiting[id] = true
		a.rs.ask(id)
		res, err := a.await(ctx, cl, id)
		if err != nil {
			return nil, err
		}
		p, ok = &partition{eng: res.eng, next: res.next, fresh: true, counted: res.eng.Stats()}, true
		a.parts[id] = p
	}
}

// await waits for the state of partition id, putting others to work as
// they come.
func (a *Aggregator) await(ctx context.Context, cl *kgo.Client, id int32) (restored, error) {
	for {
		for _, res := range a.rs.take() {
			if res.id == id && a.waiting[id] {
				delete(a.waiting, id)
				if res.err != nil {
					return res, fmt.Errorf("restore partition %d: %w", id, res.err)
				}
				return res, nil
			}
			if err := a.install(cl, res); err != nil {
				return res, err
			}
		}
		select {
		case <-ctx.Done():
			return restored{}, ctx.Err()
		case <-a.rs.ready:
		}
	}
}

func (a *Aggregator) setPollCancel(cancel context.CancelFunc) {
	a.pollMu.Lock()
	a.pollCancel = cancel
	a.pollMu.Unlock()
	if cancel != nil && a.rs.pending() {
		cancel()
	}
}

// wakePoll cuts the current poll short (restored state is ready).
func (a *Aggregator) wakePoll() {
	a.pollMu.Lock()
	defer a.pollMu.Unlock()
	if a.pollCancel != nil {
		a.pollCancel()
	}
}
