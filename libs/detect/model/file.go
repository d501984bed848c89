package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
)

// Format names the model file's format; a reader refuses any other.
const Format = "bulwark-model/v1"

// File is the model file as written: everything needed to score, plus what
// is needed to trust it (how it was trained, on what, and how it did).
type File struct {
	Format string `json:"format"`
	// ID identifies the model in scores and logs: the kind ("gbdt-",
	// "mlp-") and the first 12 hex digits of the SHA-256 of its schema and
	// trees or network.
	ID        string    `json:"id"`
	Kind      string    `json:"kind"` // KindGBDT or KindMLP
	TrainedAt time.Time `json:"trained_at"`
	// Features is the schema: the name of each column the trees refer to.
	Features []string `json:"features"`
	// Threshold is the probability at or above which the model flags a
	// subject in its evaluation (the rule file's challenge level / 100 by
	// default).
	Threshold float64 `json:"threshold"`
	BaseScore float64 `json:"base_score"` // initial log-odds
	Params    Params  `json:"params"`
	// Subjects are the kinds of subject the model was trained on and
	// scores: "ip", "session" (subjects.go); none: "ip".
	Subjects []string `json:"subjects,omitempty"`
	// Data describes the training data: its digest makes a training run
	// reproducible and checkable.
	Data DataInfo `json:"data"`
	// Evaluation is the held-out test of the model and of the rule scorer
	// on the same samples.
	Evaluation *Evaluation `json:"evaluation,omitempty"`
	Trees      []Tree      `json:"trees,omitempty"` // kind gbdt
	MLP        *MLPNet     `json:"mlp,omitempty"`   // kind mlp
}

// DataInfo describes a training set.
type DataInfo struct {
	Digest      string    `json:"digest"` // SHA-256 of the samples (values, labels, times, weights)
	Samples     int       `json:"samples"`
	Positives   int       `json:"positives"`
	Subjects    int       `json:"subjects"`
	TrainUntil  time.Time `json:"train_until"` // samples before this trained, the rest tested
	Sources     []string  `json:"sources,omitempty"`
	LabelsFile  string    `json:"labels_file,omitempty"`
	LabelDigest string    `json:"labels_digest,omitempty"`
	// Split is how the evaluation's samples were held out: "time" (before
	// and from TrainUntil) or "session" (whole subjects); "" for none.
	Split string `json:"split,omitempty"`
}

// Tree is one tree in flat form: node 0 is the root; an internal node
// (Feature >= 0) sends a present value <= Threshold to Left, a greater one to
// Left+1, and a missing one to Left when MissingLeft, else Left+1. Value is
// the node's expected output (a leaf's is its output), in log-odds.
type Tree struct {
	Nodes []Node `json:"nodes"`
}

// Node is one node of a Tree.
type Node struct {
	Feature     int     `json:"f"` // index into File.Features; -1 for a leaf
	Threshold   float64 `json:"t,omitempty"`
	MissingLeft bool    `json:"m,omitempty"`
	Left        int     `json:"l,omitempty"`
	Value       float64 `json:"v"`
}

// ErrFormat is returned for a file that is not a usable model.
var ErrFormat = errors.New("not a usable model file")

// Load reads and compiles a model file.
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return m, nil
}

// Parse decodes and compiles a model file's bytes.
func Parse(data []byte) (*Model, error) {
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return Compile(&f)
}

