package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
)

// MLPParams are the MLP's training hyper-parameters.
type MLPParams struct {
	Hidden       []int   `json:"hidden"` // units per hidden layer: one or two layers
	Epochs       int     `json:"epochs"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"` // Adam's step size, decayed linearly to a tenth
	L2           float64 `json:"l2"`            // weight decay
	Seed         uint64  `json:"seed"`          // initial weights and batch order: same seed, same model
}

// DefaultMLPParams are `bulwark train --algo mlp`'s defaults: two hidden
// layers of 16 and 8 units keep inference well under 1 us per subject
// (BENCHMARKS.md, section model).
func DefaultMLPParams() *MLPParams {
	return &MLPParams{Hidden: []int{16, 8}, Epochs: 40, BatchSize: 128, LearningRate: 0.003, L2: 1e-4, Seed: 1}
}

// Validate checks the parameters.
func (p *MLPParams) Validate() error {
	switch {
	case len(p.Hidden) < 1 || len(p.Hidden) > 2:
		return errors.New("mlp: one or two hidden layers")
	case slices.ContainsFunc(p.Hidden, func(h int) bool { return h < 1 || h > maxUnits }):
		return errors.New("mlp: a hidden layer has 1..64 units")
	case p.Epochs < 1 || p.Epochs > 1000:
		return errors.New("mlp: epochs must be within 1..1000")
	case p.BatchSize < 1 || p.BatchSize > 1<<16:
		return errors.New("mlp: batch size must be within 1..65536")
	case !(p.LearningRate > 0 && p.LearningRate <= 1):
		return errors.New("mlp: learning rate must be within (0, 1]")
	case !(p.L2 >= 0):
		return errors.New("mlp: l2 must not be negative")
	}
	return nil
}

// logAbove: a feature whose values reach this magnitude (rates, counts) is
// log-transformed before standardising; shares, flags and severities stay
// linear (and cost no logarithm at inference).
const logAbove = 4

// gradChunks is how many parts a batch's gradient is summed in, in parallel:
// a constant, not the core count, so that the sums (and the model) are the
// same on any machine.
const gradChunks = 4

// trainMLP fits the MLP with weighted logistic loss by mini-batch Adam.
func trainMLP(d *Dataset, rows []int, p Params) (*File, error) {
	mp := p.MLP
	var wPos, wNeg float64
	for _, r := range rows {
		if d.Y[r] {
			wPos += d.W[r]
		} else {
			wNeg += d.W[r]
		}
	}
	if wPos == 0 || wNeg == 0 {
		return nil, ErrOneClass
	}
	nf := int(features.NumFeatures)
	net := &MLPNet{Mean: make([]float64, nf), Std: make([]float64, nf), Log: make([]bool, nf), Missing: make([]float64, nf)}
	parallel(nf, func(f int) {
		net.Mean[f], net.Std[f], net.Log[f], net.Missing[f] = inputStats(d, rows, features.ID(f))
	})

	// The inputs, standardised once: values then missing indicators.
	in := 2 * nf
	n := len(rows)
	x := make([]float64, n*in)
	y := make([]float64, n)
	w := make([]float64, n)
	scale := float64(n) / (wPos + wNeg) // mean weight 1: the step size does not depend on the weighing
	for i, r := range rows {
		xi := x[i*in : (i+1)*in]
		v := &d.X[r]
		for f := range nf {
			val, ok := v.Get(features.ID(f))
			if !ok {
				xi[nf+f] = 1
				continue
			}
			if net.Log[f] {
				val = slog1p(val)
			}
			z := (val - net.Mean[f]) / net.Std[f]
			if !(z <= MaxZ) {
				z = MaxZ
			}
			xi[f] = max(z, -MaxZ)
		}
		if d.Y[r] {
			y[i] = 1
		}
		w[i] = d.W[r] * scale
	}

	// Layers with He-uniform initial weights.
	rng := rand.New(rand.NewPCG(mp.Seed, 0x6d6c70))
	sizes := append(append([]int{in}, mp.Hidden...), 1)
	for li := 1; li < len(sizes); li++ {
		l := Layer{In: sizes[li-1], Out: sizes[li], W: make([]float64, sizes[li-1]*sizes[li]), B: make([]float64, sizes[li])}
		lim := math.Sqrt(6 / float64(l.In))
		for i := range l.W {
			l.W[i] = (2*rng.Float64() - 1) * lim
		}
		net.Layers = append(net.Layers, l)
	}
	out := &net.Layers[len(net.Layers)-1]
	out.B[0] = math.Log(wPos / wNeg)

	t := newMLPTrainer(net)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	steps := mp.Epochs * ((n + mp.BatchSize - 1) / mp.BatchSize)
	step := 0
	for range mp.Epochs {
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for lo := 0; lo < n; lo += mp.BatchSize {
			batch := order[lo:min(lo+mp.BatchSize, n)]
			t.gradient(batch, x, y, w, in)
			lr := mp.LearningRate * (1 - 0.9*float64(step)/float64(steps))
			step++
			t.adam(step, lr, mp.L2, len(batch))
		}
	}
	f := &File{Format: Format, Kind: KindMLP, Params: p, Features: slices.Clone(features.Names[:]), MLP: net}
	f.ID = mlpID(f)
	return f, nil
}

