package model

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
)

// synthetic returns n samples where a subject is a bot when it is fast and
// loads no assets, or uses a tool's user agent; people sometimes lack the
// asset share (too few requests), which must not matter.
func synthetic(n int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &Dataset{}
	for i := range n {
		var v features.Vector
		rate := rng.ExpFloat64() * 2
		v.Set(features.Rate10s, rate)
		noAsset := rng.Float64()
		if rng.IntN(4) > 0 {
			v.Set(features.NoAssetShare10m, noAsset)
		} else {
			noAsset = 0 // too few requests to tell: judged as a person
		}
		tool := rng.IntN(20) == 0
		if tool {
			v.Set(features.UATool, 1)
		}
		bot := tool || (rate > 3 && noAsset > 0.7)
		group := "human"
		if bot {
			group = "bot"
		}
		d.Add(&v, bot, int64(i), uint64(i), group, 0)
	}
	return d
}

func all(d *Dataset) []int {
	r := make([]int, d.Len())
	for i := range r {
		r[i] = i
	}
	return r
}

func trainSmall(t testing.TB, d *Dataset) *Model {
	t.Helper()
	p := DefaultParams()
	p.Trees = 60
	p.HumanWeight = 1
	f, err := Train(d, all(d), p)
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

func TestTrainLearnsHeldOut(t *testing.T) {
	m := trainSmall(t, synthetic(20000, 1))
	test := synthetic(5000, 2)
	e := Evaluate(m, test, all(test), 70)
	if e.Model.AUC < 0.99 || e.Model.Recall < 0.95 || e.Model.Precision < 0.95 {
		t.Fatalf("held-out figures too low: %+v", e.Model)
	}
}

func TestTrainIsDeterministic(t *testing.T) {
	d := synthetic(3000, 3)
	p := DefaultParams()
	p.Trees = 10
	a, err := Train(d, all(d), p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Train(d, all(d), p)
	if a.ID != b.ID {
		t.Fatalf("two runs on the same data differ: %s vs %s", a.ID, b.ID)
	}
}

func TestTrainOneClass(t *testing.T) {
	d := &Dataset{}
	var v features.Vector
	v.Set(features.Rate10s, 1)
	d.Add(&v, false, 0, 0, "human", 0)
	if _, err := Train(d, all(d), DefaultParams()); !errors.Is(err, ErrOneClass) {
		t.Fatalf("err = %v, want ErrOneClass", err)
	}
}

func TestExplainAddsUpToMargin(t *testing.T) {
	m := trainSmall(t, synthetic(5000, 4))
	test := synthetic(200, 5)
	for i := range test.X {
		var c Contributions
		p := m.Explain(&test.X[i], &c)
		sum := m.bias
		for _, x := range c {
			sum += x
		}
		if math.Abs(sigmoid(sum)-p) > 1e-9 || math.Abs(p-m.Predict(&test.X[i])) > 1e-9 {
			t.Fatalf("row %d: explain %v, contributions give %v, predict %v", i, p, sigmoid(sum), m.Predict(&test.X[i]))
		}
	}
}

func TestReasonNamesTheDrivingFeature(t *testing.T) {
	m := trainSmall(t, synthetic(20000, 6))
	var v features.Vector
	v.Set(features.Rate10s, 0.1)
	v.Set(features.NoAssetShare10m, 0.1)
	v.Set(features.UATool, 1)
	r := m.Reason(&v)
	if !strings.HasPrefix(r, "model=0.9") || !strings.Contains(r, "(ua_tool") {
		t.Fatalf("reason %q: want a high probability driven by ua_tool first", r)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	d := synthetic(3000, 7)
	p := DefaultParams()
	p.Trees = 20
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
}

func TestParseRefuses(t *testing.T) {
	good := func() *File {
		return &File{Format: Format, Kind: "gbdt", Features: []string{"rate_10s"}, Threshold: 0.7,
			Trees: []Tree{{Nodes: []Node{{Feature: 0, Threshold: 1, Left: 1}, {Feature: -1, Value: -1}, {Feature: -1, Value: 1}}}}}
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
	f("format", func(m *File) { m.Format = "other/v9" }, "format")
	f("no trees", func(m *File) { m.Trees = nil }, "no trees")
	f("unknown feature", func(m *File) { m.Features = []string{"tls_ja4"} }, "tls_ja4")
	f("feature out of schema", func(m *File) { m.Trees[0].Nodes[0].Feature = 3 }, "out of the schema")
	f("backward child", func(m *File) { m.Trees[0].Nodes[0].Left = 0 }, "out of order")
	f("child out of range", func(m *File) { m.Trees[0].Nodes[0].Left = 2 }, "out of order or range")
	f("threshold", func(m *File) { m.Threshold = 2 }, "threshold")
	if _, err := Parse([]byte("{not json")); !errors.Is(err, ErrFormat) {
		t.Errorf("bad JSON: err = %v", err)
	}
}

func TestAUC(t *testing.T) {
	f := func(scores []float64, bot []bool, want float64) {
		t.Helper()
		if got := AUC(scores, bot); math.Abs(got-want) > 1e-12 {
			t.Errorf("AUC(%v, %v) = %v, want %v", scores, bot, got, want)
		}
	}
	f([]float64{0.1, 0.9}, []bool{false, true}, 1)
	f([]float64{0.9, 0.1}, []bool{false, true}, 0)
	f([]float64{0.5, 0.5}, []bool{false, true}, 0.5)
	f([]float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75)
	f([]float64{0.1}, []bool{true}, 0)
}

func TestScoreFigures(t *testing.T) {
	fg := Score([]float64{0.9, 0.8, 0.2, 0.75, 0.1}, []bool{true, true, true, false, false}, 0.7)
	if fg.TP != 2 || fg.FN != 1 || fg.FP != 1 || fg.TN != 1 {
		t.Fatalf("confusion %+v", fg)
	}
	if fg.Precision != 2.0/3 || fg.Recall != 2.0/3 || fg.FPR != 0.5 {
		t.Fatalf("rates %+v", fg)
	}
}

func TestCutPoints(t *testing.T) {
	f := func(vals []float64, bins int, want []float64) {
		t.Helper()
		got := cutPoints(vals, bins)
		if len(got) != len(want) {
			t.Fatalf("cutPoints(%v, %d) = %v, want %v", vals, bins, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("cutPoints(%v, %d) = %v, want %v", vals, bins, got, want)
			}
		}
	}
	f(nil, 4, nil)
	f([]float64{1, 1, 1}, 4, []float64{})
	f([]float64{3, 1, 2, 1}, 4, []float64{1, 2})
	f([]float64{1, 2, 3, 4, 5, 6, 7, 8}, 4, []float64{3, 5, 7})
}

func TestWeighCapsSubjects(t *testing.T) {
	d := &Dataset{}
	var v features.Vector
	for i := range 100 {
		d.Add(&v, true, int64(i), 1, "bot", 0)
	}
	d.Add(&v, false, 0, 2, "human", 0)
	d.Weigh(10, 1)
	var w1 float64
	for i, s := range d.Subj {
		if s == 1 {
			w1 += d.W[i]
		}
	}
	if math.Abs(w1-10) > 1e-9 || d.W[100] != 1 {
		t.Fatalf("subject 1 weighs %v (want 10), subject 2 %v (want 1)", w1, d.W[100])
	}
}

func FuzzParse(f *testing.F) {
	d := synthetic(500, 9)
	p := DefaultParams()
	p.Trees = 3
	file, _ := Train(d, all(d), p)
	file.Threshold = 0.5
	data, _ := json.Marshal(file)
	f.Add(data)
	f.Add([]byte(`{"format":"bulwark-model/v1","features":["rate_10s"],"trees":[{"nodes":[{"f":0,"l":1},{"f":-1},{"f":-1}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		// A model that compiles must score any vector without panicking or looping.
		var v features.Vector
		_ = m.Predict(&v)
		for id := range features.NumFeatures {
			v.Set(id, float64(id))
		}
		var c Contributions
		_ = m.Explain(&v, &c)
	})
}
