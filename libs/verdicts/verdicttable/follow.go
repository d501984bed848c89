package verdicttable

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdictlog"
)

// FollowOptions tune a Follower. The zero value is usable.
type FollowOptions struct {
	// Name labels the reader's metrics (bulwark_verdictlog_*{reader=Name});
	// default "table".
	Name string
	Log  *slog.Logger
	// Registerer receives the reader's metrics; nil registers none.
	Registerer prometheus.Registerer
	// SweepEvery is how often expired verdicts are freed; default 1m.
	SweepEvery time.Duration
}

// Follower keeps a Table equal to the verdict topic: it replays the topic
// from its start, then follows it, and sweeps expired verdicts.
type Follower struct {
	t         *Table
	r         *verdictlog.Reader
	log       *slog.Logger
	every     time.Duration
	badKey    prometheus.Counter
	badAction prometheus.Counter
}

// NewFollower builds a follower for t over the verdict topic of cfg.
func NewFollower(t *Table, cfg kafka.Config, o FollowOptions) *Follower {
	if o.Name == "" {
		o.Name = "table"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = time.Minute
	}
	f := &Follower{t: t, log: o.Log.With("component", "verdicttable"), every: o.SweepEvery,
		badKey: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "bulwark_verdicttable_bad_subjects_total",
			Help:        "Verdict records whose key is not a subject, skipped.",
			ConstLabels: prometheus.Labels{"reader": o.Name},
		}),
		badAction: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "bulwark_verdicttable_unknown_actions_total",
			Help:        "Verdict records whose action this version does not know, skipped.",
			ConstLabels: prometheus.Labels{"reader": o.Name},
		})}
	if o.Registerer != nil {
		o.Registerer.MustRegister(f.badKey, f.badAction)
	}
	f.r = verdictlog.New(cfg, o.Name, f.apply, o.Log, o.Registerer)
	return f
}

func (f *Follower) apply(key string, v *eventpb.Verdict) {
	if err := f.t.Apply(key, v); err != nil {
		if errors.Is(err, ErrBadAction) {
			f.badAction.Inc()
		} else {
			f.badKey.Inc()
		}
		f.log.Warn("skip verdict record", "key", key, "err", err)
	}
}

// Ready is closed once the table holds everything that was on the topic
// when Run started.
func (f *Follower) Ready() <-chan struct{} { return f.r.Ready() }

// Reader exposes the topic reader (lag, last record time, caught-up flag).
func (f *Follower) Reader() *verdictlog.Reader { return f.r }

// Run follows the topic and sweeps expired verdicts until ctx is done. Once
// caught up it drops snapshot entries the topic no longer holds.
func (f *Follower) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := f.r.Run(ctx); err != nil && ctx.Err() == nil {
			return err
		}
		return nil // stopped by ctx, also while still looking for Kafka
	})
	g.Go(func() error {
		select {
		case <-ctx.Done():
			return nil
		case <-f.r.Ready():
		}
		if n := f.t.DropStale(); n > 0 {
			f.log.Info("dropped snapshot verdicts no longer on the topic", "verdicts", n)
		}
		return nil
	})
	g.Go(func() error {
		// One whole sweep every f.every, in SweepSteps even steps.
		tick := time.NewTicker(max(f.every/SweepSteps, time.Millisecond))
		defer tick.Stop()
		swept := 0
		for step := 0; ; step++ {
			select {
			case <-ctx.Done():
				return nil
			case now := <-tick.C:
				swept += f.t.SweepStep(step, now)
				if step%SweepSteps == SweepSteps-1 && swept > 0 {
					f.log.Debug("swept expired verdicts", "verdicts", swept)
					swept = 0
				}
			}
		}
	})
	return g.Wait()
}

// Follow starts a Follower for t in a goroutine; it stops when ctx is done.
// Wait on Ready before trusting the table to be complete.
func Follow(ctx context.Context, t *Table, cfg kafka.Config, o FollowOptions) *Follower {
	f := NewFollower(t, cfg, o)
	go func() {
		if err := f.Run(ctx); err != nil {
			f.log.Error("follow verdict topic", "err", err)
		}
	}()
	return f
}
