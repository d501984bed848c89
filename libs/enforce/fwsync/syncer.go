// Package fwsync keeps nftables sets equal to Bulwark's blocking verdicts,
// for hosts without a CDN in front: table inet <BULWARK_FWSYNC_TABLE> holds
// two interval sets (block4, block6) whose elements time out when their
// verdict expires, and, unless turned off, a prerouting chain that drops
// traffic from them. fwsync owns that table and touches no other.
package fwsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/platform/backoff"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdictlog"
)

// Syncer keeps the sets in step with the verdict topic.
type Syncer struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	k      *kernel
	set    *blockset.Set
	reader *verdictlog.Reader

	// installed is what the kernel holds, as of the last transaction.
	installed4, installed6 map[netip.Prefix]time.Time
	fresh                  bool // installed reflects the kernel
	// pruned holds elements forgotten because they were about to time out,
	// with their expiry: the kernel may still hold one for a moment, and
	// adding it again would keep its old timeout.
	pruned map[netip.Prefix]time.Time

	synced     chan struct{}
	syncedOnce sync.Once
}

// New builds a syncer. It opens a netlink socket but changes nothing until Run.
func New(cfg Config, kafkaCfg kafka.Config, log *slog.Logger, reg prometheus.Registerer) (*Syncer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "fwsync", "table", "inet "+cfg.Table)
	actions, _ := cfg.actions()
	k, err := openKernel(cfg)
	if err != nil {
		return nil, err
	}
	s := &Syncer{
		cfg:    cfg,
		log:    log,
		m:      newMetrics(reg),
		k:      k,
		set:    blockset.New("fwsync", actions, log, reg),
		synced: make(chan struct{}),
	}
	s.reader = verdictlog.New(kafkaCfg, "fwsync", s.set.Apply, log, reg)
	return s, nil
}

// Synced is closed after the first transaction following catch-up with the
// verdict topic.
func (s *Syncer) Synced() <-chan struct{} { return s.synced }

// Run follows the verdict topic and syncs until ctx is done. It leaves the
// table in place on exit: blocks stay enforced while fwsync restarts.
func (s *Syncer) Run(ctx context.Context) error {
	defer s.k.close()
	return s.reader.RunWith(ctx, s.loop)
}