// Save writes f as indented JSON to path, through a temporary file renamed
// over it, so that a reloading aggregator never reads half a model.
func Save(path string, f *File) error {
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return fmt.Errorf("encode model: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	return nil
}

// maxNodes bounds a tree: a depth-8 tree has 511 nodes; more is not ours.
const maxNodes = 1 << 12

// Compile checks f and turns it into a Model. Every column must name a
// feature of this build; every node must point forward inside its tree
// (so a walk always ends) and hold finite numbers.
func Compile(f *File) (*Model, error) {
	if f.Format != Format {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrFormat, f.Format, Format)
	}
	if !finite(f.Threshold) || f.Threshold < 0 || f.Threshold > 1 {
		return nil, fmt.Errorf("%w: threshold out of range", ErrFormat)
	}
	subjects, err := compileSubjects(f.Subjects)
	if err != nil {
		return nil, err
	}
	switch f.Kind {
	case KindMLP:
		m, err := compileMLP(f)
		if err != nil {
			return nil, err
		}
		m.subjects = subjects
		return m, nil
	case KindGBDT, "":
	default:
		return nil, fmt.Errorf("%w: kind %q, want %s or %s", ErrFormat, f.Kind, KindGBDT, KindMLP)
	}
	if f.MLP != nil {
		return nil, fmt.Errorf("%w: kind gbdt with a network", ErrFormat)
	}
	if len(f.Trees) == 0 {
		return nil, fmt.Errorf("%w: no trees", ErrFormat)
	}
	if !finite(f.BaseScore) || !finite(f.Threshold) || f.Threshold < 0 || f.Threshold > 1 {
		return nil, fmt.Errorf("%w: base score or threshold out of range", ErrFormat)
	}
	cols := make([]features.ID, len(f.Features))
	for i, name := range f.Features {
		id, ok := features.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("%w: feature %q is unknown to this build (a model trained by a newer Bulwark?)", ErrFormat, name)
		}
		cols[i] = id
	}
	m := &Model{file: f, base: f.BaseScore, bias: f.BaseScore, threshold: f.Threshold, subjects: subjects}
	for ti, t := range f.Trees {
		n := len(t.Nodes)
		if n == 0 || n > maxNodes {
			return nil, fmt.Errorf("%w: tree %d has %d nodes", ErrFormat, ti, n)
		}
		for ni, nd := range t.Nodes {
			if !finite(nd.Value) {
				return nil, fmt.Errorf("%w: tree %d node %d: value not finite", ErrFormat, ti, ni)
			}
			if nd.Feature < 0 {
				continue
			}
			if nd.Feature >= len(cols) {
				return nil, fmt.Errorf("%w: tree %d node %d: feature %d out of the schema", ErrFormat, ti, ni, nd.Feature)
			}
			if nd.Left <= ni || nd.Left+1 >= n {
				return nil, fmt.Errorf("%w: tree %d node %d: children %d, %d out of order or range", ErrFormat, ti, ni, nd.Left, nd.Left+1)
			}
			if math.IsNaN(nd.Threshold) {
				return nil, fmt.Errorf("%w: tree %d node %d: threshold NaN", ErrFormat, ti, ni)
			}
		}
		d := treeDepth(t.Nodes, 0)
		if d > maxDepth {
			return nil, fmt.Errorf("%w: tree %d is %d deep (at most %d)", ErrFormat, ti, d, maxDepth)
		}
		m.depth = max(m.depth, d)
		m.bias += t.Nodes[0].Value
	}
	// Every tree is laid out complete to the model's depth (children of i at
	// 2i+1 and 2i+2): a leaf above the bottom becomes a split that always
	// goes left to a copy of itself. The walk then takes the same number of
	// steps in every tree, which lets Margin walk four trees at once.
	m.perTree = 1<<(m.depth+1) - 1
	m.nodes = make([]node, m.perTree*len(f.Trees))
	m.values = make([]float64, m.perTree*len(f.Trees))
	for ti, t := range f.Trees {
		m.layout(t.Nodes, cols, 0, ti*m.perTree, 0, 0)
	}
	return m, nil
}

// maxDepth bounds a tree's depth: training allows 8.
const maxDepth = 10

func treeDepth(nodes []Node, i int) int {
	if nodes[i].Feature < 0 {
		return 0
	}
	return 1 + max(treeDepth(nodes, nodes[i].Left), treeDepth(nodes, nodes[i].Left+1))
}

// layout places file node i at complete-tree position pos (depth d) of the
// tree starting at base.
func (m *Model) layout(nodes []Node, cols []features.ID, i, base, pos, d int) {
	nd := nodes[i]
	m.values[base+pos] = nd.Value
	if d == m.depth {
		m.nodes[base+pos] = node{feat: -1}
		return
	}
	if nd.Feature < 0 {
		m.nodes[base+pos] = node{thr: math.Inf(1)} // always left; missing too
		m.layout(nodes, cols, i, base, 2*pos+1, d+1)
		m.layout(nodes, cols, i, base, 2*pos+2, d+1)
		return
	}
	c := node{feat: int16(cols[nd.Feature]), thr: nd.Threshold}
	if !nd.MissingLeft {
		c.missStep = 1
	}
	m.nodes[base+pos] = c
	m.layout(nodes, cols, nd.Left, base, 2*pos+1, d+1)
	m.layout(nodes, cols, nd.Left+1, base, 2*pos+2, d+1)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
