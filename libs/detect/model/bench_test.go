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
