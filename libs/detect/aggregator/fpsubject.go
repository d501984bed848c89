package aggregator

import (
	"bytes"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// A fingerprint scored as a subject (fp:HEX). Many people share a browser
// build, so a fingerprint is never scored on what it does alone: only the
// fingerprint of an enforcing attack on a class (detected, or an operator's
// `bulwark attack start --fingerprint`) is, and only with the addresses
// that showed it there, failed there, and had no good history: exactly the
// addresses attack mode blocks one by one. Its Score lists them
// (Score.addresses); the decider merges them into one fp: verdict, which the
// sidecar, gate and edge syncers enforce on those addresses only. What the
// fp: verdict adds to the addresses' own verdicts is one record for the
// whole campaign: seen, lifted (`bulwark allow fp:HEX`) and expired as one.

// fpMinAddresses is how many failing addresses (of this partition's share)
// a fingerprint needs before it is scored: one address failing is that
// address's business.
const fpMinAddresses = 3

// fpEmitEvery bounds how often (event time) a fingerprint is scored: the
// addresses found meanwhile go in one score, so that a campaign of a
// thousand addresses is tens of verdict records, not a thousand, each of
// which every sidecar indexes whole. Its addresses are blocked on their own
// (attack mode's ip: verdicts) in the meantime.
const fpEmitEvery = int64(10 * time.Second)

// fpScore is the score of a fingerprint of an enforcing attack with
// fpMinAddresses failing addresses: the attack-mode block floor.
const fpScore = attackBlock

// fpState is one scored fingerprint's failing addresses.
type fpState struct {
	class  attacks.Class
	attack string
	addrs  map[addrKey]int64 // last failure, event time
	// scored: the addresses were sent in a score already (once the
	// fingerprint reached fpMinAddresses, the new ones are sent at most
	// every fpEmitEvery: unsent, since lastEmit).
	scored   bool
	unsent   []addrKey
	lastEmit int64
}

// fpPending is a score to build for a fingerprint at this event; ended
// names an attack an operator ended (`bulwark attack end ID`): the score
// then tells the decider to lift the fingerprint's verdict of that attack.
type fpPending struct {
	fp    uint64
	addrs []addrKey
	ended string
}

// endFPs stops scoring the fingerprints of attack id, which an operator
// ended, and queues the scores that lift their verdicts.
func (s *siteMode) endFPs(id string) {
	for _, fp := range slices.Sorted(maps.Keys(s.fps)) {
		st := s.fps[fp]
		if st.attack == id {
			s.fpUnsent -= len(st.unsent)
			delete(s.fps, fp)
			if st.scored {
				s.fpPending = append(s.fpPending, fpPending{fp: fp, ended: id})
			}
		}
	}
}

// noteFP records that the address ipk failed on class with fingerprint fp
// during attack a, and queues the fingerprint's score when that changes
// which addresses it covers.
func (s *siteMode) noteFP(fp uint64, class attacks.Class, a *eventpb.Attack, ipk addrKey, t int64) {
	st := s.fps[fp]
	if st == nil || st.attack != a.GetId() {
		st = &fpState{class: class, attack: a.GetId(), addrs: map[addrKey]int64{}}
		s.fps[fp] = st
	}
	_, seen := st.addrs[ipk]
	st.addrs[ipk] = t
	if seen {
		return
	}
	if len(st.addrs) > subject.MaxFPAddresses {
		st.evictOldest()
	}
	switch {
	case len(st.addrs) < fpMinAddresses:
	case !st.scored:
		st.scored, st.lastEmit = true, t
		// Sorted: the engine is deterministic (replay, exactly-once scoring).
		all := slices.SortedFunc(maps.Keys(st.addrs), func(a, b addrKey) int { return bytes.Compare(a[:], b[:]) })
		s.fpPending = append(s.fpPending, fpPending{fp: fp, addrs: all})
	default:
		st.unsent = append(st.unsent, ipk)
		s.fpUnsent++
	}
}

// flushFPs queues the scores of the fingerprints whose unsent addresses
// have waited fpEmitEvery (event time) since their last score.
func (s *siteMode) flushFPs(t int64) {
	for _, fp := range slices.Sorted(maps.Keys(s.fps)) {
		st := s.fps[fp]
		if len(st.unsent) > 0 && t-st.lastEmit >= fpEmitEvery {
			s.fpPending = append(s.fpPending, fpPending{fp: fp, addrs: st.unsent})
			s.fpUnsent -= len(st.unsent)
			st.unsent, st.lastEmit = nil, t
		}
	}
}

func (st *fpState) evictOldest() {
	var old addrKey
	first := true
	var at int64
	for k, t := range st.addrs {
		if first || t < at || t == at && bytes.Compare(k[:], old[:]) < 0 { // ties by address: deterministic
			old, at, first = k, t, false
		}
	}
	delete(st.addrs, old)
}

// sweepFPs forgets the fingerprints whose attack is no longer enforcing:
// their verdicts run out at the decider's TTL.
func (s *siteMode) sweepFPs() {
	for fp, st := range s.fps {
		if a, match := s.site.Matches(st.class, fp); a == nil || !match || a.GetId() != st.attack {
			s.fpUnsent -= len(st.unsent)
			delete(s.fps, fp)
		}
	}
}

// fpScores builds the queued fingerprint scores, with ev as their trigger.
func (e *Engine) fpScores(ev *eventpb.RequestEvent, t int64, dst []*eventpb.Score) []*eventpb.Score {
	s := e.attack
	if s.fpUnsent > 0 {
		s.flushFPs(t)
	}
	for _, p := range s.fpPending {
		if p.ended != "" {
			e.stats.Emitted++
			s.stats.FPScores++
			dst = append(dst, &eventpb.Score{
				Subject: subject.FP(p.fp), TimeUnixNano: t, WindowEndUnixNano: t,
				Reasons: []string{"attack_ended=" + p.ended},
				Trigger: proto.Clone(ev).(*eventpb.RequestEvent), Scorer: scoring.Name,
			})
			continue
		}
		st := s.fps[p.fp]
		if st == nil {
			continue
		}
		addrs := make([]string, 0, len(p.addrs))
		for _, k := range p.addrs {
			addrs = append(addrs, netip.AddrFrom16(k).Unmap().String())
		}
		n := len(st.addrs)
		e.stats.Emitted++
		s.stats.FPScores++
		dst = append(dst, &eventpb.Score{
			Subject:           subject.FP(p.fp),
			TimeUnixNano:      t,
			WindowEndUnixNano: t,
			Score:             fpScore,
			Features:          map[string]float64{"fp_failing_addresses": float64(n)},
			// The subject names the fingerprint: no fp= reason, which
			// marks an address raised for showing it.
			Reasons:   []string{"attack=" + st.attack, "fp_failing_addresses=" + strconv.Itoa(n), "class=" + st.class.String()},
			Trigger:   proto.Clone(ev).(*eventpb.RequestEvent),
			Scorer:    scoring.Name,
			Addresses: addrs,
		})
	}
	s.fpPending = s.fpPending[:0]
	return dst
}
