package aggregator

import (
	"fmt"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/detect/window"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Shared-fingerprint crawls: one crawl spread over many addresses in many
// networks, each fetching a few pages. No address, session or network is
// busy; what they share is the fingerprint (attacks.Fingerprint) and the
// crawl itself: product ids that, taken in the order the fingerprint's
// requests arrive, walk the catalogue (each request's id close to the one
// before it, whichever address sent it), and pages without their images.
// People who share a browser build fetch products in no shared order and
// load their images, so the same counts stay low for them.
type fpCrawl struct {
	ips      window.Distinct512 // distinct addresses, 2 x 5 min
	last     int64
	lastID   uint32
	hasID    bool
	prod     [10]uint16 // product views per minute, 10 min
	walk     [10]uint16 // of them, within crawlStep ids of the one before
	img      [10]uint16 // image and asset loads per minute
	crawling bool
	attack   *eventpb.Attack // the record while crawling
	// recent are the last addresses that viewed a product with it: when
	// the crawl is recognised, they are judged too (they may have finished
	// their share before it was).
	recent [32]crawlSeen
	next   uint8
}

// crawlSeen is one product view of a fingerprint's address.
type crawlSeen struct {
	k    addrKey
	path string
	t    int64
}

const (
	half5          = int64(5 * time.Minute)
	crawlStep      = 32  // ids apart that count as walking on (the crawl's ids interleave over partitions)
	crawlMinIPs    = 8   // distinct addresses in 10 min (of one partition's share)
	crawlMinProd   = 30  // product views in 10 min
	crawlWalkShare = 0.5 // share of product views that walk on
	crawlImgRatio  = 0.5 // at most this many asset loads per product view
	fpCrawlMax     = 8192
)

// observeCrawl counts one request of fingerprint fp from address ipHash and
// returns the attack the fingerprint is a crawl in, if it is one.
func (s *siteMode) observeCrawl(fp, ipHash uint64, ipk addrKey, path string, t int64, asset bool, id uint32, product bool) *eventpb.Attack {
	st := s.crawl[fp]
	if st == nil {
		if !product || len(s.crawl) >= fpCrawlMax {
			return nil
		}
		st = &fpCrawl{}
		s.crawl[fp] = st
	}
	prev := st.last
	pm, m := window.Slot(prev, int64(time.Minute)), window.Slot(t, int64(time.Minute))
	if t > prev {
		for _, r := range []*[10]uint16{&st.prod, &st.walk, &st.img} {
			window.Slide(r[:], pm, m)
		}
		st.last = t
	}
	head := window.Slot(st.last, int64(time.Minute))
	switch {
	case asset:
		window.Add(st.img[:], head, m, 1)
	case product:
		st.ips.Add(ipHash, window.Slot(prev, half5), window.Slot(t, half5))
		window.Add(st.prod[:], head, m, 1)
		if st.hasID && absDiff(id, st.lastID) <= crawlStep {
			window.Add(st.walk[:], head, m, 1)
		}
		st.lastID, st.hasID = id, true
		st.recent[st.next%uint8(len(st.recent))] = crawlSeen{k: ipk, path: path, t: t}
		st.next++
	}
	if m != pm || (product && !st.crawling) {
		s.judgeCrawl(fp, st, t)
	}
	if st.crawling {
		return st.attack
	}
	return nil
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// judgeCrawl decides whether fp is crawling at t, and writes the attack
// record when that starts or ends.
func (s *siteMode) judgeCrawl(fp uint64, st *fpCrawl, t int64) {
	head, m := window.Slot(st.last, int64(time.Minute)), window.Slot(t, int64(time.Minute))
	prod := window.Sum(st.prod[:], head, m)
	walk := window.Sum(st.walk[:], head, m)
	img := window.Sum(st.img[:], head, m)
	ips := st.ips.Estimate(window.Slot(st.last, half5), window.Slot(t, half5))
	now := ips >= crawlMinIPs && prod >= crawlMinProd &&
		float64(walk) >= crawlWalkShare*float64(prod) && float64(img) <= crawlImgRatio*float64(prod)
	switch {
	case now && !st.crawling:
		st.crawling = true
		start := t / int64(time.Minute) * int64(time.Minute)
		st.attack = &eventpb.Attack{
			Id:              "pages-crawl-" + time.Unix(0, start).UTC().Format("2006-01-02T15:04Z") + "-" + attacks.FPString(fp)[:8],
			EndpointClass:   attacks.ClassPages.String(),
			Signal:          "crawl",
			StartedUnixNano: start,
			TimeUnixNano:    t,
			Strength:        float64(walk) / float64(prod),
			Observed:        ips,
			Fingerprints:    []string{attacks.FPString(fp)},
			Enforcing:       true,
			Source:          "aggregator",
			Requests:        uint32(prod),
			Reason: fmt.Sprintf("one fingerprint crawls the catalogue from %.0f addresses: %d product views in 10 min, %.0f%% of them next to the one before, %d images: attack mode on for it (challenge)",
				ips, prod, 100*float64(walk)/float64(prod), img),
		}
		s.det.Record(st.attack)
		for _, r := range st.recent {
			if r.t != 0 {
				s.recall = append(s.recall, recalled{crawlSeen: r, fp: fp, attack: st.attack})
			}
		}
	case !now && st.crawling && prod < crawlMinProd/2:
		st.crawling = false
		st.attack.EndedUnixNano, st.attack.TimeUnixNano, st.attack.Enforcing = t, t, false
		s.det.Record(st.attack)
		st.attack = nil
	}
}

// sweepCrawl drops fingerprints idle for ten minutes.
func (s *siteMode) sweepCrawl(now int64) {
	for fp, st := range s.crawl {
		if now-st.last > int64(10*time.Minute) {
			if st.crawling {
				st.attack.EndedUnixNano, st.attack.TimeUnixNano, st.attack.Enforcing = now, now, false
				s.det.Record(st.attack)
			}
			delete(s.crawl, fp)
		}
	}
}
