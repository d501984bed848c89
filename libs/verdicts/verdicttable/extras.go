package verdicttable

import "sync"

// extraRef names an interned rule-and-reasons string: slot+1 in the low 32
// bits (0 = none) and the slot's generation in the high 32 bits, so a
// reference held by a lookup result whose slot was freed and reused in
// between resolves to nothing rather than to another verdict's reasons.
type extraRef uint64

// interner stores each distinct rule-and-reasons string once, with a
// reference count per stored entry. Entries hold a plain integer instead of
// a string, which keeps the exact-match maps free of pointers: the garbage
// collector then never scans the million entries of a full table, which is
// what keeps the sidecar's tail latency flat under load. (unique.Handle would
// intern as well, but is a pointer.)
type interner struct {
	mu   sync.RWMutex
	ids  map[string]uint32 // value -> slot
	vals []string
	refs []uint32
	gens []uint32
	free []uint32
}

func newInterner() *interner { return &interner{ids: map[string]uint32{}} }

// acquire returns a reference to the string b holds, adding one use. It
// does not keep b, and copies it only the first time.
func (in *interner) acquire(b []byte) extraRef {
	if len(b) == 0 {
		return 0
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	slot, ok := in.ids[string(b)]
	if !ok {
		s := string(b)
		if n := len(in.free); n > 0 {
			slot, in.free = in.free[n-1], in.free[:n-1]
			in.vals[slot] = s
		} else {
			slot = uint32(len(in.vals))
			in.vals = append(in.vals, s)
			in.refs = append(in.refs, 0)
			in.gens = append(in.gens, 0)
		}
		in.ids[s] = slot
	}
	in.refs[slot]++
	return extraRef(uint64(in.gens[slot])<<32 | uint64(slot+1))
}

// release drops one use of r; the last one frees the slot.
func (in *interner) release(r extraRef) {
	if r == 0 {
		return
	}
	slot := uint32(r) - 1
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.gens[slot] != uint32(r>>32) || in.refs[slot] == 0 {
		return
	}
	if in.refs[slot]--; in.refs[slot] == 0 {
		delete(in.ids, in.vals[slot])
		in.vals[slot] = ""
		in.gens[slot]++
		in.free = append(in.free, slot)
	}
}

// get returns the string r names, or "" if it has been freed since.
func (in *interner) get(r extraRef) string {
	if r == 0 {
		return ""
	}
	slot := uint32(r) - 1
	in.mu.RLock()
	defer in.mu.RUnlock()
	if int(slot) >= len(in.vals) || in.gens[slot] != uint32(r>>32) {
		return ""
	}
	return in.vals[slot]
}
