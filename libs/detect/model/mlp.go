package model

import (
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
)

// The multi-layer perceptron is the seed's "small neural network": one or
// two hidden ReLU layers over the standardised feature vector, trained with
// Adam (mlp_train.go). It is written by hand rather than with gonum or a
// deep-learning library because it is a few hundred multiply-adds: the
// inference must run in under a microsecond with no allocation on the
// aggregator's hot path (a matrix library allocates its results and pays
// call overheads larger than the whole network), the input is sparse (a
// missing feature adds one column of weights, a mean-valued one nothing),
// and the training has to be bit-for-bit reproducible from a seed.

// KindMLP and KindGBDT are File.Kind's values (and Params.Algo's).
const (
	KindGBDT = "gbdt"
	KindMLP  = "mlp"
)

// MLPNet is an MLP model's network as written in the model file.
//
// Inputs: for each schema column i, z_i = (t(x_i) - Mean[i]) / Std[i] when
// the feature is present, where t is sign(x)·ln(1+|x|) for the columns in
// Log and the identity for the others, clipped to ±MaxZ; a missing feature
// has z_i = 0 and its missing indicator (input len(Features)+i) set to 1.
// The training mean of the inputs (z = 0, each indicator at the share of
// samples missing the feature) is the baseline of the contributions.
type MLPNet struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
	Log  []bool    `json:"log"` // per column: log-transformed before standardising
	// Missing is, per column, the share of training samples without the
	// feature: the mean of its missing indicator.
	Missing []float64 `json:"missing"`
	// Layers are dense layers in order: hidden layers with ReLU, the last
	// one (a single unit) linear, giving the log-odds. The first layer has
	// 2·len(Features) inputs: the values, then the missing indicators.
	Layers []Layer `json:"layers"`
}

// Layer is a dense layer: Out outputs of In inputs, W row-major by output
// (W[o*In+i]).
type Layer struct {
	In  int       `json:"in"`
	Out int       `json:"out"`
	W   []float64 `json:"w"`
	B   []float64 `json:"b"`
}

// MaxZ bounds a standardised input: a value far outside anything seen in
// training moves the network no further than one at MaxZ standard
// deviations.
const MaxZ = 8

// maxUnits bounds a hidden layer, so that inference works in fixed arrays
// on the stack (no allocation).
const maxUnits = 64

// mlpNet is a compiled MLPNet, by features.ID.
type mlpNet struct {
	h1        int                           // units of the first hidden layer
	mean, inv [features.NumFeatures]float64 // inv: 1/std; 0 for a feature outside the schema
	missing   [features.NumFeatures]float64 // the training share of missing values
	log       [features.NumFeatures]bool    //
	inSchema  [features.NumFeatures]bool    //
	schema    uint64                        // a bit per feature of the schema
	wv, wd    []float64                     // first layer, by feature ([id*h1+k]): its value's weights, minus its missing indicator's
	b0        []float64                     // first layer's output for a vector with every feature missing
	rest      []Layer                       // the layers after the first
}

