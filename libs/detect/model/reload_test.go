package model

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

func TestReloaderSwapsAndRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.json")
	d := synthetic(2000, 21)
	p := DefaultParams()
	p.Trees = 5
	f1, _ := Train(d, all(d), p)
	f1.Threshold = 0.7
	if err := Save(path, f1); err != nil {
		t.Fatal(err)
	}
	a, err := LoadActive(path, Blend, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHolder(a)
	reg := prometheus.NewRegistry()
	r := NewReloader(path, Blend, 0.5, h, 10*time.Millisecond, nil, reg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)

	// A broken file is refused: the model in force stays.
	if err := os.WriteFile(path, []byte(`{"format":"bulwark-model/v1","trees":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the broken file is refused", func() bool {
		return testkit.Metric(t, reg, "bulwark_model_reloads_total", "result", "failed") >= 1
	})
	if h.Load().Model.ID() != f1.ID {
		t.Fatalf("the model in force changed to %s", h.Load().Model.ID())
	}

	// A new model is put in force, with the configured mode and weight.
	p.Trees = 6
	f2, _ := Train(d, all(d), p)
	f2.Threshold = 0.7
	if err := Save(path, f2); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the new model is in force", func() bool { return h.Load().Model.ID() == f2.ID })
	if got := h.Load(); got.Mode != Blend || got.Weight != 0.5 {
		t.Fatalf("mode %s weight %v", got.Mode, got.Weight)
	}
}

func TestCombine(t *testing.T) {
	m := trainSmall(t, synthetic(500, 22))
	f := func(mode Mode, w, rule, p, want float64) {
		t.Helper()
		a, err := NewActive(m, mode, w)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Combine(rule, p); got != want {
			t.Errorf("%s w=%v: Combine(%v, %v) = %v, want %v", mode, w, rule, p, got, want)
		}
	}
	f(Shadow, 1, 40, 0.99, 40)
	f(Replace, 1, 40, 0.934, 93.4)
	f(Blend, 1, 0, 0.9, 90)
	f(Blend, 0.5, 50, 0.8, 70)
	f(Blend, 1, 50, 0, 50)
	if _, err := NewActive(m, Blend, 1.5); err == nil {
		t.Error("weight 1.5 accepted")
	}
	if _, err := ParseMode("loud"); err == nil {
		t.Error("mode loud accepted")
	}
}
