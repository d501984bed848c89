package aggregator

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Long windows: what a client does over hours, for the scraper that looks
// human per minute (a browser's user agent, referers, some assets, pauses
// of seconds) but fetches hundreds of distinct products an hour for hours
// and never a cart. Per address it keeps distinct product ids per ten
// minutes for the last two hours and per hour for the last day, counted
// with a 256-bit linear-counting sketch (32 bytes for the slot being
// filled, instead of a set of ids), and when it last touched a cart, about
// 130 bytes an address (BenchmarkLongWindowMemory).
//
// Written here rather than taken from a sketch library: the estimator is
// three lines over a bitmap, and a library's HyperLogLog needs kilobytes
// per counter where this budget has bytes.
type longState struct {
	cur      [4]uint64  // sketch of the product ids of the ten minutes being filled
	slot     int32      // that slot (Unix time / 10 min)
	ten      [12]uint16 // distinct products per 10 min, the last 2 h (ring by slot)
	hour     [24]uint16 // distinct products per hour, the last 24 h (ring by hour)
	lastCart int64      // event time of the newest cart or checkout request
	last     int64      // event time of the newest request
	floor    uint8      // the attack-mode floor the last closed slot earned (0: none)
	rate     uint16     // its sustained products per hour, for the reason
}

const (
	tenMin = int64(10 * time.Minute)
	// longSustain is how long a rate must hold: 90 minutes, so that the
	// all-day scraper is caught within its first two hours.
	longSustain = 9 // slots of ten minutes
	// longChallengeRate and longBlockRate are distinct products an hour
	// (held over every half hour of longSustain): a person comparing shoes
	// for an hour sees dozens; hundreds, for hours, without a cart, is a crawl.
	longChallengeRate = 120
	longBlockRate     = 300
	// longIdle drops an address after this long without a request.
	longIdle = 6 * time.Hour
)

// estimate is the linear-counting estimate of the distinct ids in a sketch.
func (s *longState) estimate() uint16 {
	zeros := 256
	for _, w := range s.cur {
		zeros -= bits.OnesCount64(w)
	}
	if zeros == 0 {
		return 1000 // saturated: far beyond any threshold
	}
	return uint16(math.Round(-256 * math.Log(float64(zeros)/256)))
}

// roll closes the slots before slot (at most a day of them).
func (s *longState) roll(slot int32) {
	if s.slot == 0 {
		s.slot = slot
		return
	}
	for s.slot < slot {
		n := s.estimate()
		s.ten[s.slot%12] = n
		h := (s.slot / 6) % 24
		if s.slot%6 == 0 {
			s.hour[h] = 0
		}
		s.hour[h] += n
		s.cur = [4]uint64{}
		s.slot++
		if slot-s.slot > 24*6 {
			*s = longState{slot: slot, lastCart: s.lastCart, last: s.last}
			return
		}
		s.ten[s.slot%12] = 0
	}
}

// judge sets the floor from the closed slots: every half hour of the last
// longSustain slots at the rate, and no cart in them.
func (s *longState) judge(now int64) {
	s.floor, s.rate = 0, 0
	if now-s.lastCart < int64(longSustain)*tenMin {
		return
	}
	minHalf := uint32(math.MaxUint32)
	for i := int32(0); i < longSustain; i += 3 {
		var half uint32
		for j := int32(1); j <= 3; j++ {
			half += uint32(s.ten[((s.slot-i-j)%12+12)%12])
		}
		minHalf = min(minHalf, half)
	}
	rate := minHalf * 2 // per hour
	switch {
	case rate >= longBlockRate:
		s.floor = attackBlock
	case rate >= longChallengeRate:
		s.floor = attackChallenge + 3
	}
	s.rate = uint16(min(rate, math.MaxUint16))
}

// Products6h and Products24h are the distinct products of the last 6 and
// 24 hours (the closed hours and the one being filled).
func (s *longState) products(hours int32) uint32 {
	var n uint32
	h := s.slot / 6
	for i := int32(0); i < hours; i++ {
		n += uint32(s.hour[((h-i)%24+24)%24])
	}
	return n + uint32(s.estimate())
}

// longStartPages is the distinct pages in ten minutes (the address's
// own window) from which an address gets long windows: people reading a
// handful of pages never cost the memory, a crawl at any pace soon does.
const longStartPages = 15

// observeLong updates an address's long windows with one request and
// returns the floor and reason it has earned; busy says the address has
// viewed at least longStartPages distinct pages in its last ten minutes.
func (s *siteMode) observeLong(ipk addrKey, t int64, cart bool, id uint32, hasID, busy bool) (float64, string) {
	ls := s.long[ipk]
	if ls == nil {
		if !hasID || !busy {
			return 0, ""
		}
		ls = &longState{}
		s.long[ipk] = ls
	}
	slot := int32(t / tenMin)
	if slot > ls.slot && ls.slot != 0 {
		ls.roll(slot)
		ls.judge(t)
	} else if ls.slot == 0 {
		ls.slot = slot
	}
	ls.last = max(ls.last, t)
	if s.longDirty != nil {
		s.longDirty[ipk] = struct{}{}
	}
	if cart {
		ls.lastCart, ls.floor = t, 0
	}
	if hasID && slot == ls.slot {
		// Spread the id over the bitmap (splitmix64's finaliser).
		h := uint64(id) + 0x9E3779B97F4A7C15
		h = (h ^ h>>30) * 0xBF58476D1CE4E5B9
		h = (h ^ h>>27) * 0x94D049BB133111EB
		h ^= h >> 31
		ls.cur[(h>>6)&3] |= 1 << (h & 63)
	}
	if ls.floor == 0 {
		return 0, ""
	}
	return float64(ls.floor), fmt.Sprintf("long_window=%d_products/h_90m_no_cart (6h %d, 24h %d)", ls.rate, ls.products(6), ls.products(24))
}

// sweepLong drops addresses idle for longIdle.
func (s *siteMode) sweepLong(now int64) {
	for k, ls := range s.long {
		if now-ls.last > int64(longIdle) {
			delete(s.long, k)
			if s.longDirty != nil {
				s.longDirty[k] = struct{}{}
			}
		}
	}
}
