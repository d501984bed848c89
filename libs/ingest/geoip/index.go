package geoip

import (
	"math"
	"net/netip"
	"slices"
)

// index answers lookups for both databases at once. Their networks are
// merged at load into one list of address ranges per family, each range
// with the pair of records that holds it and the answer Lookup gives for
// that pair. An IPv4 lookup is a binary search among the few ranges under
// the address's first 16 bits; an IPv6 one two short binary searches.
//
// Written by hand rather than using a prefix table (bart) or walking
// maxminddb's tree, because a lookup of a network never seen is bound by
// cache misses, and this layout has the fewest: the directory (256 KiB,
// mostly cached), one or two lines of ranges, one line of answer; against
// a dependent read per prefix bit in the mmdb tree, or several per 8-bit
// stride in bart, for each of the two databases. Measured in
// BENCHMARKS.md (GeoIP enrichment).
type index struct {
	country, asn *source // nil when not configured
	// v4 are lo<<32 | answer id, in address order, covering all of IPv4
	// (ranges no network holds have the zero answer); dir4[k] is the
	// position of the range holding k<<16.
	v4   []uint64
	dir4 []uint32
	// v6 are the first addresses (their first 64 bits) of the IPv6
	// ranges, in order, covering all of them, and ids6 their answer ids;
	// top6 is every 8th of v6, a search tree's upper level small enough to
	// stay cached (IPv6 networks crowd into 2000::/4: a directory by the
	// first bits would put most of them in a few buckets).
	v6      []uint64
	ids6    []uint32
	top6    []uint64
	pairs   []pair // by answer id: the record of each database
	answers []Info // by answer id
}

type pair struct{ country, asn uint32 }

// slow marks the answer ids of pairs with a fine record: the lookup then
// asks the databases one by one (lookupSlow) without reading the pair.
const slow = 1 << 31

func newIndex(country, asn *source) *index {
	ix := &index{country: country, asn: asn, pairs: []pair{{}}, answers: []Info{{}}}
	ids := map[pair]uint32{{}: 0}
	answer := func(p pair) uint32 {
		id, ok := ids[p]
		if !ok {
			id = uint32(len(ix.pairs))
			if p.country == fine || p.asn == fine {
				id |= slow
			}
			ids[p] = id
			ix.pairs = append(ix.pairs, p)
			ix.answers = append(ix.answers, combine(rec(country, p.country), rec(asn, p.asn)))
		}
		return id
	}
	spans := func(s *source, v6 bool) []span {
		switch {
		case s == nil:
			return nil
		case v6:
			return s.v6
		}
		return s.v4
	}
	merge(spans(country, false), spans(asn, false), math.MaxUint32, answer, func(lo uint64, id uint32) {
		ix.v4 = append(ix.v4, lo<<32|uint64(id))
	})
	merge(spans(country, true), spans(asn, true), math.MaxUint64, answer, func(lo uint64, id uint32) {
		ix.v6 = append(ix.v6, lo)
		ix.ids6 = append(ix.ids6, id)
	})
	ix.dir4 = directory(len(ix.v4), func(i int) uint64 { return ix.v4[i] >> 32 })
	for i := 0; i < len(ix.v6); i += 8 {
		ix.top6 = append(ix.top6, ix.v6[i])
	}
	for _, s := range []*source{country, asn} {
		if s != nil {
			s.v4, s.v6 = nil, nil // merged; a reload reads both files again
		}
	}
	return ix
}

// merge walks two lists of disjoint spans in order over the space up to
// last, calling emit with the start and answer of each range in which
// neither list changes (neighbours with one answer are one range).
func merge(cs, as []span, last uint64, answer func(pair) uint32, emit func(lo uint64, id uint32)) {
	prev := uint32(math.MaxUint32) // no answer id has every bit set
	for pos, i, j := uint64(0), 0, 0; ; {
		c, cHi := at(cs, &i, pos, last)
		a, aHi := at(as, &j, pos, last)
		if id := answer(pair{c, a}); id != prev {
			emit(pos, id)
			prev = id
		}
		hi := min(cHi, aHi)
		if hi == last {
			return
		}
		pos = hi + 1
	}
}