func compileMLP(f *File) (*Model, error) {
	n := f.MLP
	if n == nil {
		return nil, fmt.Errorf("%w: kind mlp without a network", ErrFormat)
	}
	if len(f.Trees) > 0 {
		return nil, fmt.Errorf("%w: kind mlp with trees", ErrFormat)
	}
	cols, err := schemaIDs(f.Features)
	if err != nil {
		return nil, err
	}
	nf := len(cols)
	if len(n.Mean) != nf || len(n.Std) != nf || len(n.Log) != nf || len(n.Missing) != nf {
		return nil, fmt.Errorf("%w: mlp: mean, std, log and missing need one entry per feature (%d)", ErrFormat, nf)
	}
	if len(n.Layers) < 2 || len(n.Layers) > 3 {
		return nil, fmt.Errorf("%w: mlp: %d layers, want 1 or 2 hidden layers and an output", ErrFormat, len(n.Layers))
	}
	in := 2 * nf
	for li, l := range n.Layers {
		switch {
		case l.In != in:
			return nil, fmt.Errorf("%w: mlp: layer %d has %d inputs, want %d", ErrFormat, li, l.In, in)
		case l.Out < 1 || l.Out > maxUnits:
			return nil, fmt.Errorf("%w: mlp: layer %d has %d units, want 1..%d", ErrFormat, li, l.Out, maxUnits)
		case li == len(n.Layers)-1 && l.Out != 1:
			return nil, fmt.Errorf("%w: mlp: the output layer has %d units, want 1", ErrFormat, l.Out)
		case len(l.W) != l.In*l.Out || len(l.B) != l.Out:
			return nil, fmt.Errorf("%w: mlp: layer %d has %d weights and %d biases, want %d and %d", ErrFormat, li, len(l.W), len(l.B), l.In*l.Out, l.Out)
		case !allFinite(l.W) || !allFinite(l.B):
			return nil, fmt.Errorf("%w: mlp: layer %d holds a number that is not finite", ErrFormat, li)
		}
		in = l.Out
	}
	c := &mlpNet{h1: n.Layers[0].Out, rest: n.Layers[1:], b0: slices.Clone(n.Layers[0].B)}
	c.wv = make([]float64, int(features.NumFeatures)*c.h1)
	c.wd = make([]float64, int(features.NumFeatures)*c.h1)
	l0 := n.Layers[0]
	for i, id := range cols {
		if !finite(n.Mean[i]) || !finite(n.Std[i]) || n.Std[i] <= 0 || !(n.Missing[i] >= 0 && n.Missing[i] <= 1) {
			return nil, fmt.Errorf("%w: mlp: feature %s: mean, std or missing share not usable", ErrFormat, f.Features[i])
		}
		if c.inSchema[id] {
			return nil, fmt.Errorf("%w: feature %s twice in the schema", ErrFormat, f.Features[i])
		}
		c.inSchema[id] = true
		c.schema |= 1 << uint(id)
		c.mean[id], c.inv[id], c.log[id], c.missing[id] = n.Mean[i], 1/n.Std[i], n.Log[i], n.Missing[i]
		for k := range c.h1 {
			c.wv[int(id)*c.h1+k] = l0.W[k*l0.In+i]
			wm := l0.W[k*l0.In+nf+i]
			c.wd[int(id)*c.h1+k] = -wm
			c.b0[k] += wm
		}
	}
	return &Model{file: f, threshold: f.Threshold, mlp: c}, nil
}

// schemaIDs maps the schema's names to this build's feature IDs.
func schemaIDs(names []string) ([]features.ID, error) {
	cols := make([]features.ID, len(names))
	for i, name := range names {
		id, ok := features.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("%w: feature %q is unknown to this build (a model trained by a newer Bulwark?)", ErrFormat, name)
		}
		cols[i] = id
	}
	return cols, nil
}

func allFinite(xs []float64) bool {
	for _, x := range xs {
		if !finite(x) {
			return false
		}
	}
	return true
}

// slog1p is the transform of heavy-tailed features: sign(x)·ln(1+|x|).
func slog1p(x float64) float64 {
	if x < 0 {
		return -ln(1 - x)
	}
	return ln(1 + x)
}

// ln is the natural logarithm of y >= 1, to about 1e-5: exponent plus a
// series in (m-1)/(m+1) for the mantissa m. It is written out because
// math.Log is the larger part of an MLP prediction with every feature
// present (about 12 ns, 44 times); training and inference both use ln, so
// its small error moves no decision.
func ln(y float64) float64 {
	if !(y < math.MaxFloat64) { // +Inf, NaN: clamped by the caller
		return y
	}
	b := math.Float64bits(y)
	e := float64(int((b>>52)&0x7ff) - 1023)
	m := math.Float64frombits(b&^(0x7ff<<52) | 1023<<52) // in [1, 2)
	if m > math.Sqrt2 {                                  // keep t small: m in [0.71, 1.42)
		m *= 0.5
		e++
	}
	t := (m - 1) / (m + 1)
	t2 := t * t
	return e*math.Ln2 + 2*t*(1+t2*(1.0/3+t2*(1.0/5+t2*(1.0/7+t2*(1.0/9)))))
}

