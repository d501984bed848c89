// Package cfsync keeps Cloudflare account IP lists equal to Bulwark's
// blocking verdicts: one list for BLOCK (and optionally one for CHALLENGE),
// for use in a WAF custom rule such as `ip.src in $bulwark_block`.
//
// It follows the verdict topic from its start (its own table, like the
// sidecar), reconciles instead of replaying: at start it reads each list,
// diffs it against the verdicts and applies only the difference; afterwards
// it batches changes per interval. Writes are asynchronous bulk operations
// on Cloudflare and only one may be pending per account, so the syncer
// sends one, polls it to the end, then sends the next.
package cfsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/platform/backoff"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdictlog"
)

// maxItemsPerOp bounds one bulk operation's request body.
const maxItemsPerOp = 1000

// Syncer keeps the lists in step with the verdict topic.
type Syncer struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	api    *api
	set    *blockset.Set
	reader *verdictlog.Reader
	now    func() time.Time

	block, challenge *listState
	otherItems       int // items held by lists Bulwark does not own

	synced     chan struct{}
	syncedOnce sync.Once
	lastRead   time.Time
}

// listState is what the syncer knows of one remote list.
type listState struct {
	name  string
	id    string
	known bool                   // current reflects the list
	items map[string]*remoteItem // by key; ID "" when added since the last read
	extra []string               // IDs of duplicate items to remove
}

// New builds a syncer following the verdict topic of kafkaCfg.
func New(cfg Config, kafkaCfg kafka.Config, log *slog.Logger, reg prometheus.Registerer) (*Syncer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "cfsync")
	actions := []eventpb.Action{eventpb.Action_BLOCK}
	if cfg.ChallengeList != "" {
		actions = append(actions, eventpb.Action_CHALLENGE)
	}
	m := newMetrics(reg)
	s := &Syncer{
		cfg:    cfg,
		log:    log,
		m:      m,
		api:    newAPI(cfg, m),
		set:    blockset.New("cfsync", actions, log, reg),
		now:    time.Now,
		block:  &listState{name: cfg.List},
		synced: make(chan struct{}),
	}
	if cfg.ChallengeList != "" {
		s.challenge = &listState{name: cfg.ChallengeList}
	}
	s.reader = verdictlog.New(kafkaCfg, "cfsync", s.set.Apply, log, reg)
	return s, nil
}

// Synced is closed after the first successful sync following catch-up with
// the verdict topic: from then on the lists match the verdicts.
func (s *Syncer) Synced() <-chan struct{} { return s.synced }

// Run follows the verdict topic and syncs until ctx is done.
func (s *Syncer) Run(ctx context.Context) error {
	return s.reader.RunWith(ctx, s.loop)
}

