// Package decider turns scores into verdicts with a rule set: the action
// ladder, rules, allow lists, verified crawlers, learning mode, operator
// overrides and expiry. Decider is the in-process core (event time, no I/O
// but reverse DNS), used as is by `bulwark replay`; Service runs it between
// the scores topic and the compacted verdict topic.
//
// The verdict topic is the decider's memory. At start the Service reads it
// from the beginning (libs/verdicts/verdictlog) and restores every verdict in force,
// operator verdicts and repeat-offence counts included, before it decides
// on a single score; afterwards it keeps reading it, which is how it sees
// `bulwark block|allow|unblock`. Its own records come back too: it knows
// them (ownWrites) and does not take them for an operator's.
//
// Unblock: `bulwark unblock` writes a tombstone. The decider drops the
// verdict; but the aggregator's windows (up to 10 minutes, and rate_1h)
// still hold what the client did, so the very next score would block it
// again. So after a tombstone that lifts an active verdict the decider
// writes no computed verdict for the subject during the rule file's
// overrides.unblock_grace (default 15m), long enough for the windows to
// forget; then the client is judged afresh. An operator who wants a
// client left alone for longer uses `bulwark allow --ttl D`.
package decider

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/detect/robots"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// Why says what kind of change a Change is.
type Why uint8

const (
	// WhyNew: a subject without an active verdict gets one.
	WhyNew Why = iota + 1
	// WhyUpgrade: the action (or the would-be action in learning mode) got stronger.
	WhyUpgrade
	// WhyExtend: the same action, with a later expiry.
	WhyExtend
	// WhyLift: the subject became exempt (allow list, verified crawler, ALLOW rule); a tombstone.
	WhyLift
	// WhyExpire: the verdict's time is up; a tombstone.
	WhyExpire
	// WhyExpand: an fp: verdict's addresses changed, its action did not (fp.go).
	WhyExpand
)

func (w Why) String() string {
	switch w {
	case WhyNew:
		return "new"
	case WhyUpgrade:
		return "upgrade"
	case WhyExtend:
		return "extend"
	case WhyLift:
		return "lift"
	case WhyExpire:
		return "expire"
	case WhyExpand:
		return "expand"
	}
	return "unknown"
}

// Change is one record to write to the verdict topic, keyed by Subject.
type Change struct {
	Subject string
	// Verdict is nil for a tombstone (lifted or expired).
	Verdict *eventpb.Verdict
	Why     Why
}

// Options are the Decider's dependencies; every field may be left zero.
type Options struct {
	Log     *slog.Logger
	Metrics *Metrics
	// Resolver answers reverse DNS for crawler verification (nil: the system's).
	Resolver crawlers.Resolver
	// SyncCrawlerChecks makes Decide wait for reverse DNS (bounded by the
	// rule file's rdns_timeout). Off, a claim not answered from the ranges or
	// the cache is scored like any client until the background lookup is done.
	SyncCrawlerChecks bool
	// OverrideMaxTTL bounds every operator verdict read from the verdict
	// topic to this long after it was written (0: no bound). One without
	// expiry, or expiring later, is held with the bounded expiry, so the
	// decider writes its tombstone then: whoever wrote it (an old CLI, a
	// script), no override outlives BULWARK_OVERRIDE_MAX_TTL.
	OverrideMaxTTL time.Duration
}

// Decider holds the current verdict of every subject and decides on
// scores. It is safe for concurrent use; Decide, Expire and the
// verdict-topic callbacks are serialised by a mutex.
type Decider struct {
	log  *slog.Logger
	m    *Metrics
	opts Options

	// layers: the rule file and the live policy the rules are built from (live.go).
	layers layers

	mu       sync.Mutex
	rs       *rules.RuleSet
	verifier *crawlers.Verifier
	robots   *robots.Set
	machine  vm.VM

	state     map[string]*entry
	expiries  expiryHeap
	history   map[string]offence      // repeat offenders
	grace     map[string]time.Time    // after an unblock: no computed verdict until then
	allowNets map[string]netip.Prefix // operator ALLOW verdicts on addresses and networks
	lastSweep time.Time
	active    map[[2]string]int
	trusted   map[string]trust      // passed challenges (feedback.go)
	suspects  map[string]*suspicion // failed or inhuman answers (feedback.go)
	fps       map[string]struct{}   // the fp: verdicts held (fp.go)
	// fpDirty: something that can exempt an address changed since the fp:
	// verdicts were last filtered (fp.go refilterFPs).
	fpDirty bool
}

