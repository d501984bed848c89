// Package edgesync keeps an edge's block set equal to the verdicts: it
// follows the verdict topic into a blockset.Set and, once caught up, makes a
// Target (a Cloudflare IP list, nftables sets) hold the active entries.
//
// The loop is the part every edge syncer shares: at most one sync per
// SyncInterval (changes batch while it waits), a periodic resync that makes
// the target read or rewrite the edge whole (undoing edits made by hand), a
// wake-up when an entry expires, the backoff.Policy curve after a failed
// sync with the desired set kept, and readiness once the edge first matched.
// What differs between edges (the diff, the writes, their metrics) is the
// Target's.
package edgesync

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/platform/backoff"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdictlog"
)

// Target is one edge that enforces the block set. The loop calls it from
// one goroutine only.
type Target interface {
	// Apply makes the edge hold exactly the active entries as of now. It may
	// trust what it last wrote, unless Resync was called since.
	Apply(ctx context.Context, active []blockset.Entry, now time.Time) error
	// Resync makes the next Apply read or rewrite the edge whole instead
	// of trusting what it last wrote.
	Resync()
	// ResyncedAt is when the edge was last read or written whole (zero:
	// never); the periodic resync is due ResyncInterval after it.
	ResyncedAt() time.Time
}

// Config is the loop's behaviour; the edge syncers fill it from their own
// variables.
type Config struct {
	// Name is the consumer's name in logs and in the verdictlog and
	// blockset metrics ("cfsync", "fwsync").
	Name string
	// Actions are the verdict actions the edge enforces.
	Actions []eventpb.Action
	// SyncInterval batches changes: at most one sync per interval.
	SyncInterval time.Duration
	// ResyncInterval is how often the edge is read or written whole.
	ResyncInterval time.Duration
	// Retry is the wait after a failed sync.
	Retry backoff.Policy
	// RetryAfter, when set, returns a wait the edge asked for with err
	// (such as a Retry-After header); the loop waits at least that long.
	RetryAfter func(err error) time.Duration
	// Backoffs, when set, counts the waits after a failed sync.
	Backoffs prometheus.Counter
}

// Validate reports a Config the loop cannot run with. The edge syncers
// validate their own variables first, so this names fields, not variables.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return errors.New("edgesync: Name is empty")
	case len(c.Actions) == 0:
		return errors.New("edgesync: no Actions")
	case c.SyncInterval <= 0:
		return errors.New("edgesync: SyncInterval must be positive")
	case c.ResyncInterval <= 0:
		return errors.New("edgesync: ResyncInterval must be positive")
	case c.Retry.Initial <= 0:
		return errors.New("edgesync: Retry.Initial must be positive")
	}
	return nil
}

// permanent marks an error the loop must not retry.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Permanent wraps an Apply error that retrying cannot cure (a missing
// permission): Run then stops and returns err.
func Permanent(err error) error { return &permanent{err} }

// Syncer follows the verdict topic and keeps one Target equal to it.
type Syncer struct {
	cfg    Config
	log    *slog.Logger
	target Target
	set    *blockset.Set
	reader *verdictlog.Reader

	synced     chan struct{}
	syncedOnce sync.Once
}

// New builds a syncer for t following the verdict topic of kafkaCfg; it
// registers the blockset and verdictlog metrics under cfg.Name.
func New(cfg Config, kafkaCfg kafka.Config, t Target, log *slog.Logger, reg prometheus.Registerer) (*Syncer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := newSyncer(cfg, blockset.New(cfg.Name, cfg.Actions, log, reg), t, log)
	s.reader = verdictlog.New(kafkaCfg, cfg.Name, s.set.Apply, log, reg)
	return s, nil
}

// newSyncer is New without the topic, for the loop's own tests.
func newSyncer(cfg Config, set *blockset.Set, t Target, log *slog.Logger) *Syncer {
	return &Syncer{cfg: cfg, log: log, target: t, set: set, synced: make(chan struct{})}
}

// Synced is closed after the first successful sync following catch-up with
// the verdict topic: from then on the edge matches the verdicts.
func (s *Syncer) Synced() <-chan struct{} { return s.synced }

// Run follows the verdict topic and syncs until ctx is done (not an error)
// or the target fails permanently.
func (s *Syncer) Run(ctx context.Context) error {
	return s.reader.RunWith(ctx, s.loop)
}

// loop syncs; it starts once the verdict topic has been read to its end.
func (s *Syncer) loop(ctx context.Context) error {
	var lastSync time.Time
	bo := s.cfg.Retry.Start()
	for {
		// Batch: at most one sync per interval.
		if wait := time.Until(lastSync.Add(s.cfg.SyncInterval)); wait > 0 {
			if backoff.Sleep(ctx, wait) != nil {
				return nil
			}
		}
		// Drain the change signal: this sync sees every change so far.
		select {
		case <-s.set.Changed():
		default:
		}
		now := time.Now()
		lastSync = now
		if err := s.sync(ctx, now); err != nil {
			if p := (*permanent)(nil); errors.As(err, &p) {
				return p.err
			}
			if ctx.Err() != nil {
				return nil
			}
			d := bo.Next()
			if s.cfg.RetryAfter != nil {
				d = max(d, s.cfg.RetryAfter(err))
			}
			if s.cfg.Backoffs != nil {
				s.cfg.Backoffs.Inc()
			}
			s.log.Warn("sync failed; the desired set is kept and retried", "err", err,
				"retry_in", d.Round(time.Millisecond), "failures", bo.Failures())
			if backoff.Sleep(ctx, d) != nil {
				return nil
			}
			continue
		}
		bo.Reset()
		s.syncedOnce.Do(func() { close(s.synced) })

		// Idle until a verdict changes, one expires, or a resync is due.
		wake := s.target.ResyncedAt().Add(s.cfg.ResyncInterval)
		if exp := s.set.NextExpiry(time.Now()); !exp.IsZero() && exp.Before(wake) {
			wake = exp
		}
		t := time.NewTimer(max(time.Until(wake), 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.set.Changed():
		case <-t.C:
		}
		t.Stop()
	}
}

// sync applies the active entries once, whole when the resync is due.
func (s *Syncer) sync(ctx context.Context, now time.Time) error {
	if now.Sub(s.target.ResyncedAt()) >= s.cfg.ResyncInterval {
		s.target.Resync()
	}
	return s.target.Apply(ctx, s.set.Active(now), now)
}
