package geoip

import (
	"cmp"
	"encoding/binary"
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
// decoded once and its networks as address ranges, which newIndex merges
// with the other file's (see index.go) and then drops. The file's bytes
// are not kept.
type source struct {
	recs []Info // by id; id 0 is the zero Info (no network)
	v4   []span // disjoint, in address order
	// v6 are the IPv6 networks as ranges of their first 64 bits. A /64
	// that the database splits finer has the id fine, and those networks
	// are in the prefix table fine (github.com/gaissmai/bart): few in
	// practice, so the common lookup stays one binary search.
	v6   []span
	fine *bart.Table[uint32]
	// sixToFour and teredo say the database answers 6to4 (2002::/16) and
	// Teredo (2001::/32) addresses from its IPv4 networks, as MaxMind's
	// writer does by default; Networks skips aliases, so lookups map them.
	sixToFour, teredo bool
	mod               time.Time
	size              int64
}

// span is a network as its first and last address (IPv4), or as the first
// 64 bits of those (IPv6).
type span struct {
	lo, hi uint64
	id     uint32
}

// fine is the record id of a /64 to look up in source.fine.
const fine = math.MaxUint32

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
	s := &source{recs: []Info{{}}, fine: new(bart.Table[uint32])}
	ids := map[uintptr]uint32{}
	// A combined database (IPinfo Lite) has a record per network, each
	// with its own copy of the country code and organisation: one string
	// each is kept.
	strs := map[string]string{}
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
			in := rec.info()
			in.Country, in.ASOrg = intern(strs, in.Country), intern(strs, in.ASOrg)
			id = uint32(len(s.recs))
			s.recs = append(s.recs, in)
			ids[off] = id
		}
		p := res.Prefix()
		if p.Addr().Is4() {
			lo := uint64(addr4(p.Addr()))
			s.v4 = append(s.v4, span{lo, lo | math.MaxUint32>>p.Bits(), id})
			continue
		}
		lo := top64(p.Addr())
		switch {
		case p.Bits() <= 64:
			s.v6 = append(s.v6, span{lo, lo | math.MaxUint64>>p.Bits(), id})
		case len(s.v6) == 0 || s.v6[len(s.v6)-1].lo != lo:
			s.v6 = append(s.v6, span{lo, lo, fine})
			fallthrough
		default:
			s.fine.Insert(p, id)
		}
		// A record wider than the IPv4 subtree (::/N, N <= 96) answers
		// every IPv4 address too.
		if p.Bits() <= 96 && p.Contains(netip.IPv6Unspecified()) {
			s.v4 = append(s.v4, span{0, math.MaxUint32, id})
		}
	}
	// Aliased ranges hold no network of their own (Networks skips them):
	// marked fine, lookups there map the address to IPv4.
	s.sixToFour, s.teredo = aliased(r, sixToFourNet), aliased(r, teredoNet)
	for _, x := range []struct {
		on bool
		p  netip.Prefix
	}{{s.sixToFour, sixToFourNet}, {s.teredo, teredoNet}} {
		if x.on {
			lo := top64(x.p.Addr())
			s.v6 = append(s.v6, span{lo, lo | math.MaxUint64>>x.p.Bits(), fine})
		}
	}
	// Networks lists them in address order; sort only if a writer did not.
	for _, v := range []*[]span{&s.v4, &s.v6} {
		if !slices.IsSortedFunc(*v, cmpSpan) {
			slices.SortFunc(*v, cmpSpan)
		}
	}
	return s, nil
}

func intern(strs map[string]string, v string) string {
	if x, ok := strs[v]; ok {
		return x
	}
	strs[v] = v
	return v
}

func cmpSpan(a, b span) int { return cmp.Compare(a.lo, b.lo) }

func top64(a netip.Addr) uint64 {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8])
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