type entry struct {
	v        *eventpb.Verdict
	offences int
}

type offence struct {
	count int
	last  time.Time
}

// New builds a decider with the rule set rs.
func New(rs *rules.RuleSet, o Options) (*Decider, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	d := &Decider{
		log: o.Log.With("component", "decider"), m: o.Metrics, opts: o,
		state: map[string]*entry{}, history: map[string]offence{}, grace: map[string]time.Time{},
		allowNets: map[string]netip.Prefix{}, active: map[[2]string]int{},
		trusted: map[string]trust{}, suspects: map[string]*suspicion{}, fps: map[string]struct{}{},
	}
	if err := d.SetRules(rs); err != nil {
		return nil, err
	}
	return d, nil
}

// SetRules puts rs in force. It fails (and the rules in force stay) when
// the crawler ranges it names cannot be loaded.
func (d *Decider) SetRules(rs *rules.RuleSet) error {
	var v *crawlers.Verifier
	if rs.CrawlersEnabled {
		var err error
		if v, err = crawlers.New(rs.Crawlers, d.opts.Resolver, d.m.crawlers, d.log); err != nil {
			return fmt.Errorf("rules %s: %w", rs.Source, err)
		}
	}
	var rob *robots.Set
	if rs.Bots != nil && len(rs.Bots.Robots) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var err error
		rob, err = robots.Load(ctx, rs.Bots.Robots, nil)
		cancel()
		if err != nil {
			return fmt.Errorf("rules %s: bots.robots: %w", rs.Source, err)
		}
	}
	d.mu.Lock()
	if v != nil {
		v.Adopt(d.verifier)
	}
	d.rs, d.verifier, d.robots = rs, v, rob
	d.fpDirty = len(d.fps) > 0 // the allow lists may have changed
	d.mu.Unlock()
	d.m.rulesAt.SetToCurrentTime()
	return nil
}

// Rules returns the rule set in force.
func (d *Decider) Rules() *rules.RuleSet {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rs
}

// RefreshCrawlers re-fetches the published crawler ranges (see crawlers.Verifier.Refresh).
func (d *Decider) RefreshCrawlers(ctx context.Context) error {
	d.mu.Lock()
	v := d.verifier
	d.mu.Unlock()
	if v == nil {
		return nil
	}
	return v.Refresh(ctx)
}

// CrawlerAnswers returns the reverse-DNS answers the crawler verifier
// holds (none when verification is off), for `bulwark bots export-cache`.
func (d *Decider) CrawlerAnswers() []crawlers.Answer {
	d.mu.Lock()
	v := d.verifier
	d.mu.Unlock()
	if v == nil {
		return nil
	}
	return v.Answers()
}

// Current returns the verdict held for subject (nil: none). It may be past
// its expiry if Expire has not run since.
func (d *Decider) Current(subject string) *eventpb.Verdict {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.state[subject]; e != nil {
		return e.v
	}
	return nil
}

// Len returns how many verdicts the decider holds.
func (d *Decider) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.state)
}

