package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
)

// TestTrainMLP trains the MLP option and replays with it: the model file
// records the kind, and the same seed gives the same model.
func TestTrainMLP(t *testing.T) {
	dir := t.TempDir()
	logf, labels := filepath.Join(dir, "s.log"), filepath.Join(dir, "s.labels.json")
	if out, err := runCLI(t, "simulate", "--duration", "20m", "--seed", "1", "--evasion", "0.5", "--output", logf, "--labels", labels); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	train := func(name string, extra ...string) *model.Model {
		t.Helper()
		mfile := filepath.Join(dir, name)
		args := append([]string{"train", "--format", "nginx", "--labels", labels, "--algo", "mlp", "--epochs", "5", "--output", mfile}, extra...)
		out, err := runCLI(t, append(args, logf)...)
		if err != nil {
			t.Fatalf("train: %v\n%s", err, out)
		}
		for _, want := range []string{"trained mlp-", "an MLP with hidden layers of", "samples  rules shipped default", "wrote " + mfile} {
			if !strings.Contains(out, want) {
				t.Errorf("train report lacks %q:\n%s", want, out)
			}
		}
		m, err := model.Load(mfile)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := train("a.json")
	if f := a.File(); f.Kind != model.KindMLP || f.MLP == nil || len(f.Trees) != 0 || f.Evaluation == nil || f.Params.MLP.Seed != 1 {
		t.Fatalf("model file: kind %q, mlp %v, %d trees, evaluation %v", f.Kind, f.MLP != nil, len(f.Trees), f.Evaluation)
	}
	if b := train("b.json"); b.ID() != a.ID() {
		t.Fatalf("same seed, different models: %s, %s", a.ID(), b.ID())
	}
	if c := train("c.json", "--seed", "7", "--hidden", "12"); c.ID() == a.ID() || len(c.File().MLP.Layers) != 2 {
		t.Fatalf("--seed 7 --hidden 12: %s, %d layers", c.ID(), len(c.File().MLP.Layers))
	}
	if out, err := runCLI(t, "replay", "--format", "nginx", "--model", filepath.Join(dir, "a.json"), "--output", filepath.Join(dir, "v.jsonl"), "-q", logf); err != nil {
		t.Fatalf("replay --model mlp: %v\n%s", err, out)
	}
	// In blend mode the MLP's reason leads the verdicts it raised.
	if v, err := os.ReadFile(filepath.Join(dir, "v.jsonl")); err != nil || !strings.Contains(string(v), `"model=0.`) {
		t.Fatalf("no verdict gives the MLP's reason (%v)", err)
	}
	for _, bad := range [][]string{{"--algo", "svm"}, {"--algo", "mlp", "--hidden", "8,8,8"}, {"--algo", "mlp", "--hidden", "x"}, {"--algo", "mlp", "--epochs", "0"}} {
		args := append([]string{"train", "--format", "nginx", "--labels", labels, "--output", filepath.Join(dir, "x.json")}, bad...)
		if out, err := runCLI(t, append(args, logf)...); err == nil {
			t.Errorf("%v accepted:\n%s", bad, out)
		}
	}
}

// TestTrainEvaluate tests a model trained on one simulated day on another.
func TestTrainEvaluate(t *testing.T) {
	dir := t.TempDir()
	sim := func(seed string) (string, string) {
		logf, labels := filepath.Join(dir, seed+".log"), filepath.Join(dir, seed+".labels.json")
		if out, err := runCLI(t, "simulate", "--duration", "20m", "--seed", seed, "--evasion", "0.5", "--output", logf, "--labels", labels); err != nil {
			t.Fatalf("simulate: %v\n%s", err, out)
		}
		return logf, labels
	}
	log1, labels1 := sim("1")
	log3, labels3 := sim("3")
	mfile := filepath.Join(dir, "model.json")
	if out, err := runCLI(t, "train", "--format", "nginx", "--labels", labels1, "--test-share", "0", "--trees", "20", "--output", mfile, log1); err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	before, _ := os.ReadFile(mfile)
	out, err := runCLI(t, "train", "--format", "nginx", "--labels", labels3, "--evaluate", mfile, log3)
	if err != nil {
		t.Fatalf("train --evaluate: %v\n%s", err, out)
	}
	for _, want := range []string{"evaluated gbdt-", "20 trees of depth 5", "every sample tested", "samples                  model", "subjects  rules shipped default"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if after, _ := os.ReadFile(mfile); string(after) != string(before) {
		t.Fatal("--evaluate changed the model file")
	}
	for _, bad := range [][]string{{"--evaluate", mfile, "--output", filepath.Join(dir, "x.json")}, {"--evaluate", labels1}} {
		args := append([]string{"train", "--format", "nginx", "--labels", labels3}, bad...)
		if out, err := runCLI(t, append(args, log3)...); err == nil {
			t.Errorf("%v accepted:\n%s", bad, out)
		}
	}
}
