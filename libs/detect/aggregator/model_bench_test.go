package aggregator

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// benchModel trains a model of the default size (model.DefaultParams) on
// the benchmark's own traffic (the scripts' user agent is the label), so
// that its trees split on the features this traffic has.
func benchModel(b *testing.B) *model.Model {
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
	f, err := model.Train(d, rows, model.DefaultParams())
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
	m := benchModel(b)
	holder := func(mode model.Mode) *model.Holder {
		a, err := model.NewActive(m, mode, 1)
		if err != nil {
			b.Fatal(err)
		}
		return model.NewHolder(a)
	}
	b.Run("off", func(b *testing.B) { benchEngine(b, NewEngine(testConfig())) })
	b.Run("shadow", func(b *testing.B) { benchEngine(b, NewEngine(testConfig(), WithModel(holder(model.Shadow)))) })
	b.Run("blend", func(b *testing.B) { benchEngine(b, NewEngine(testConfig(), WithModel(holder(model.Blend)))) })
}
