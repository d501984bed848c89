package model

import (
	"math"
	"strconv"
	"strings"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
)

// Model is a compiled model, safe for concurrent use (it is never changed
// after Compile).
type Model struct {
	file      *File
	depth     int       // every tree's depth in the complete layout
	perTree   int       // nodes per tree: 2^(depth+1)-1
	nodes     []node    // the complete trees, tree after tree
	values    []float64 // each node's expected output (apart: the walk needs only leaves')
	base      float64
	bias      float64 // base plus every root's expected output: the Saabas bias
	threshold float64
	mlp       *mlpNet    // set for a kind mlp model: it scores instead of the trees
	subjects  subjectSet // the subject kinds it scores (File.Subjects)
}

// node is a split of a complete tree, 16 bytes so that a default model's
// nodes stay in the L2 cache; its children are at 2i+1 and 2i+2 of its tree.
type node struct {
	thr      float64
	feat     int16 // features.ID; -1 at the bottom
	missStep uint8 // where a missing value goes: 0 left, 1 right
}

// File returns the model's file (do not modify it).
func (m *Model) File() *File { return m.file }

// ID is the model's identifier.
func (m *Model) ID() string { return m.file.ID }

// Threshold is the probability at which the model flags a subject in its
// evaluation.
func (m *Model) Threshold() float64 { return m.threshold }

// Margin returns the log-odds the model gives v.
//
// The walk is written without data-dependent branches (a missing value is
// NaN, which compares false, and has its own step) and walks four trees at
// once: a walk is a chain of dependent loads, and four chains overlap.
func (m *Model) Margin(v *features.Vector) float64 {
	if m.mlp != nil {
		return m.mlp.margin(v)
	}
	var xs [features.NumFeatures]float64
	for id := range features.NumFeatures {
		xs[id] = v.V[id]
		if v.Has&(1<<uint(id)) == 0 {
			xs[id] = math.NaN()
		}
	}
	s := m.base
	nodes, vals, per, depth := m.nodes, m.values, m.perTree, m.depth
	nt := len(nodes) / max(per, 1)
	t := 0
	for ; t+4 <= nt; t += 4 {
		b0, b1, b2, b3 := t*per, (t+1)*per, (t+2)*per, (t+3)*per
		i0, i1, i2, i3 := 0, 0, 0, 0
		for range depth {
			i0 = 2*i0 + 1 + step(&nodes[b0+i0], &xs)
			i1 = 2*i1 + 1 + step(&nodes[b1+i1], &xs)
			i2 = 2*i2 + 1 + step(&nodes[b2+i2], &xs)
			i3 = 2*i3 + 1 + step(&nodes[b3+i3], &xs)
		}
		s += vals[b0+i0] + vals[b1+i1] + vals[b2+i2] + vals[b3+i3]
	}
	for ; t < nt; t++ {
		b, i := t*per, 0
		for range depth {
			i = 2*i + 1 + step(&nodes[b+i], &xs)
		}
		s += vals[b+i]
	}
	return s
}

// step is 0 to go left, 1 to go right.
func step(n *node, xs *[features.NumFeatures]float64) int {
	x := xs[n.feat]
	st := 1
	if x <= n.thr {
		st = 0
	}
	if x != x {
		st = int(n.missStep)
	}
	return st
}

// Predict returns the probability that the subject with features v is a bot.
func (m *Model) Predict(v *features.Vector) float64 { return sigmoid(m.Margin(v)) }

// Contributions is each feature's share of a prediction's log-odds, by
// features.ID.
type Contributions [features.NumFeatures]float64

// Explain returns the probability of v and fills c with each feature's
// contribution to its log-odds. Trees (Saabas): along each tree's path, the
// change of the expected output at every split is credited to the split's
// feature; the contributions and the base score add up to the margin. An
// MLP: gradient × input against the training mean (mlpNet.explain).
func (m *Model) Explain(v *features.Vector, c *Contributions) float64 {
	*c = Contributions{}
	if m.mlp != nil {
		return sigmoid(m.mlp.explain(v, c))
	}
	var xs [features.NumFeatures]float64
	for id := range features.NumFeatures {
		xs[id] = v.V[id]
		if v.Has&(1<<uint(id)) == 0 {
			xs[id] = math.NaN()
		}
	}
	s := m.bias
	nt := len(m.nodes) / max(m.perTree, 1)
	for t := range nt {
		b, i := t*m.perTree, 0
		for range m.depth {
			n := &m.nodes[b+i]
			next := 2*i + 1 + step(n, &xs)
			if n.thr != math.Inf(1) { // a padding split moves nothing
				d := m.values[b+next] - m.values[b+i]
				c[n.feat] += d
				s += d
			}
			i = next
		}
	}
	return sigmoid(s)
}

// Top returns up to k features that pushed the prediction most towards bot
// (positive contributions, largest first).
func (c *Contributions) Top(k int) []features.ID {
	var out []features.ID
	var used uint64
	for range k {
		best, top := 0.0, -1
		for id, x := range c {
			if used&(1<<uint(id)) == 0 && x > best {
				best, top = x, id
			}
		}
		if top < 0 {
			break
		}
		used |= 1 << uint(top)
		out = append(out, features.ID(top))
	}
	return out
}

// ReasonFeatures is how many features a model reason names.
const ReasonFeatures = 2

// Reason is the model's reason in a score: "model=0.93 (iat_cv_1m,
// referer_missing_share_10m)", naming the features that pushed most.
func (m *Model) Reason(v *features.Vector) string {
	var c Contributions
	p := m.Explain(v, &c)
	var b strings.Builder
	b.WriteString("model=")
	b.WriteString(strconv.FormatFloat(math.Floor(p*100)/100, 'f', 2, 64))
	if top := c.Top(ReasonFeatures); len(top) > 0 {
		b.WriteString(" (")
		for i, id := range top {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(features.Names[id])
		}
		b.WriteString(")")
	}
	return b.String()
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