// loop syncs; it starts once the verdict topic has been read to its end.
func (s *Syncer) loop(ctx context.Context) error {
	var lastSync time.Time
	// After a failure the next sync waits longer: from twice the interval
	// up to a minute.
	bo := backoff.Policy{Initial: 2 * s.cfg.SyncInterval, Max: time.Minute}.Start()
	for {
		if wait := time.Until(lastSync.Add(s.cfg.SyncInterval)); wait > 0 {
			if backoff.Sleep(ctx, wait) != nil {
				return nil
			}
		}
		select {
		case <-s.set.Changed():
		default:
		}
		lastSync = time.Now()
		if err := s.sync(time.Now()); err != nil {
			if errors.Is(err, os.ErrPermission) {
				return fmt.Errorf("nftables: %w (bulwark-fwsync needs CAP_NET_ADMIN in the network namespace it manages)", err)
			}
			d := bo.Next()
			s.log.Error("nftables sync failed; rewriting the table next time", "err", err, "retry_in", d, "failures", bo.Failures())
			if backoff.Sleep(ctx, d) != nil {
				return nil
			}
			continue
		}
		bo.Reset()
		s.syncedOnce.Do(func() { close(s.synced) })

		// Wake for a change, a covered network whose cover expired, or the
		// periodic rewrite. Plain expiry needs no wake-up: the kernel drops
		// timed-out elements by itself.
		wake := s.k.installedAt.Add(s.cfg.ResyncInterval)
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

// sync makes one netlink transaction: the whole table when its state is not
// known (start, after an error, periodically), else only the difference.
func (s *Syncer) sync(now time.Time) (err error) {
	start := time.Now()
	defer func() {
		s.m.duration.Observe(time.Since(start).Seconds())
		if err != nil {
			s.fresh = false
			s.m.errors.Inc()
		}
	}()
	want4, want6 := elements(s.set.Active(now))
	// What the kernel already let time out (or will before the next sync)
	// is gone: deleting it could fail the transaction.
	s.m.desired.WithLabelValues("ipv4").Set(float64(len(want4)))
	s.m.desired.WithLabelValues("ipv6").Set(float64(len(want6)))
	if !s.fresh || now.Sub(s.k.installedAt) >= s.cfg.ResyncInterval {
		if err := s.k.replaceAll(want4, want6, now); err != nil {
			return err
		}
		s.installed4, s.installed6, s.fresh = installable(want4, now), installable(want6, now), true
		s.pruned = map[netip.Prefix]time.Time{}
		s.m.replaces.Inc()
		s.m.elements.WithLabelValues("ipv4").Set(float64(len(s.installed4)))
		s.m.elements.WithLabelValues("ipv6").Set(float64(len(s.installed6)))
		s.log.Info("nftables table written", "ipv4", len(s.installed4), "ipv6", len(s.installed6))
		return nil
	}
	if s.pruned == nil {
		s.pruned = map[netip.Prefix]time.Time{}
	}
	prune(s.installed4, s.pruned, now)
	prune(s.installed6, s.pruned, now)
	del4, add4 := diff(s.installed4, want4, now)
	del6, add6 := diff(s.installed6, want6, now)
	if len(del4)+len(add4)+len(del6)+len(add6) == 0 {
		return nil
	}
	for _, add := range []map[netip.Prefix]time.Time{add4, add6} {
		for p := range add {
			if _, ok := s.pruned[p]; ok {
				// Renewed just as it timed out: rewrite the sets so that the
				// kernel cannot keep the old timeout.
				s.fresh = false
				return s.sync(now)
			}
		}
	}
	if err := s.k.apply(del4, add4, del6, add6, now); err != nil {
		return err
	}
	for _, c := range []struct{ inst, del, add map[netip.Prefix]time.Time }{{s.installed4, del4, add4}, {s.installed6, del6, add6}} {
		for p := range c.del {
			delete(c.inst, p)
		}
		for p, exp := range installable(c.add, now) {
			c.inst[p] = exp
		}
	}
	s.m.added.Add(float64(len(add4) + len(add6)))
	s.m.removed.Add(float64(len(del4) + len(del6)))
	s.m.elements.WithLabelValues("ipv4").Set(float64(len(s.installed4)))
	s.m.elements.WithLabelValues("ipv6").Set(float64(len(s.installed6)))
	return nil
}

// installable keeps what elementsOf would install (not about to expire).
func installable(m map[netip.Prefix]time.Time, now time.Time) map[netip.Prefix]time.Time {
	out := make(map[netip.Prefix]time.Time, len(m))
	for p, exp := range m {
		if exp.IsZero() || exp.Sub(now) >= minTimeout {
			out[p] = exp
		}
	}
	return out
}

// prune forgets elements the kernel has dropped or is about to drop,
// remembering them in pruned until they are surely gone.
func prune(inst, pruned map[netip.Prefix]time.Time, now time.Time) {
	for p, exp := range pruned {
		if now.Sub(exp) > minTimeout {
			delete(pruned, p)
		}
	}
	for p, exp := range inst {
		if !exp.IsZero() && exp.Sub(now) < minTimeout {
			delete(inst, p)
			pruned[p] = exp
		}
	}
}

// diff returns what to delete from and add to the kernel: an element whose
// expiry changed is in both.
func diff(inst, want map[netip.Prefix]time.Time, now time.Time) (del, add map[netip.Prefix]time.Time) {
	del, add = map[netip.Prefix]time.Time{}, map[netip.Prefix]time.Time{}
	for p, exp := range inst {
		w, ok := want[p]
		if !ok || !w.Equal(exp) {
			del[p] = exp
		}
	}
	for p, exp := range want {
		if cur, ok := inst[p]; (!ok || !cur.Equal(exp)) && (exp.IsZero() || exp.Sub(now) >= minTimeout) {
			add[p] = exp
		}
	}
	return del, add
}

// ErrNotSynced is what Ready returns before the first sync.
var ErrNotSynced = errors.New("fwsync: sets not synced yet")

// Ready returns nil once the sets have matched the verdicts once (for
// /readyz).
func (s *Syncer) Ready() error {
	select {
	case <-s.synced:
		return nil
	default:
		return ErrNotSynced
	}
}
