package fwsync

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/gaissmai/bart"

	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
)

// elements turns active entries into set elements, per family. Interval
// sets refuse overlapping ranges, so a network covered by a wider one is left
// out (it is added when the wider one goes); identical networks merge into
// the longest-lived.
func elements(entries []blockset.Entry) (v4, v6 map[netip.Prefix]time.Time) {
	slices.SortFunc(entries, func(a, b blockset.Entry) int {
		return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
	})
	var kept bart.Table[struct{}]
	v4, v6 = map[netip.Prefix]time.Time{}, map[netip.Prefix]time.Time{}
	for _, e := range entries {
		p := e.Prefix.Masked()
		if !p.IsValid() || p.Addr().IsUnspecified() {
			// 0.0.0.0/n and ::/n are not clients; the start of the address
			// space also holds the interval sets' implicit end element.
			continue
		}
		m := v6
		if p.Addr().Is4() {
			m = v4
		}
		if exp, ok := m[p]; ok {
			if exp.IsZero() || e.ExpiresAt.IsZero() {
				m[p] = time.Time{}
			} else if e.ExpiresAt.After(exp) {
				m[p] = e.ExpiresAt
			}
			continue
		}
		if _, _, covered := kept.LookupPrefixLPM(p); covered {
			continue
		}
		kept.Insert(p, struct{}{})
		m[p] = e.ExpiresAt
	}
	return v4, v6
}

// bounds returns the first address of p and the first address after it, as
// an interval set stores it; end is invalid when p reaches the top of the
// address space.
func bounds(p netip.Prefix) (start, end netip.Addr) {
	start = p.Masked().Addr()
	last := start.AsSlice()
	hostBits := start.BitLen() - p.Bits()
	for i := len(last) - 1; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		last[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	l, _ := netip.AddrFromSlice(last)
	return start, l.Next()
}
