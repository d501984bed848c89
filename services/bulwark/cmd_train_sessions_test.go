package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The dataset's own files, end to end: train on labels of session ids
// (text, as published) from an anonymised log, then replay with the model
// and the test labels, reported per session.
func TestTrainAndReplaySessionLabels(t *testing.T) {
	dir := t.TempDir()
	modelFile := filepath.Join(dir, "model.json")
	logs := []string{filepath.Join(webbotDir, "bots.log"), filepath.Join(webbotDir, "humans.log")}
	parse := []string{"--format", "apache", "--log-format", webbotFormat, "--session-field", "SESSION_ID"}
	args := append(append([]string{"train"}, parse...), "--labels", filepath.Join(webbotDir, "train-labels.txt"),
		"--trees", "10", "--folds", "2", "--output", modelFile)
	out, err := runCLI(t, append(args, logs...)...)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	for _, want := range []string{
		"samples of 7 subjects",
		"split session: trained on",
		"(split auto: the time split left bots or people on one side only",
		"the model scores session subjects",
		"cross-validation: 2 folds grouped by subject (seed 1)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("train output lacks %q:\n%s", want, out)
		}
	}
	args = append(append([]string{"replay"}, parse...), "--labels", filepath.Join(webbotDir, "test-labels.txt"),
		"--model", modelFile, "--output", filepath.Join(dir, "v.jsonl"), "--no-progress")
	out, err = runCLI(t, append(args, logs...)...)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	for _, want := range []string{"Clients are the log's sessions", "| moderate_bot | bot | 1 | 34 |", "(sessions)", "7 sessions not in the labels file",
		"no labelled person sent a request in the input: the false-positive rate was not measured"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay output lacks %q:\n%s", want, out)
		}
	}
	// A labels line that is not SUBJECT LABEL stops with its number.
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("a human\nb advanced_botc human\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args = append(append([]string{"train"}, parse...), "--labels", bad, "--output", modelFile)
	if _, err := runCLI(t, append(args, logs...)...); err == nil || !strings.Contains(err.Error(), "labels line 2") {
		t.Fatalf("junk labels: %v", err)
	}
}
