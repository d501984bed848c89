package attacks

import (
	"math"
	"slices"
)

// madScale makes the median absolute deviation estimate the standard
// deviation of normally distributed data.
const madScale = 1.4826

// robust returns the median and the scaled MAD of xs (which it reorders).
// Written here because it is four lines over slices.Sort; no statistics
// library is worth its weight for that.
func robust(xs []float64) (med, spread float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	med = median(xs)
	dev := make([]float64, len(xs))
	for i, x := range xs {
		dev[i] = math.Abs(x - med)
	}
	return med, madScale * median(dev)
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