// loop syncs; it starts once the verdict topic has been read to its end.
func (s *Syncer) loop(ctx context.Context) error {
	failures := 0
	var lastSync time.Time
	dirty := true
	for {
		if dirty {
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
			lastSync = time.Now()
			if err := s.sync(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				d := s.api.backoff(failures, err)
				failures++
				s.m.backoff.Inc()
				s.log.Warn("sync failed; the desired set is kept and retried", "err", err, "retry_in", d.Round(time.Millisecond), "failures", failures)
				if backoff.Sleep(ctx, d) != nil {
					return nil
				}
				continue
			}
			failures, dirty = 0, false
			s.syncedOnce.Do(func() { close(s.synced) })
		}
		// Idle until a verdict changes, one expires, or a resync is due.
		wake := s.lastRead.Add(s.cfg.ResyncInterval)
		if exp := s.set.NextExpiry(s.now()); !exp.IsZero() && exp.Before(wake) {
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
		dirty = true
	}
}

// sync brings every list to the desired set once.
func (s *Syncer) sync(ctx context.Context) (err error) {
	start := time.Now()
	defer func() {
		s.m.duration.Observe(time.Since(start).Seconds())
		if err != nil {
			s.m.syncs.WithLabelValues("error").Inc()
		} else {
			s.m.syncs.WithLabelValues("ok").Inc()
		}
	}()
	if time.Since(s.lastRead) >= s.cfg.ResyncInterval {
		s.block.known = false
		if s.challenge != nil {
			s.challenge.known = false
		}
	}
	if !s.block.known || s.block.id == "" {
		if err := s.discover(ctx); err != nil {
			return err
		}
	}
	capacity := s.cfg.Capacity - s.otherItems
	p := desired(s.set.Active(s.now()), capacity, s.challenge != nil)
	s.m.overflow.Set(float64(p.overflow))
	s.m.unlistable.Set(float64(p.unlistable))
	if p.overflow > 0 {
		s.log.Warn("more verdicts than the lists can hold; kept the strongest, highest-scoring, longest-lived",
			"left_out", p.overflow, "capacity", capacity, "held_by_other_lists", s.otherItems)
	}
	if err := s.syncList(ctx, s.block, p.block); err != nil {
		return err
	}
	if s.challenge != nil {
		if err := s.syncList(ctx, s.challenge, p.challenge); err != nil {
			return err
		}
	}
	return nil
}

// discover finds (or creates) the lists and counts the items that other
// lists of the account hold against the capacity.
func (s *Syncer) discover(ctx context.Context) error {
	all, err := s.api.lists(ctx)
	if err != nil {
		return err
	}
	s.otherItems = 0
	found := map[string]string{}
	for _, l := range all {
		if l.Name == s.block.name || s.challenge != nil && l.Name == s.challenge.name {
			found[l.Name] = l.ID
			continue
		}
		s.otherItems += l.NumItems
	}
	for _, ls := range []*listState{s.block, s.challenge} {
		if ls == nil {
			continue
		}
		if id, ok := found[ls.name]; ok {
			ls.id = id
			continue
		}
		l, err := s.api.createList(ctx, ls.name)
		if err != nil {
			return err
		}
		s.log.Info("created Cloudflare IP list", "list", ls.name, "id", l.ID)
		ls.id, ls.known, ls.items = l.ID, true, map[string]*remoteItem{}
		s.lastRead = time.Now() // a new list is known to be empty
	}
	return nil
}

// read loads a list's items, keyed as desired items are.
func (s *Syncer) read(ctx context.Context, ls *listState) error {
	items, err := s.api.items(ctx, ls.id)
	if err != nil {
		return err
	}
	ls.items, ls.extra = make(map[string]*remoteItem, len(items)), nil
	for i := range items {
		it := &items[i]
		k := remoteKey(it.IP)
		if _, dup := ls.items[k]; dup {
			ls.extra = append(ls.extra, it.ID)
			continue
		}
		ls.items[k] = it
	}
	ls.known = true
	s.lastRead = time.Now()
	s.m.listSize.WithLabelValues(ls.name).Set(float64(len(items)))
	return nil
}

// syncList applies the difference between a list and its desired items:
// removals first (they free capacity), then additions and rewrites.
func (s *Syncer) syncList(ctx context.Context, ls *listState, wants map[string]*want) error {
	s.m.desired.WithLabelValues(ls.name).Set(float64(len(wants)))
	if !ls.known {
		if err := s.read(ctx, ls); err != nil {
			return err
		}
	}
	var removeKeys []string
	for k := range ls.items {
		if wants[k] == nil {
			removeKeys = append(removeKeys, k)
		}
	}
	// Items added since the last read have no ID yet: learn them first.
	for _, k := range removeKeys {
		if ls.items[k].ID == "" {
			if err := s.read(ctx, ls); err != nil {
				return err
			}
			return s.syncList(ctx, ls, wants)
		}
	}
	sort.Strings(removeKeys)
	var adds []*want
	rewrites := 0
	for k, w := range wants {
		cur := ls.items[k]
		switch {
		case cur == nil:
			adds = append(adds, w)
		case needsRewrite(cur.Comment, w, s.cfg.ExpirySlack):
			adds = append(adds, w)
			rewrites++
		}
	}
	sort.Slice(adds, func(i, j int) bool { return adds[i].key < adds[j].key })
	if len(removeKeys) == 0 && len(adds) == 0 && len(ls.extra) == 0 {
		return nil
	}
	s.log.Debug("syncing list", "list", ls.name, "remove", len(removeKeys), "add", len(adds)-rewrites, "rewrite", rewrites)

	ids := append([]string(nil), ls.extra...)
	for _, k := range removeKeys {
		ids = append(ids, ls.items[k].ID)
	}
	for len(ids) > 0 {
		n := min(len(ids), maxItemsPerOp)
		if err := s.api.deleteItems(ctx, ls.id, ids[:n]); err != nil {
			s.unknown(ls, err)
			return err
		}
		s.m.removed.WithLabelValues(ls.name).Add(float64(n))
		ids = ids[n:]
	}
	for _, k := range removeKeys {
		delete(ls.items, k)
	}
	ls.extra = nil

	for len(adds) > 0 {
		n := min(len(adds), maxItemsPerOp)
		batch := adds[:n]
		if err := s.api.addItems(ctx, ls.id, batch); err != nil {
			s.unknown(ls, err)
			return err
		}
		for _, w := range batch {
			if cur := ls.items[w.key]; cur != nil {
				cur.Comment = w.comment()
				s.m.rewritten.WithLabelValues(ls.name).Inc()
			} else {
				ls.items[w.key] = &remoteItem{IP: w.key, Comment: w.comment()}
				s.m.added.WithLabelValues(ls.name).Inc()
			}
		}
		adds = adds[n:]
	}
	s.m.listSize.WithLabelValues(ls.name).Set(float64(len(ls.items)))
	return nil
}

// unknown marks a list for re-reading after a write whose outcome is not
// certain. A write that was never accepted (429) leaves the list as it was.
func (s *Syncer) unknown(ls *listState, err error) {
	if rejected(err) {
		return
	}
	ls.known = false
}

// String describes the syncer for logs.
func (s *Syncer) String() string {
	if s.challenge != nil {
		return fmt.Sprintf("cfsync(%s, %s)", s.block.name, s.challenge.name)
	}
	return fmt.Sprintf("cfsync(%s)", s.block.name)
}

// ErrNotSynced is what Ready returns before the first sync.
var ErrNotSynced = errors.New("cfsync: lists not synced yet")

// Ready returns nil once the lists have matched the verdicts once (for
// /readyz).
func (s *Syncer) Ready() error {
	select {
	case <-s.synced:
		return nil
	default:
		return ErrNotSynced
	}
}
