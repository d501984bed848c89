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
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/enforce/edgesync"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
)

// maxItemsPerOp bounds one bulk operation's request body.
const maxItemsPerOp = 1000

// Syncer keeps the lists in step with the verdict topic: an
// edgesync.Syncer with the lists as its target.
type Syncer struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	api  *api
	loop *edgesync.Syncer

	block, challenge *listState
	otherItems       int // items held by lists Bulwark does not own
	lastRead         time.Time
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
		cfg:   cfg,
		log:   log,
		m:     m,
		api:   newAPI(cfg, m),
		block: &listState{name: cfg.List},
	}
	if cfg.ChallengeList != "" {
		s.challenge = &listState{name: cfg.ChallengeList}
	}
	loop, err := edgesync.New(edgesync.Config{
		Name:           "cfsync",
		Actions:        actions,
		SyncInterval:   cfg.SyncInterval,
		ResyncInterval: cfg.ResyncInterval,
		Retry:          s.api.policy(),
		RetryAfter:     retryAfterOf,
		Backoffs:       m.backoff,
	}, kafkaCfg, target{s}, log, reg)
	if err != nil {
		return nil, fmt.Errorf("cfsync: %w", err)
	}
	s.loop = loop
	return s, nil
}

// Synced is closed after the first successful sync following catch-up with
// the verdict topic: from then on the lists match the verdicts.
func (s *Syncer) Synced() <-chan struct{} { return s.loop.Synced() }

// Run follows the verdict topic and syncs until ctx is done.
func (s *Syncer) Run(ctx context.Context) error { return s.loop.Run(ctx) }

// target is the syncer as edgesync sees it; the methods stay unexported
// because only the loop may call them (from its one goroutine).
type target struct{ s *Syncer }

func (t target) Apply(ctx context.Context, active []blockset.Entry, now time.Time) error {
	return t.s.apply(ctx, active, now)
}
func (t target) Resync()               { t.s.resync() }
func (t target) ResyncedAt() time.Time { return t.s.lastRead }

// resync makes the next apply read every list again.
func (s *Syncer) resync() {
	s.block.known = false
	if s.challenge != nil {
		s.challenge.known = false
	}
}

// apply brings every list to the active entries once.
func (s *Syncer) apply(ctx context.Context, active []blockset.Entry, _ time.Time) (err error) {
	start := time.Now()
	defer func() {
		s.m.duration.Observe(time.Since(start).Seconds())
		if err != nil {
			s.m.syncs.WithLabelValues("error").Inc()
		} else {
			s.m.syncs.WithLabelValues("ok").Inc()
		}
	}()
	if !s.block.known || s.block.id == "" {
		if err := s.discover(ctx); err != nil {
			return err
		}
	}
	capacity := s.cfg.Capacity - s.otherItems
	p := desired(active, capacity, s.challenge != nil)
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
	case <-s.loop.Synced():
		return nil
	default:
		return ErrNotSynced
	}
}