// Decide decides on one score, at the score's event time, and returns the
// records to write: none when nothing changes, which is most of the time.
func (d *Decider) Decide(ctx context.Context, s *eventpb.Score) []Change {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m.scores.Inc()
	sub, err := subject.Parse(s.GetSubject())
	if err != nil {
		d.m.badScores.WithLabelValues("subject").Inc()
		d.log.Debug("score with a bad subject", "subject", s.GetSubject(), "err", err)
		return nil
	}
	key := sub.String()
	if s.GetTimeUnixNano() <= 0 {
		// Verdicts live in event time: without one, at and expires_at would be 1970.
		d.m.badScores.WithLabelValues("no_time").Inc()
		return nil
	}
	t := time.Unix(0, s.GetTimeUnixNano()).UTC()
	if sub.Kind == subject.KindFP {
		if id, ok := fpAttackEnded(s); ok {
			return d.liftFP(key, id)
		}
		if why := fpScoreProblem(s); why != "" {
			d.m.badScores.WithLabelValues(why).Inc()
			return nil
		}
	}

	cur := d.state[key]
	expired := cur != nil && !verdict.Active(cur.v, t)
	if expired {
		cur = nil
	}
	if cur != nil && cur.v.GetOrigin() == eventpb.Origin_OPERATOR {
		d.m.suppressed.WithLabelValues("override").Inc()
		return nil
	}
	if d.operatorAllows(sub, s.GetTrigger().GetClientIp(), t) {
		d.m.suppressed.WithLabelValues("override").Inc()
		return d.dropExpired(expired, key)
	}
	if until, ok := d.grace[key]; ok && t.Before(until) {
		d.m.suppressed.WithLabelValues("unblock_grace").Inc()
		return d.dropExpired(expired, key)
	}

	if sub.Kind == subject.KindFP {
		if cleared, _ := d.trustAt(key, t); cleared {
			// `bulwark label fp:HEX human`: people, for the label's clearance.
			d.m.suppressed.WithLabelValues("fp_labelled_human").Inc()
			return d.dropExpired(expired, key)
		}
	}
	dec := d.evaluate(ctx, s, key, sub)
	// Passed challenges (feedback.go) lower the score by their trust
	// credit, except where it decides a BLOCK: no credit buys that off.
	cleared, credit := d.trustAt(key, t)
	if credit > 0 && dec.exempt == "" && dec.action < eventpb.Action_BLOCK && dec.wouldBe < eventpb.Action_BLOCK {
		s = proto.Clone(s).(*eventpb.Score)
		s.Score = max(s.GetScore()-credit, 0)
		dec = d.evaluate(ctx, s, key, sub)
	}
	if cleared && dec.action == eventpb.Action_CHALLENGE && dec.exempt == "" {
		d.m.suppressed.WithLabelValues("challenge_passed").Inc()
		return d.dropExpired(expired, key)
	}
	if dec.exempt != "" {
		d.m.exempt.WithLabelValues(dec.exempt).Inc()
		if cur != nil {
			d.m.lifts.WithLabelValues(dec.exempt).Inc()
			d.remove(key)
			return []Change{{Subject: key, Why: WhyLift}}
		}
		return d.dropExpired(expired, key)
	}
	if dec.action == eventpb.Action_ALLOW {
		return d.dropExpired(expired, key)
	}
	var addrs []string
	expand := false
	if sub.Kind == subject.KindFP {
		var prev *eventpb.Verdict
		if cur != nil {
			prev = cur.v
		}
		addrs, expand = d.fpAddresses(prev, s, t)
		if len(addrs) == 0 {
			d.m.suppressed.WithLabelValues("fp_all_exempt").Inc()
			return d.dropExpired(expired, key)
		}
	}

	why, offences := WhyNew, 0
	switch {
	case cur == nil:
	case rank(dec.action, dec.wouldBe) > rank(cur.v.GetAction(), cur.v.GetWouldBe()):
		why, offences = WhyUpgrade, cur.offences
	case rank(dec.action, dec.wouldBe) == rank(cur.v.GetAction(), cur.v.GetWouldBe()):
		offences = cur.offences
		exp := cur.v.GetExpiresAtUnixNano()
		ttl := d.ttl(dec, offences)
		if exp == 0 || time.Duration(exp-t.UnixNano()) >= time.Duration(float64(ttl)*d.rs.TTL.ExtendBelow) {
			if !expand {
				return nil
			}
			why = WhyExpand
		} else {
			why = WhyExtend
		}
	case expand:
		// Weaker than the verdict in force, which keeps its action and
		// expiry; the fingerprint's new addresses join it.
		v := proto.CloneOf(cur.v)
		v.Addresses = addrs
		d.put(key, &entry{v: v, offences: cur.offences})
		d.m.verdicts.WithLabelValues(verdict.ActionString(v.Action), wouldBeLabel(v.WouldBe), v.Rule, WhyExpand.String()).Inc()
		return []Change{{Subject: key, Verdict: v, Why: WhyExpand}}
	default:
		return nil // weaker: the verdict in force runs out
	}
	if dec.action >= eventpb.Action_CHALLENGE && (cur == nil || cur.v.GetAction() < eventpb.Action_CHALLENGE) {
		offences = d.offend(key, t)
	}
	ttl := d.ttl(dec, offences)
	v := &eventpb.Verdict{
		Subject: key, Action: dec.action, Score: s.GetScore(), Reasons: dec.reasons(s.GetScore(), offences, s.GetReasons()),
		AtUnixNano: t.UnixNano(), ExpiresAtUnixNano: t.Add(ttl).UnixNano(),
		Origin: eventpb.Origin_COMPUTED, Rule: dec.rule, WouldBe: dec.wouldBe, Addresses: addrs,
	}
	d.put(key, &entry{v: v, offences: offences})
	if v.WouldBe != eventpb.Action_ACTION_UNSPECIFIED {
		d.log.Info("learning mode: verdict written as "+verdict.ActionString(v.Action), "subject", key,
			"would_be", verdict.ActionString(v.WouldBe), "rule", v.Rule, "score", v.Score, "why", why.String())
	}
	d.m.verdicts.WithLabelValues(verdict.ActionString(v.Action), wouldBeLabel(v.WouldBe), v.Rule, why.String()).Inc()
	return []Change{{Subject: key, Verdict: v, Why: why}}
}

