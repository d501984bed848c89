package model

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LoadActive loads the model file at path and puts it in mode with weight.
func LoadActive(path string, mode Mode, weight float64) (*Active, error) {
	m, err := Load(path)
	if err != nil {
		return nil, err
	}
	return NewActive(m, mode, weight)
}

// DefaultReloadInterval is how often a Reloader looks at its file.
const DefaultReloadInterval = time.Second

// Reloader puts a changed model file in force without a restart, like the
// signature file: when polling sees its modification time or size change.
// A file that does not load is refused and the model in force stays; so is
// a missing file (a rollback is a rename of the previous model over it).
type Reloader struct {
	path     string
	mode     Mode
	weight   float64
	h        *Holder
	interval time.Duration
	log      *slog.Logger
	reloads  *prometheus.CounterVec
	info     *prometheus.GaugeVec
	stamp    stamp
}

type stamp struct {
	mod  time.Time
	size int64
}

func statFile(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	return stamp{fi.ModTime(), fi.Size()}, nil
}

// NewReloader watches path for h, loading it in mode with weight. Metrics
// (bulwark_model_reloads_total by result, bulwark_model_info by id and mode)
// go to reg when it is not nil.
func NewReloader(path string, mode Mode, weight float64, h *Holder, interval time.Duration, log *slog.Logger, reg prometheus.Registerer) *Reloader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	r := &Reloader{
		path: path, mode: mode, weight: weight, h: h, interval: interval, log: log.With("component", "model", "file", path),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "model",
			Name: "reloads_total", Help: "Model file reloads, by result (ok, failed)."}, []string{"result"}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "model",
			Name: "info", Help: "1 for the model in force, by id and mode."}, []string{"id", "mode"}),
	}
	if reg != nil {
		reg.MustRegister(r.reloads, r.info)
	}
	if a := h.Load(); a != nil {
		r.info.WithLabelValues(a.Model.ID(), a.Mode.String()).Set(1)
	}
	r.stamp, _ = statFile(path)
	return r
}

// Reload loads the file and puts it in force, or keeps the model in force
// and returns why not.
func (r *Reloader) Reload() error {
	a, err := LoadActive(r.path, r.mode, r.weight)
	if err != nil {
		r.reloads.WithLabelValues("failed").Inc()
		old := "none"
		if cur := r.h.Load(); cur != nil {
			old = cur.Model.ID()
		}
		r.log.Error("model file refused; the model in force stays", "in_force", old, "err", err)
		return err
	}
	r.info.Reset()
	r.info.WithLabelValues(a.Model.ID(), a.Mode.String()).Set(1)
	r.h.Store(a)
	r.reloads.WithLabelValues("ok").Inc()
	r.log.Info("model reloaded", "id", a.Model.ID(), "mode", a.Mode, "trained_at", a.Model.File().TrainedAt)
	return nil
}

// Run reloads on a change of the file until ctx is done.
func (r *Reloader) Run(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			st, err := statFile(r.path)
			if err != nil || st == r.stamp {
				continue
			}
			r.stamp = st
			_ = r.Reload()
		}
	}
}
