package model

import (
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
)

func mlpParams() Params {
	p := DefaultParams()
	p.Algo = KindMLP
	p.MLP = DefaultMLPParams()
	p.MLP.Epochs = 15
	p.HumanWeight = 1
	return p
}

func trainMLPSmall(t testing.TB, d *Dataset) *Model {
	t.Helper()
	f, err := Train(d, all(d), mlpParams())
	if err != nil {
		t.Fatal(err)
	}
	f.Threshold = 0.5
	m, err := Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMLPLearnsHeldOut(t *testing.T) {
	m := trainMLPSmall(t, synthetic(20000, 1))
	if k := m.File().Kind; k != KindMLP || !strings.HasPrefix(m.ID(), "mlp-") {
		t.Fatalf("kind %q id %q", k, m.ID())
	}
	test := synthetic(5000, 2)
	e := Evaluate(m, test, all(test), 70)
	if e.Model.AUC < 0.99 || e.Model.Recall < 0.9 || e.Model.Precision < 0.9 {
		t.Fatalf("held-out figures too low: %+v", e.Model)
	}
}

func TestMLPIsDeterministic(t *testing.T) {
	d := synthetic(3000, 3)
	p := mlpParams()
	p.MLP.Epochs = 3
	a, err := Train(d, all(d), p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Train(d, all(d), p)
	if a.ID != b.ID {
		t.Fatalf("two runs with the same seed differ: %s vs %s", a.ID, b.ID)
	}
	p.MLP.Seed = 2
	c, _ := Train(d, all(d), p)
	if c.ID == a.ID {
		t.Fatalf("another seed gave the same model %s", c.ID)
	}
}

func TestMLPOneHiddenLayer(t *testing.T) {
	p := mlpParams()
	p.MLP.Hidden = []int{12}
	d := synthetic(5000, 8)
	f, err := Train(d, all(d), p)
	if err != nil {
		t.Fatal(err)
	}
	f.Threshold = 0.5
	m, err := Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	var c Contributions
	for i := range 100 {
		if a, b := m.Predict(&d.X[i]), m.Explain(&d.X[i], &c); math.Abs(a-b) > 1e-12 {
			t.Fatalf("row %d: predict %v, explain %v", i, a, b)
		}
	}
}

// The contributions are gradient × input: for a feature on its own, they
// must agree in sign with moving it from its mean (the occlusion they
// estimate), and Explain must give Predict's probability.
func TestMLPExplain(t *testing.T) {
	m := trainMLPSmall(t, synthetic(20000, 6))
	var v features.Vector
	v.Set(features.Rate10s, 0.1)
	v.Set(features.NoAssetShare10m, 0.1)
	v.Set(features.UATool, 1)
	var c Contributions
	if p, q := m.Explain(&v, &c), m.Predict(&v); math.Abs(p-q) > 1e-12 || p < 0.9 {
		t.Fatalf("explain %v, predict %v: want the same, >= 0.9", p, q)
	}
	if top := c.Top(1); len(top) != 1 || top[0] != features.UATool {
		t.Fatalf("top contribution %v (%v), want ua_tool", top, c)
	}
	r := m.Reason(&v)
	if !strings.HasPrefix(r, "model=0.9") || !strings.Contains(r, "(ua_tool") {
		t.Fatalf("reason %q: want a high probability driven by ua_tool first", r)
	}
}

func TestMLPSaveLoadRoundTrip(t *testing.T) {
	d := synthetic(3000, 7)
	p := mlpParams()
	p.MLP.Epochs = 2
	f, err := Train(d, all(d), p)
	if err != nil {
		t.Fatal(err)
	}
	f.Threshold = 0.7
	path := filepath.Join(t.TempDir(), "m.json")
	if err := Save(path, f); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := Compile(f)
	for i := range d.X {
		if a, b := orig.Predict(&d.X[i]), m.Predict(&d.X[i]); a != b {
			t.Fatalf("row %d: %v before saving, %v after", i, a, b)
		}
	}
	// The Holder and Active do not care which kind they hold.
	a, err := NewActive(m, Blend, 0.8)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHolder(a)
	if got := h.Load().Label(); got != m.ID()+"/blend" {
		t.Fatalf("label %q", got)
	}
}

func TestMLPParseRefuses(t *testing.T) {
	good := func() *File {
		return &File{Format: Format, Kind: KindMLP, Features: []string{"rate_10s"}, Threshold: 0.7,
			MLP: &MLPNet{Mean: []float64{0}, Std: []float64{1}, Log: []bool{false}, Missing: []float64{0.5}, Layers: []Layer{
				{In: 2, Out: 2, W: []float64{1, 0, 0, 1}, B: []float64{0, 0}},
				{In: 2, Out: 1, W: []float64{1, -1}, B: []float64{0}},
			}}}
	}
	f := func(name string, mutate func(*File), want string) {
		t.Helper()
		m := good()
		mutate(m)
		data, _ := json.Marshal(m)
		_, err := Parse(data)
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want ErrFormat mentioning %q", name, err, want)
		}
	}
	if _, err := Compile(good()); err != nil {
		t.Fatalf("the good file: %v", err)
	}
	f("kind", func(m *File) { m.Kind = "svm" }, "kind")
	f("no network", func(m *File) { m.MLP = nil }, "without a network")
	f("trees too", func(m *File) { m.Trees = []Tree{{Nodes: []Node{{Feature: -1}}}} }, "with trees")
	f("stats", func(m *File) { m.MLP.Std = nil }, "one entry per feature")
	f("missing share", func(m *File) { m.MLP.Missing[0] = 2 }, "not usable")
	f("zero std", func(m *File) { m.MLP.Std[0] = 0 }, "not usable")
	f("inputs", func(m *File) { m.MLP.Layers[0].In = 3 }, "inputs")
	f("weights", func(m *File) { m.MLP.Layers[1].W = []float64{1} }, "weights")
	f("output", func(m *File) { m.MLP.Layers = m.MLP.Layers[:1] }, "layers")
	f("wide", func(m *File) {
		m.MLP.Layers[0] = Layer{In: 2, Out: 65, W: make([]float64, 130), B: make([]float64, 65)}
	}, "units")
	f("unknown feature", func(m *File) { m.Features = []string{"tls_ja4"} }, "tls_ja4")
	f("gbdt with a network", func(m *File) { m.Kind = KindGBDT }, "with a network")
}

func TestMLPParamsValidate(t *testing.T) {
	f := func(mutate func(*MLPParams)) {
		t.Helper()
		p := DefaultParams()
		p.Algo, p.MLP = KindMLP, DefaultMLPParams()
		mutate(p.MLP)
		if err := p.Validate(); err == nil {
			t.Errorf("%+v: no error", *p.MLP)
		}
	}
	f(func(p *MLPParams) { p.Hidden = nil })
	f(func(p *MLPParams) { p.Hidden = []int{8, 8, 8} })
	f(func(p *MLPParams) { p.Hidden = []int{100} })
	f(func(p *MLPParams) { p.Epochs = 0 })
	f(func(p *MLPParams) { p.BatchSize = 0 })
	f(func(p *MLPParams) { p.LearningRate = 0 })
	f(func(p *MLPParams) { p.L2 = math.NaN() })
	p := DefaultParams()
	p.Algo = "svm"
	if p.Validate() == nil {
		t.Error("algo svm: no error")
	}
}

func FuzzParseMLP(f *testing.F) {
	// A small network: a trained one is 40 kB, which the fuzzer's
	// minimisation crawls through.
	f.Add([]byte(`{"format":"bulwark-model/v1","kind":"mlp","features":["rate_10s","ua_tool"],"threshold":0.5,"mlp":{` +
		`"mean":[1,1],"std":[2,1],"log":[true,false],"missing":[0.1,0.9],"layers":[` +
		`{"in":4,"out":2,"w":[1,-1,0.5,0,0,2,-1,1],"b":[0,0.1]},{"in":2,"out":2,"w":[1,0,0,1],"b":[0,0]},{"in":2,"out":1,"w":[1,-1],"b":[0.2]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		var v features.Vector
		_ = m.Predict(&v)
		for id := range features.NumFeatures {
			v.Set(id, math.Inf(1)*float64(id%2)-float64(id))
		}
		var c Contributions
		if p := m.Explain(&v, &c); math.IsNaN(p) {
			t.Fatalf("NaN probability")
		}
	})
}

func TestLn(t *testing.T) {
	for _, y := range []float64{1, 1.0001, 1.3, 1.5, 2, 3, 10, 97.5, 1e3, 1e6, 1e12, 1e300} {
		if got, want := ln(y), math.Log(y); math.Abs(got-want) > 2e-5*max(1, want) {
			t.Errorf("ln(%v) = %v, want %v", y, got, want)
		}
	}
	if !math.IsInf(ln(math.Inf(1)), 1) || !math.IsNaN(ln(math.NaN())) {
		t.Error("ln of Inf or NaN")
	}
}

// A running Reloader swaps trees for an MLP and back: the Holder and its
// users do not care which kind is in force.
func TestReloaderSwapsKinds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.json")
	d := synthetic(2000, 22)
	p := DefaultParams()
	p.Trees = 5
	gb, _ := Train(d, all(d), p)
	gb.Threshold = 0.7
	mp := mlpParams()
	mp.MLP.Epochs = 2
	nn, err := Train(d, all(d), mp)
	if err != nil {
		t.Fatal(err)
	}
	nn.Threshold = 0.7
	if err := Save(path, gb); err != nil {
		t.Fatal(err)
	}
	a, err := LoadActive(path, Blend, 0.8)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHolder(a)
	r := NewReloader(path, Blend, 0.8, h, time.Hour, nil, nil)
	for _, f := range []*File{nn, gb} {
		if err := Save(path, f); err != nil {
			t.Fatal(err)
		}
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
		got := h.Load()
		if got.Model.ID() != f.ID || got.Model.File().Kind != f.Kind || got.Label() != f.ID+"/blend" {
			t.Fatalf("in force %s (%s), want %s", got.Model.ID(), got.Label(), f.ID)
		}
		if s := got.Model.Reason(&d.X[0]); !strings.HasPrefix(s, "model=") {
			t.Fatalf("reason %q", s)
		}
	}
}

// An MLP scores the subject kinds its file names, as the trees do: a
// session model of an anonymised log must not fall back to scoring nothing.
func TestMLPSubjects(t *testing.T) {
	d := synthetic(2000, 9)
	p := mlpParams()
	p.MLP.Epochs = 1
	for _, tc := range []struct {
		kinds         []string
		ips, sessions bool
	}{
		{nil, true, false},
		{[]string{SubjectSession}, false, true},
		{[]string{SubjectIP, SubjectSession}, true, true},
	} {
		f, err := Train(d, all(d), p)
		if err != nil {
			t.Fatal(err)
		}
		f.Threshold, f.Subjects = 0.5, tc.kinds
		m, err := Compile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m.ScoresIPs() != tc.ips || m.ScoresSessions() != tc.sessions {
			t.Errorf("subjects %v: scores ips %v sessions %v, want %v %v", tc.kinds, m.ScoresIPs(), m.ScoresSessions(), tc.ips, tc.sessions)
		}
	}
}