// ttl is the decision's TTL, lengthened for repeat offenders.
func (d *Decider) ttl(dec decision, offences int) time.Duration {
	if dec.action >= eventpb.Action_CHALLENGE {
		return d.rs.Escalation.Apply(dec.ttl, offences)
	}
	return dec.ttl
}

// dropExpired tombstones a verdict that expired before Expire ran, when
// no new verdict replaces it.
func (d *Decider) dropExpired(expired bool, key string) []Change {
	if !expired {
		return nil
	}
	return []Change{d.expireEntry(key)}
}

func rank(a, wouldBe eventpb.Action) int { return int(a)*8 + int(wouldBe) }

func wouldBeLabel(a eventpb.Action) string {
	if a == eventpb.Action_ACTION_UNSPECIFIED {
		return ""
	}
	return verdict.ActionString(a)
}

// offend counts a new CHALLENGE or BLOCK incident of key.
func (d *Decider) offend(key string, t time.Time) int {
	h := d.history[key]
	if h.count == 0 || t.Sub(h.last) > d.rs.Escalation.Window {
		h.count = 0
	}
	h.count++
	h.last = t
	d.history[key] = h
	return h.count
}

// operatorAllows reports whether an operator ALLOW covers sub: an allowed
// network covers its addresses, and a network subject overlapping an
// allowed address or network is not judged, nor is a session whose
// request came from an allowed address (as with the allow list).
func (d *Decider) operatorAllows(sub subject.Subject, clientIP string, t time.Time) bool {
	if len(d.allowNets) == 0 {
		return false
	}
	client, _ := netip.ParseAddr(clientIP)
	client = client.Unmap()
	for k, p := range d.allowNets {
		e := d.state[k]
		if e == nil || !verdict.Active(e.v, t) {
			continue
		}
		switch sub.Kind {
		case subject.KindIP:
			if p.Contains(sub.Addr) {
				return true
			}
		case subject.KindNet:
			// Either way round: a network verdict must not block an allowed address in it.
			if p.Overlaps(sub.Prefix) {
				return true
			}
		case subject.KindSession:
			if client.IsValid() && p.Contains(client) {
				return true
			}
		}
	}
	return false
}

