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
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/enforce/edgesync"
	"github.com/bulwarkhq/bulwark/libs/platform/backoff"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
)

// Syncer keeps the sets in step with the verdict topic: an
// edgesync.Syncer with the table as its target.
type Syncer struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	k    *kernel
	loop *edgesync.Syncer

	// installed is what the kernel holds, as of the last transaction.
	installed4, installed6 map[netip.Prefix]time.Time
	fresh                  bool // installed reflects the kernel
	// pruned holds elements forgotten because they were about to time out,
	// with their expiry: the kernel may still hold one for a moment, and
	// adding it again would keep its old timeout.
	pruned map[netip.Prefix]time.Time
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
	s := &Syncer{cfg: cfg, log: log, m: newMetrics(reg), k: k}
	s.loop, err = edgesync.New(edgesync.Config{
		Name:           "fwsync",
		Actions:        actions,
		SyncInterval:   cfg.SyncInterval,
		ResyncInterval: cfg.ResyncInterval,
		// After a failure the next sync waits longer: from twice the
		// interval up to a minute.
		Retry: backoff.Policy{Initial: 2 * cfg.SyncInterval, Max: time.Minute},
	}, kafkaCfg, target{s}, log, reg)
	if err != nil {
		k.close()
		return nil, fmt.Errorf("fwsync: %w", err)
	}
	return s, nil
}

// Synced is closed after the first transaction following catch-up with the
// verdict topic.
func (s *Syncer) Synced() <-chan struct{} { return s.loop.Synced() }

// Run follows the verdict topic and syncs until ctx is done. It leaves the
// table in place on exit: blocks stay enforced while fwsync restarts.
func (s *Syncer) Run(ctx context.Context) error {
	defer s.k.close()
	return s.loop.Run(ctx)
}

// target is the syncer as edgesync sees it; the methods stay unexported
// because only the loop may call them (from its one goroutine).
type target struct{ s *Syncer }

// Apply fails for good without the permission to change the table (no
// retry cures that). The loop also wakes it when a covering network
// expires; plain expiry needs no sync, the kernel drops timed-out elements.
func (t target) Apply(_ context.Context, active []blockset.Entry, now time.Time) error {
	if err := t.s.sync(active, now); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return edgesync.Permanent(fmt.Errorf("nftables: %w (bulwark-fwsync needs CAP_NET_ADMIN in the network namespace it manages)", err))
		}
		return fmt.Errorf("nftables sync (the table is rewritten next time): %w", err)
	}
	return nil
}

// Resync makes the next transaction rewrite the whole table.
func (t target) Resync()               { t.s.fresh = false }
func (t target) ResyncedAt() time.Time { return t.s.k.installedAt }

// sync makes one netlink transaction: the whole table when its state is not
// known (start, after an error, periodically), else only the difference.
func (s *Syncer) sync(active []blockset.Entry, now time.Time) (err error) {
	start := time.Now()
	defer func() {
		s.m.duration.Observe(time.Since(start).Seconds())
		if err != nil {
			s.fresh = false
			s.m.errors.Inc()
		}
	}()
	want4, want6 := elements(active)
	// What the kernel already let time out (or will before the next sync)
	// is gone: deleting it could fail the transaction.
	s.m.desired.WithLabelValues("ipv4").Set(float64(len(want4)))
	s.m.desired.WithLabelValues("ipv6").Set(float64(len(want6)))
	if !s.fresh {
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
				return s.sync(active, now)
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
	case <-s.loop.Synced():
		return nil
	default:
		return ErrNotSynced
	}
}