// at returns the record id of spans at pos and the last position of that
// answer, advancing *i past the spans before pos.
func at(spans []span, i *int, pos, last uint64) (uint32, uint64) {
	for *i < len(spans) && spans[*i].hi < pos {
		*i++
	}
	switch {
	case *i == len(spans):
		return 0, last
	case spans[*i].lo > pos:
		return 0, spans[*i].lo - 1
	}
	return spans[*i].id, spans[*i].hi
}

// directory maps each value of the first 16 bits of a 32-bit address to
// the position of the range holding its first address; the ranges under
// k are dir[k] to dir[k+1].
func directory(n int, key func(int) uint64) []uint32 {
	dir := make([]uint32, 1<<16+1)
	r := 0
	for k := range 1 << 16 {
		first := uint64(k) << 16
		for r+1 < n && key(r+1) <= first {
			r++
		}
		dir[k] = uint32(r)
	}
	dir[1<<16] = uint32(n - 1)
	return dir
}

func rec(s *source, id uint32) Info {
	if s == nil || id == fine {
		return Info{} // fine: answered per address (lookupSlow)
	}
	return s.recs[id]
}

// find4 returns the answer id of the IPv4 address x.
func (ix *index) find4(x uint32) uint32 {
	k := x >> 16
	block := ix.v4[ix.dir4[k] : ix.dir4[k+1]+1]
	// The first range starting after x; the one before it holds x (the
	// block's first range holds k<<16 <= x, so n >= 1).
	n, _ := slices.BinarySearch(block, uint64(x)<<32|math.MaxUint32)
	return uint32(block[n-1])
}

// find6 returns the answer id of the IPv6 address whose first 64 bits
// are x.
func (ix *index) find6(x uint64) uint32 {
	// The last entry <= x: v6[0] is 0, so there is one at each level.
	t, found := slices.BinarySearch(ix.top6, x)
	if !found {
		t--
	}
	lo := t * 8
	n, found := slices.BinarySearch(ix.v6[lo:min(lo+8, len(ix.v6))], x)
	if !found {
		n--
	}
	return ix.ids6[lo+n]
}

// lookup answers a (unmapped).
func (ix *index) lookup(a netip.Addr) Info {
	if a.Is4() {
		return ix.answers[ix.find4(addr4(a))]
	}
	id := ix.find6(top64(a))
	if id&slow != 0 { // a /64 split finer than the ranges, or aliased to IPv4
		return ix.lookupSlow(a, ix.pairs[id&^slow])
	}
	return ix.answers[id]
}

// lookupSlow answers an IPv6 address in a /64 split finer, or one a
// database may answer from its IPv4 networks, database by database.
func (ix *index) lookupSlow(a netip.Addr, p pair) Info {
	return combine(
		ix.side(ix.country, p.country, a, func(p pair) uint32 { return p.country }),
		ix.side(ix.asn, p.asn, a, func(p pair) uint32 { return p.asn }))
}

func (ix *index) side(s *source, id uint32, a netip.Addr, of func(pair) uint32) Info {
	switch {
	case s == nil:
		return Info{}
	case s.sixToFour || s.teredo:
		if x, ok := s.alias(a); ok {
			return s.recs[of(ix.pairs[ix.find4(x)&^slow])]
		}
	}
	if id == fine {
		id, _ = s.fine.Lookup(a) // 0, the zero Info, when no network holds a
	}
	return s.recs[id]
}

// combine is the answer from the country database's record c and the
// ASN database's n: the ASN database's network wins (a combined database
// such as IPinfo Lite in the country slot has one too); the country comes
// from the country database when it has one.
func combine(c, n Info) Info {
	if n.ASN != 0 {
		c.ASN, c.ASOrg = n.ASN, n.ASOrg
	}
	if c.Country == "" {
		c.Country = n.Country
	}
	return c
}
