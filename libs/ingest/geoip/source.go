package geoip

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/gaissmai/bart"
	"github.com/oschwald/maxminddb-golang/v2"
)

// source is one database file, read whole at load: its distinct records
// decoded once, its IPv4 networks as address ranges (merged with the other
// file's into the index, see index.go) and its IPv6 networks in a prefix
// table (github.com/gaissmai/bart). The file's bytes are not kept.
type source struct {
	recs []Info // by id; id 0 is the zero Info (no network)
	v4   []span // disjoint, in address order
	v6   *bart.Table[uint32]
	// sixToFour and teredo say the database answers 6to4 (2002::/16) and
	// Teredo (2001::/32) addresses from its IPv4 networks, as MaxMind's
	// writer does by default; Networks skips aliases, so lookups map them.
	sixToFour, teredo bool
	mod               time.Time
	size              int64
}

// span is an IPv4 network as its first and last address.
type span struct{ lo, hi, id uint32 }

var (
	sixToFourNet = netip.MustParsePrefix("2002::/16")
	teredoNet    = netip.MustParsePrefix("2001::/32")
)

func loadSource(path string) (*source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	// Read into memory rather than mmap: only the compiled form is kept,
	// and a file a cron job replaces is never read while it changes.
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, err := compile(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.mod, s.size = fi.ModTime(), fi.Size()
	return s, nil
}

// compile reads every network of r, decoding each distinct record once
// (networks share records by their offset in the data section).
func compile(r *maxminddb.Reader) (*source, error) {
	s := &source{recs: []Info{{}}, v6: new(bart.Table[uint32])}
	ids := map[uintptr]uint32{}
	for res := range r.Networks() {
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("reading the networks: %w", err)
		}
		off := res.Offset()
		id, ok := ids[off]
		if !ok {
			var rec record
			if err := res.Decode(&rec); err != nil {
				return nil, fmt.Errorf("decoding the record of %s: %w", res.Prefix(), err)
			}
			id = uint32(len(s.recs))
			s.recs = append(s.recs, rec.info())
			ids[off] = id
		}
		p := res.Prefix()
		if p.Addr().Is4() {
			lo := addr4(p.Addr())
			s.v4 = append(s.v4, span{lo, lo | uint32(math.MaxUint32>>p.Bits()), id})
			continue
		}
		s.v6.Insert(p, id)
		// A record wider than the IPv4 subtree (::/N, N <= 96) answers
		// every IPv4 address too.
		if p.Bits() <= 96 && p.Contains(netip.IPv6Unspecified()) {
			s.v4 = append(s.v4, span{0, math.MaxUint32, id})
		}
	}
	// Networks lists them in address order; sort only if a writer did not.
	if !slices.IsSortedFunc(s.v4, func(a, b span) int { return cmpU32(a.lo, b.lo) }) {
		slices.SortFunc(s.v4, func(a, b span) int { return cmpU32(a.lo, b.lo) })
	}
	s.sixToFour, s.teredo = aliased(r, sixToFourNet), aliased(r, teredoNet)
	return s, nil
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func addr4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// aliased reports whether p's subtree in r is the IPv4 subtree: Networks
// skips it, and lists it only when asked for aliases.
func aliased(r *maxminddb.Reader, p netip.Prefix) bool {
	for range r.NetworksWithin(p) {
		return false
	}
	for res := range r.NetworksWithin(p, maxminddb.IncludeAliasedNetworks()) {
		return res.Err() == nil
	}
	return false
}

// alias returns the IPv4 address s answers the IPv6 address a from, if any.
func (s *source) alias(a netip.Addr) (uint32, bool) {
	b := a.As16()
	switch {
	case s.sixToFour && b[0] == 0x20 && b[1] == 0x02:
		return uint32(b[2])<<24 | uint32(b[3])<<16 | uint32(b[4])<<8 | uint32(b[5]), true
	case s.teredo && b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0:
		return uint32(b[4])<<24 | uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7]), true
	}
	return 0, false
}
