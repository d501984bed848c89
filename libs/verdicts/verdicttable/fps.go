package verdicttable

import (
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// Fingerprint verdicts (fp:HEX, ARCHITECTURE.md "Fingerprint verdicts")
// apply to the addresses they list and to nothing else. They are few (one
// per fingerprint of an active attack) and each lists at most
// subject.MaxFPAddresses, so a lookup reads one immutable index from
// address to the fp: verdicts listing it, rebuilt whole (copy on write)
// when an fp: verdict changes: a map read per lookup, nothing to lock.
// An ALLOW (an operator's `bulwark allow fp:HEX`) is held but listed for
// no address: it lifts what the fingerprint's verdict added, and never
// overrides an address's own verdict.

type fpVerdict struct {
	e     entry
	addrs []string   // as written, for Get, Range and snapshots
	keys  []exactKey // the addresses parsed once, for the index
}

// fpIndex maps an address to the fp: verdicts listing it: head gives the
// first hit, each hit the next (-1: none). Two allocations per rebuild
// rather than a slice per address.
type fpIndex struct {
	head map[exactKey]int32
	hits []fpHit
	// filter has a bit set for every listed address (fpFilterBit): most
	// clients are listed by no fingerprint, and one word of a 16 KiB
	// bitset, which stays in cache, answers that without the map's hashing
	// and probing.
	filter [fpFilterWords]uint64
}

const fpFilterWords = 1 << 11 // 2^17 bits: about 6 % false positives at 8,192 addresses

func fpFilterBit(k exactKey) (word int, mask uint64) {
	h := (k.lo ^ k.hi*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	b := h >> (64 - 17)
	return int(b >> 6), 1 << (b & 63)
}

type fpHit struct {
	fp   uint64
	e    entry
	next int32
}

type fpTable struct {
	mu    sync.Mutex // serialises writers
	byFP  map[uint64]fpVerdict
	index atomic.Pointer[fpIndex]
	n     atomic.Int64
}

func newFPTable() *fpTable { return &fpTable{byFP: map[uint64]fpVerdict{}} }

// setFP stores (or with del, deletes) fingerprint fp's verdict, which
// holds a reference on its extra, and releases the one it replaces.
func (t *Table) setFP(fp uint64, e entry, addrs []string, del bool) {
	f := t.fps
	f.mu.Lock()
	defer f.mu.Unlock()
	old, existed := f.byFP[fp]
	if del {
		if !existed {
			return
		}
		delete(f.byFP, fp)
	} else {
		keys := make([]exactKey, 0, len(addrs))
		for _, s := range addrs {
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" {
				continue // the decider writes canonical addresses; a hand-written record may not
			}
			keys = append(keys, ipKey(a.Unmap()))
		}
		f.byFP[fp] = fpVerdict{e: e, addrs: slices.Clone(addrs), keys: keys}
	}
	f.rebuild()
	if existed {
		t.extras.release(old.e.extra)
	}
}

// rebuild publishes a new index; called with mu held.
func (f *fpTable) rebuild() {
	f.n.Store(int64(len(f.byFP)))
	total := 0
	for _, v := range f.byFP {
		if eventpb.Action(v.e.action) > eventpb.Action_ALLOW {
			total += len(v.keys)
		}
	}
	idx := &fpIndex{head: make(map[exactKey]int32, total), hits: make([]fpHit, 0, total)}
	// In fingerprint order, so that every replica breaks a tie between two
	// fingerprints listing one address alike.
	for _, fp := range slices.Sorted(maps.Keys(f.byFP)) {
		v := f.byFP[fp]
		if eventpb.Action(v.e.action) <= eventpb.Action_ALLOW {
			continue
		}
		for _, k := range v.keys {
			h := fpHit{fp: fp, e: v.e, next: -1}
			if prev, ok := idx.head[k]; ok {
				h.next = prev
			}
			idx.head[k] = int32(len(idx.hits))
			idx.hits = append(idx.hits, h)
			w, m := fpFilterBit(k)
			idx.filter[w] |= m
		}
	}
	f.index.Store(idx)
}

// lookupFPs considers the fp: verdicts listing ip.
func (t *Table) lookupFPs(ip netip.Addr, now int64, r *Result) {
	idx := t.fps.index.Load()
	if idx == nil || len(idx.head) == 0 {
		return
	}
	k := ipKey(ip)
	if w, m := fpFilterBit(k); idx.filter[w]&m == 0 {
		return
	}
	i, ok := idx.head[k]
	for ok && i >= 0 {
		h := &idx.hits[i]
		if h.e.active(now) && r.outranks(&h.e) {
			r.Kind, r.Action, r.FP, r.e = subject.KindFP, eventpb.Action(h.e.action), h.fp, h.e
		}
		i = h.next
	}
}

// getFP returns fingerprint fp's verdict, expired or not.
func (t *Table) getFP(fp uint64) (fpVerdict, bool) {
	t.fps.mu.Lock()
	defer t.fps.mu.Unlock()
	v, ok := t.fps.byFP[fp]
	return v, ok
}

// rangeFPs copies the fp: verdicts out for Range.
func (t *Table) rangeFPs() map[uint64]fpVerdict {
	t.fps.mu.Lock()
	defer t.fps.mu.Unlock()
	out := make(map[uint64]fpVerdict, len(t.fps.byFP))
	for fp, v := range t.fps.byFP {
		out[fp] = v
	}
	return out
}

// removeFPsIf removes the fp: verdicts drop accepts.
func (t *Table) removeFPsIf(drop func(*entry) bool) int {
	f := t.fps
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for fp, v := range f.byFP {
		if drop(&v.e) {
			delete(f.byFP, fp)
			t.extras.release(v.e.extra)
			n++
		}
	}
	if n > 0 {
		f.rebuild()
	}
	return n
}

// Addresses returns the addresses an fp: verdict held under key lists (nil
// for any other subject or none held).
func (t *Table) Addresses(key string) []string {
	sub, err := subject.Parse(key)
	if err != nil || sub.Kind != subject.KindFP {
		return nil
	}
	v, ok := t.getFP(sub.FP)
	if !ok {
		return nil
	}
	return slices.Clone(v.addrs)
}

// FingerprintsOf returns the fp: subjects whose verdicts list ip, sorted
// (for the console's client view; a lookup reads the index itself).
func (t *Table) FingerprintsOf(ip netip.Addr) []string {
	idx := t.fps.index.Load()
	if idx == nil || !ip.IsValid() {
		return nil
	}
	var out []string
	i, ok := idx.head[ipKey(ip.Unmap())]
	for ok && i >= 0 {
		out = append(out, subject.FP(idx.hits[i].fp))
		i = idx.hits[i].next
	}
	slices.Sort(out)
	return out
}
