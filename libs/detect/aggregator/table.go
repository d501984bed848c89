package aggregator

// table holds the states of one kind of subject: a map from key to an index
// into chunked slabs of flat state structs. States carry no pointers, so the
// garbage collector never scans them, and chunks (rather than one growing
// slice) keep growth from ever copying or doubling the whole state.
type table[K comparable, S any] struct {
	idx    map[K]uint32
	chunks [][]S
	free   []uint32
	next   uint32

	track   bool
	dirty   []uint64 // bit per index: changed since the last Changes
	changed []K      // keys whose dirty bit was set, in order
	deleted []K      // keys deleted since the last Changes
}

const chunkBits = 10
const chunkSize = 1 << chunkBits

func newTable[K comparable, S any]() *table[K, S] {
	return &table[K, S]{idx: make(map[K]uint32)}
}

func (t *table[K, S]) at(i uint32) *S { return &t.chunks[i>>chunkBits][i&(chunkSize-1)] }

// get returns the state of k, creating a zero state when there is none.
func (t *table[K, S]) get(k K) (s *S, i uint32) {
	if i, ok := t.idx[k]; ok {
		return t.at(i), i
	}
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		i = t.next
		t.next++
		if int(i>>chunkBits) == len(t.chunks) {
			t.chunks = append(t.chunks, make([]S, chunkSize))
		}
	}
	t.idx[k] = i
	return t.at(i), i
}

// lookup returns the state of k, or nil.
func (t *table[K, S]) lookup(k K) *S {
	if i, ok := t.idx[k]; ok {
		return t.at(i)
	}
	return nil
}

// touch marks index i (key k) as changed, for change tracking.
func (t *table[K, S]) touch(k K, i uint32) {
	if !t.track {
		return
	}
	w := int(i / 64)
	if w >= len(t.dirty) {
		t.dirty = append(t.dirty, make([]uint64, w+1-len(t.dirty))...)
	}
	if t.dirty[w]&(1<<(i%64)) == 0 {
		t.dirty[w] |= 1 << (i % 64)
		t.changed = append(t.changed, k)
	}
}

// delQuiet deletes k without recording it as a change (a restored tombstone).
func (t *table[K, S]) delQuiet(k K) {
	track := t.track
	t.track = false
	t.del(k)
	t.track = track
}

func (t *table[K, S]) del(k K) {
	i, ok := t.idx[k]
	if !ok {
		return
	}
	delete(t.idx, k)
	var zero S
	*t.at(i) = zero
	t.free = append(t.free, i)
	if t.track {
		if w := int(i / 64); w < len(t.dirty) {
			t.dirty[w] &^= 1 << (i % 64)
		}
		t.deleted = append(t.deleted, k)
	}
}

// changes calls put for every changed state and drop for every deleted key
// since the last call, then forgets them.
func (t *table[K, S]) changes(put func(K, *S), drop func(K)) {
	for _, k := range t.changed {
		if i, ok := t.idx[k]; ok {
			if w := int(i / 64); t.dirty[w]&(1<<(i%64)) != 0 {
				t.dirty[w] &^= 1 << (i % 64)
				put(k, t.at(i))
			}
		}
	}
	for _, k := range t.deleted {
		if _, ok := t.idx[k]; !ok {
			drop(k)
		}
	}
	t.changed = t.changed[:0]
	t.deleted = t.deleted[:0]
}

func (t *table[K, S]) len() int { return len(t.idx) }
