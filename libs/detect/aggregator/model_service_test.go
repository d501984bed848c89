package aggregator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

func writeRefererModel(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.json")
	f := refererModel(t, model.Shadow, 0).Load().Model.File()
	if err := model.Save(path, f); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestModelConfig(t *testing.T) {
	good := writeRefererModel(t)
	f := func(env map[string]string, wantErr string) {
		t.Helper()
		_, err := config.LoadFrom[Config](env)
		if (wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("%v: err = %v, want %q", env, err, wantErr)
		}
	}
	f(map[string]string{"BULWARK_MODEL_FILE": good, "BULWARK_MODEL_MODE": "blend", "BULWARK_MODEL_WEIGHT": "0.5"}, "")
	f(map[string]string{"BULWARK_MODEL_FILE": "/nonexistent/model.json"}, "BULWARK_MODEL_FILE")
	f(map[string]string{"BULWARK_MODEL_FILE": "/nonexistent/model.json", "BULWARK_MODEL_WAIT": "true"}, "")
	broken := filepath.Join(t.TempDir(), "broken.json")
	if err := os.WriteFile(broken, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	f(map[string]string{"BULWARK_MODEL_FILE": broken, "BULWARK_MODEL_WAIT": "true"}, "BULWARK_MODEL_FILE")
	f(map[string]string{"BULWARK_MODEL_MODE": "loud"}, "BULWARK_MODEL_MODE")
	f(map[string]string{"BULWARK_MODEL_WEIGHT": "1.5"}, "BULWARK_MODEL_WEIGHT")
}

// TestServiceWithModel runs the service with BULWARK_MODEL_FILE in blend
// mode: the committed scores carry the model's probability and name it.
func TestServiceWithModel(t *testing.T) {
	b := kafkatest.Start(t)
	evs := serviceTraffic()
	produceEvents(t, b, evs)
	cfg := DefaultConfig()
	cfg.SnapshotInterval = 100 * time.Millisecond
	cfg.TransactionalID = "agg-model"
	cfg.ModelFile, cfg.ModelMode, cfg.ModelWeight = writeRefererModel(t), "blend", 1
	a, err := New(cfg, kafkatest.Config(b), testConfig(), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("aggregator did not stop within 20s")
		}
	})
	cl := kafkatest.Client(t, b, kgo.ConsumeTopics("bulwark.scores.v1"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var modelled, withReason int
	for _, r := range kafkatest.ReadUntilQuiet(t, cl, 1, 60*time.Second) {
		var s eventpb.Score
		if err := proto.Unmarshal(r.Value, &s); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s.Subject, "ip:") {
			continue
		}
		if s.ModelScore == nil || s.Model != "gbdt-test/blend" {
			t.Fatalf("%s: model score %v, model %q", s.Subject, s.ModelScore, s.Model)
		}
		modelled++
		if len(s.Reasons) > 0 && strings.HasPrefix(s.Reasons[0], "model=") {
			withReason++
		}
	}
	if modelled == 0 || withReason == 0 {
		t.Fatalf("%d ip: scores with a model score, %d with the model's reason first", modelled, withReason)
	}
}

func TestUseRuleFileModel(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte("version: 1\nmodel: {file: m.json, mode: blend, weight: 0.5}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.RulesFile = rules
	if err := c.UseRuleFileModel(); err != nil {
		t.Fatal(err)
	}
	if c.ModelFile != filepath.Join(dir, "m.json") || c.ModelMode != "blend" || c.ModelWeight != 0.5 {
		t.Fatalf("from the rule file: %q %q %v", c.ModelFile, c.ModelMode, c.ModelWeight)
	}
	c = DefaultConfig()
	c.RulesFile, c.ModelFile = rules, "/srv/other.json"
	if err := c.UseRuleFileModel(); err != nil || c.ModelFile != "/srv/other.json" || c.ModelMode != "shadow" {
		t.Fatalf("BULWARK_MODEL_FILE must win: %q %q (%v)", c.ModelFile, c.ModelMode, err)
	}
	if err := os.WriteFile(rules, []byte("version: 1\nmodel: {file: m.json, mode: loud}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c = DefaultConfig()
	c.RulesFile = rules
	if err := c.UseRuleFileModel(); err == nil || !strings.Contains(err.Error(), "model.mode") {
		t.Fatalf("bad mode: %v", err)
	}
}

// TestServiceWaitsForModel: with BULWARK_MODEL_WAIT the aggregator starts
// before the trainer's first promotion, and puts the model in force when
// the file appears.
func TestServiceWaitsForModel(t *testing.T) {
	b := kafkatest.Start(t)
	path := filepath.Join(t.TempDir(), "model.json")
	cfg := DefaultConfig()
	cfg.TransactionalID = "agg-model-wait"
	cfg.ModelFile, cfg.ModelMode, cfg.ModelWait = path, "shadow", true
	reg := prometheus.NewRegistry()
	a, err := New(cfg, kafkatest.Config(b), testConfig(), nil, reg)
	if err != nil {
		t.Fatalf("missing model file with MODEL_WAIT: %v", err)
	}
	if a.model.Load() != nil {
		t.Fatal("a model in force before the file exists")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("aggregator did not stop within 20s")
		}
	})
	if err := model.Save(path, refererModel(t, model.Shadow, 0).Load().Model.File()); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "the model put in force when its file appears", func() bool {
		return testkit.Metric(t, reg, "bulwark_model_reloads_total", "result", "ok") == 1 && a.model.Load() != nil
	})
}
