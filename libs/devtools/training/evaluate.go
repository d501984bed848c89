package training

import (
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
)

// evaluateOnly scores a model trained elsewhere on every sample of this
// input, next to the rules on the same samples (`bulwark train --evaluate`):
// a held-out test on another day, site or seed, with the figures the
// training report gives. The result's File is the model's, with this
// Evaluation in place of its own; Test counts the samples.
func evaluateOnly(cfg Config, ds *model.Dataset, rr *replay.Result) *Result {
	f := *cfg.Evaluate.File()
	f.Evaluation = model.Evaluate(cfg.Evaluate, ds, all(ds.Len()), cfg.RuleThreshold)
	return &Result{File: &f, Dataset: ds, Replay: rr, Test: ds.Len()}
}
