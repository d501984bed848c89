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

// removeIf scans each shard under its read lock, then deletes the chosen
// keys one write lock at a time, rechecking each: a scan never holds a shard
// against readers, and a verdict rewritten in between is kept.
func (t *Table) removeIf(drop func(*entry) bool) int {
	removed := 0
	var ip4 []uint32
	var ip6 [][16]byte
	var sessions []string
	for i := range t.shards {
		s := &t.shards[i]
		ip4, ip6, sessions = ip4[:0], ip6[:0], sessions[:0]
		s.mu.RLock()
		for k, e := range s.ip4 {
			if drop(&e) {
				ip4 = append(ip4, k)
			}
		}
		for k, e := range s.ip6 {
			if drop(&e) {
				ip6 = append(ip6, k)
			}
		}
		for k, e := range s.sessions {
			if drop(&e) {
				sessions = append(sessions, k)
			}
		}
		s.mu.RUnlock()
		for _, k := range ip4 {
			s.mu.Lock()
			if e, ok := s.ip4[k]; ok && drop(&e) {
				delete(s.ip4, k)
				t.nIP.Add(-1)
				t.extras.release(e.extra)
				removed++
			}
			s.mu.Unlock()
		}
		for _, k := range ip6 {
			s.mu.Lock()
			if e, ok := s.ip6[k]; ok && drop(&e) {
				delete(s.ip6, k)
				t.nIP.Add(-1)
				t.extras.release(e.extra)
				removed++
			}
			s.mu.Unlock()
		}
		for _, k := range sessions {
			s.mu.Lock()
			if e, ok := s.sessions[k]; ok && drop(&e) {
				delete(s.sessions, k)
				t.nSession.Add(-1)
				t.extras.release(e.extra)
				removed++
			}
			s.mu.Unlock()
		}
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
