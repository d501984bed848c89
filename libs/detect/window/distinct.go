package window

import (
	"math"
	"math/bits"
)

// The Distinct types estimate how many distinct items (by 64-bit hash) were
// seen in a window made of two halves: the current half-window slot and the
// previous one, so the window covers between one and two half-widths. Each
// half is a bitmap; the estimate is linear counting over the union of the live
// halves (Whang et al., 1990), accurate while the count stays below a few
// times the bitmap's size and saturating after that, which is all scoring
// needs ("many").
//
// They are written by hand because sketch libraries (HyperLogLog and kin) use
// kilobytes per sketch and allocate; here a subject's distinct paths cost 64
// bytes of a flat struct. The owner keeps the head slot (that of its latest
// Add), as for rings.

// Distinct64 has 32-bit halves: for small sets (user agents of one IP).
type Distinct64 [2]uint32

// Distinct128 has 64-bit halves (distinct IPs of a network).
type Distinct128 [2]uint64

// Distinct512 has 256-bit halves (distinct paths of a subject).
type Distinct512 [2][4]uint64

func (d *Distinct64) Add(h uint64, last, s int64) {
	if slideHalves(last, s, func(i int) { d[i] = 0 }) {
		d[s&1] |= 1 << (h % 32)
	}
}

func (d *Distinct64) Estimate(last, now int64) float64 {
	var set int
	live(last, now, func(i int) { set += bits.OnesCount32(d[i]) }, func() { set = bits.OnesCount32(d[0] | d[1]) })
	return linearCount(32, set)
}

func (d *Distinct128) Add(h uint64, last, s int64) {
	if slideHalves(last, s, func(i int) { d[i] = 0 }) {
		d[s&1] |= 1 << (h % 64)
	}
}

func (d *Distinct128) Estimate(last, now int64) float64 {
	var set int
	live(last, now, func(i int) { set += bits.OnesCount64(d[i]) }, func() { set = bits.OnesCount64(d[0] | d[1]) })
	return linearCount(64, set)
}

func (d *Distinct512) Add(h uint64, last, s int64) {
	if slideHalves(last, s, func(i int) { d[i] = [4]uint64{} }) {
		i := h % 256
		d[s&1][i/64] |= 1 << (i % 64)
	}
}

func (d *Distinct512) Estimate(last, now int64) float64 {
	var set int
	live(last, now, func(i int) {
		for _, w := range d[i] {
			set += bits.OnesCount64(w)
		}
	}, func() {
		for j := range 4 {
			set += bits.OnesCount64(d[0][j] | d[1][j])
		}
	})
	return linearCount(256, set)
}

// slideHalves clears the halves that leave the window when the head moves from
// slot last to slot s, and reports whether slot s is still inside the window.
func slideHalves(last, s int64, clearHalf func(i int)) bool {
	switch {
	case s < last-1:
		return false // older than both halves
	case s <= last:
	case s == last+1:
		clearHalf(int(s & 1))
	default:
		clearHalf(0)
		clearHalf(1)
	}
	return true
}

// live calls one(i) when only half i is in the window at slot now, or both()
// when both halves are.
func live(last, now int64, one func(i int), both func()) {
	switch {
	case now <= last:
		both()
	case now == last+1:
		one(int(last & 1))
	}
}

func linearCount(m, set int) float64 {
	if set == 0 {
		return 0
	}
	if set >= m {
		set = m - 1 // saturated: the largest estimate the bitmap can give
	}
	return math.Round(float64(m) * math.Log(float64(m)/float64(m-set)))
}

// Slide clears the halves that leave the window when the head moves from
// slot last to slot now (Add does this itself).
func (d *Distinct64) Slide(last, now int64) { slideHalves(last, now, func(i int) { d[i] = 0 }) }

// Slide: see Distinct64.Slide.
func (d *Distinct128) Slide(last, now int64) { slideHalves(last, now, func(i int) { d[i] = 0 }) }

// Slide: see Distinct64.Slide.
func (d *Distinct512) Slide(last, now int64) {
	slideHalves(last, now, func(i int) { d[i] = [4]uint64{} })
}
