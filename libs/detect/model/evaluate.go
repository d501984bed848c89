package model

import (
	"cmp"
	"slices"
)

// Figures are a detector's figures on labelled samples at a threshold.
type Figures struct {
	Threshold float64 `json:"threshold"`
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	TN        int     `json:"tn"`
	FN        int     `json:"fn"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	FPR       float64 `json:"fpr"` // false-positive rate: people flagged / people
	AUC       float64 `json:"roc_auc"`
}

// Evaluation is a held-out test: the model and the rule scorer on the same
// samples, and on the same subjects (a subject counts as flagged when any
// of its test samples is).
type Evaluation struct {
	Samples       int           `json:"samples"`
	Model         Figures       `json:"model"`
	Rules         Figures       `json:"rules"`
	SubjectsModel Figures       `json:"subjects_model"`
	SubjectsRules Figures       `json:"subjects_rules"`
	Kinds         []KindFigures `json:"kinds,omitempty"`
}

// KindFigures are the subject-level figures of one kind of client.
type KindFigures struct {
	Kind         string `json:"kind"`
	Bot          bool   `json:"bot"`
	Subjects     int    `json:"subjects"`
	ModelFlagged int    `json:"model_flagged"`
	RulesFlagged int    `json:"rules_flagged"`
}

// Score computes the figures of scores (probabilities) against labels at
// threshold thr: a score >= thr flags.
func Score(scores []float64, bot []bool, thr float64) Figures {
	f := Figures{Threshold: thr, AUC: AUC(scores, bot)}
	for i, s := range scores {
		switch flagged := s >= thr; {
		case flagged && bot[i]:
			f.TP++
		case flagged:
			f.FP++
		case bot[i]:
			f.FN++
		default:
			f.TN++
		}
	}
	f.Precision = ratio(f.TP, f.TP+f.FP)
	f.Recall = ratio(f.TP, f.TP+f.FN)
	f.FPR = ratio(f.FP, f.FP+f.TN)
	return f
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// AUC is the area under the ROC curve: the probability that a random bot
// scores above a random person (ties count half).
func AUC(scores []float64, bot []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	var pos, neg int
	var rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // mean 1-based rank of the tie group
		for _, k := range idx[i:j] {
			if bot[k] {
				pos++
				rankSum += mid
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return 0
	}
	return (rankSum - float64(pos)*float64(pos+1)/2) / (float64(pos) * float64(neg))
}

// Evaluate tests m against the rows of d: the model at its threshold, the
// rule scorer at ruleThr (score points, the challenge level), per sample and
// per subject, and per kind.
func Evaluate(m *Model, d *Dataset, rows []int, ruleThr float64) *Evaluation {
	ms := make([]float64, len(rows))
	rs := make([]float64, len(rows))
	y := make([]bool, len(rows))
	type subj struct {
		bot          bool
		group        uint16
		model, rules float64
	}
	subs := map[uint64]*subj{}
	var order []uint64
	for i, r := range rows {
		ms[i] = m.Predict(&d.X[r])
		rs[i] = d.Rule[r] / 100
		y[i] = d.Y[r]
		s := subs[d.Subj[r]]
		if s == nil {
			s = &subj{bot: d.Y[r], group: d.Group[r]}
			subs[d.Subj[r]] = s
			order = append(order, d.Subj[r])
		}
		s.model = max(s.model, ms[i])
		s.rules = max(s.rules, rs[i])
	}
	e := &Evaluation{Samples: len(rows), Model: Score(ms, y, m.threshold), Rules: Score(rs, y, ruleThr/100)}
	sm, sr, sy := make([]float64, len(order)), make([]float64, len(order)), make([]bool, len(order))
	kinds := map[uint16]*KindFigures{}
	for i, k := range order {
		s := subs[k]
		sm[i], sr[i], sy[i] = s.model, s.rules, s.bot
		kf := kinds[s.group]
		if kf == nil {
			kf = &KindFigures{Kind: d.Groups[s.group], Bot: s.bot}
			kinds[s.group] = kf
		}
		kf.Subjects++
		if s.model >= m.threshold {
			kf.ModelFlagged++
		}
		if s.rules >= ruleThr/100 {
			kf.RulesFlagged++
		}
	}
	e.SubjectsModel = Score(sm, sy, m.threshold)
	e.SubjectsRules = Score(sr, sy, ruleThr/100)
	for _, kf := range kinds {
		e.Kinds = append(e.Kinds, *kf)
	}
	slices.SortFunc(e.Kinds, func(a, b KindFigures) int { return cmp.Compare(a.Kind, b.Kind) })
	return e
}
