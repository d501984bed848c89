package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestTrainFollow runs `bulwark train --follow` as a deployment does: two
// new labels on the feedback topic start a retraining whose candidate is
// promoted into the model file; its figures are on /metrics; a cancelled
// context (SIGINT/SIGTERM in main) stops it cleanly.
func TestTrainFollow(t *testing.T) {
	b := kafkatest.Start(t)
	kc := kafkatest.Config(b)
	dir := t.TempDir()
	logf, labels, mfile := filepath.Join(dir, "s.log"), filepath.Join(dir, "s.labels.json"), filepath.Join(dir, "model.json")
	if out, err := runCLI(t, "simulate", "--duration", "20m", "--seed", "4", "--evasion", "0.5", "--output", logf, "--labels", labels); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	// Usage errors stop it before it starts.
	for _, args := range [][]string{
		{"train", "--follow", "--after-labels", "2", "--format", "nginx", "--labels", labels, logf},
		{"train", "--follow", "--promote", mfile, "--format", "nginx", "--labels", labels, logf},
		{"train", "--follow", "--after-labels", "2", "--promote", mfile, "--output", mfile, "--format", "nginx", logf},
	} {
		if _, err := runCLI(t, append([]string{"--brokers=" + b.Addr()}, args...)...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"--brokers=" + b.Addr(), "train", "--follow", "--after-labels", "2", "--metrics-addr", addr,
		"--promote", mfile, "--format", "nginx", "--labels", labels, "--trees", "5", logf})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	metrics := testkit.Scrape("http://" + addr + "/metrics")
	scrape := func() (float64, bool) {
		g, err := testkit.Snapshot(metrics)
		if err != nil {
			return 0, false
		}
		return testkit.Metric(t, g, "bulwark_model_training_runs_total", "trigger", "labels", "outcome", "promoted"), true
	}
	testkit.Eventually(t, 30*time.Second, "train --follow serving /metrics", func() bool { _, ok := scrape(); return ok })
	cl := kafkatest.Client(t, b, kgo.DefaultProduceTopic(kc.Topics.Feedback))
	for _, f := range []*eventpb.Feedback{
		{Subject: "ip:192.0.2.1", Kind: eventpb.FeedbackKind_LABEL_BOT},
		{Subject: "ip:192.0.2.2", Kind: eventpb.FeedbackKind_CHALLENGE_PASSED},
	} {
		v, _ := proto.Marshal(f)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte(f.Subject), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 2*time.Minute, "a promotion after two labels", func() bool { n, _ := scrape(); return n == 1 })
	m, err := model.Load(mfile)
	if err != nil {
		t.Fatalf("promoted model: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("train --follow after SIGTERM: %v\n%s", err, out.String())
	}
	for _, want := range []string{"feedback: 2 records (0 unreadable): 1 human and 1 bot labels", "promoted " + m.ID() + " to " + mfile + ": no model in force"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
