// Package blockset holds the set of enforceable verdicts that an edge syncer
// (Cloudflare lists, nftables) keeps in step with: it is fed by verdictlog,
// keeps only the actions the syncer enforces, drops what cannot be enforced
// at the edge (sessions), expands an fp: verdict into one entry per address
// it lists (at most subject.MaxFPAddresses each), and wakes the syncer when
// something changed. An address listed by an fp: verdict and by its own
// verdict is two entries with one prefix: the syncers merge entries by
// prefix (strongest action, longest expiry), so lifting either leaves the
// other in force.
package blockset

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// Entry is one enforceable verdict.
type Entry struct {
	Subject string
	// Prefix is the network the verdict covers: a single address is its
	// host prefix (/32 or /128).
	Prefix    netip.Prefix
	Action    eventpb.Action
	Score     float64
	Reasons   []string
	ExpiresAt time.Time // zero: never
}

// Expires reports whether the entry has an expiry.
func (e Entry) Expires() bool { return !e.ExpiresAt.IsZero() }

// Set is the table of enforceable verdicts. It is safe for concurrent use:
// verdictlog applies from its goroutine while the syncer reads snapshots.
type Set struct {
	mu      sync.Mutex
	entries map[string]Entry
	// fps are the fp: verdicts: their entry (Prefix unset) and the
	// addresses it stands for.
	fps     map[string]fpEntry
	actions map[eventpb.Action]bool
	changed chan struct{}
	log     *slog.Logger

	skipped *prometheus.CounterVec
	size    prometheus.Gauge
}

// New builds a set that keeps verdicts whose action is one of actions.
// name labels its metrics ("cfsync", "fwsync").
func New(name string, actions []eventpb.Action, log *slog.Logger, reg prometheus.Registerer) *Set {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Set{
		entries: map[string]Entry{},
		fps:     map[string]fpEntry{},
		actions: map[eventpb.Action]bool{},
		changed: make(chan struct{}, 1),
		log:     log,
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "bulwark_blockset_skipped_total",
			Help:        "Verdicts that cannot be enforced at the edge, by reason (session, malformed).",
			ConstLabels: prometheus.Labels{"syncer": name},
		}, []string{"reason"}),
		size: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "bulwark_blockset_entries",
			Help:        "Enforceable verdicts held, expired ones included until their tombstone.",
			ConstLabels: prometheus.Labels{"syncer": name},
		}),
	}
	for _, a := range actions {
		s.actions[a] = true
	}
	if reg != nil {
		reg.MustRegister(s.skipped, s.size)
	}
	return s
}

// ParseActions parses a comma-separated list of action names ("BLOCK,CHALLENGE").
func ParseActions(list string) ([]eventpb.Action, error) {
	var out []eventpb.Action
	for f := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		a, err := verdict.ParseAction(f)
		if err != nil {
			return nil, err
		}
		if a < eventpb.Action_CHALLENGE {
			return nil, fmt.Errorf("action %s does not stop traffic: want BLOCK or CHALLENGE", verdict.ActionString(a))
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no action given: want BLOCK and/or CHALLENGE")
	}
	return out, nil
}

// Apply takes one record of the verdict topic (v nil: lifted). It has the
// signature of verdictlog.Apply.
func (s *Set) Apply(subj string, v *eventpb.Verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, had := s.entries[subj]
	_, hadFP := s.fps[subj]
	if v == nil || !s.actions[v.GetAction()] {
		// Lifted, or downgraded to an action this syncer does not enforce.
		if had || hadFP {
			delete(s.entries, subj)
			delete(s.fps, subj)
			s.touch()
		}
		return
	}
	sub, err := subject.Parse(subj)
	if err != nil {
		s.skipped.WithLabelValues("malformed").Inc()
		s.log.Warn("verdict on a malformed subject skipped", "subject", subj, "err", err)
		return
	}
	var p netip.Prefix
	switch sub.Kind {
	case subject.KindIP:
		p = netip.PrefixFrom(sub.Addr, sub.Addr.BitLen())
	case subject.KindNet:
		p = sub.Prefix
	case subject.KindFP:
		s.applyFP(subj, v)
		return
	default:
		// A session cannot be enforced by address; the sidecar handles it.
		s.skipped.WithLabelValues("session").Inc()
		return
	}
	s.entries[subj] = Entry{
		Subject:   subj,
		Prefix:    p,
		Action:    v.GetAction(),
		Score:     v.GetScore(),
		Reasons:   slices.Clone(v.GetReasons()),
		ExpiresAt: verdict.ExpiresAt(v),
	}
	s.touch()
}

// touch signals a change without blocking; called with mu held.
func (s *Set) touch() {
	n := len(s.entries)
	for _, f := range s.fps {
		n += len(f.prefixes)
	}
	s.size.Set(float64(n))
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Changed receives a value after the set changed (coalesced: one value stands
// for any number of changes since the last receive).
func (s *Set) Changed() <-chan struct{} { return s.changed }

// Active returns the entries in force at now, sorted by subject.
func (s *Set) Active(now time.Time) []Entry {
	s.mu.Lock()
	out := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		if e.ExpiresAt.IsZero() || now.Before(e.ExpiresAt) {
			out = append(out, e)
		}
	}
	out = s.appendFPs(out, now)
	s.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Entry) int {
		if c := strings.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		return a.Prefix.Addr().Compare(b.Prefix.Addr())
	})
	return out
}

// NextExpiry returns the earliest expiry after now, or the zero time if no
// entry expires: a syncer wakes then to drop the expired entry.
func (s *Set) NextExpiry(now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, e := range s.entries {
		if e.ExpiresAt.After(now) && (next.IsZero() || e.ExpiresAt.Before(next)) {
			next = e.ExpiresAt
		}
	}
	for _, f := range s.fps {
		if e := f.e; e.ExpiresAt.After(now) && (next.IsZero() || e.ExpiresAt.Before(next)) {
			next = e.ExpiresAt
		}
	}
	return next
}

// Len is the number of entries held, expired ones included.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.entries)
	for _, f := range s.fps {
		n += len(f.prefixes)
	}
	return n
}
