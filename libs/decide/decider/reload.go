package decider

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/rules"
)

// Reloader puts a changed rule file in force without a restart: on SIGHUP,
// and when polling sees the file's modification time or size change. A
// file that does not load or validate is refused and the rules in force stay.
type Reloader struct {
	path     string
	d        *Decider
	interval time.Duration
	log      *slog.Logger
	m        *Metrics
	stamp    fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewReloader watches path for d, polling every interval.
func NewReloader(path string, d *Decider, interval time.Duration, log *slog.Logger) *Reloader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{path: path, d: d, interval: interval, log: log.With("component", "rules", "file", path), m: d.m}
	r.stamp, _ = stat(path)
	return r
}

func stat(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

// Reload loads the file and puts it in force, or keeps the rules in force
// and returns why not.
func (r *Reloader) Reload() error {
	rs, err := rules.Load(r.path)
	if err == nil {
		err = r.d.SetRules(rs)
	}
	if err != nil {
		r.m.reloads.WithLabelValues("failed").Inc()
		r.log.Error("rule file refused; the rules in force stay", "in_force", r.d.Rules().Digest, "err", err)
		return err
	}
	r.m.reloads.WithLabelValues("ok").Inc()
	r.log.Info("rules reloaded", "digest", rs.Digest, "rules", len(rs.Rules), "learning", rs.Learning)
	return nil
}

// Run reloads on SIGHUP and on a change of the file until ctx is done.
func (r *Reloader) Run(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			r.log.Info("SIGHUP: reloading rules")
			r.stamp, _ = stat(r.path)
			_ = r.Reload()
		case <-t.C:
			st, err := stat(r.path)
			if err != nil || st == r.stamp {
				// A file being replaced may be missing for a moment: wait for it.
				continue
			}
			r.stamp = st
			_ = r.Reload()
		}
	}
}
