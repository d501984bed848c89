package aggregator

import (
	"math/bits"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// benchModel trains a model of the default size (model.DefaultParams, or
// with mlp the default MLP) on the benchmark's own traffic (the scripts'
// user agent is the label), so that it uses the features this traffic has.
func benchModel(b *testing.B, mlp bool) *model.Model {
	recs := benchRecords(1 << 15)
	d := &model.Dataset{}
	e := NewEngine(testConfig(), WithSampler(func(s *Sample) {
		bot := s.Event.GetUserAgent() == "curl/8.5.0"
		d.Add(s.Vector, bot, s.Event.GetTimeUnixNano(), uint64(len(s.Event.GetClientIp())), "", s.RuleScore)
	}))
	ev := &eventpb.RequestEvent{}
	for _, r := range recs {
		if err := proto.Unmarshal(r, ev); err != nil {
			b.Fatal(err)
		}
		e.Process(ev, nil)
	}
	rows := make([]int, d.Len())
	for i := range rows {
		rows[i] = i
	}
	p := model.DefaultParams()
	if mlp {
		p.Algo, p.MLP = model.KindMLP, model.DefaultMLPParams()
	}
	f, err := model.Train(d, rows, p)
	if err != nil {
		b.Fatal(err)
	}
	f.Threshold = 0.7
	m, err := model.Compile(f)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkEngineModel is BenchmarkEngine without a model ("off") and with
// the model in shadow and blend mode, in the same run: the target
// is a model mode >= 0.7x off in events/cpu-s.
func BenchmarkEngineModel(b *testing.B) {
	m, mlp := benchModel(b, false), benchModel(b, true)
	holder := func(mode model.Mode, m *model.Model) *model.Holder {
		a, err := model.NewActive(m, mode, 1)
		if err != nil {
			b.Fatal(err)
		}
		return model.NewHolder(a)
	}
	b.Run("off", func(b *testing.B) { benchEngine(b, NewEngine(testConfig())) })
	b.Run("shadow", func(b *testing.B) { benchEngine(b, NewEngine(testConfig(), WithModel(holder(model.Shadow, m)))) })
	b.Run("blend", func(b *testing.B) { benchEngine(b, NewEngine(testConfig(), WithModel(holder(model.Blend, m)))) })
	b.Run("mlp-blend", func(b *testing.B) { benchEngine(b, NewEngine(testConfig(), WithModel(holder(model.Blend, mlp)))) })
}

// BenchmarkModelPredictTraffic is the cost of one prediction on the
// vectors of the benchmark's traffic (as the engine scores them), for the
// trees and the MLP in the same run: the MLP's cost grows with the features
// present, the trees' does not.
func BenchmarkModelPredictTraffic(b *testing.B) {
	recs := benchRecords(1 << 14)
	var vs []features.Vector
	e := NewEngine(testConfig(), WithSampler(func(s *Sample) {
		if s.Kind == subject.KindIP {
			vs = append(vs, *s.Vector)
		}
	}))
	ev := &eventpb.RequestEvent{}
	for _, r := range recs {
		if err := proto.Unmarshal(r, ev); err != nil {
			b.Fatal(err)
		}
		e.Process(ev, nil)
	}
	present := 0
	for i := range vs {
		present += bits.OnesCount64(vs[i].Has)
	}
	for _, algo := range []string{"gbdt", "mlp"} {
		m := benchModel(b, algo == "mlp")
		b.Run(algo, func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(present)/float64(len(vs)), "features/vector")
			cpu := cpuTime()
			var s float64
			for i := range b.N {
				s += m.Predict(&vs[i%len(vs)])
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			_ = s
		})
	}
}
