package attacks_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// foldRun spreads a shop's traffic (and extra hits) over three partitions,
// each counting its share, and folds their counts; partition 2's counts
// reach the fold lag minutes late. It returns the fold's records and those
// of a detector per partition judging its share alone.
func foldRun(minutes, lag int, extra func(m int, rng *rand.Rand) []attacks.Hit) (site []*eventpb.Attack, alone [3][]*eventpb.Attack) {
	const parts = 3
	cfg := attacks.DefaultConfig()
	fold := attacks.NewFold(cfg)
	now := time.Unix(0, t0) // wall time: every partition keeps sending
	var counters, own [parts]*attacks.Detector
	for p := range parts {
		counters[p] = attacks.NewCounter(cfg, fold.Detector())
		own[p] = attacks.New(cfg)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var delayed []*eventpb.SiteCounts
	deliver := func(sc *eventpb.SiteCounts) {
		fold.Add(sc, now)
		if fold.Advance(now) {
			site = append(site, fold.Detector().Take()...)
		}
	}
	for m := range minutes {
		base := t0 + int64(m)*int64(time.Minute)
		var hits []attacks.Hit
		for range 15 + rng.IntN(10) {
			hits = append(hits, attacks.Hit{Class: attacks.ClassLogin, Failed: rng.Float64() < 0.1, NewClient: rng.Float64() < 0.3, FP: uint64(1 + rng.IntN(40))})
		}
		for range 100 + rng.IntN(20) {
			hits = append(hits, attacks.Hit{Class: attacks.ClassPages, NewClient: rng.Float64() < 0.3, FP: uint64(1 + rng.IntN(40))})
		}
		hits = append(hits, extra(m, rng)...)
		for i, h := range hits {
			h.T = base + int64(i)*int64(time.Minute)/int64(len(hits)+1)
			h.FirstFailure = h.Failed
			p := i % parts
			for _, d := range []*attacks.Detector{counters[p], own[p]} {
				if d.Advance(h.T) {
					alone[p] = append(alone[p], own[p].Take()...)
				}
				d.Observe(h)
			}
		}
		for p := range parts {
			for _, sc := range counters[p].TakeCounts() {
				sc.Partition, sc.Partitions = int32(p), parts
				if p == 2 && lag > 0 {
					delayed = append(delayed, sc)
					continue
				}
				deliver(sc)
			}
		}
		for len(delayed) > 0 && delayed[0].GetMinuteUnixNano() <= base-int64(lag)*int64(time.Minute) {
			deliver(delayed[0])
			delayed = delayed[1:]
		}
	}
	for _, sc := range delayed {
		deliver(sc)
	}
	return site, alone
}

// TestFold: credential stuffing spread evenly over three partitions is one
// attack of the site, with the site's full counts (each partition alone sees
// a third); a partition whose counts come three minutes late
// changes nothing (the fold waits for it), and normal traffic with a lagging
// partition raises nothing.
func TestFold(t *testing.T) {
	stuffing := func(m int, rng *rand.Rand) []attacks.Hit {
		if m < 60 || m >= 90 {
			return nil
		}
		var hs []attacks.Hit
		for range 6 {
			hs = append(hs, attacks.Hit{Class: attacks.ClassLogin, Failed: true, NewClient: true, FP: 999})
		}
		return hs
	}
	site, alone := foldRun(120, 0, stuffing)
	ids := map[string]bool{}
	var first *eventpb.Attack
	for _, a := range site {
		if strings.HasPrefix(a.GetId(), "login-failures-") {
			ids[a.GetId()] = true
			if first == nil {
				first = a
			}
		}
	}
	if len(ids) != 1 {
		t.Fatalf("site-wide login-failures attacks %v, want one", ids)
	}
	if !first.GetEnforcing() || len(first.GetFingerprints()) == 0 || first.GetFingerprints()[0] != attacks.FPString(999) {
		t.Errorf("first record %v: want enforcing with the tool's fingerprint", first)
	}
	// Each partition alone sees a third of it: weaker records of its own,
	// up to one per partition.
	var most uint32
	for _, recs := range alone {
		for _, a := range recs {
			if strings.HasPrefix(a.GetId(), "login-failures-") {
				most = max(most, a.GetFailures())
			}
		}
	}
	var siteMost uint32
	for _, a := range site {
		if a.GetId() == first.GetId() {
			siteMost = max(siteMost, a.GetFailures())
		}
	}
	if siteMost < 2*most || siteMost < 30 {
		t.Errorf("the site-wide attack counts at most %d failures in 5 min, a partition alone %d: want the site's full count", siteMost, most)
	}

	lagged, _ := foldRun(120, 3, stuffing)
	if len(lagged) != len(site) {
		t.Fatalf("with a lagging partition: %d records, without: %d", len(lagged), len(site))
	}
	for i := range site {
		if !proto.Equal(site[i], lagged[i]) {
			t.Errorf("record %d with a lagging partition %v, without %v", i, lagged[i], site[i])
		}
	}
	quiet := func(int, *rand.Rand) []attacks.Hit { return nil }
	if recs, _ := foldRun(150, 4, quiet); len(recs) != 0 {
		t.Errorf("normal traffic with a lagging partition raised %v", recs[0])
	}
}

// TestFoldSilent: a partition expected from the start is waited for
// until it has been silent for Silent (wall time) while behind; its counts
// that come after their minute was folded are late.
func TestFoldSilent(t *testing.T) {
	fold := attacks.NewFold(attacks.DefaultConfig())
	wall := time.Unix(0, t0)
	fold.Expect(2, wall)
	counts := func(p int32, m int) *eventpb.SiteCounts {
		return &eventpb.SiteCounts{Partition: p, MinuteUnixNano: t0 + int64(m)*int64(time.Minute),
			Classes: []*eventpb.ClassCounts{{EndpointClass: "login", Requests: 10}}}
	}
	for m := range 5 {
		fold.Add(counts(0, m), wall)
	}
	fold.Advance(wall.Add(attacks.Silent))
	if st := fold.Detector().Stats(); st.Hits != 0 {
		t.Fatalf("folded %d requests before partition 1 sent anything or fell silent", st.Hits)
	}
	fold.Advance(wall.Add(attacks.Silent + time.Second))
	if st := fold.Detector().Stats(); st.Hits != 50 {
		t.Fatalf("folded %d requests once partition 1 fell silent, want 50", st.Hits)
	}
	fold.Add(counts(1, 2), wall.Add(time.Minute))
	if st := fold.Stats(); st.Late != 1 || st.Records != 5 {
		t.Errorf("stats %+v, want 5 folded and 1 late", st)
	}
	// Partition 1 is waited for again now that it sends.
	fold.Add(counts(0, 5), wall.Add(time.Minute))
	fold.Advance(wall.Add(time.Minute))
	if st := fold.Detector().Stats(); st.Hits != 50 {
		t.Errorf("folded minute 5 (%d requests) before partition 1 counted it", st.Hits)
	}
}
