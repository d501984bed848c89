package training

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// simulated writes dur of simulated traffic with half the bots evasive and
// returns the log's path and its labels.
func simulated(t *testing.T, seed uint64, dur time.Duration) (string, map[string]simulate.Label) {
	t.Helper()
	cfg := simulate.DefaultConfig()
	cfg.Duration, cfg.Seed, cfg.Evasion = dur, seed, 0.5
	g, err := simulate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "access.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := simulate.Write(context.Background(), g, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, g.Labels()
}

func config(path string, labels map[string]simulate.Label) Config {
	p := model.DefaultParams()
	p.Trees = 30
	return Config{
		Replay:    replay.Config{Files: []string{path}, Format: logparse.FormatNginx},
		Labels:    labels,
		Params:    p,
		TestShare: 0.3, Threshold: 0.7, RuleThreshold: 70,
	}
}

func TestTrainOnSimulatedTraffic(t *testing.T) {
	path, labels := simulated(t, 1, 30*time.Minute)
	res, err := Run(context.Background(), config(path, labels))
	if err != nil {
		t.Fatal(err)
	}
	f := res.File
	if f.Evaluation == nil || res.Train == 0 || res.Test == 0 || f.Data.Positives == 0 {
		t.Fatalf("train %d, test %d, data %+v, evaluation %v", res.Train, res.Test, f.Data, f.Evaluation)
	}
	if e := f.Evaluation; e.Model.AUC < 0.9 || e.SubjectsModel.Recall < 0.8 {
		t.Errorf("held-out figures: samples %+v, subjects %+v", e.Model, e.SubjectsModel)
	}
	for _, k := range f.Evaluation.Kinds {
		if strings.HasPrefix(k.Kind, "crawler_") {
			t.Errorf("verified crawlers were learned: %+v", k)
		}
	}
	// The same input and flags give the same samples and the same model.
	again, err := Run(context.Background(), config(path, labels))
	if err != nil {
		t.Fatal(err)
	}
	if again.File.Data.Digest != f.Data.Digest || again.File.ID != f.ID {
		t.Fatalf("two runs differ: data %s vs %s, model %s vs %s", f.Data.Digest, again.File.Data.Digest, f.ID, again.File.ID)
	}
	// The model file is usable by replay, as --compare.
	mpath := filepath.Join(t.TempDir(), "model.json")
	if err := model.Save(mpath, f); err != nil {
		t.Fatal(err)
	}
	rr, err := replay.Run(context.Background(), replay.Config{Files: []string{path}, Format: logparse.FormatNginx,
		Compare: mpath, ModelMode: model.Blend, ModelWeight: 1, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Diff == nil || rr.CompareEvaluation == nil {
		t.Fatalf("replay --compare with a model: diff %v, evaluation %v", rr.Diff, rr.CompareEvaluation)
	}
}

func TestPromote(t *testing.T) {
	path, labels := simulated(t, 3, 30*time.Minute)
	res, err := Run(context.Background(), config(path, labels))
	if err != nil {
		t.Fatal(err)
	}
	inForce := filepath.Join(t.TempDir(), "model.json")
	d, err := Promote(res, inForce)
	if err != nil || !d.Promoted || d.Reason != "no model in force" {
		t.Fatalf("first promotion: %+v, %v", d, err)
	}
	// The same model again: no worse, promoted, the replaced one kept.
	d, err = Promote(res, inForce)
	if err != nil || !d.Promoted || d.Current == nil || d.Kept == "" {
		t.Fatalf("second promotion: %+v, %v", d, err)
	}
	if _, err := os.Stat(d.Kept); err != nil {
		t.Fatalf("replaced model not kept: %v", err)
	}
	// A candidate that flags nobody: refused, kept for inspection, the
	// model in force untouched.
	worse := *res
	wf := *res.File
	wf.Trees = []model.Tree{{Nodes: []model.Node{{Feature: -1, Value: -20}}}}
	wf.ID = "gbdt-nobodyflags"
	worse.File = &wf
	d, err = Promote(&worse, inForce)
	if err != nil || d.Promoted || !strings.Contains(d.Reason, "recall") && !strings.Contains(d.Reason, "precision") {
		t.Fatalf("worse candidate: %+v, %v", d, err)
	}
	if !strings.HasSuffix(d.Kept, "model.refused-gbdt-nobodyflags.json") {
		t.Fatalf("refused candidate kept as %q", d.Kept)
	}
	m, err := model.Load(inForce)
	if err != nil || m.ID() != res.File.ID {
		t.Fatalf("model in force now %v (%v), want %s", m, err, res.File.ID)
	}
	prom := filepath.Join(t.TempDir(), "promotion.prom")
	if err := WriteMetrics(prom, d, time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(prom)
	for _, want := range []string{"bulwark_model_promotion_promoted 0", `bulwark_model_promotion_recall{model="candidate"} 0`,
		`bulwark_model_promotion_precision{model="in_force"}`, "bulwark_model_promotion_timestamp_seconds 1.7e+09"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("metrics file lacks %q:\n%s", want, text)
		}
	}
}

func TestLabelsRefused(t *testing.T) {
	f := func(labels map[string]simulate.Label, want string) {
		t.Helper()
		_, err := newLabeller(labels)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: err = %v, want %q", labels, err, want)
		}
	}
	f(map[string]simulate.Label{"not-an-ip": {Label: "bot"}}, "neither an IP")
	f(map[string]simulate.Label{"192.0.2.1": {Label: "robot"}}, `label "robot"`)
	l, err := newLabeller(map[string]simulate.Label{"session:abc": {Label: "bot"}, "::ffff:192.0.2.1": {Label: "human"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.sessions) != 1 || len(l.ips) != 1 {
		t.Fatalf("labeller %+v", l)
	}
}

func TestNoSamples(t *testing.T) {
	path, _ := simulated(t, 2, 2*time.Minute)
	_, err := Run(context.Background(), config(path, map[string]simulate.Label{"192.0.2.250": {Label: "bot"}}))
	if !errors.Is(err, ErrNoSamples) {
		t.Fatalf("err = %v, want ErrNoSamples", err)
	}
}

func TestDue(t *testing.T) {
	var got []uint32
	for n := uint32(1); n <= 70; n++ {
		if due(n, 32) {
			got = append(got, n)
		}
	}
	want := []uint32{1, 2, 3, 4, 8, 16, 32, 64}
	if len(got) != len(want) {
		t.Fatalf("due: %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("due: %v, want %v", got, want)
		}
	}
}

func TestSessionLabelsLabelTheAddress(t *testing.T) {
	l, err := newLabeller(map[string]simulate.Label{"session:abc": {Label: "bot", Kind: "headless"}})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{lab: l, seen: map[uint64]uint32{}, ds: &model.Dataset{}, every: DefaultSampleEvery}
	var v features.Vector
	v.Set(features.Rate10s, 3)
	for _, sid := range []string{"abc", "other"} {
		ev := &eventpb.RequestEvent{ClientIp: "198.51.100.7", SessionId: sid, TimeUnixNano: 1}
		c.sample(&aggregator.Sample{Kind: subject.KindIP, Event: ev, Vector: &v})
		c.sample(&aggregator.Sample{Kind: subject.KindSession, Event: ev, Vector: &v})
	}
	if c.ds.Len() != 1 || !c.ds.Y[0] || c.ds.Groups[0] != "headless" {
		t.Fatalf("samples %d (want 1 ip: sample labelled bot by its session)", c.ds.Len())
	}
}