// first returns the first hidden layer's pre-activations for v, and fills
// z (when not nil) with v's standardised inputs. It starts from the output
// of an all-missing vector (b0) and adds, for each present feature only,
// z·w_value − w_missing: a missing feature costs nothing.
func (c *mlpNet) first(v *features.Vector, z *[features.NumFeatures]float64) [maxUnits]float64 {
	var a [maxUnits]float64
	h1 := c.h1
	acc := a[:h1]
	copy(acc, c.b0)
	for p := v.Has & c.schema; p != 0; p &= p - 1 {
		id := bits.TrailingZeros64(p)
		x := v.V[id]
		if c.log[id] {
			x = slog1p(x)
		}
		x = (x - c.mean[id]) * c.inv[id]
		if !(x <= MaxZ) { // NaN too: a value the shipper could not have sent
			x = MaxZ
		}
		x = max(x, -MaxZ)
		if z != nil {
			z[id] = x
		}
		if h1 == 16 { // the default: fixed-size arrays, no bounds checks
			a16, wv, wd := (*[16]float64)(acc), (*[16]float64)(c.wv[id*16:]), (*[16]float64)(c.wd[id*16:])
			for k := range a16 {
				a16[k] += x*wv[k] + wd[k]
			}
			continue
		}
		wv, wd := c.wv[id*h1:id*h1+h1], c.wd[id*h1:id*h1+h1]
		for k := range acc {
			acc[k] += x*wv[k] + wd[k]
		}
	}
	return a
}

// mlpTrace keeps a forward pass's hidden activations for the backward pass
// of Explain.
type mlpTrace struct {
	h [2][maxUnits]float64 // post-ReLU outputs of the hidden layers
}

// hidden runs the layers after the first on its pre-activations a and
// returns the log-odds; tr, when not nil, receives the hidden activations.
func (c *mlpNet) hidden(a [maxUnits]float64, tr *mlpTrace) float64 {
	var b [maxUnits]float64
	in := c.h1
	for li, l := range c.rest {
		for k := range in {
			a[k] = max(a[k], 0)
		}
		if tr != nil {
			tr.h[li] = a
		}
		for o := range l.Out {
			s := l.B[o]
			row := l.W[o*l.In : o*l.In+in]
			for i, w := range row {
				s += w * a[i]
			}
			b[o] = s
		}
		a, in = b, l.Out
	}
	return a[0]
}

// margin is the log-odds the network gives v.
func (c *mlpNet) margin(v *features.Vector) float64 {
	return c.hidden(c.first(v, nil), nil)
}

// explain fills ct with each feature's contribution by gradient × input
// against the training mean of the inputs: for a present feature, z (0 is
// its training mean) times the gradient of its value input, plus for every
// feature its indicator's distance from the training share of missing
// values times the indicator's gradient. It is the first-order estimate of
// how much the log-odds would fall if the feature were at its training mean
// (occlusion), for one backward pass instead of a forward pass per feature:
// a reason costs about two predictions, not forty-four. A feature always
// present or always missing in training contributes by its value alone. The
// contributions do not add up to the margin exactly as the trees' do: ReLU
// kinks make the network only piecewise linear.
func (c *mlpNet) explain(v *features.Vector, ct *Contributions) float64 {
	var z [features.NumFeatures]float64
	var tr mlpTrace
	out := c.hidden(c.first(v, &z), &tr)
	// Backward from the output (a single linear unit) to the first hidden
	// layer: g holds d(out)/d(pre-activation) of one hidden layer's units.
	var g, gp [maxUnits]float64
	top := len(c.rest) - 1
	last := c.rest[top]
	for i := range last.In {
		if tr.h[top][i] > 0 { // ReLU: no gradient through an inactive unit
			g[i] = last.W[i]
		}
	}
	for li := top - 1; li >= 0; li-- {
		l := c.rest[li] // from the units of tr.h[li] to those of g
		gp = [maxUnits]float64{}
		for o := range l.Out {
			row := l.W[o*l.In : o*l.In+l.In]
			for j, w := range row {
				gp[j] += g[o] * w
			}
		}
		for j := range l.In {
			if tr.h[li][j] <= 0 {
				gp[j] = 0
			}
		}
		g = gp
	}
	h1 := c.h1
	for id := range features.NumFeatures {
		if !c.inSchema[id] {
			continue
		}
		wv, wd := c.wv[int(id)*h1:int(id)*h1+h1], c.wd[int(id)*h1:int(id)*h1+h1]
		var sv, sm float64
		for k := range h1 {
			sv += g[k] * wv[k]
			sm -= g[k] * wd[k]
		}
		ind := 0.0
		if v.Has&(1<<uint(id)) == 0 {
			ind = 1
		}
		ct[id] = z[id]*sv + (ind-c.missing[id])*sm
	}
	return out
}
