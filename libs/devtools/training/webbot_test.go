package training

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
)

// webbotConfig trains on the excerpt of the Web Bot Detection Dataset
// (testdata/webbot/README.md): an anonymised log, labels of session ids.
func webbotConfig(t *testing.T) Config {
	t.Helper()
	fh, err := os.Open("testdata/webbot/train-labels.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	labels, err := simulate.ParseLabels(fh)
	if err != nil {
		t.Fatal(err)
	}
	p := model.DefaultParams()
	p.Trees = 20
	return Config{
		Replay: replay.Config{
			Files:  []string{filepath.Join("testdata", "webbot", "bots.log"), filepath.Join("testdata", "webbot", "humans.log")},
			Format: logparse.FormatApache,
			ParseOptions: logparse.Options{
				LogFormat:    `%h %l %t "%r" %>s %b "%{Referer}i" %{SESSION_ID}e "%{User-Agent}i"`,
				SessionField: "SESSION_ID",
			},
		},
		Labels: labels, Params: p, TestShare: 0.3, Threshold: 0.7, RuleThreshold: 70, Seed: 1,
	}
}

func TestTrainOnSessionLabels(t *testing.T) {
	cfg := webbotConfig(t)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := res.File
	if len(f.Subjects) != 1 || f.Subjects[0] != model.SubjectSession {
		t.Fatalf("model subjects %v, want [session]: the labels name sessions", f.Subjects)
	}
	if f.Data.Subjects != 7 || f.Data.Positives == 0 {
		t.Fatalf("data %+v: want the 7 labelled sessions sampled", f.Data)
	}
	// Bots and people were recorded on different days: a time split would
	// test on bots alone, so auto holds whole sessions out and says so.
	if res.Split != SplitSession || res.SplitNote == "" || f.Data.Split != SplitSession || !f.Data.TrainUntil.IsZero() {
		t.Fatalf("split %q (%q), file %q %v: want the session split", res.Split, res.SplitNote, f.Data.Split, f.Data.TrainUntil)
	}
	if res.Train+res.Test != f.Data.Samples {
		t.Fatalf("%d samples trained and %d tested, of %d", res.Train, res.Test, f.Data.Samples)
	}
	if f.Evaluation == nil || f.Evaluation.SubjectsModel.TP+f.Evaluation.SubjectsModel.FN == 0 ||
		f.Evaluation.SubjectsModel.TN+f.Evaluation.SubjectsModel.FP == 0 {
		t.Fatalf("evaluation %+v: want bots and people held out", f.Evaluation)
	}
	// The session split is seeded: the same seed, the same model.
	again, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.File.ID != f.ID || again.File.Data.Digest != f.Data.Digest {
		t.Fatalf("two runs with seed 1 differ: %s %s", f.ID, again.File.ID)
	}
	// An explicit time split is kept, whatever it gives.
	cfg.Split = SplitTime
	if res, err = Run(context.Background(), cfg); err == nil && res.Split != SplitTime {
		t.Fatalf("split %q, want time when asked", res.Split)
	}
	cfg.Split = "random"
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Fatal("an unknown split was accepted")
	}
}

func TestCrossValidationGroupsSessions(t *testing.T) {
	cfg := webbotConfig(t)
	cfg.Folds = 3
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cv := res.CV
	if cv == nil || cv.Folds != 3 {
		t.Fatalf("cross-validation %+v", cv)
	}
	m := cv.SubjectsModel
	if m.TP+m.FP+m.TN+m.FN != 7 {
		t.Fatalf("subject figures %+v: want each of the 7 sessions tested once", m)
	}
	kinds := 0
	for _, k := range cv.Kinds {
		kinds += k.Subjects
	}
	if kinds != 7 || len(cv.Kinds) != 3 {
		t.Fatalf("kinds %+v: want advanced_bot, human, moderate_bot over 7 sessions", cv.Kinds)
	}
	// Folds never split a subject.
	folds := subjectFolds(res.Dataset, 3, 1)
	seen := map[uint64]int{}
	for _, s := range res.Dataset.Subj {
		if f, ok := seen[s]; ok && f != folds[s] {
			t.Fatalf("subject %x in folds %d and %d", s, f, folds[s])
		}
		seen[s] = folds[s]
	}
}
