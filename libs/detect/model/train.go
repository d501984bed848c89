package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
)

// Params are the training hyper-parameters.
type Params struct {
	Trees          int     `json:"trees"`
	MaxDepth       int     `json:"max_depth"`
	LearningRate   float64 `json:"learning_rate"`
	Lambda         float64 `json:"lambda"`           // L2 regularisation of leaf values
	MinChildWeight float64 `json:"min_child_weight"` // least hessian sum in a child
	MinGain        float64 `json:"min_gain"`
	Bins           int     `json:"bins"` // histogram bins per feature (present values), at most 255
	// PerSubject caps the weight of one subject's samples (Dataset.Weigh).
	PerSubject int `json:"per_subject"`
	// HumanWeight multiplies the weight of people's samples (Dataset.Weigh).
	HumanWeight float64 `json:"human_weight"`
	// Algo is what Train fits: KindGBDT ("" too) or KindMLP, with MLP's
	// parameters (the tree parameters above are then unused).
	Algo string     `json:"algo,omitempty"`
	MLP  *MLPParams `json:"mlp,omitempty"`
}

// DefaultParams are the defaults of `bulwark train`. 80 trees of depth 5
// keep inference under 1 us per subject; the human weight (40) and the cap
// per subject (64) were chosen on simulator traffic, trained on one seed and
// tested on others (BENCHMARKS.md, section model): with weight 1 people
// were flagged at 0.3 % to 1 %.
func DefaultParams() Params {
	return Params{Trees: 80, MaxDepth: 5, LearningRate: 0.15, Lambda: 1, MinChildWeight: 0.5, MinGain: 1e-3, Bins: 63, PerSubject: 64, HumanWeight: 40}
}

// Validate checks the parameters.
func (p Params) Validate() error {
	switch {
	case p.Trees < 1 || p.Trees > 5000:
		return errors.New("trees must be within 1..5000")
	case p.MaxDepth < 1 || p.MaxDepth > 8:
		return errors.New("max depth must be within 1..8")
	case p.LearningRate <= 0 || p.LearningRate > 1:
		return errors.New("learning rate must be within (0, 1]")
	case p.Lambda < 0 || p.MinChildWeight < 0 || p.MinGain < 0:
		return errors.New("lambda, min child weight and min gain must not be negative")
	case p.Bins < 2 || p.Bins > 255:
		return errors.New("bins must be within 2..255")
	case p.PerSubject < 1:
		return errors.New("per-subject cap must be at least 1")
	case !(p.HumanWeight > 0 && p.HumanWeight <= 1000):
		return errors.New("human weight must be within (0, 1000]")
	}
	switch p.Algo {
	case "", KindGBDT:
	case KindMLP:
		if p.MLP == nil {
			return errors.New("algo mlp needs its parameters")
		}
		return p.MLP.Validate()
	default:
		return fmt.Errorf("algo %q: want %s or %s", p.Algo, KindGBDT, KindMLP)
	}
	return nil
}

// ErrOneClass is returned when the training rows hold only bots or only
// people: there is nothing to learn.
var ErrOneClass = errors.New("training data holds only one class (need both bots and humans)")

// Train fits gradient-boosted trees (or, with p.Algo KindMLP, the MLP)
// with logistic loss to the rows of d, using d.W as sample weights. The
// result has no Evaluation, Data or TrainedAt yet: the caller knows them.
func Train(d *Dataset, rows []int, p Params) (*File, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Algo == KindMLP {
		return trainMLP(d, rows, p)
	}
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
	t := newTrainer(d, rows, p)
	t.base = math.Log(wPos / wNeg)
	for i := range t.margin {
		t.margin[i] = t.base
	}
	f := &File{Format: Format, Kind: "gbdt", BaseScore: t.base, Params: p, Features: slices.Clone(features.Names[:])}
	for range p.Trees {
		t.gradients()
		f.Trees = append(f.Trees, t.grow())
	}
	f.ID = modelID(f)
	return f, nil
}