// Expire removes the verdicts whose expiry is at or before now and returns
// their tombstones, oldest expiry first.
func (d *Decider) Expire(now time.Time) []Change {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Change
	ns := now.UnixNano()
	for d.expiries.Len() > 0 && d.expiries[0].at <= ns {
		it := heap.Pop(&d.expiries).(expiryItem)
		if e := d.state[it.subject]; e != nil && e.v.GetExpiresAtUnixNano() == it.at {
			out = append(out, d.expireEntry(it.subject))
		}
	}
	if now.Sub(d.lastSweep) > time.Minute {
		d.sweep(now)
	}
	if d.fpDirty {
		out = append(out, d.refilterFPs(now)...)
	}
	return out
}

func (d *Decider) expireEntry(key string) Change {
	d.m.expiries.WithLabelValues(originLabel(d.state[key].v.GetOrigin())).Inc()
	d.remove(key)
	return Change{Subject: key, Why: WhyExpire}
}

// sweep forgets offences older than the escalation window and finished grace periods.
func (d *Decider) sweep(now time.Time) {
	d.lastSweep = now
	for k, h := range d.history {
		if now.Sub(h.last) > d.rs.Escalation.Window {
			delete(d.history, k)
		}
	}
	for k, until := range d.grace {
		if !now.Before(until) {
			delete(d.grace, k)
		}
	}
}

// NextExpiry returns the earliest expiry of a held verdict.
func (d *Decider) NextExpiry() (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.expiries.Len() > 0 {
		it := d.expiries[0]
		if e := d.state[it.subject]; e != nil && e.v.GetExpiresAtUnixNano() == it.at {
			return time.Unix(0, it.at), true
		}
		heap.Pop(&d.expiries) // stale: the verdict was replaced or removed
	}
	return time.Time{}, false
}

// Reserve sizes the held state for about n verdicts before a restore, so
// that restoring a million verdicts does not rehash the maps as they grow
// (a third of the decider's start-up CPU). It does nothing once state is held.
func (d *Decider) Reserve(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.state) > 0 || n <= 0 {
		return
	}
	d.state = make(map[string]*entry, n)
	d.history = make(map[string]offence, n)
	d.expiries = make(expiryHeap, 0, n)
}

// Restore adopts a record of the verdict topic read while catching up at
// start (nil v: a tombstone), so a restarted decider continues with the
// verdicts, overrides and repeat-offence counts in force.
func (d *Decider) Restore(subject string, v *eventpb.Verdict) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v == nil {
		d.remove(subject)
		return
	}
	d.adopt(subject, d.boundOperator(subject, v, time.Now()))
}

// boundOperator returns v, or for an operator verdict that holds longer
// than OverrideMaxTTL after it was written (or for ever) a copy expiring
// then. now stands in for a verdict without a time.
func (d *Decider) boundOperator(key string, v *eventpb.Verdict, now time.Time) *eventpb.Verdict {
	maxTTL := d.opts.OverrideMaxTTL
	if maxTTL <= 0 || v.GetOrigin() != eventpb.Origin_OPERATOR {
		return v
	}
	at := verdict.At(v)
	if at.IsZero() {
		at = now
	}
	bound := at.Add(maxTTL).UnixNano()
	if exp := v.GetExpiresAtUnixNano(); exp != 0 && exp <= bound {
		return v
	}
	d.m.overridesBounded.Inc()
	d.log.Warn("operator verdict holds longer than BULWARK_OVERRIDE_MAX_TTL; it will be lifted at the bound",
		"subject", key, "expires", verdict.ExpiresAt(v), "bound", time.Unix(0, bound).UTC(), "max_ttl", maxTTL)
	b := proto.CloneOf(v)
	b.ExpiresAtUnixNano = bound
	return b
}

