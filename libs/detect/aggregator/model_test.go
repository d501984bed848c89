package aggregator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// refererModel is a one-split model: a subject whose requests mostly lack a
// referer is a bot (p = 0.998), any other one a person (p = 0.002).
func refererModel(t testing.TB, mode model.Mode, weight float64) *model.Holder {
	t.Helper()
	m, err := model.Compile(&model.File{Format: model.Format, ID: "gbdt-test", Kind: "gbdt", Threshold: 0.7,
		Features: []string{"referer_missing_share_10m"},
		Trees: []model.Tree{{Nodes: []model.Node{
			{Feature: 0, Threshold: 0.5, MissingLeft: true, Left: 1},
			{Feature: -1, Value: -6.2},
			{Feature: -1, Value: 6.2},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := model.NewActive(m, mode, weight)
	if err != nil {
		t.Fatal(err)
	}
	return model.NewHolder(a)
}

// quietBot browses slowly like a person, with a browser's user agent, but
// never sends a referer: the rules barely notice it, the model does.
func quietTraffic() *traffic {
	tr := newTraffic(3)
	for i := range 10 {
		tr.human(fmt.Sprintf("198.51.100.%d", i+1), chromeUA, time.Duration(i)*time.Second, 10*time.Minute)
	}
	for at := time.Duration(0); at < 10*time.Minute; at += 7 * time.Second {
		tr.add(at, "203.0.113.9", "GET", fmt.Sprintf("/product/%d", tr.rng.IntN(5000)), "", 200, chromeUA, "")
	}
	return tr
}

func runAll(evs []*eventpb.RequestEvent, opts ...Option) []*eventpb.Score {
	e := NewEngine(testConfig(), opts...)
	var out, dst []*eventpb.Score
	for _, ev := range evs {
		dst = e.Process(ev, dst[:0])
		out = append(out, dst...)
	}
	return out
}

func TestModelShadowChangesNothing(t *testing.T) {
	evs := quietTraffic().sorted()
	plain := runAll(evs)
	shadow := runAll(evs, WithModel(refererModel(t, model.Shadow, 1)))
	if len(plain) != len(shadow) {
		t.Fatalf("%d scores without the model, %d in shadow mode", len(plain), len(shadow))
	}
	for i, s := range shadow {
		p := plain[i]
		if s.Subject != p.Subject || s.Score != p.Score || strings.Join(s.Reasons, ",") != strings.Join(p.Reasons, ",") {
			t.Fatalf("score %d: shadow %s %.1f %v, plain %s %.1f %v", i, s.Subject, s.Score, s.Reasons, p.Subject, p.Score, p.Reasons)
		}
		isIP := strings.HasPrefix(s.Subject, "ip:")
		if isIP != (s.ModelScore != nil) {
			t.Fatalf("%s: model score %v (want one on ip: subjects only)", s.Subject, s.ModelScore)
		}
		if isIP && s.Model != "gbdt-test/shadow" {
			t.Fatalf("%s: model %q", s.Subject, s.Model)
		}
	}
}

func TestModelReplaceAndBlend(t *testing.T) {
	evs := quietTraffic().sorted()
	plainBest, _ := maxScores(evs)
	f := func(mode model.Mode, weight, lo float64) {
		t.Helper()
		best, why := maxScores(evs, WithModel(refererModel(t, mode, weight)))
		if got := best["ip:203.0.113.9"]; got < lo {
			t.Errorf("%s: the quiet bot scored %.1f (rules alone %.1f), want >= %.0f", mode, got, plainBest["ip:203.0.113.9"], lo)
		}
		if r := why["ip:203.0.113.9"]; len(r) == 0 || r[0] != "model=0.99 (referer_missing_share_10m)" {
			t.Errorf("%s: reasons %v, want the model's first", mode, r)
		}
		for s, v := range best {
			if strings.HasPrefix(s, "ip:198.51.100.") && v >= 50 {
				t.Errorf("%s: person %s scored %.1f (%v)", mode, s, v, why[s])
			}
		}
	}
	f(model.Replace, 0, 99)
	f(model.Blend, 0.8, 79)
}

func TestModelRemovedWhileRunning(t *testing.T) {
	h := refererModel(t, model.Replace, 0)
	e := NewEngine(testConfig(), WithModel(h))
	evs := quietTraffic().sorted()
	var dst []*eventpb.Score
	for i, ev := range evs {
		if i == len(evs)/2 {
			h.Store(nil) // a reload that removed the model
		}
		dst = e.Process(ev, dst[:0])
		for _, s := range dst {
			if i > len(evs)/2 && s.ModelScore != nil {
				t.Fatalf("%s: scored by a removed model", s.Subject)
			}
		}
	}
}

func TestSamplerSeesEveryScoredSubject(t *testing.T) {
	kinds := map[subject.Kind]int{}
	runAll(quietTraffic().sorted(), WithSampler(func(s *Sample) {
		if s.Vector == nil || s.Event == nil || s.Vector.Len() == 0 {
			t.Fatalf("empty sample %+v", s)
		}
		kinds[s.Kind]++
	}))
	if kinds[subject.KindIP] == 0 || kinds[subject.KindSession] == 0 || kinds[subject.KindNet] == 0 {
		t.Fatalf("samples by kind: %v", kinds)
	}
}
