package training

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

func TestFollowConfigValidate(t *testing.T) {
	retrain := func(context.Context) (*Decision, error) { return nil, nil }
	f := func(cfg FollowConfig, want string) {
		t.Helper()
		err := cfg.Validate()
		if want == "" {
			if err != nil {
				t.Errorf("%+v: %v", cfg, err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: error %v, want one with %q", cfg, err, want)
		}
	}
	f(FollowConfig{Every: time.Hour, Retrain: retrain}, "")
	f(FollowConfig{AfterLabels: 500, Retrain: retrain}, "")
	f(FollowConfig{Retrain: retrain}, "needs --every, --after-labels or both")
	f(FollowConfig{Every: -time.Second, Retrain: retrain}, "must not be negative")
	f(FollowConfig{AfterLabels: -1, Retrain: retrain}, "must not be negative")
	f(FollowConfig{Every: time.Millisecond, Retrain: retrain}, "at least 1s")
	f(FollowConfig{Every: time.Hour}, "no retrain function")
}

// produce writes feedback records to the feedback topic.
func produce(t *testing.T, cl *kgo.Client, fbs ...*eventpb.Feedback) {
	t.Helper()
	for _, f := range fbs {
		v, err := proto.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte(f.Subject), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFollowRetrainsAfterLabels runs the follower as `bulwark train --follow`
// does: labels produced to the feedback topic start a retraining on the
// simulated log, whose candidate is promoted into the model file; more
// labels start another, compared with the model then in force.
func TestFollowRetrainsAfterLabels(t *testing.T) {
	b := kafkatest.Start(t)
	kc := kafkatest.Config(b)
	path, labels := simulated(t, 3, 20*time.Minute)
	mfile := filepath.Join(t.TempDir(), "model.json")
	retrain := func(ctx context.Context) (*Decision, error) {
		fbs, _, err := ReadFeedback(ctx, kc)
		if err != nil {
			return nil, err
		}
		cfg := config(path, nil)
		cfg.Params.Trees = 10
		cfg.Labels, _ = FeedbackLabels(fbs, DefaultFeedbackLimits())
		maps.Copy(cfg.Labels, labels)
		res, err := Run(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return Promote(res, mfile)
	}
	reg := prometheus.NewRegistry()
	fl, err := NewFollower(FollowConfig{AfterLabels: 3, Kafka: kc, Retrain: retrain}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fl.Run(ctx) }()

	cl := kafkatest.Client(t, b, kgo.DefaultProduceTopic(kc.Topics.Feedback))
	bot := func(i int) *eventpb.Feedback {
		return &eventpb.Feedback{Subject: fmt.Sprintf("ip:192.0.2.%d", i), Kind: eventpb.FeedbackKind_LABEL_BOT}
	}
	// Two labels and records that are no evidence: not yet due.
	produce(t, cl, bot(1), bot(2),
		&eventpb.Feedback{Subject: "ip:192.0.2.9", Kind: eventpb.FeedbackKind_CHALLENGE_ABANDONED},
		&eventpb.Feedback{Subject: "ip:192.0.2.10", Kind: eventpb.FeedbackKind_CHALLENGE_FAILED})
	testkit.Eventually(t, 30*time.Second, "four feedback records read", func() bool {
		return testkit.Metric(t, reg, "bulwark_model_training_feedback_records_total") == 4
	})
	if n := testkit.Metric(t, reg, "bulwark_model_training_labels_since_last"); n != 2 {
		t.Fatalf("labels since last %v, want 2 (abandoned and check-less failures are no evidence)", n)
	}
	if n := testkit.Metric(t, reg, "bulwark_model_training_runs_total"); n != 0 {
		t.Fatalf("%v retrainings before the third label", n)
	}
	produce(t, cl, bot(3))
	testkit.Eventually(t, 2*time.Minute, "a retraining after the third label", func() bool {
		return testkit.Metric(t, reg, "bulwark_model_training_runs_total", "trigger", "labels") == 1
	})
	if n := testkit.Metric(t, reg, "bulwark_model_training_runs_total", "trigger", "labels", "outcome", "promoted"); n != 1 {
		t.Fatalf("first candidate not promoted (no model was in force): %v", n)
	}
	first, err := model.Load(mfile)
	if err != nil {
		t.Fatalf("promoted model file: %v", err)
	}
	if p := testkit.Metric(t, reg, "bulwark_model_promotion_precision", "model", "candidate"); p <= 0 {
		t.Errorf("candidate precision %v exported", p)
	}
	if n := testkit.Metric(t, reg, "bulwark_model_training_labels_since_last"); n != 0 {
		t.Errorf("labels since last %v after the retraining, want 0", n)
	}

	// Three more: a second candidate, judged against the first.
	produce(t, cl, bot(4), bot(5), bot(6))
	testkit.Eventually(t, 2*time.Minute, "a second retraining", func() bool {
		return testkit.Metric(t, reg, "bulwark_model_training_runs_total", "trigger", "labels") == 2
	})
	if n := testkit.Metric(t, reg, "bulwark_model_training_runs_total", "outcome", "failed"); n != 0 {
		t.Fatalf("%v failed retrainings", n)
	}
	if testkit.Metric(t, reg, "bulwark_model_promotion_promoted") == 1 {
		// Promoted: the replaced model is kept for a rollback.
		if _, err := os.Stat(strings.TrimSuffix(mfile, ".json") + "." + first.ID() + ".json"); err != nil {
			t.Errorf("replaced model not kept: %v", err)
		}
	} else {
		kept, _ := filepath.Glob(strings.TrimSuffix(mfile, ".json") + ".refused-*.json")
		if len(kept) != 1 {
			t.Errorf("refused candidate not kept: %v", kept)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}

// TestFollowSchedule retrains on the clock with no labels, and counts a
// failing retraining without stopping.
func TestFollowSchedule(t *testing.T) {
	b := kafkatest.Start(t)
	n := 0 // only Run's goroutine calls retrain
	retrain := func(context.Context) (*Decision, error) {
		n++
		if n == 1 {
			return nil, ErrNoSamples
		}
		return &Decision{Promoted: false, Reason: "recall 0.5 < 0.9", Candidate: model.Figures{Precision: 0.9, Recall: 0.5}, Kept: "x"}, nil
	}
	reg := prometheus.NewRegistry()
	fl, err := NewFollower(FollowConfig{Every: time.Second, Kafka: kafkatest.Config(b), Retrain: retrain}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fl.Run(ctx) }()
	testkit.Eventually(t, 30*time.Second, "a failed then a refused scheduled retraining", func() bool {
		return testkit.Metric(t, reg, "bulwark_model_training_runs_total", "trigger", "schedule", "outcome", "failed") == 1 &&
			testkit.Metric(t, reg, "bulwark_model_training_runs_total", "trigger", "schedule", "outcome", "refused") >= 1
	})
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v", err)
	}
	if r := testkit.Metric(t, reg, "bulwark_model_promotion_recall", "model", "candidate"); r != 0.5 {
		t.Errorf("candidate recall %v, want 0.5", r)
	}
}
