package training

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
)

// A model trained on one simulated day is evaluated on another: every
// sample is scored, nothing is trained, the model's own file is untouched.
func TestEvaluateOnly(t *testing.T) {
	path1, labels1 := simulated(t, 1, 20*time.Minute)
	trained, err := Run(context.Background(), config(path1, labels1))
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Compile(trained.File)
	if err != nil {
		t.Fatal(err)
	}
	own := trained.File.Evaluation
	path2, labels2 := simulated(t, 2, 20*time.Minute)
	cfg := config(path2, labels2)
	cfg.Evaluate = m
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := res.File.Evaluation
	if res.File.ID != m.ID() || res.Train != 0 || res.Test != res.Dataset.Len() || e == nil || e.Samples != res.Dataset.Len() {
		t.Fatalf("evaluation of %s: train %d, test %d of %d samples, evaluation %+v", res.File.ID, res.Train, res.Test, res.Dataset.Len(), e)
	}
	if e.Model.TP+e.Model.FN == 0 || e.Model.TN+e.Model.FP == 0 || e.Rules.AUC == 0 {
		t.Fatalf("figures %+v / rules %+v", e.Model, e.Rules)
	}
	if m.File().Evaluation != own {
		t.Fatal("the model's own evaluation was replaced")
	}
}
