package verdicttable

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// exactTable holds the exact-match verdicts (addresses, sessions) under
// 128-bit keys. Written by hand because no maintained Go map gives both
// things the sidecar needs at once:
//
//   - reads that take no lock and write no shared memory, so that readers on
//     every core do not bounce a lock's cache line between them (a
//     sync.RWMutex read lock is two atomic adds on one line; that was half of
//     a lookup's time, and more with two cores reading);
//   - values stored inline, without a pointer per entry, so the garbage
//     collector never scans a million verdicts (xsync.Map, sync.Map, haxmap
//     and cornelk/hashmap all keep a heap node per entry).
//
// Each of the 256 shards is an open-addressed array with linear probing,
// written under the shard's mutex and read under a sequence lock: a writer
// makes the shard's counter odd while it changes a slot and even again
// after; a reader notes the counter, probes, and probes again if the counter
// moved. Every word is read and written with sync/atomic, so the scheme is
// race-free under the Go memory model. A writer holds a slot for seven
// atomic stores; growing builds a new array aside and swaps it in with one
// pointer store, so a reader never waits for a rehash.
type exactTable struct {
	seed   uint64
	shards [1 << shardBits]exactShard
}

// exactKey is an address in its 16-byte form, or a session id's keyed
// 128-bit hash.
type exactKey struct{ hi, lo uint64 }

type exactShard struct {
	mu      sync.Mutex    // serialises writers
	seq     atomic.Uint64 // odd while a writer changes a slot
	slots   atomic.Pointer[slotArray]
	used    int // slots holding an entry (under mu)
	deleted int // tombstoned slots (under mu)
	// names keeps each session key's id for Range and snapshots; nil in the
	// address table, whose keys are the addresses themselves. Writers only.
	names map[exactKey]string
	_     [64]byte // keeps two shards' counters off one cache line
}

// slotArray is one generation of a shard's slots; len(s) is a power of two.
type slotArray struct {
	mask uint64
	s    []slot
}

// slot is 56 bytes without pointers. meta holds the slot's state, the
// entry's small fields and its stale mark (see packMeta).
type slot struct {
	meta, hi, lo, extra, exp, at, score atomic.Uint64
}

const (
	stateEmpty   = 0
	stateUsed    = 1
	stateDeleted = 2
	stateMask    = 3
	staleBit     = 1 << 2

	minSlots = 16
)

func packMeta(e *entry) uint64 {
	m := uint64(stateUsed) | uint64(e.action)<<8 | uint64(e.origin)<<16 | uint64(e.wouldBe)<<24
	if e.stale {
		m |= staleBit
	}
	return m
}

func (s *slot) load(meta uint64) entry {
	return entry{
		exp:     int64(s.exp.Load()),
		at:      int64(s.at.Load()),
		score:   math.Float64frombits(s.score.Load()),
		extra:   extraRef(s.extra.Load()),
		action:  uint8(meta >> 8),
		origin:  uint8(meta >> 16),
		wouldBe: uint8(meta >> 24),
		stale:   meta&staleBit != 0,
	}
}

// store writes an entry into the slot; the caller holds the shard's
// sequence odd (or owns an array no reader has seen yet).
func (s *slot) store(k exactKey, e *entry) {
	s.hi.Store(k.hi)
	s.lo.Store(k.lo)
	s.extra.Store(uint64(e.extra))
	s.exp.Store(uint64(e.exp))
	s.at.Store(uint64(e.at))
	s.score.Store(math.Float64bits(e.score))
	s.meta.Store(packMeta(e))
}

func newSlotArray(n int) *slotArray {
	return &slotArray{mask: uint64(n - 1), s: make([]slot, n)}
}

func newExactTable(seed uint64, named bool) *exactTable {
	t := &exactTable{seed: seed}
	for i := range t.shards {
		t.shards[i].slots.Store(newSlotArray(minSlots))
		if named {
			t.shards[i].names = map[exactKey]string{}
		}
	}
	return t
}

// fmix64 is MurmurHash3's finaliser: every input bit flips about half of
// the output bits, so both the shard (top bits) and the probe start (low
// bits) are spread evenly. The seed keeps clients from choosing addresses
// that pile up in one probe sequence.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (t *exactTable) hash(k exactKey) uint64 { return fmix64(k.lo ^ fmix64(k.hi^t.seed)) }

func (t *exactTable) shard(h uint64) *exactShard { return &t.shards[h>>(64-shardBits)] }

// get reads k's entry without locking.
func (t *exactTable) get(k exactKey) (entry, bool) {
	h := t.hash(k)
	s := t.shard(h)
	for spins := 0; ; spins++ {
		if v := s.seq.Load(); v&1 == 0 {
			e, ok := s.slots.Load().find(k, h)
			if s.seq.Load() == v {
				return e, ok
			}
		}
		// A writer is inside its few stores; let it run if it was
		// descheduled there.
		if spins >= 4 {
			runtime.Gosched()
		}
	}
}

// find probes for k. It may see a slot half written (the caller's sequence
// check throws such a result away) but always ends: it visits each slot at
// most once.
func (a *slotArray) find(k exactKey, h uint64) (entry, bool) {
	for n, i := uint64(0), h; n <= a.mask; n, i = n+1, i+1 {
		sl := &a.s[i&a.mask]
		m := sl.meta.Load()
		switch m & stateMask {
		case stateEmpty:
			return entry{}, false
		case stateUsed:
			if sl.lo.Load() == k.lo && sl.hi.Load() == k.hi {
				return sl.load(m), true
			}
		}
	}
	return entry{}, false
}

