package verdicttable

import (
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
	addrs []string // as written, for Get, Range and snapshots
}

type fpHit struct {
	fp uint64
	e  entry
}

type fpTable struct {
	mu    sync.Mutex // serialises writers
	byFP  map[uint64]fpVerdict
	index atomic.Pointer[map[exactKey][]fpHit]
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
		f.byFP[fp] = fpVerdict{e: e, addrs: slices.Clone(addrs)}
	}
	f.rebuild()
	if existed {
		t.extras.release(old.e.extra)
	}
}

// rebuild publishes a new index; called with mu held.
func (f *fpTable) rebuild() {
	f.n.Store(int64(len(f.byFP)))
	idx := map[exactKey][]fpHit{}
	for fp, v := range f.byFP {
		if eventpb.Action(v.e.action) <= eventpb.Action_ALLOW {
			continue
		}
		for _, s := range v.addrs {
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" {
				continue // the decider writes canonical addresses; a hand-written record may not
			}
			k := ipKey(a.Unmap())
			idx[k] = append(idx[k], fpHit{fp: fp, e: v.e})
		}
	}
	f.index.Store(&idx)
}

// lookupFPs considers the fp: verdicts listing ip.
func (t *Table) lookupFPs(ip netip.Addr, now int64, r *Result) {
	idx := t.fps.index.Load()
	if idx == nil || len(*idx) == 0 {
		return
	}
	hits := (*idx)[ipKey(ip)]
	for i := range hits {
		if h := &hits[i]; h.e.active(now) && r.outranks(&h.e) {
			r.Kind, r.Action, r.FP, r.e = subject.KindFP, eventpb.Action(h.e.action), h.fp, h.e
		}
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
	for _, h := range (*idx)[ipKey(ip.Unmap())] {
		out = append(out, subject.FP(h.fp))
	}
	slices.Sort(out)
	return out
}
