package blockset

import (
	"net/netip"
	"slices"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// fpEntry is an fp: verdict: its entry and the host prefixes of the
// addresses it lists.
type fpEntry struct {
	e        Entry
	prefixes []netip.Prefix
}

// applyFP stores an fp: verdict; called with mu held. Addresses past
// subject.MaxFPAddresses (a hand-written record) and unparseable ones are
// skipped and counted.
func (s *Set) applyFP(subj string, v *eventpb.Verdict) {
	addrs := v.GetAddresses()
	if len(addrs) > subject.MaxFPAddresses {
		s.skipped.WithLabelValues("fp_over_limit").Add(float64(len(addrs) - subject.MaxFPAddresses))
		addrs = addrs[len(addrs)-subject.MaxFPAddresses:]
	}
	ps := make([]netip.Prefix, 0, len(addrs))
	for _, raw := range addrs {
		a, err := netip.ParseAddr(raw)
		if err != nil || a.Zone() != "" {
			s.skipped.WithLabelValues("malformed").Inc()
			continue
		}
		a = a.Unmap()
		ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
	}
	delete(s.entries, subj)
	s.fps[subj] = fpEntry{
		e: Entry{
			Subject: subj, Action: v.GetAction(), Score: v.GetScore(),
			Reasons: slices.Clone(v.GetReasons()), ExpiresAt: verdict.ExpiresAt(v),
		},
		prefixes: ps,
	}
	s.touch()
}

// appendFPs appends one entry per address of every fp: verdict in force at
// now; called with mu held.
func (s *Set) appendFPs(out []Entry, now time.Time) []Entry {
	for _, f := range s.fps {
		if !f.e.ExpiresAt.IsZero() && !now.Before(f.e.ExpiresAt) {
			continue
		}
		for _, p := range f.prefixes {
			e := f.e
			e.Prefix = p
			out = append(out, e)
		}
	}
	return out
}