// inputStats returns the mean and standard deviation of feature f's present
// values over rows (log-transformed when they reach logAbove), whether they
// are log-transformed, and the share of rows without f. A feature never
// present, or constant, gets a standard deviation of 1: its input is then 0
// wherever it is present.
func inputStats(d *Dataset, rows []int, f features.ID) (mean, std float64, log bool, missing float64) {
	var n int
	for _, r := range rows {
		if v, ok := d.X[r].Get(f); ok {
			n++
			if math.Abs(v) >= logAbove {
				log = true
			}
		}
	}
	missing = 1 - float64(n)/float64(max(len(rows), 1))
	if n == 0 {
		return 0, 1, false, 1
	}
	var sum, sq float64
	for _, r := range rows {
		if v, ok := d.X[r].Get(f); ok {
			if log {
				v = slog1p(v)
			}
			sum += v
			sq += v * v
		}
	}
	mean = sum / float64(n)
	std = math.Sqrt(max(sq/float64(n)-mean*mean, 0))
	switch {
	case !finite(mean) || !finite(std):
		return 0, 1, log, missing // an infinite value: only its presence is learned
	case std < 1e-9:
		std = 1
	}
	return mean, std, log, missing
}

// mlpTrainer holds the gradients and Adam's moments, laid out like the
// network's layers.
type mlpTrainer struct {
	net    *MLPNet
	chunks [gradChunks]mlpGrad
	m, v   []Layer // Adam's first and second moments
}

// mlpGrad is one chunk's gradient and its scratch space.
type mlpGrad struct {
	g   []Layer
	act [][]float64 // per layer: its post-activation outputs (the input's for layer 0 is x itself)
	del [][]float64 // per layer: d loss / d pre-activation
}

func zeroLike(ls []Layer) []Layer {
	out := make([]Layer, len(ls))
	for i, l := range ls {
		out[i] = Layer{In: l.In, Out: l.Out, W: make([]float64, len(l.W)), B: make([]float64, len(l.B))}
	}
	return out
}

func newMLPTrainer(net *MLPNet) *mlpTrainer {
	t := &mlpTrainer{net: net, m: zeroLike(net.Layers), v: zeroLike(net.Layers)}
	for c := range t.chunks {
		g := &t.chunks[c]
		g.g = zeroLike(net.Layers)
		for _, l := range net.Layers {
			g.act = append(g.act, make([]float64, l.Out))
			g.del = append(g.del, make([]float64, l.Out))
		}
	}
	return t
}

// gradient sums the weighted log-loss gradient of the batch's samples into
// the chunks (each chunk a fixed slice of the batch).
func (t *mlpTrainer) gradient(batch []int, x, y, w []float64, in int) {
	per := (len(batch) + gradChunks - 1) / gradChunks
	parallel(gradChunks, func(c int) {
		g := &t.chunks[c]
		for _, l := range g.g {
			clear(l.W)
			clear(l.B)
		}
		lo := min(c*per, len(batch))
		for _, i := range batch[lo:min(lo+per, len(batch))] {
			t.sample(g, x[i*in:(i+1)*in], y[i], w[i])
		}
	})
}

// sample adds one sample's gradient to g.
func (t *mlpTrainer) sample(g *mlpGrad, xi []float64, yi, wi float64) {
	ls := t.net.Layers
	last := len(ls) - 1
	input := xi
	for li, l := range ls {
		a := g.act[li]
		for o := range l.Out {
			s := l.B[o]
			row := l.W[o*l.In : (o+1)*l.In]
			for i, xv := range input {
				s += row[i] * xv
			}
			if li < last {
				s = max(s, 0)
			}
			a[o] = s
		}
		input = a
	}
	// d loss / d margin for the logistic loss, weighted.
	g.del[last][0] = (sigmoid(g.act[last][0]) - yi) * wi
	for li := last; li >= 0; li-- {
		l, gl := ls[li], g.g[li]
		input := xi
		if li > 0 {
			input = g.act[li-1]
		}
		for o := range l.Out {
			d := g.del[li][o]
			if d == 0 {
				continue
			}
			gl.B[o] += d
			row := gl.W[o*l.In : (o+1)*l.In]
			for i, xv := range input {
				row[i] += d * xv
			}
		}
		if li == 0 {
			break
		}
		prev := g.del[li-1]
		for i := range prev {
			if g.act[li-1][i] <= 0 {
				prev[i] = 0
				continue
			}
			var s float64
			for o := range l.Out {
				s += g.del[li][o] * l.W[o*l.In+i]
			}
			prev[i] = s
		}
	}
}

// adam sums the chunks' gradients in chunk order and takes one Adam step.
func (t *mlpTrainer) adam(step int, lr, l2 float64, batch int) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	c1 := 1 - math.Pow(b1, float64(step))
	c2 := 1 - math.Pow(b2, float64(step))
	upd := func(p, m, v []float64, grads func(i int) float64, decay bool) {
		for i := range p {
			gi := grads(i) / float64(batch)
			if decay {
				gi += l2 * p[i]
			}
			m[i] = b1*m[i] + (1-b1)*gi
			v[i] = b2*v[i] + (1-b2)*gi*gi
			p[i] -= lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + eps)
		}
	}
	for li := range t.net.Layers {
		l := &t.net.Layers[li]
		upd(l.W, t.m[li].W, t.v[li].W, func(i int) float64 {
			var s float64
			for c := range t.chunks {
				s += t.chunks[c].g[li].W[i]
			}
			return s
		}, true)
		upd(l.B, t.m[li].B, t.v[li].B, func(i int) float64 {
			var s float64
			for c := range t.chunks {
				s += t.chunks[c].g[li].B[i]
			}
			return s
		}, false)
	}
}

// mlpID hashes what decides an MLP's output: schema and network.
func mlpID(f *File) string {
	h := sha256.New()
	json.NewEncoder(h).Encode(struct {
		F []string
		N *MLPNet
	}{f.Features, f.MLP})
	return KindMLP + "-" + hex.EncodeToString(h.Sum(nil))[:12]
}