// modelID hashes what decides a model's output: schema, base and trees.
func modelID(f *File) string {
	h := sha256.New()
	json.NewEncoder(h).Encode(struct {
		F []string
		B float64
		T []Tree
	}{f.Features, f.BaseScore, f.Trees})
	return "gbdt-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// bin 0 of every feature holds the missing values; present values fall in
// bins 1..len(cuts)+1.
type trainer struct {
	p      Params
	n      int
	y, w   []float64
	cols   [features.NumFeatures][]uint8
	cuts   [features.NumFeatures][]float64
	margin []float64
	g, h   []float64
	base   float64
	nb     int // bins per feature including the missing bin
	rows   []int32
	tmp    []int32
}

type gh struct{ g, h float64 }

func newTrainer(d *Dataset, rows []int, p Params) *trainer {
	n := len(rows)
	t := &trainer{p: p, n: n, y: make([]float64, n), w: make([]float64, n), margin: make([]float64, n),
		g: make([]float64, n), h: make([]float64, n), nb: p.Bins + 2, rows: make([]int32, n), tmp: make([]int32, n)}
	for i, r := range rows {
		if d.Y[r] {
			t.y[i] = 1
		}
		t.w[i] = d.W[r]
	}
	parallel(int(features.NumFeatures), func(f int) {
		var vals []float64
		for _, r := range rows {
			if v, ok := d.X[r].Get(features.ID(f)); ok {
				vals = append(vals, v)
			}
		}
		t.cuts[f] = cutPoints(vals, p.Bins)
		col := make([]uint8, n)
		for i, r := range rows {
			if v, ok := d.X[r].Get(features.ID(f)); ok {
				col[i] = uint8(1 + lowerBound(t.cuts[f], v))
			}
		}
		t.cols[f] = col
	})
	return t
}

// cutPoints returns at most bins-1 thresholds splitting vals into bins of
// about equal counts: a value x falls left of cut c when x <= c. With few
// distinct values every distinct value but the largest is a cut.
func cutPoints(vals []float64, bins int) []float64 {
	if len(vals) == 0 {
		return nil
	}
	slices.Sort(vals)
	uniq := slices.Compact(slices.Clone(vals))
	if len(uniq) <= bins {
		return uniq[:len(uniq)-1]
	}
	var cuts []float64
	for q := 1; q < bins; q++ {
		c := vals[q*len(vals)/bins]
		if (len(cuts) == 0 || c > cuts[len(cuts)-1]) && c < uniq[len(uniq)-1] {
			cuts = append(cuts, c)
		}
	}
	return cuts
}

// lowerBound is the number of cuts below v: v's present bin minus one.
func lowerBound(cuts []float64, v float64) int {
	i, _ := slices.BinarySearch(cuts, v)
	return i
}

func (t *trainer) gradients() {
	for i := range t.n {
		p := sigmoid(t.margin[i])
		t.g[i] = (p - t.y[i]) * t.w[i]
		t.h[i] = math.Max(p*(1-p), 1e-6) * t.w[i]
	}
}

// pending is a node waiting to be split or made a leaf.
type pending struct {
	idx    int  // index in the tree's nodes
	lo, hi int  // its rows: t.rows[lo:hi]
	depth  int  //
	sum    gh   // gradient and hessian sums of its rows
	hist   []gh // [feature*nb + bin]
}

// grow builds one tree depth-wise and adds its output to the margins.
func (t *trainer) grow() Tree {
	for i := range t.rows {
		t.rows[i] = int32(i)
	}
	var root pending
	root.hi = t.n
	for i := range t.n {
		root.sum.g += t.g[i]
		root.sum.h += t.h[i]
	}
	root.hist = t.histogram(t.rows)
	nodes := []Node{{Feature: -1, Value: t.leaf(root.sum)}}
	queue := []pending{root}
	for len(queue) > 0 {
		nd := queue[0]
		queue = queue[1:]
		s, ok := t.best(&nd)
		if !ok || nd.depth >= t.p.MaxDepth {
			t.settle(&nd, nodes[nd.idx].Value)
			continue
		}
		mid := t.partition(&nd, s)
		left := pending{idx: len(nodes), lo: nd.lo, hi: mid, depth: nd.depth + 1, sum: s.left}
		right := pending{idx: len(nodes) + 1, lo: mid, hi: nd.hi, depth: nd.depth + 1, sum: gh{nd.sum.g - s.left.g, nd.sum.h - s.left.h}}
		nodes[nd.idx] = Node{Feature: s.feat, Threshold: s.thr, MissingLeft: s.missLeft, Left: left.idx, Value: nodes[nd.idx].Value}
		nodes = append(nodes, Node{Feature: -1, Value: t.leaf(left.sum)}, Node{Feature: -1, Value: t.leaf(right.sum)})
		// Histogram subtraction: build the smaller child's, derive the other's.
		small, large := &left, &right
		if right.hi-right.lo < left.hi-left.lo {
			small, large = &right, &left
		}
		small.hist = t.histogram(t.rows[small.lo:small.hi])
		large.hist = nd.hist
		for i := range large.hist {
			large.hist[i].g -= small.hist[i].g
			large.hist[i].h -= small.hist[i].h
		}
		queue = append(queue, left, right)
	}
	return Tree{Nodes: nodes}
}

func (t *trainer) leaf(s gh) float64 {
	return -s.g / (s.h + t.p.Lambda) * t.p.LearningRate
}

func (t *trainer) settle(nd *pending, v float64) {
	for _, r := range t.rows[nd.lo:nd.hi] {
		t.margin[r] += v
	}
}

func (t *trainer) histogram(rows []int32) []gh {
	hist := make([]gh, int(features.NumFeatures)*t.nb)
	parallel(int(features.NumFeatures), func(f int) {
		col := t.cols[f]
		h := hist[f*t.nb : (f+1)*t.nb]
		for _, r := range rows {
			b := &h[col[r]]
			b.g += t.g[r]
			b.h += t.h[r]
		}
	})
	return hist
}

type split struct {
	feat     int
	bin      int // rows with a present bin <= bin go left
	thr      float64
	missLeft bool
	gain     float64
	left     gh
}

func (t *trainer) score(s gh) float64 { return s.g * s.g / (s.h + t.p.Lambda) }

// best finds the split of nd with the largest gain, trying for each
// threshold the missing values on either side.
func (t *trainer) best(nd *pending) (split, bool) {
	best := split{gain: t.p.MinGain}
	found := false
	parent := t.score(nd.sum)
	for f := range int(features.NumFeatures) {
		cuts := t.cuts[f]
		h := nd.hist[f*t.nb : (f+1)*t.nb]
		miss := h[0]
		var acc gh
		// k = len(cuts)+1 puts every present value left: the split between
		// present and missing (a feature with one value, such as ua_tool).
		for k := 1; k <= len(cuts)+1; k++ {
			acc.g += h[k].g
			acc.h += h[k].h
			for _, ml := range [2]bool{false, true} {
				if (ml && k > len(cuts)) || (!ml && miss.h == 0) {
					// Everything left, or the same split as missing-left
					// (where unseen missing values go is decided below).
					continue
				}
				l := acc
				if ml {
					l.g += miss.g
					l.h += miss.h
				}
				r := gh{nd.sum.g - l.g, nd.sum.h - l.h}
				if l.h < t.p.MinChildWeight || r.h < t.p.MinChildWeight {
					continue
				}
				gain := t.score(l) + t.score(r) - parent
				if gain > best.gain {
					thr := math.MaxFloat64 // JSON has no +Inf
					if k <= len(cuts) {
						thr = cuts[k-1]
					}
					best = split{feat: f, bin: k, thr: thr, missLeft: ml, gain: gain, left: l}
					found = true
				}
			}
		}
	}
	if found && nd.hist[best.feat*t.nb].h == 0 {
		// Unseen missing values follow the heavier side.
		best.missLeft = best.left.h >= nd.sum.h-best.left.h
	}
	return best, found
}

// partition orders nd's rows left then right and returns where right starts.
func (t *trainer) partition(nd *pending, s split) int {
	col := t.cols[s.feat]
	rows := t.rows[nd.lo:nd.hi]
	l, r := 0, len(rows)
	tmp := t.tmp[:len(rows)]
	for _, row := range rows {
		b := int(col[row])
		if (b == 0 && s.missLeft) || (b != 0 && b <= s.bin) {
			tmp[l] = row
			l++
		} else {
			r--
			tmp[r] = row
		}
	}
	// The right side was filled from the end: restore row order, so the
	// histograms sum in the same order every run.
	slices.Reverse(tmp[l:])
	copy(rows, tmp)
	return nd.lo + l
}

// parallel runs f(0..n-1) on all cores.
func parallel(n int, f func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	wg.Wait()
}

func sortInt64(s []int64) { slices.Sort(s) }

// String summarises the parameters for logs.
func (p Params) String() string {
	return fmt.Sprintf("trees=%d depth=%d lr=%g lambda=%g", p.Trees, p.MaxDepth, p.LearningRate, p.Lambda)
}
