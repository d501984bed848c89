package verdicttable

import (
	"net/netip"
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

// removeIf removes the entries drop accepts: exact ones one shard at a time
// (see exactTable.removeShardIf), networks in one new version of their trie.
func (t *Table) removeIf(drop func(*entry) bool) int {
	release := func(e entry) { t.extras.release(e.extra) }
	removed := 0
	for i := range t.ips.shards {
		n := t.ips.removeShardIf(i, drop, release)
		t.nIP.Add(int64(-n))
		removed += n
		n = t.sessions.removeShardIf(i, drop, release)
		t.nSession.Add(int64(-n))
		removed += n
	}

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
		removed += len(nets)
	}
	return removed
}
