package verdicttable

import (
	"net/netip"
	"runtime"
	"time"
)

// Sweep frees every verdict that has expired by now and returns how many it
// removed. Lookup already ignores them; this only gives the memory back.
func (t *Table) Sweep(now time.Time) int {
	ns := now.UnixNano()
	return t.removeIf(func(e *entry) bool { return !e.active(ns) })
}

// DropStale removes the entries loaded from a snapshot that the topic has
// not confirmed since (see LoadSnapshot). Call it once the topic replay has
// caught up; it returns how many it removed.
func (t *Table) DropStale() int {
	return t.removeIf(func(e *entry) bool { return e.stale })
}

// SweepSteps is how many SweepStep calls make one whole Sweep: each exact
// shard in sweepParts parts.
const SweepSteps = 1 << shardBits * sweepParts

// sweepParts: a step reads 1/4096 of the table's slots (about 30 KiB with
// 1,000,000 verdicts, some 20 microseconds), short enough not to show in
// the sidecar's p99; a whole shard per step (1/256) did, on one core.
const sweepParts = 16

// SweepStep is one part of a Sweep spread over time: step k frees the
// expired verdicts of part k mod SweepSteps of the exact tables, and the
// last step of each round those of the networks too. A whole sweep reads
// every slot of the table (about 120 MiB with 1,000,000 verdicts, tens of
// milliseconds of CPU); in steps, a sidecar with one core never stops
// answering for it. A verdict a rehash moves during a round may wait for
// the next round.
func (t *Table) SweepStep(step int, now time.Time) int {
	ns := now.UnixNano()
	drop := func(e *entry) bool { return !e.active(ns) }
	i := step % SweepSteps
	n := t.removeShardIf(i/sweepParts, i%sweepParts, sweepParts, drop)
	if i == SweepSteps-1 {
		n += t.removeNetsIf(drop) + t.removeFPsIf(drop)
	}
	return n
}

// removeIf removes the entries drop accepts, shard by shard, then the
// networks.
func (t *Table) removeIf(drop func(*entry) bool) int {
	removed := 0
	for i := range 1 << shardBits {
		removed += t.removeShardIf(i, 0, 1, drop)
		// Let queued requests in between shards (see SweepStep).
		runtime.Gosched()
	}
	return removed + t.removeNetsIf(drop) + t.removeFPsIf(drop)
}

// removeShardIf removes the entries that drop accepts from part (of parts)
// of exact shard i.
func (t *Table) removeShardIf(i, part, parts int, drop func(*entry) bool) int {
	release := func(e entry) { t.extras.release(e.extra) }
	n := t.ips.removeShardIf(i, part, parts, drop, release)
	t.nIP.Add(int64(-n))
	m := t.sessions.removeShardIf(i, part, parts, drop, release)
	t.nSession.Add(int64(-m))
	return n + m
}

// removeNetsIf removes the networks drop accepts, in one new version of
// their trie.
func (t *Table) removeNetsIf(drop func(*entry) bool) int {
	t.netsMu.Lock()
	defer t.netsMu.Unlock()
	cur := t.nets.Load()
	var nets []netip.Prefix
	for p, e := range cur.All() {
		if drop(&e) {
			nets = append(nets, p)
			t.extras.release(e.extra)
		}
	}
	if len(nets) > 0 {
		next := cur
		for _, p := range nets {
			next = next.DeletePersist(p)
		}
		t.nets.Store(next)
		t.nNet.Store(int64(next.Size()))
	}
	return len(nets)
}
