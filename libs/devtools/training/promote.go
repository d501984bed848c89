package training

import (
	"errors"
	"fmt"
	"io/fs"

	"path/filepath"
	"strings"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
)

// Decision is the outcome of a promotion: the candidate and the model in
// force scored on the same held-out samples.
type Decision struct {
	Promoted  bool
	Reason    string
	Candidate model.Figures
	Current   *model.Figures // nil when no model was in force
	// Kept is where the refused candidate, or the replaced model, was kept.
	Kept string
}

// Promote puts the candidate of res in force at path (the file the
// aggregator reads and reloads) only if, on res's held-out samples, it is
// no worse than the model at path on precision and on recall. A refused
// candidate is kept beside path as <name>.refused-<id>.json for inspection;
// a replaced model as <name>.<id>.json, for a rollback.
func Promote(res *Result, path string) (*Decision, error) {
	if res.File.Evaluation == nil || res.Test == 0 {
		return nil, errors.New("promote: no held-out samples to compare on (--test-share 0?)")
	}
	cand, err := model.Compile(res.File)
	if err != nil {
		return nil, err
	}
	ds := res.Dataset
	test := ds.TestRows(res.File.Data.TrainUntil)
	ruleThr := res.File.Evaluation.Rules.Threshold * 100
	d := &Decision{Candidate: model.Evaluate(cand, ds, test, ruleThr).Model}
	cur, err := model.Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.Promoted, d.Reason = true, "no model in force"
	case err != nil:
		return nil, fmt.Errorf("promote: the model in force: %w", err)
	default:
		f := model.Evaluate(cur, ds, test, ruleThr).Model
		d.Current = &f
		switch {
		case d.Candidate.Precision < f.Precision:
			d.Reason = fmt.Sprintf("precision %.4f < %.4f of %s", d.Candidate.Precision, f.Precision, cur.ID())
		case d.Candidate.Recall < f.Recall:
			d.Reason = fmt.Sprintf("recall %.4f < %.4f of %s", d.Candidate.Recall, f.Recall, cur.ID())
		default:
			d.Promoted, d.Reason = true, fmt.Sprintf("no worse than %s on precision and recall", cur.ID())
		}
	}
	base := strings.TrimSuffix(path, filepath.Ext(path))
	if !d.Promoted {
		d.Kept = base + ".refused-" + res.File.ID + ".json"
		return d, model.Save(d.Kept, res.File)
	}
	if d.Current != nil {
		d.Kept = base + "." + cur.ID() + ".json"
		if err := model.Save(d.Kept, cur.File()); err != nil {
			return nil, err
		}
	}
	if err := model.Save(path, res.File); err != nil {
		return nil, err
	}
	return d, nil
}