// locate finds k's slot (found) or the slot to insert it into: the first
// tombstone on its probe sequence, else the empty slot that ends it. The
// caller holds the shard's mutex. ok is false only when the array has
// neither k nor a free slot.
func (a *slotArray) locate(k exactKey, h uint64) (idx uint64, found, ok bool) {
	free, haveFree := uint64(0), false
	for n, i := uint64(0), h; n <= a.mask; n, i = n+1, i+1 {
		j := i & a.mask
		sl := &a.s[j]
		switch sl.meta.Load() & stateMask {
		case stateEmpty:
			if haveFree {
				return free, false, true
			}
			return j, false, true
		case stateDeleted:
			if !haveFree {
				free, haveFree = j, true
			}
		default:
			if sl.lo.Load() == k.lo && sl.hi.Load() == k.hi {
				return j, true, true
			}
		}
	}
	return free, false, haveFree
}

// put stores e under k and returns the entry it replaced.
func (t *exactTable) put(k exactKey, name string, e entry) (old entry, existed bool) {
	h := t.hash(k)
	s := t.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.slots.Load()
	idx, found, ok := a.locate(k, h)
	if found {
		sl := &a.s[idx]
		old, existed = sl.load(sl.meta.Load()), true
	} else if !ok || (s.used+s.deleted+1)*4 > len(a.s)*3 {
		a = t.rehash(s, s.used+1)
		idx, _, _ = a.locate(k, h)
	}
	sl := &a.s[idx]
	wasDeleted := sl.meta.Load()&stateMask == stateDeleted
	s.seq.Add(1)
	sl.store(k, &e)
	s.seq.Add(1)
	if !existed {
		s.used++
		if wasDeleted {
			s.deleted--
		}
		if s.names != nil {
			s.names[k] = name
		}
	}
	return old, existed
}

// del removes k and returns its entry.
func (t *exactTable) del(k exactKey) (old entry, existed bool) {
	h := t.hash(k)
	s := t.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.slots.Load()
	idx, found, _ := a.locate(k, h)
	if !found {
		return entry{}, false
	}
	sl := &a.s[idx]
	old = sl.load(sl.meta.Load())
	s.clear(a, idx, k)
	return old, true
}

// clear empties slot idx, which holds k. The caller holds s.mu.
func (s *exactShard) clear(a *slotArray, idx uint64, k exactKey) {
	// A slot followed by an empty one ends every probe sequence through it,
	// so it can become empty instead of a tombstone.
	state := uint64(stateDeleted)
	if a.s[(idx+1)&a.mask].meta.Load()&stateMask == stateEmpty {
		state = stateEmpty
	}
	s.seq.Add(1)
	a.s[idx].meta.Store(state)
	s.seq.Add(1)
	s.used--
	if state == stateDeleted {
		s.deleted++
	}
	if s.names != nil {
		delete(s.names, k)
	}
}

// keyedEntry is one stored entry with its key (and a session's id).
type keyedEntry struct {
	k    exactKey
	name string
	e    entry
}

// each calls fn with the index, key and entry of every used slot. The
// caller holds the shard's mutex; fn may clear the slot it is given.
func (a *slotArray) each(fn func(j uint64, k exactKey, e entry)) { a.eachPart(0, 1, fn) }

// eachPart is each over part (0 <= part < parts) of the slots.
func (a *slotArray) eachPart(part, parts int, fn func(j uint64, k exactKey, e entry)) {
	for j := len(a.s) * part / parts; j < len(a.s)*(part+1)/parts; j++ {
		sl := &a.s[j]
		if m := sl.meta.Load(); m&stateMask == stateUsed {
			fn(uint64(j), exactKey{sl.hi.Load(), sl.lo.Load()}, sl.load(m))
		}
	}
}

// appendShard appends shard i's entries to dst. It holds the shard's mutex
// for one pass over its slots: the shard's writers wait that long, its
// readers not at all.
func (t *exactTable) appendShard(dst []keyedEntry, i int) []keyedEntry {
	s := &t.shards[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slots.Load().each(func(_ uint64, k exactKey, e entry) {
		dst = append(dst, keyedEntry{k: k, name: s.names[k], e: e})
	})
	return dst
}

// removeShardIf removes the entries that drop accepts from part (of parts)
// of shard i's slots, in one pass under the shard's mutex, and calls
// removed with each.
func (t *exactTable) removeShardIf(i, part, parts int, drop func(*entry) bool, removed func(entry)) int {
	s := &t.shards[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.slots.Load()
	n := 0
	a.eachPart(part, parts, func(j uint64, k exactKey, e entry) {
		if drop(&e) {
			s.clear(a, j, k)
			removed(e)
			n++
		}
	})
	return n
}

// rehash copies s's entries into a new array sized for want entries at most
// half full (dropping the tombstones), and publishes it. Readers still
// probing the old array see it as it was: nobody writes to it any more. The
// caller holds s.mu.
func (t *exactTable) rehash(s *exactShard, want int) *slotArray {
	n := minSlots
	for n < want*2 {
		n *= 2
	}
	old := s.slots.Load()
	next := newSlotArray(n)
	old.each(func(_ uint64, k exactKey, e entry) {
		idx, _, _ := next.locate(k, t.hash(k))
		next.s[idx].store(k, &e)
	})
	s.deleted = 0
	s.slots.Store(next)
	return next
}
