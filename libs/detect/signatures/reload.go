package signatures

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultReloadInterval is how often a Reloader looks at its file: a
// changed file is in force within about this long.
const DefaultReloadInterval = 500 * time.Millisecond

// Reloader puts a changed signature file in force without a restart, like
// the decider's rule file: when polling sees its modification time or size
// change. A file that does not load, validate or pass its own tests is
// refused, and the set in force stays.
type Reloader struct {
	path     string
	h        *Holder
	interval time.Duration
	log      *slog.Logger
	reloads  *prometheus.CounterVec
	count    prometheus.Gauge
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

// NewReloader watches path for h. Metrics (bulwark_signatures_reloads_total
// by result, bulwark_signatures_loaded) go to reg when it is not nil.
func NewReloader(path string, h *Holder, interval time.Duration, log *slog.Logger, reg prometheus.Registerer) *Reloader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	r := &Reloader{
		path: path, h: h, interval: interval, log: log.With("component", "signatures", "file", path),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "signatures",
			Name: "reloads_total", Help: "Signature file reloads, by result (ok, failed)."}, []string{"result"}),
		count: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "signatures",
			Name: "loaded", Help: "Signatures in force."}),
	}
	if reg != nil {
		reg.MustRegister(r.reloads, r.count)
	}
	r.count.Set(float64(len(h.Load().Sigs)))
	r.stamp, _ = statFile(path)
	return r
}

// Reload loads the file and puts it in force, or keeps the set in force
// and returns why not.
func (r *Reloader) Reload() error {
	s, err := Load(r.path)
	if err != nil {
		r.reloads.WithLabelValues("failed").Inc()
		r.log.Error("signature file refused; the signatures in force stay", "in_force", r.h.Load().Digest, "err", err)
		return err
	}
	r.h.Store(s)
	r.reloads.WithLabelValues("ok").Inc()
	r.count.Set(float64(len(s.Sigs)))
	r.log.Info("signatures reloaded", "digest", s.Digest, "revision", s.Revision, "signatures", len(s.Sigs))
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
				// A file being replaced may be missing for a moment: wait for it.
				continue
			}
			r.stamp = st
			_ = r.Reload()
		}
	}
}
