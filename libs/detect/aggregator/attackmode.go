package aggregator

import (
	"net/netip"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/detect/window"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// WithAttackMode turns on the site-wide view (libs/detect/attacks): per
// endpoint class baselines whose anomalies are attack records (TakeAttacks),
// and attack mode: while an enforcing attack is active on a class, a client
// without good history that reaches it is raised to CHALLENGE, and one that
// also carries the attack's fingerprint and fails there to BLOCK, with
// reasons naming the attack and the fingerprint. Allow lists, verified
// crawlers and passed challenges still win: those are the decider's, and
// it applies them to these scores as to any.
func WithAttackMode(cfg attacks.Config) Option {
	return func(o *options) { c := cfg; o.attacks = &c }
}

// WithSiteFold makes attack mode site-wide across partitions (with
// WithAttackMode): the engine only counts its partition's share
// (TakeSiteCounts, for the site-counts topic) and judges its clients by the
// attacks of f, the fold of every partition's counts (attacks.Fold). The
// engine uses f only from the goroutine that calls Process.
func WithSiteFold(f *attacks.Fold) Option {
	return func(o *options) { o.fold = f }
}

// Attack-mode floors: the score a client is raised to (the decider's ladder
// turns them into CHALLENGE and BLOCK).
const (
	attackChallenge = 72
	attackBlock     = 92
)

// maxFailuresPerClient is how many failures in ten minutes an address may
// have and still count in the site-wide measures.
const maxFailuresPerClient = 6

// siteMode is the engine's part of attack mode.
type siteMode struct {
	// det counts this engine's requests; site is the detector whose
	// attacks apply: det itself, or the fold's (WithSiteFold), det then
	// only counting.
	det, site *attacks.Detector
	// floor and reasons apply to the IP subject of the event being processed.
	floor   float64
	reasons []string
	applied bool
	// held are the addresses raised by attack mode, with the attack that
	// raised them: an idle flush keeps the floor while that attack lasts.
	held map[addrKey]held
	long map[addrKey]*longState // long windows (longwindow.go)
	// longDirty are the addresses whose long windows changed since the
	// last Changes (attackstate.go); nil unless the engine tracks changes.
	longDirty map[addrKey]struct{}
	crawl     map[uint64]*fpCrawl // shared-fingerprint crawls (fpcrawl.go)
	// recall are addresses of a crawl recognised just now, to be judged.
	recall []recalled
	// fps are the fingerprints scored as subjects (fpsubject.go), and
	// fpPending their scores to build at this event.
	fps       map[uint64]*fpState
	fpPending []fpPending
	fpUnsent  int // addresses waiting in fps for their score
	stats     AttackStats
}

type held struct {
	long    bool   // raised by its long window, not by an attack
	crawl   uint64 // raised as part of this fingerprint's crawl
	class   attacks.Class
	floor   float64
	reasons []string
}

// AttackStats count attack mode's work, for metrics.
type AttackStats struct {
	Challenged uint64 // scores raised to CHALLENGE by attack mode
	Blocked    uint64 // scores raised to BLOCK by attack mode
	FPScores   uint64 // fp: subjects scored (fpsubject.go)
}

func newSiteMode(cfg *attacks.Config, fold *attacks.Fold) *siteMode {
	if cfg == nil {
		return nil
	}
	det := attacks.New(*cfg)
	site := det
	if fold != nil {
		site = fold.Detector()
		det = attacks.NewCounter(*cfg, site)
	}
	return &siteMode{det: det, site: site, held: map[addrKey]held{}, long: map[addrKey]*longState{}, crawl: map[uint64]*fpCrawl{}, fps: map[uint64]*fpState{}}
}

// observe feeds one event to the detector and decides attack mode for its
// client. It runs after the client's IP state was updated; prev is the
// state's time before (0 for a new client) and browser whether it had
// loaded an asset before. It reports whether the IP must be scored now.
func (s *siteMode) observe(ev *eventpb.RequestEvent, o *features.Obs, ip *ipState, ipk addrKey, prev int64, browser bool) bool {
	s.floor, s.reasons, s.applied = 0, nil, false
	s.det.Advance(o.T)
	class := attacks.Classify(ev.GetPath(), o.Flags)
	fp := attacks.Fingerprint(ev)
	if class == attacks.ClassNone {
		s.observeCrawl(fp, o.IP, ipk, "", o.T, true, 0, false)
		return false
	}
	failed := attacks.Failed(o.Status, o.Flags)
	// One address weighs at most a few failures in the site-wide measures:
	// a single address hammering the login is the per-address detectors'
	// business, and must not make the baseline (or hide an attack behind
	// a failure ratio it already holds high).
	m := window.Slot(ip.Behaviour.Last, int64(time.Minute))
	if fails := window.Sum(ip.Behaviour.LoginFail[:], m, m); fails <= maxFailuresPerClient {
		s.det.Observe(attacks.Hit{
			T: o.T, Class: class, Failed: failed, NewClient: prev == 0,
			NoPage: !browser && o.Flags&features.ReqPost != 0, FP: fp,
			FirstFailure: failed && fails <= 1,
		})
	}
	product := o.HasID && class == attacks.ClassPages
	crawl := s.observeCrawl(fp, o.IP, ipk, ev.GetPath(), o.T, false, o.ID, product)
	busy := ip.Behaviour.Paths.Estimate(ip.Behaviour.Last, o.T) >= longStartPages
	if floor, reason := s.observeLong(ipk, o.T, class == attacks.ClassCart, o.ID, product, busy); floor > 0 {
		s.raise(floor, []string{reason})
		s.held[ipk] = held{long: true, floor: s.floor, reasons: s.reasons}
	}
	if goodHistory(ip) {
		return s.floor > 0
	}
	// Without good history: the attack's fingerprint is challenged as soon
	// as it reaches the class (before its POST does), and blocked once it
	// fails there; any other client is challenged after a failure only, so
	// that people who type their password right keep logging in. A crawl's
	// fingerprint is challenged: a fingerprint alone never blocks.
	if a, match := s.site.Matches(class, fp); a != nil && (match || failed) {
		floor, reasons := float64(attackChallenge), []string{"attack=" + a.GetId()}
		if match {
			reasons = append(reasons, "fp="+attacks.FPString(fp))
			if failed {
				floor = attackBlock
				s.noteFP(fp, class, a, ipk, o.T)
			}
		}
		if s.raise(floor, reasons) {
			s.held[ipk] = held{class: class, floor: s.floor, reasons: s.reasons}
		}
	}
	// Of a crawl's fingerprint, the addresses that fetch pages without their
	// images (a person sharing the browser build loads a product's images).
	if pages, assets := ip.Behaviour.Pages10m(o.T); crawl != nil && product && pages >= 2 && assets <= 3 {
		if s.raise(attackChallenge, []string{"attack=" + crawl.GetId(), "fp=" + attacks.FPString(fp)}) {
			s.held[ipk] = held{class: class, crawl: fp, floor: s.floor, reasons: s.reasons}
		}
	}
	return s.floor > 0
}

// raise sets the floor for the event's address when floor is above the
// one set so far, and reports whether it did.
func (s *siteMode) raise(floor float64, reasons []string) bool {
	if floor <= s.floor {
		return false
	}
	s.floor, s.reasons = floor, reasons
	return true
}

// goodHistory: the address has browsed for a while, as a person does (pages
// in at least three of the last six ten-minute slots), so attack mode leaves
// it to the usual scores.
func goodHistory(ip *ipState) bool {
	slots := 0
	for _, n := range ip.Behaviour.Hour {
		if n > 0 {
			slots++
		}
	}
	return slots >= 3
}

// apply raises an IP subject's score to the attack-mode floor.
func (s *siteMode) apply(kind subject.Kind, score float64) float64 {
	if s == nil || kind != subject.KindIP || s.floor <= score {
		return score
	}
	s.applied = true
	if s.floor >= attackBlock {
		s.stats.Blocked++
	} else {
		s.stats.Challenged++
	}
	return s.floor
}

// reasonsFor returns the attack reasons to put first on a score just raised.
func (s *siteMode) reasonsFor() []string {
	if s == nil || !s.applied {
		return nil
	}
	return s.reasons
}

// done clears the per-event decision after the IP subject was considered.
func (s *siteMode) done() {
	if s != nil {
		s.floor, s.reasons, s.applied = 0, nil, false
	}
}

// holdIdle keeps an idle address raised by attack mode at its floor while
// the attack that raised it lasts, so that its verdict does not flap
// between its posts; it forgets the address once the attack ended.
func (s *siteMode) holdIdle(k hotKey, score float64) float64 {
	if s == nil || k.kind != subject.KindIP {
		return score
	}
	h, ok := s.held[k.key]
	if !ok {
		return score
	}
	if h.long {
		if ls := s.long[k.key]; ls == nil || ls.floor == 0 {
			delete(s.held, k.key)
			return score
		}
	} else if h.crawl != 0 {
		if st := s.crawl[h.crawl]; st == nil || !st.crawling {
			delete(s.held, k.key)
			return score
		}
	} else if a, _ := s.site.Matches(h.class, 0); a == nil {
		delete(s.held, k.key)
		return score
	}
	if h.floor > score {
		s.floor, s.reasons, s.applied = h.floor, h.reasons, true
		return h.floor
	}
	return score
}

// sweep forgets the held addresses once no attack is active: the map lives
// only as long as the attacks that filled it.
func (s *siteMode) sweep(now int64) {
	if s == nil {
		return
	}
	if now/int64(time.Minute)%10 == 0 {
		s.sweepLong(now)
		s.sweepCrawl(now)
	}
	if len(s.fps) > 0 {
		s.sweepFPs()
	}
	if len(s.held) > 0 && s.site.Stats().Active == 0 {
		for k, h := range s.held {
			if !h.long && h.crawl == 0 {
				delete(s.held, k)
			}
		}
	}
}

// withAttackReasons puts attack mode's reasons before the scorer's.
func withAttackReasons(attack, rest []string) []string {
	if len(attack) == 0 {
		return rest
	}
	return append(append(make([]string, 0, len(attack)+len(rest)), attack...), rest...)
}

// TakeAttacks returns the attack records raised since the last call (none
// without WithAttackMode).
func (e *Engine) TakeAttacks() []*eventpb.Attack {
	if e.attack == nil {
		return nil
	}
	return e.attack.det.Take()
}

// TakeSiteCounts returns the counts of the minutes the engine closed since
// the last call, with WithSiteFold (partition fields unset).
func (e *Engine) TakeSiteCounts() []*eventpb.SiteCounts {
	if e.attack == nil {
		return nil
	}
	return e.attack.det.TakeCounts()
}

// ActiveAttacks returns the attacks active now.
func (e *Engine) ActiveAttacks() []*eventpb.Attack {
	if e.attack == nil {
		return nil
	}
	return e.attack.site.Active()
}

// AttackStats returns attack mode's counters and the detector's.
func (e *Engine) AttackStats() (AttackStats, attacks.Stats) {
	if e.attack == nil {
		return AttackStats{}, attacks.Stats{}
	}
	return e.attack.stats, e.attack.det.Stats()
}

// attackStartSlack: a record this close to its attack's start is its first
// (logged as a warning; the later ones at info when it ends).
const attackStartSlack = 6 * time.Minute

// recalled is an address seen with a crawl's fingerprint before the crawl
// was recognised.
type recalled struct {
	crawlSeen
	fp     uint64
	attack *eventpb.Attack
}

// recallCrawl judges the addresses of a crawl recognised at this event that
// viewed its products before: those without good history that fetched
// pages without their images are raised to CHALLENGE now, with their own
// last product view as the trigger. This is how a fingerprint's verdict
// reaches the addresses seen with it.
func (e *Engine) recallCrawl(ev *eventpb.RequestEvent, t int64, dst []*eventpb.Score) []*eventpb.Score {
	s := e.attack
	recall := s.recall
	s.recall = nil
	for _, r := range recall {
		ip := e.ips.lookup(r.k)
		if ip == nil || goodHistory(ip) {
			continue
		}
		if pages, assets := ip.Behaviour.Pages10m(ip.Behaviour.Last); pages < 2 || assets > 3 {
			continue
		}
		addr := netip.AddrFrom16(r.k).Unmap()
		trig := &eventpb.RequestEvent{
			TimeUnixNano: r.t, ClientIp: addr.String(), Method: "GET", Host: ev.GetHost(), Path: r.path,
			Protocol: ev.GetProtocol(), Status: 200, UserAgent: ev.GetUserAgent(),
		}
		e.vector = features.Vector{}
		ip.Behaviour.Compute(t, &e.vector)
		ip.Extra.Compute(ip.Behaviour.Last, t, &e.vector)
		e.sigReason = ""
		s.floor, s.reasons = attackChallenge, []string{"attack=" + r.attack.GetId(), "fp=" + attacks.FPString(r.fp)}
		dst = e.consider(subject.KindIP, r.k, &ip.Emission, trig, &trig, addr, t, ip.Behaviour.Last, dst)
		if s.applied {
			s.held[r.k] = held{class: attacks.ClassPages, crawl: r.fp, floor: s.floor, reasons: s.reasons}
		}
		s.done()
	}
	return dst
}

// ForceAttack puts an operator's attack (attacks.NewForced) to work on
// this engine's detector; see attacks.Detector.Force.
func (e *Engine) ForceAttack(a *eventpb.Attack) bool {
	if e.attack == nil {
		return false
	}
	return e.attack.site.Force(a)
}

// EndAttack ends attack id on this engine as an operator asked: a forced
// or detected one (attacks.Detector.EndByOperator), or a fingerprint's
// crawl, which is recognised again under a new id if it goes on.
func (e *Engine) EndAttack(id string) bool {
	if e.attack == nil {
		return false
	}
	e.attack.endFPs(id)
	if e.attack.site.EndByOperator(id) {
		return true
	}
	for _, st := range e.attack.crawl {
		if st.crawling && st.attack.GetId() == id {
			st.crawling, st.attack = false, nil
			return true
		}
	}
	return false
}
