package training

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
)

// Ways of holding samples out for the evaluation (Config.Split).
const (
	// SplitAuto is the time split unless it leaves the training or the
	// test side with one class only; then the session split.
	SplitAuto = "auto"
	// SplitTime trains on the earlier samples and tests on the later: the
	// honest test of a detector that meets tomorrow's traffic, when bots
	// and people are spread over the same time.
	SplitTime = "time"
	// SplitSession holds whole subjects out, stratified by kind, seeded:
	// for labelled sets whose bots and people were recorded at different
	// times (a time split would test on bots alone, or people alone).
	SplitSession = "session"
)

// subjectKind decides which subjects are sampled: what the flag says, else
// sessions when every label names a session (a dataset of session ids),
// else addresses.
func subjectKind(flag string, l *labeller) (string, error) {
	switch flag {
	case model.SubjectIP, model.SubjectSession:
		return flag, nil
	case "":
		if len(l.sessions) > 0 && len(l.ips) == 0 {
			return model.SubjectSession, nil
		}
		return model.SubjectIP, nil
	}
	return "", fmt.Errorf("subjects %q: want %s or %s", flag, model.SubjectIP, model.SubjectSession)
}

// holdOut splits ds's rows into training and test rows as how says.
func holdOut(ds *model.Dataset, share float64, how string, seed uint64) (train, test []int, until int64, used, note string, err error) {
	switch how {
	case "", SplitAuto, SplitTime:
		until = ds.TimeQuantile(1 - share)
		train, test = ds.Split(until)
		if how == SplitTime || (classes(ds, train) == 2 && classes(ds, test) == 2) {
			return train, test, until, SplitTime, "", nil
		}
		note = "the time split left bots or people on one side only (they were recorded at different times): whole subjects held out instead"
	case SplitSession:
	default:
		return nil, nil, 0, "", "", fmt.Errorf("split %q: want %s, %s or %s", how, SplitAuto, SplitTime, SplitSession)
	}
	folds := subjectFolds(ds, max(2, int(math.Round(1/share))), seed)
	train, test = nil, nil
	for r, s := range ds.Subj {
		if folds[s] == 0 {
			test = append(test, r)
		} else {
			train = append(train, r)
		}
	}
	return train, test, 0, SplitSession, note, nil
}

// classes counts the classes (bot, person) among rows.
func classes(ds *model.Dataset, rows []int) int {
	var bot, human bool
	for _, r := range rows {
		if ds.Y[r] {
			bot = true
		} else {
			human = true
		}
	}
	n := 0
	if bot {
		n++
	}
	if human {
		n++
	}
	return n
}

// subjectFolds deals ds's subjects into k folds, kind by kind (stratified:
// every fold gets its share of each kind), in an order shuffled by seed;
// each kind starts where the previous one stopped, so that kinds of few
// subjects do not all land in fold 0.
func subjectFolds(ds *model.Dataset, k int, seed uint64) map[uint64]int {
	byGroup := map[uint16][]uint64{}
	seen := map[uint64]bool{}
	for r, s := range ds.Subj {
		if !seen[s] {
			seen[s] = true
			byGroup[ds.Group[r]] = append(byGroup[ds.Group[r]], s)
		}
	}
	groups := make([]uint16, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b uint16) int { return cmp.Compare(ds.Groups[a], ds.Groups[b]) })
	folds := make(map[uint64]int, len(seen))
	next := 0
	for _, g := range groups {
		subs := byGroup[g]
		slices.Sort(subs)
		rng := rand.New(rand.NewPCG(seed, uint64(g)))
		rng.Shuffle(len(subs), func(i, j int) { subs[i], subs[j] = subs[j], subs[i] })
		for _, s := range subs {
			folds[s] = next % k
			next++
		}
	}
	return folds
}
