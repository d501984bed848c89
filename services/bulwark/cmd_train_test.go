package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// TestTrainThenReplay is the operator's path: simulate labelled traffic,
// train, replay with --compare MODEL.json.
func TestTrainThenReplay(t *testing.T) {
	dir := t.TempDir()
	logf, labels, mfile := filepath.Join(dir, "s.log"), filepath.Join(dir, "s.labels.json"), filepath.Join(dir, "model.json")
	if out, err := runCLI(t, "simulate", "--duration", "30m", "--seed", "1", "--evasion", "0.5", "--output", logf, "--labels", labels); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	out, err := runCLI(t, "train", "--format", "nginx", "--labels", labels, "--trees", "20", "--output", mfile, logf)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	for _, want := range []string{"trained gbdt-", "samples  rules shipped default", "subjects                  model", "wrote " + mfile} {
		if !strings.Contains(out, want) {
			t.Errorf("train report lacks %q:\n%s", want, out)
		}
	}
	m, err := model.Load(mfile)
	if err != nil {
		t.Fatal(err)
	}
	if f := m.File(); f.Evaluation == nil || f.Data.Digest == "" || len(f.Trees) != 20 || f.Data.LabelsFile != labels {
		t.Fatalf("model file: evaluation %v, digest %q, %d trees, labels %q", f.Evaluation, f.Data.Digest, len(f.Trees), f.Data.LabelsFile)
	}
	// (replay prints its reports on the process's stdout, not captured here)
	if out, err := runCLI(t, "replay", "--format", "nginx", "--compare", mfile, "--output", filepath.Join(dir, "v.jsonl"), "-q", logf); err != nil {
		t.Fatalf("replay --compare model: %v\n%s", err, out)
	}
	// Retraining in place: the same data gives the same model, no worse.
	prom := filepath.Join(dir, "promotion.prom")
	out, err = runCLI(t, "train", "--format", "nginx", "--labels", labels, "--trees", "20", "--promote", mfile, "--metrics-file", prom, logf)
	if err != nil || !strings.Contains(out, "promoted "+m.ID()+" to "+mfile+": no worse than "+m.ID()) {
		t.Fatalf("train --promote: %v\n%s", err, out)
	}
	if text, err := os.ReadFile(prom); err != nil || !strings.Contains(string(text), "bulwark_model_promotion_promoted 1") {
		t.Fatalf("metrics file: %v\n%s", err, text)
	}
	if _, err := runCLI(t, "train", "--format", "nginx", "--labels", labels, "--test-share", "0", "--promote", mfile, logf); err == nil {
		t.Fatal("--promote with --test-share 0 accepted")
	}
	// Bad input: a usage error, no model written.
	if _, err := runCLI(t, "train", "--format", "nginx", "--output", filepath.Join(dir, "x.json"), logf); err == nil {
		t.Fatal("train without labels succeeded")
	}
	if _, err := runCLI(t, "replay", "--format", "nginx", "--model", labels, "-q", "--output", filepath.Join(dir, "w.jsonl"), logf); err == nil {
		t.Fatal("replay with a labels file as --model succeeded")
	}
}

// TestTrainFromFeedback labels from the feedback topic (here: an operator's
// labels of a few clients of the simulation) and reports what it used.
func TestTrainFromFeedback(t *testing.T) {
	b := kafkatest.Start(t)
	kc := kafkatest.Config(b)
	dir := t.TempDir()
	logf, labels := filepath.Join(dir, "s.log"), filepath.Join(dir, "s.labels.json")
	if out, err := runCLI(t, "simulate", "--duration", "20m", "--seed", "2", "--output", logf, "--labels", labels); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	cl := kafkatest.Client(t, b, kgo.DefaultProduceTopic(kc.Topics.Feedback))
	for _, f := range []*eventpb.Feedback{
		{Subject: "ip:192.0.2.1", Kind: eventpb.FeedbackKind_CHALLENGE_ABANDONED},
		{Subject: "ip:192.0.2.2", Kind: eventpb.FeedbackKind_LABEL_BOT},
	} {
		v, _ := proto.Marshal(f)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte(f.Subject), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runCLI(t, "--brokers="+b.Addr(), "train", "--feedback", "--format", "nginx", "--labels", labels, "--trees", "5",
		"--output", filepath.Join(dir, "m.json"), logf)
	if err != nil {
		t.Fatalf("train --feedback: %v\n%s", err, out)
	}
	if !strings.Contains(out, "feedback: 2 records (0 unreadable): 0 human and 1 bot labels; 1 records no evidence") {
		t.Fatalf("feedback summary missing:\n%s", out)
	}
}