// Observe applies a record of the verdict topic that this decider did not
// write, seen after catching up: an operator's block or allow, an
// operator's unblock (a tombstone), or another replica's verdict. After an
// unblock no computed verdict is written for the subject until the rule
// set's unblock_grace has passed since now (see default.yaml for why).
func (d *Decider) Observe(subject string, v *eventpb.Verdict, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v == nil {
		// Only a tombstone that lifts an active verdict is an unblock: one
		// for a verdict already expired is another replica's expiry.
		e := d.state[subject]
		if e == nil || !verdict.Active(e.v, now) {
			d.remove(subject)
			return
		}
		d.m.overrides.WithLabelValues("UNBLOCK").Inc()
		d.remove(subject)
		if g := d.rs.UnblockGrace; g > 0 {
			d.grace[subject] = now.Add(g)
		}
		return
	}
	if v.GetOrigin() == eventpb.Origin_OPERATOR {
		d.m.overrides.WithLabelValues(verdict.ActionString(v.GetAction())).Inc()
		delete(d.grace, subject)
		v = d.boundOperator(subject, v, now)
	}
	d.adopt(subject, v)
}

func (d *Decider) adopt(key string, v *eventpb.Verdict) {
	e := &entry{v: v}
	if v.GetOrigin() != eventpb.Origin_OPERATOR && v.GetAction() >= eventpb.Action_CHALLENGE {
		e.offences = parseOffences(v.GetReasons())
		h := d.history[key]
		if at := verdict.At(v); e.offences >= h.count {
			d.history[key] = offence{count: e.offences, last: at}
		}
	}
	d.put(key, e)
}

func (d *Decider) put(key string, e *entry) {
	d.remove(key)
	d.state[key] = e
	d.count(e.v, 1)
	if exp := e.v.GetExpiresAtUnixNano(); exp != 0 {
		heap.Push(&d.expiries, expiryItem{at: exp, subject: key})
	}
	if strings.HasPrefix(key, "fp:") {
		d.fps[key] = struct{}{}
	}
	if e.v.GetOrigin() == eventpb.Origin_OPERATOR && e.v.GetAction() == eventpb.Action_ALLOW {
		d.fpDirty = d.fpDirty || len(d.fps) > 0
		if s, err := subject.Parse(key); err == nil {
			switch s.Kind {
			case subject.KindNet:
				d.allowNets[key] = s.Prefix
			case subject.KindIP:
				d.allowNets[key] = netip.PrefixFrom(s.Addr, s.Addr.BitLen())
			}
		}
	}
}

func (d *Decider) remove(key string) {
	if e := d.state[key]; e != nil {
		d.count(e.v, -1)
		delete(d.state, key)
		delete(d.allowNets, key)
		delete(d.fps, key)
	}
}

func (d *Decider) count(v *eventpb.Verdict, n int) {
	k := [2]string{verdict.ActionString(v.GetAction()), originLabel(v.GetOrigin())}
	d.active[k] += n
	d.m.active.WithLabelValues(k[0], k[1]).Set(float64(d.active[k]))
}

func originLabel(o eventpb.Origin) string {
	if o == eventpb.Origin_OPERATOR {
		return "operator"
	}
	return "computed"
}

type expiryItem struct {
	at      int64
	subject string
}

// expiryHeap orders held verdicts by expiry (ties by subject, so replay
// writes tombstones in a deterministic order). Entries of replaced verdicts
// stay until popped and are skipped then.
type expiryHeap []expiryItem

func (h expiryHeap) Len() int { return len(h) }
func (h expiryHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].subject < h[j].subject
}
func (h expiryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)   { *h = append(*h, x.(expiryItem)) }
func (h *expiryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// settle makes the held verdict of subject equal v, the last record this
// decider wrote for it, now read back from the topic. It only changes
// something when another writer's record (an operator's) landed between
// this decider's writes, so that the held state follows the topic's order.
func (d *Decider) settle(subject string, v *eventpb.Verdict) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.state[subject]
	switch {
	case v == nil && e == nil:
	case v == nil:
		d.remove(subject)
	case e != nil && proto.Equal(e.v, v):
	default:
		d.adopt(subject, v)
	}
}
