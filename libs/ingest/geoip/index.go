package geoip

import (
	"math"
	"net/netip"
	"slices"
)

// index answers IPv4 lookups for both databases at once. Their networks
// are merged at load into one list of address ranges, each with the pair
// of records that holds it and the answer Lookup gives for that pair, and
// a lookup is a binary search among the few ranges of the address's /16.
//
// Written by hand rather than using a prefix table (bart, which answers
// IPv6 here) or walking maxminddb's tree, because a lookup of a network
// never seen is bound by cache misses, and this is the layout with the
// fewest: the /16 directory (256 KiB, mostly cached), one or two lines of
// ranges, one of answers; against a dependent read per prefix bit in the
// mmdb tree and several per stride in bart, for each of the two
// databases. Measured in BENCHMARKS.md (GeoIP enrichment).
type index struct {
	country, asn *source // nil when not configured
	// dir[k] is the position in ranges of the range holding k<<16; the
	// ranges of the /16 k are ranges[dir[k] : dir[k+1]+1].
	dir []uint32
	// ranges are lo<<32 | answer id, in address order, covering all of
	// IPv4 (ranges no network holds have the zero answer).
	ranges  []uint64
	pairs   []pair // by answer id: the record of each database
	answers []Info // by answer id
}

type pair struct{ country, asn uint32 }

func newIndex(country, asn *source) *index {
	ix := &index{country: country, asn: asn, pairs: []pair{{}}, answers: []Info{{}}}
	var cs, as []span
	if country != nil {
		cs = country.v4
	}
	if asn != nil {
		as = asn.v4
	}
	ids := map[pair]uint32{{}: 0}
	last := uint64(math.MaxUint64)
	for pos, i, j := uint64(0), 0, 0; pos <= math.MaxUint32; {
		c, cEnd := at(cs, &i, pos)
		a, aEnd := at(as, &j, pos)
		p := pair{c, a}
		id, ok := ids[p]
		if !ok {
			id = uint32(len(ix.pairs))
			ids[p] = id
			ix.pairs = append(ix.pairs, p)
			ix.answers = append(ix.answers, combine(ix.rec(country, c), ix.rec(asn, a)))
		}
		if uint64(id) != last { // neighbours with one answer are one range
			ix.ranges = append(ix.ranges, pos<<32|uint64(id))
			last = uint64(id)
		}
		pos = min(cEnd, aEnd)
	}
	ix.dir = make([]uint32, 1<<16+1)
	r := 0
	for k := range 1 << 16 {
		for r+1 < len(ix.ranges) && ix.ranges[r+1]>>32 <= uint64(k)<<16 {
			r++
		}
		ix.dir[k] = uint32(r)
	}
	ix.dir[1<<16] = uint32(len(ix.ranges) - 1)
	return ix
}

// at returns the record id of spans at pos and where that answer ends
// (exclusive), advancing *i past the spans before pos.
func at(spans []span, i *int, pos uint64) (uint32, uint64) {
	for *i < len(spans) && uint64(spans[*i].hi) < pos {
		*i++
	}
	switch {
	case *i == len(spans):
		return 0, math.MaxUint32 + 1
	case uint64(spans[*i].lo) > pos:
		return 0, uint64(spans[*i].lo)
	}
	return spans[*i].id, uint64(spans[*i].hi) + 1
}

func (ix *index) rec(s *source, id uint32) Info {
	if s == nil {
		return Info{}
	}
	return s.recs[id]
}

// find4 returns the answer id of the IPv4 address x.
func (ix *index) find4(x uint32) uint32 {
	k := x >> 16
	block := ix.ranges[ix.dir[k] : ix.dir[k+1]+1]
	// The first range starting after x; the one before it holds x (the
	// block's first range holds k<<16 <= x, so n >= 1).
	n, _ := slices.BinarySearch(block, uint64(x)<<32|math.MaxUint32)
	return uint32(block[n-1])
}

// lookup answers a (unmapped).
func (ix *index) lookup(a netip.Addr) Info {
	if a.Is4() {
		return ix.answers[ix.find4(addr4(a))]
	}
	var c, n Info
	if ix.country != nil {
		c = ix.lookup6(ix.country, a, func(p pair) uint32 { return p.country })
	}
	if ix.asn != nil {
		n = ix.lookup6(ix.asn, a, func(p pair) uint32 { return p.asn })
	}
	return combine(c, n)
}

func (ix *index) lookup6(s *source, a netip.Addr, side func(pair) uint32) Info {
	if x, ok := s.alias(a); ok {
		return s.recs[side(ix.pairs[ix.find4(x)])]
	}
	id, _ := s.v6.Lookup(a) // 0, the zero Info, when no network holds a
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
