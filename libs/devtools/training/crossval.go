package training

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
)

// CrossValidation is a k-fold cross-validation grouped by subject: each
// fold's subjects are tested by a model trained on the other folds' (the
// samples of one subject are never on both sides). The figures are per
// subject (flagged when any of its samples is), summed over the folds; on a
// small labelled set they say more than one held-out split.
type CrossValidation struct {
	Folds         int                 `json:"folds"`
	Seed          uint64              `json:"seed"`
	SubjectsModel model.Figures       `json:"subjects_model"`
	SubjectsRules model.Figures       `json:"subjects_rules"`
	Kinds         []model.KindFigures `json:"kinds"`
}

// CrossValidate runs k folds over ds (weighted already) with p, the model
// flagging at threshold and the rules at ruleThreshold (score points).
func CrossValidate(ds *model.Dataset, k int, seed uint64, p model.Params, threshold, ruleThreshold float64) (*CrossValidation, error) {
	if k < 2 {
		return nil, fmt.Errorf("folds %d: want at least 2", k)
	}
	folds := subjectFolds(ds, k, seed)
	cv := &CrossValidation{Folds: k, Seed: seed}
	cv.SubjectsModel.Threshold, cv.SubjectsRules.Threshold = threshold, ruleThreshold/100
	kinds := map[string]*model.KindFigures{}
	for fold := range k {
		var train, test []int
		for r, s := range ds.Subj {
			if folds[s] == fold {
				test = append(test, r)
			} else {
				train = append(train, r)
			}
		}
		if len(test) == 0 {
			continue // fewer subjects than folds
		}
		f, err := model.Train(ds, train, p)
		if err != nil {
			return nil, fmt.Errorf("fold %d of %d: %w", fold+1, k, err)
		}
		f.Threshold = threshold
		m, err := model.Compile(f)
		if err != nil {
			return nil, fmt.Errorf("fold %d of %d: %w", fold+1, k, err)
		}
		ev := model.Evaluate(m, ds, test, ruleThreshold)
		addCounts(&cv.SubjectsModel, ev.SubjectsModel)
		addCounts(&cv.SubjectsRules, ev.SubjectsRules)
		for _, kf := range ev.Kinds {
			acc := kinds[kf.Kind]
			if acc == nil {
				acc = &model.KindFigures{Kind: kf.Kind, Bot: kf.Bot}
				kinds[kf.Kind] = acc
			}
			acc.Subjects += kf.Subjects
			acc.ModelFlagged += kf.ModelFlagged
			acc.RulesFlagged += kf.RulesFlagged
		}
	}
	rates(&cv.SubjectsModel)
	rates(&cv.SubjectsRules)
	for _, kf := range kinds {
		cv.Kinds = append(cv.Kinds, *kf)
	}
	slices.SortFunc(cv.Kinds, func(a, b model.KindFigures) int { return cmp.Compare(a.Kind, b.Kind) })
	return cv, nil
}

func addCounts(dst *model.Figures, f model.Figures) {
	dst.TP += f.TP
	dst.FP += f.FP
	dst.TN += f.TN
	dst.FN += f.FN
}

// rates fills precision, recall and the false-positive rate from the
// counts (AUC is not summed over folds: left 0).
func rates(f *model.Figures) {
	div := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	f.Precision, f.Recall, f.FPR = div(f.TP, f.TP+f.FP), div(f.TP, f.TP+f.FN), div(f.FP, f.FP+f.TN)
}
