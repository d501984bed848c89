package decider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/rules"
)

// ErrEmptyRuleFile is returned by Reload for a rule file that has no
// content while the rules in force came from one that had: truncating the
// file (`: > rules.yaml`, what many editors and config tools do before they
// write) must not silently put the shipped defaults in force.
var ErrEmptyRuleFile = errors.New("rule file is empty but the rules in force came from a file with content; " +
	"refusing to fall back to the shipped defaults (to use them on purpose, write `version: 1`)")

// ErrRuleFileMissing is returned by Reload, and logged once by Run, when the
// rule file is gone.
var ErrRuleFileMissing = errors.New("rule file is missing")

// Reloader puts a changed rule file in force without a restart: on SIGHUP,
// and when polling sees the file's modification time or size change. It
// reads a file only once it is stable (size and modification time unchanged
// for the settle time), so a half-written file is never read. A file that
// does not load or validate, an empty file that replaces one with content,
// and a missing file are refused: the rules in force stay, the reload is
// counted as failed and a log line says why.
type Reloader struct {
	path     string
	d        *Decider
	interval time.Duration
	settle   time.Duration
	log      *slog.Logger
	m        *Metrics

	stamp      fileStamp // of the file last put in force or refused
	missing    bool      // the last poll found no file (logged once)
	hadContent bool      // the rules in force came from a file with content
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewReloader watches path for d, polling every interval; a changed file is
// read once it has been stable for settle.
func NewReloader(path string, d *Decider, interval, settle time.Duration, log *slog.Logger) *Reloader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{path: path, d: d, interval: interval, settle: settle,
		log: log.With("component", "rules", "file", path), m: d.m}
	r.stamp, _ = stat(path)
	// The rules in force were loaded from this file just before (the
	// service fails at start on a file it cannot read).
	if data, err := os.ReadFile(path); err == nil {
		r.hadContent = !rules.IsEmpty(data)
	}
	return r
}

func stat(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

// Reload waits until the file is stable, loads it and puts it in force, or
// keeps the rules in force and returns why not.
func (r *Reloader) Reload(ctx context.Context) error {
	data, st, err := r.readStable(ctx)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: %w", ErrRuleFileMissing, err)
			r.missing, r.stamp = true, fileStamp{} // reported here, not again by poll
		}
		if ctx.Err() != nil {
			return err // stopping: not the file's fault
		}
		return r.refused(err)
	}
	r.stamp = st
	empty := rules.IsEmpty(data)
	if empty && r.hadContent {
		return r.refused(ErrEmptyRuleFile)
	}
	rs, err := r.d.reloadFile(data, r.path) // under the live policy (live.go)
	if err != nil {
		return r.refused(err)
	}
	r.hadContent = !empty
	r.m.reloads.WithLabelValues("ok").Inc()
	r.log.Info("rules reloaded", "digest", rs.Digest, "rules", len(rs.Rules), "learning", rs.Learning)
	return nil
}

func (r *Reloader) refused(err error) error {
	r.m.reloads.WithLabelValues("failed").Inc()
	r.log.Error("rule file refused; the rules in force stay", "in_force", r.d.Rules().Digest, "err", err)
	return err
}

// readStable reads the file once its size and modification time have not
// changed for the settle time, and were the same before and after the read.
// A writer still at work keeps it waiting, until ctx is done.
func (r *Reloader) readStable(ctx context.Context) ([]byte, fileStamp, error) {
	before, err := stat(r.path)
	for {
		if err != nil {
			return nil, fileStamp{}, fmt.Errorf("stat rule file: %w", err)
		}
		if err := r.wait(ctx, r.settle); err != nil {
			return nil, fileStamp{}, err
		}
		now, err2 := stat(r.path)
		if err2 != nil || now != before {
			before, err = now, err2
			continue
		}
		data, err := os.ReadFile(r.path)
		if err != nil {
			return nil, fileStamp{}, fmt.Errorf("read rule file: %w", err)
		}
		after, err := stat(r.path)
		if err == nil && after == now {
			return data, now, nil
		}
		before = after // changed while being read: wait again
	}
}

func (r *Reloader) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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
			_ = r.Reload(ctx)
		case <-t.C:
			r.poll(ctx)
		}
	}
}

// poll reloads a changed file, and reports a missing one once per absence.
func (r *Reloader) poll(ctx context.Context) {
	st, err := stat(r.path)
	if err != nil && !r.missing {
		// A tool that replaces the file by deleting and writing it leaves
		// it missing for a moment: look again after the settle time.
		if r.wait(ctx, r.settle) != nil {
			return
		}
		st, err = stat(r.path)
	}
	if err != nil {
		if !r.missing {
			r.missing = true
			r.stamp = fileStamp{}
			_ = r.refused(fmt.Errorf("%w: %w", ErrRuleFileMissing, err))
		}
		return
	}
	r.missing = false
	if st == r.stamp {
		return
	}
	_ = r.Reload(ctx)
}
