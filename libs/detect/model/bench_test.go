package model

import (
	"testing"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// BenchmarkPredict is the cost of scoring one subject with a model of the
// default size (DefaultParams: 120 trees of depth 5). Target: <= 1 us.
// BenchmarkPredictBaseline (same run) is a pass over the vector's features
// of the same kind as the weighted scorer's, for the ratio.
func BenchmarkPredict(b *testing.B) {
	d := synthetic(20000, 11)
	f, err := Train(d, all(d), DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	f.Threshold = 0.5
	m, _ := Compile(f)
	test := synthetic(1024, 12)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	var s float64
	for i := range b.N {
		s += m.Predict(&test.X[i&1023])
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	_ = s
}

// BenchmarkPredictBaseline is the weighted rule scorer on the same vectors,
// in the same run: the model's cost as a multiple of the rules'.
func BenchmarkPredictBaseline(b *testing.B) {
	sc := scoring.NewScorer(scoring.DefaultConfig())
	test := synthetic(1024, 12)
	var pts scoring.Points
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	var s float64
	for i := range b.N {
		s += sc.Score(subject.KindIP, &test.X[i&1023], &pts)
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	_ = s
}

func BenchmarkExplain(b *testing.B) {
	d := synthetic(20000, 11)
	f, _ := Train(d, all(d), DefaultParams())
	f.Threshold = 0.5
	m, _ := Compile(f)
	test := synthetic(1024, 12)
	var c Contributions
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		_ = m.Explain(&test.X[i&1023], &c)
	}
}

// BenchmarkTrain trains the default model on 100,000 samples.
func BenchmarkTrain(b *testing.B) {
	d := synthetic(100000, 13)
	for i := range d.X {
		for id := features.ID(0); id < features.NumFeatures; id += 3 {
			d.X[i].Set(id, float64((i*int(id+1))%97))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := Train(d, all(d), DefaultParams()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPredictMLP is the MLP (DefaultMLPParams: hidden layers of 16 and
// 8 units) on the same vectors as BenchmarkPredict, in the same run.
// Target: <= 1 us, 0 allocations.
func BenchmarkPredictMLP(b *testing.B) {
	m := benchMLP(b)
	test := synthetic(1024, 12)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	var s float64
	for i := range b.N {
		s += m.Predict(&test.X[i&1023])
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	_ = s
}

func BenchmarkExplainMLP(b *testing.B) {
	m := benchMLP(b)
	test := synthetic(1024, 12)
	var c Contributions
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		_ = m.Explain(&test.X[i&1023], &c)
	}
}

// BenchmarkTrainMLP trains the default MLP on 100,000 samples (the
// vectors of BenchmarkTrain).
func BenchmarkTrainMLP(b *testing.B) {
	d := synthetic(100000, 13)
	for i := range d.X {
		for id := features.ID(0); id < features.NumFeatures; id += 3 {
			d.X[i].Set(id, float64((i*int(id+1))%97))
		}
	}
	p := DefaultParams()
	p.Algo, p.MLP = KindMLP, DefaultMLPParams()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := Train(d, all(d), p); err != nil {
			b.Fatal(err)
		}
	}
}

func benchMLP(b *testing.B) *Model {
	d := synthetic(20000, 11)
	// Every feature present, so that the benchmark pays for all of them.
	for i := range d.X {
		for id := range features.NumFeatures {
			if _, ok := d.X[i].Get(id); !ok && id%2 == 0 {
				d.X[i].Set(id, float64((i*int(id+1))%13))
			}
		}
	}
	p := DefaultParams()
	p.Algo, p.MLP = KindMLP, DefaultMLPParams()
	p.MLP.Epochs = 2
	f, err := Train(d, all(d), p)
	if err != nil {
		b.Fatal(err)
	}
	f.Threshold = 0.5
	m, err := Compile(f)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkPredictMLPFull is the MLP's worst case: every feature present
// (a missing feature costs the MLP nothing; the trees' cost does not
// depend on it).
func BenchmarkPredictMLPFull(b *testing.B) {
	m := benchMLP(b)
	test := synthetic(1024, 12)
	for i := range test.X {
		for id := range features.NumFeatures {
			if _, ok := test.X[i].Get(id); !ok {
				test.X[i].Set(id, float64((i*int(id+1))%13))
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	var s float64
	for i := range b.N {
		s += m.Predict(&test.X[i&1023])
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	_ = s
}
