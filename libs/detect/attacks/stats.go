package attacks

import (
	"math"
	"slices"
)

// madScale makes the median absolute deviation estimate the standard
// deviation of normally distributed data.
const madScale = 1.4826

// robustLow returns what normal is in xs (which it reorders): its lower
// quartile, and the scaled median absolute deviation of its lower half
// from that quartile. An attack only ever pushes a measure up (more
// failures, more requests), so the lower half of the history is the part
// it cannot reach: this stays right with up to half the baseline's windows
// anomalous (an outage during the warm-up, an attack that was never
// enforced), where the median and the MAD of all windows would drift up and
// widen until nothing looks anomalous any more. Written here because it is
// a few lines over slices.Sort; no statistics library is worth its weight.
func robustLow(xs []float64) (q, spread float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	slices.Sort(xs)
	q = xs[len(xs)/4]
	low := xs[:len(xs)/2+1]
	dev := make([]float64, len(low))
	for i, x := range low {
		dev[i] = math.Abs(x - q)
	}
	return q, madScale * median(dev)
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
