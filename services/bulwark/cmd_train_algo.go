package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/devtools/training"
)

// registerAlgoFlags adds `bulwark train`'s choice of model and the MLP's
// parameters (the trees' are --trees, --depth, --learning-rate).
func registerAlgoFlags(f *pflag.FlagSet, p *model.Params, mlp *model.MLPParams) {
	f.StringVar(&p.Algo, "algo", model.KindGBDT, "model to train: gbdt (gradient-boosted trees) or mlp (a small neural network: hidden ReLU layers over the standardised features)")
	f.Var(hiddenFlag{&mlp.Hidden}, "hidden", "with --algo mlp: units of the hidden layers, one or two, e.g. 16,8")
	f.IntVar(&mlp.Epochs, "epochs", mlp.Epochs, "with --algo mlp: passes over the training samples")
	f.Float64Var(&mlp.LearningRate, "mlp-learning-rate", mlp.LearningRate, "with --algo mlp: Adam's step size (decayed linearly to a tenth)")
}

// setAlgo checks --algo and gives the MLP its parameters.
func setAlgo(p *model.Params, mlp *model.MLPParams) error {
	switch p.Algo {
	case model.KindGBDT:
		p.Algo, p.MLP = "", nil
	case model.KindMLP:
		p.MLP = mlp
	default:
		return fmt.Errorf("--algo %q: want gbdt or mlp", p.Algo)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("--algo %s: %w", p.Algo, err)
	}
	return nil
}

// describeModel says what was trained, for the report's first line.
func describeModel(f *model.File) string {
	if f.Kind == model.KindMLP && f.MLP != nil {
		units := make([]string, 0, len(f.MLP.Layers))
		for _, l := range f.MLP.Layers[:len(f.MLP.Layers)-1] {
			units = append(units, strconv.Itoa(l.Out))
		}
		return fmt.Sprintf("an MLP with hidden layers of %s units, %d epochs", strings.Join(units, ", "), f.Params.MLP.Epochs)
	}
	return fmt.Sprintf("%d trees of depth %d", len(f.Trees), f.Params.MaxDepth)
}

// hiddenFlag is --hidden: comma-separated layer sizes.
type hiddenFlag struct{ p *[]int }

func (h hiddenFlag) String() string {
	if h.p == nil {
		return ""
	}
	s := make([]string, len(*h.p))
	for i, n := range *h.p {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (h hiddenFlag) Set(v string) error {
	var out []int
	for _, part := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("want layer sizes like 16,8: %w", err)
		}
		out = append(out, n)
	}
	*h.p = out
	return nil
}

func (hiddenFlag) Type() string { return "units" }

// writeEvaluateReport prints `bulwark train --evaluate`'s figures.
func writeEvaluateReport(w io.Writer, res *training.Result, took time.Duration, rulesFile string) {
	ds := res.Dataset
	pos := 0
	for _, y := range ds.Y {
		if y {
			pos++
		}
	}
	f := res.File
	fmt.Fprintf(w, "evaluated %s (%s, trained %s) in %s: %d lines, %d samples of %d subjects (%.1f%% bot samples), every sample tested\n\n",
		f.ID, describeModel(f), f.TrainedAt.Format(time.RFC3339), took.Round(100*time.Millisecond), res.Replay.Lines, ds.Len(), ds.Subjects(),
		100*float64(pos)/float64(max(ds.Len(), 1)))
	writeEvaluation(w, f, rulesFile)
}
