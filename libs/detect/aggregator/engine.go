package aggregator

import (
	"cmp"
	"encoding/binary"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/detect/signatures"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// Emission is what a subject last emitted, to emit on change only.
type Emission struct {
	At        int64   // event time of the last emitted score
	Score     float32 // the last emitted score
	ScoredSec uint32  // the second (Unix) the subject was last scored in
}

// fresh reports whether a subject must be scored for this event, and marks
// it scored. A subject is scored at its first request of each second of event
// time and at every request that can move a score by itself (sensitive,
// login, checkout, POST, deep page, error status, a new kind of user agent).
// The other requests of that second (a page's assets, a flood's next
// requests) only update the windows: scoring them would repeat the same
// judgement, and this is where most of the engine's time would go.
func (em *Emission) fresh(sec uint32, plain bool) bool {
	if plain && em.ScoredSec == sec {
		return false
	}
	em.ScoredSec = sec
	return true
}

// The state of each kind of subject: its request behaviour (windows and
// counters), what only an address has (user agents and sessions seen from
// it), a network's counters, and what was last emitted for it. The state
// tags name the fields in the state records (stateformat.go): they stay
// when a Go name changes.
type ipState struct {
	Behaviour features.Behaviour `state:"behaviour"`
	Extra     features.IPExtra   `state:"ip_extra"`
	Emission  Emission           `state:"emission"`
}

type sessionState struct {
	Behaviour features.Behaviour `state:"behaviour"`
	Emission  Emission           `state:"emission"`
}

type netState struct {
	Net      features.Net `state:"net"`
	Emission Emission     `state:"emission"`
}

// Key spaces of the state tables. An address key is the 16-byte form of the
// unmapped address (IPv4 as ::ffff:a.b.c.d); a network key is its masked
// prefix address (the prefix length follows from the family).
type addrKey = [16]byte

// hotKey names a subject whose last score was at or above hotScore.
type hotKey struct {
	kind subject.Kind
	key  [16]byte // the address, network or session key of its table (a session's in the first 8 bytes)
}

// hotScore is the lowest score (MONITOR) whose subject is watched for an
// idle flush: when it goes quiet, its decayed score is emitted so the decider
// can relax a verdict before it expires.
const hotScore = 50

// Defaults of the engine options.
const (
	// DefaultAllowedLateness covers logs merged from several workers or
	// servers, out of order by up to a minute or two: such events are
	// merged into their windows, not lost.
	DefaultAllowedLateness = 2 * time.Minute
	DefaultIdleTimeout     = time.Hour
	DefaultRefresh         = time.Minute
)

type options struct {
	lateness, idle, refresh time.Duration
	sigs                    *signatures.Holder
	sigsSet                 bool
	hosting                 features.ASNSet
	model                   *model.Holder // model.go
	sampler                 func(*Sample)
	attacks                 *attacks.Config // nil: attack mode off (attackmode.go)
	fold                    *attacks.Fold   // site-wide across partitions (WithSiteFold)
}

// Option configures an Engine.
type Option func(*options)

// WithAllowedLateness sets how far behind the newest event time of the
// partition an event may be and still be merged into its windows. Later
// events are counted (Stats.Late) and dropped.
func WithAllowedLateness(d time.Duration) Option { return func(o *options) { o.lateness = d } }

// WithHostingASNs sets the hosting and cloud networks of
// net_hosting_share_10m; the default is features.ShippedHostingASNs.
func WithHostingASNs(s features.ASNSet) Option { return func(o *options) { o.hosting = s } }

// WithIdleTimeout sets after how long without events a subject's state is
// dropped; a subject that returns later starts fresh. It should be at least
// the longest window (1 h), or rate_1h forgets early.
func WithIdleTimeout(d time.Duration) Option { return func(o *options) { o.idle = d } }

// WithRefresh sets how often a subject at MONITOR or above is re-emitted
// while its score holds (so the decider can extend its verdict), and how
// long it must be idle before its decayed score is flushed.
func WithRefresh(d time.Duration) Option { return func(o *options) { o.refresh = d } }

// WithSignatures sets the request signatures evaluated on every event (h's
// Set may be swapped while the engine runs: a reload). nil turns the
// signature layer off. Without this option the shipped set is used.
func WithSignatures(h *signatures.Holder) Option {
	return func(o *options) { o.sigs, o.sigsSet = h, true }
}

// Engine computes windows, features and scores for the events of one
// partition (or one replay), in event time. It does not touch Kafka, so the
// aggregator service, `bulwark replay` and `bulwark dev` run the same code.
// It is not safe for concurrent use. Given the same events in the same order
// it emits the same scores, byte for byte (marshal with
// proto.MarshalOptions{Deterministic: true}, as Score.features is a map).
type Engine struct {
	classifier *features.Classifier
	scorer     *scoring.Scorer
	opt        options

	ips      *table[addrKey, ipState]
	sessions *table[uint64, sessionState]
	nets     *table[addrKey, netState]
	hot      map[hotKey]*eventpb.RequestEvent
	hotDirty map[hotKey]struct{}

	// site counts the partition's requests by country and AS number
	// (country_rarity, asn_rarity); siteDirty says it changed since the
	// last Changes.
	site      features.Site
	siteDirty bool

	maxTime  int64 // newest event time seen: the partition's watermark
	tickSlot int64 // minute slot of the last idle flush and expiry sweep

	stats  Stats
	vector features.Vector
	points scoring.Points

	sigs       *signatures.Holder
	sigMatcher *signatures.Matcher
	sigNames   map[uint32]string // IDHash -> id, of every set seen (state may name an older set's)
	sigReason  string            // "sig=<id>" for the subject being scored, or ""
	mdl        engineModel       // the model's part of the subject being scored (model.go)

	attack *siteMode // site-wide baselines and attack mode; nil when off
	// sitePublished is the time of the newest site-wide attack record
	// written with this partition's state (sitefold.go).
	sitePublished int64
}

// Stats are the engine's counters and sizes, for metrics.
type Stats struct {
	Events     uint64 // events merged into state
	Late       uint64 // events dropped as later than the allowed lateness
	BadEvents  uint64 // events without a parseable client IP
	Emitted    uint64 // scores emitted
	Expired    uint64 // subject states dropped after their idle timeout
	SigMatches uint64 // events that matched a request signature (auth endpoints aside)
	Malformed  uint64 // events whose request was malformed
	IPs        int    // active subjects by kind
	Sessions   int
	Nets       int
	Hot        int   // subjects at MONITOR or above, watched for an idle flush
	StateBytes int64 // bytes held by subject states (slabs, not map overhead)
	Watermark  int64 // newest event time seen, Unix ns

	AttackChallenged, AttackBlocked uint64 // scores raised by attack mode (attackmode.go)
	FPScores                        uint64 // fp: subjects scored (fpsubject.go)
}

// NewEngine returns an engine scoring with cfg, which must be valid
// (cfg.Validate()).
func NewEngine(cfg scoring.Config, opts ...Option) *Engine {
	o := options{lateness: DefaultAllowedLateness, idle: DefaultIdleTimeout, refresh: DefaultRefresh}
	for _, f := range opts {
		f(&o)
	}
	if !o.sigsSet {
		o.sigs = signatures.NewHolder(signatures.Shipped())
	}
	if o.hosting == nil {
		o.hosting = features.ShippedHostingASNs()
	}
	return &Engine{
		sigs:       o.sigs,
		sigNames:   map[uint32]string{},
		classifier: features.NewClassifier(cfg.Lists()),
		scorer:     scoring.NewScorer(cfg),
		opt:        o,
		ips:        newTable[addrKey, ipState](),
		sessions:   newTable[uint64, sessionState](),
		nets:       newTable[addrKey, netState](),
		hot:        make(map[hotKey]*eventpb.RequestEvent),
		hotDirty:   make(map[hotKey]struct{}),
		attack:     newSiteMode(o.attacks, o.fold),
	}
}

// Process merges one event and appends the scores it changes to dst. Events
// of one partition must come in offset order; event times may be out of
// order within the allowed lateness.
func (e *Engine) Process(ev *eventpb.RequestEvent, dst []*eventpb.Score) []*eventpb.Score {
	// An anonymised event (no client address, a session id from the log)
	// is counted by its session: subject alone: it has no ip: or net:
	// subject, and takes no part in attack mode (which acts on addresses).
	anon := ev.GetClientIp() == "" && ev.GetSessionId() != ""
	var addr netip.Addr
	if !anon {
		a, err := netip.ParseAddr(ev.GetClientIp())
		if err != nil || a.Zone() != "" {
			e.stats.BadEvents++
			return dst
		}
		addr = a.Unmap()
	}
	t := ev.GetTimeUnixNano()
	if t <= 0 {
		e.stats.BadEvents++
		return dst
	}
	if t < e.maxTime-int64(e.opt.lateness) {
		e.stats.Late++
		return dst
	}
	if t > e.maxTime {
		if e.maxTime == 0 {
			e.tickSlot = t / int64(time.Minute)
		}
		e.maxTime = t
		if s := t / int64(time.Minute); s > e.tickSlot {
			e.tickSlot = s
			dst = e.tick(t, dst)
		}
	}
	e.stats.Events++

	var ipk, netk [16]byte
	if !anon {
		ipk = addr.As16()
		netk = subject.NetOf(addr).Addr().As16()
	}
	ua := ev.GetUserAgent()
	o := features.Obs{
		T:        t,
		Flags:    e.classifier.Request(ev.GetMethod(), ev.GetPath(), ev.GetQuery(), ev.GetReferer(), ev.AcceptLanguage),
		Status:   ev.GetStatus(),
		PathHash: xxhash.Sum64String(ev.GetPath()),
		UAHash:   features.HashUA(ua),
	}
	if !anon {
		o.IP = xxhash.Sum64(ipk[:])
	}
	if ev.GetMalformed() != "" {
		o.Flags |= features.ReqMalformed
		e.stats.Malformed++
	}
	o.Flags |= features.FetchFlags(ev.GetSecFetchMode(), ev.GetSecFetchDest())
	e.matchSignatures(ev, &o)
	o.UA = e.classifier.UA(ua, o.UAHash)
	o.ID, o.HasID = features.NumericID(ev.GetPath())
	if ev.CdnBotScore != nil {
		o.CDNBot = uint8(min(max(ev.GetCdnBotScore(), 1), 99))
	}
	o.Session = sessionKey(ev, &ipk)
	e.placeOf(ev, &o)

	plain := o.Flags&(features.ReqSensitive|features.ReqLogin|features.ReqCheckout|features.ReqPost|features.ReqDeepPage|features.ReqMalformed) == 0 &&
		o.Sig == 0 && o.Status < 400
	sec := uint32(t / int64(time.Second))

	if anon {
		return e.scoreSession(ev, &o, plain, sec, t, dst)
	}
	ip, ipi := e.ips.get(ipk)
	if ip.Behaviour.Last != 0 && t-ip.Behaviour.Last > int64(e.opt.idle) {
		*ip = ipState{}
		e.dropHot(hotKey{subject.KindIP, ipk})
	}
	prev, browser := ip.Behaviour.Last, ip.Behaviour.Browser
	ipPlain := plain && ip.Behaviour.UA == o.UA
	ip.Extra.Update(&o, prev)
	ip.Behaviour.Update(&o)
	e.ips.touch(ipk, ipi)
	if e.attack != nil && e.attack.observe(ev, &o, ip, ipk, prev, browser) {
		ipPlain = false
	}

	ss, ssi := e.sessions.get(o.Session)
	if ss.Behaviour.Last != 0 && t-ss.Behaviour.Last > int64(e.opt.idle) {
		*ss = sessionState{}
		e.dropHot(sessionHot(o.Session))
	}
	ssPlain := plain && ss.Behaviour.UA == o.UA
	ss.Behaviour.Update(&o)
	e.sessions.touch(o.Session, ssi)

	nt, nti := e.nets.get(netk)
	if nt.Net.Last != 0 && t-nt.Net.Last > int64(e.opt.idle) {
		*nt = netState{}
		e.dropHot(hotKey{subject.KindNet, netk})
	}
	nt.Net.Update(&o, ip.Behaviour.Alike(ip.Behaviour.Last))
	e.nets.touch(netk, nti)

	var trigger *eventpb.RequestEvent // cloned once, shared by this event's scores
	if ip.Emission.fresh(sec, ipPlain) {
		e.vector = features.Vector{}
		ip.Behaviour.Compute(ip.Behaviour.Last, &e.vector)
		ip.Extra.Compute(ip.Behaviour.Last, ip.Behaviour.Last, &e.vector)
		e.site.Compute(ip.Behaviour.Country, ip.Behaviour.ASN, &e.vector)
		e.sigReason = e.sigName(ip.Behaviour.SigRecent(ip.Behaviour.Last))
		dst = e.consider(subject.KindIP, ipk, &ip.Emission, ev, &trigger, addr, t, ip.Behaviour.Last, dst)
	}
	e.attack.done()
	if e.attack != nil && len(e.attack.recall) > 0 {
		dst = e.recallCrawl(ev, t, dst)
	}
	if e.attack != nil && (len(e.attack.fpPending) > 0 || e.attack.fpUnsent > 0) {
		dst = e.fpScores(ev, t, dst)
	}
	if ss.Emission.fresh(sec, ssPlain) {
		e.vector = features.Vector{}
		ss.Behaviour.Compute(ss.Behaviour.Last, &e.vector)
		e.site.Compute(ss.Behaviour.Country, ss.Behaviour.ASN, &e.vector)
		e.sigReason = e.sigName(ss.Behaviour.SigRecent(ss.Behaviour.Last))
		dst = e.consider(subject.KindSession, sessionHot(o.Session).key, &ss.Emission, ev, &trigger, addr, t, ss.Behaviour.Last, dst)
	}
	if nt.Emission.fresh(sec, plain) {
		e.vector = features.Vector{}
		nt.Net.Compute(nt.Net.Last, &e.vector)
		e.sigReason = ""
		dst = e.consider(subject.KindNet, netk, &nt.Emission, ev, &trigger, addr, t, nt.Net.Last, dst)
	}
	return dst
}

// scoreSession merges an anonymised event into its session's state and
// scores the session, as Process does for the session of any event.
func (e *Engine) scoreSession(ev *eventpb.RequestEvent, o *features.Obs, plain bool, sec uint32, t int64, dst []*eventpb.Score) []*eventpb.Score {
	ss, ssi := e.sessions.get(o.Session)
	if ss.Behaviour.Last != 0 && t-ss.Behaviour.Last > int64(e.opt.idle) {
		*ss = sessionState{}
		e.dropHot(sessionHot(o.Session))
	}
	ssPlain := plain && ss.Behaviour.UA == o.UA
	ss.Behaviour.Update(o)
	e.sessions.touch(o.Session, ssi)
	if !ss.Emission.fresh(sec, ssPlain) {
		return dst
	}
	var trigger *eventpb.RequestEvent
	e.vector = features.Vector{}
	ss.Behaviour.Compute(ss.Behaviour.Last, &e.vector)
	e.site.Compute(ss.Behaviour.Country, ss.Behaviour.ASN, &e.vector)
	e.sigReason = e.sigName(ss.Behaviour.SigRecent(ss.Behaviour.Last))
	return e.consider(subject.KindSession, sessionHot(o.Session).key, &ss.Emission, ev, &trigger, netip.Addr{}, t, ss.Behaviour.Last, dst)
}

// consider scores the features in e.vector and appends a Score when it changed
// enough to matter (see shouldEmit).
func (e *Engine) consider(kind subject.Kind, k [16]byte, em *Emission, ev *eventpb.RequestEvent, trigger **eventpb.RequestEvent, addr netip.Addr, t, end int64, dst []*eventpb.Score) []*eventpb.Score {
	score := e.attack.apply(kind, e.score(kind, ev))
	e.sample(kind, ev)
	if !e.shouldEmit(em, score, t) {
		return dst
	}
	var subj string
	switch kind {
	case subject.KindIP:
		subj = subject.IP(addr)
	case subject.KindNet:
		subj = subject.Net(subject.NetOf(addr))
	default:
		subj = subject.Session(SessionID(ev))
	}
	if *trigger == nil {
		*trigger = proto.Clone(ev).(*eventpb.RequestEvent)
	}
	dst = append(dst, e.build(subj, t, end, score, *trigger))
	em.At, em.Score = t, float32(score)
	hk := hotKey{kind, k}
	if score >= hotScore {
		e.hot[hk] = *trigger
		e.hotDirty[hk] = struct{}{}
	} else {
		e.dropHot(hk)
	}
	return dst
}

func (e *Engine) build(subj string, t, end int64, score float64, trigger *eventpb.RequestEvent) *eventpb.Score {
	e.stats.Emitted++
	s := &eventpb.Score{
		Subject:           subj,
		TimeUnixNano:      t,
		WindowEndUnixNano: end,
		Score:             score,
		Features:          make(map[string]float64, e.vector.Len()),
		Reasons:           withAttackReasons(e.attack.reasonsFor(), e.reasons()),
		Trigger:           trigger,
		Scorer:            scoring.Name,
	}
	e.modelFields(s)
	for id := range features.NumFeatures {
		if v, ok := e.vector.Get(id); ok {
			s.Features[features.Names[id]] = v
		}
	}
	return s
}

// Emission rule: a score is emitted when its ladder band (ALLOW < 50 <=
// MONITOR < 70 <= CHALLENGE < 90 <= BLOCK) changes, when it moved by
// minScoreStep points (minAllowStep within ALLOW), or every refresh while at MONITOR or above. A person's score idling near 0
// emits nothing at all.
const minScoreStep = 5

// minAllowStep is the move that is emitted within ALLOW: small wobbles of a
// person's score (a burst of asset requests) matter to nobody downstream.
const minAllowStep = 20

func band(s float64) int {
	switch {
	case s >= 90:
		return 3
	case s >= 70:
		return 2
	case s >= 50:
		return 1
	}
	return 0
}

func (e *Engine) shouldEmit(em *Emission, score float64, t int64) bool {
	last := float64(em.Score)
	switch {
	case band(score) != band(last):
		return true
	case max(score, last) >= hotScore && math.Abs(score-last) >= minScoreStep:
		return true
	case math.Abs(score-last) >= minAllowStep:
		return true
	case score >= hotScore && t-em.At >= int64(e.opt.refresh):
		return true
	}
	return false
}

// Advance moves the partition's watermark to w (when later than the newest
// event), flushes idle subjects and expires idle state, appending the scores
// this changes to dst. Replay calls it at the end of its input; the service
// does not call it with wall-clock time, so its output depends on the events
// alone.
func (e *Engine) Advance(w time.Time, dst []*eventpb.Score) []*eventpb.Score {
	t := w.UnixNano()
	if t <= e.maxTime {
		return dst
	}
	e.maxTime = t
	e.tickSlot = t / int64(time.Minute)
	return e.tick(t, dst)
}

// tick runs once per minute of event time: the idle flush of hot subjects,
// then the expiry sweep.
func (e *Engine) tick(now int64, dst []*eventpb.Score) []*eventpb.Score {
	dst = e.flushIdle(now, dst)
	e.attack.sweep(now)
	e.sweep(now)
	return dst
}

// flushIdle re-scores the hot subjects that have been idle for at least the
// refresh interval at time now, in a fixed order, and emits what changed.
// Such a score is timed at now and carries the subject's last trigger.
func (e *Engine) flushIdle(now int64, dst []*eventpb.Score) []*eventpb.Score {
	if len(e.hot) == 0 {
		return dst
	}
	keys := make([]hotKey, 0, len(e.hot))
	for k := range e.hot {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b hotKey) int {
		if c := cmp.Compare(a.kind, b.kind); c != 0 {
			return c
		}
		return slices.Compare(a.key[:], b.key[:])
	})
	for _, k := range keys {
		trigger := e.hot[k]
		var em *Emission
		var last int64
		e.vector = features.Vector{}
		switch k.kind {
		case subject.KindIP:
			s := e.ips.lookup(k.key)
			if s == nil {
				e.dropHot(k)
				continue
			}
			last, em = s.Behaviour.Last, &s.Emission
			if now-last >= int64(e.opt.refresh) {
				s.Behaviour.Compute(now, &e.vector)
				s.Extra.Compute(last, now, &e.vector)
				e.site.Compute(s.Behaviour.Country, s.Behaviour.ASN, &e.vector)
			}
			e.sigReason = e.sigName(s.Behaviour.SigRecent(now))
		case subject.KindSession:
			s := e.sessions.lookup(binary.LittleEndian.Uint64(k.key[:8]))
			if s == nil {
				e.dropHot(k)
				continue
			}
			last, em = s.Behaviour.Last, &s.Emission
			if now-last >= int64(e.opt.refresh) {
				s.Behaviour.Compute(now, &e.vector)
				e.site.Compute(s.Behaviour.Country, s.Behaviour.ASN, &e.vector)
			}
			e.sigReason = e.sigName(s.Behaviour.SigRecent(now))
		case subject.KindNet:
			s := e.nets.lookup(k.key)
			if s == nil {
				e.dropHot(k)
				continue
			}
			last, em = s.Net.Last, &s.Emission
			if now-last >= int64(e.opt.refresh) {
				s.Net.Compute(now, &e.vector)
			}
			e.sigReason = ""
		}
		if now-last < int64(e.opt.refresh) {
			continue
		}
		score := e.attack.holdIdle(k, e.score(k.kind, trigger))
		// An idle subject is re-emitted only when its score fell: the refresh
		// rule is for subjects still sending requests.
		if float64(em.Score)-score < minScoreStep && band(score) == band(float64(em.Score)) {
			continue
		}
		addr := netip.AddrFrom16(k.key).Unmap()
		var subj string
		switch k.kind {
		case subject.KindIP:
			subj = subject.IP(addr)
		case subject.KindNet:
			subj = subject.Net(subject.NetOf(addr))
		default:
			subj = subject.Session(SessionID(trigger))
		}
		dst = append(dst, e.build(subj, now, now, score, proto.Clone(trigger).(*eventpb.RequestEvent)))
		e.attack.done()
		em.At, em.Score = now, float32(score)
		e.touchKey(k)
		if score < hotScore {
			e.dropHot(k)
		}
	}
	return dst
}

func (e *Engine) touchKey(k hotKey) {
	switch k.kind {
	case subject.KindIP:
		if i, ok := e.ips.idx[k.key]; ok {
			e.ips.touch(k.key, i)
		}
	case subject.KindSession:
		sk := binary.LittleEndian.Uint64(k.key[:8])
		if i, ok := e.sessions.idx[sk]; ok {
			e.sessions.touch(sk, i)
		}
	case subject.KindNet:
		if i, ok := e.nets.idx[k.key]; ok {
			e.nets.touch(k.key, i)
		}
	}
}

func (e *Engine) dropHot(k hotKey) {
	if _, ok := e.hot[k]; ok {
		delete(e.hot, k)
		e.hotDirty[k] = struct{}{}
	}
}

// sweep drops the states idle for longer than the idle timeout. Process
// resets such a state anyway when its subject returns, so when the sweep runs
// changes memory, never scores.
func (e *Engine) sweep(now int64) {
	cut := now - int64(e.opt.idle)
	for k, i := range e.ips.idx {
		if e.ips.at(i).Behaviour.Last < cut {
			e.ips.del(k)
			e.dropHot(hotKey{subject.KindIP, k})
			e.stats.Expired++
		}
	}
	for k, i := range e.sessions.idx {
		if e.sessions.at(i).Behaviour.Last < cut {
			e.sessions.del(k)
			e.dropHot(sessionHot(k))
			e.stats.Expired++
		}
	}
	for k, i := range e.nets.idx {
		if e.nets.at(i).Net.Last < cut {
			e.nets.del(k)
			e.dropHot(hotKey{subject.KindNet, k})
			e.stats.Expired++
		}
	}
}

// Stats returns the engine's counters and sizes.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.IPs, s.Sessions, s.Nets, s.Hot = e.ips.len(), e.sessions.len(), e.nets.len(), len(e.hot)
	s.StateBytes = int64(len(e.ips.chunks))*chunkSize*int64(unsafe.Sizeof(ipState{})) +
		int64(len(e.sessions.chunks))*chunkSize*int64(unsafe.Sizeof(sessionState{})) +
		int64(len(e.nets.chunks))*chunkSize*int64(unsafe.Sizeof(netState{}))
	s.Watermark = e.maxTime
	if e.attack != nil {
		s.AttackChallenged, s.AttackBlocked = e.attack.stats.Challenged, e.attack.stats.Blocked
		s.FPScores = e.attack.stats.FPScores
	}
	return s
}

func sessionHot(k uint64) hotKey {
	h := hotKey{kind: subject.KindSession}
	binary.LittleEndian.PutUint64(h.key[:8], k)
	return h
}

// Session keys: a log's own session id, or, where the log has none, a hash of
// client IP, user agent and accept-language (when logged). The two are
// hashed with different seeds so that they can never collide by construction.
const (
	seedLogSession     = 0x5e55_1011
	seedDerivedSession = 0xde41_7ed5
)

func sessionKey(ev *eventpb.RequestEvent, ip *[16]byte) uint64 {
	if id := ev.GetSessionId(); id != "" {
		d := xxhash.NewWithSeed(seedLogSession)
		d.WriteString(id)
		return d.Sum64()
	}
	return derivedSession(ev, ip)
}

func derivedSession(ev *eventpb.RequestEvent, ip *[16]byte) uint64 {
	d := xxhash.NewWithSeed(seedDerivedSession)
	d.Write(ip[:])
	d.WriteString(ev.GetUserAgent())
	if al := ev.AcceptLanguage; al != nil {
		d.Write([]byte{0})
		d.WriteString(*al)
	}
	return d.Sum64()
}

// SessionID is the session id of an event as it appears in session:
// subjects: the log's session id when it has one (hashed by
// subject.SessionID when it is too long or not visible ASCII), else "h-" and 16 hex
// digits of xxhash64(client IP as 16 bytes, user agent, 0x00 and
// accept-language when logged). The derivation keeps one browser behind a
// shared IP apart from the others without storing anything personal.
func SessionID(ev *eventpb.RequestEvent) string {
	if id := ev.GetSessionId(); id != "" {
		return subject.SessionID(id)
	}
	addr, err := netip.ParseAddr(ev.GetClientIp())
	if err != nil {
		return ""
	}
	k := addr.Unmap().As16()
	h := derivedSession(ev, &k)
	s := strconv.FormatUint(h, 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return "h-" + s
}

// placeOf sets o's country, AS number and hosting flag from the event (the
// shipper's GeoIP fields, else the CDN's, for events of older shippers) and
// counts them for the site.
func (e *Engine) placeOf(ev *eventpb.RequestEvent, o *features.Obs) {
	country, asn := ev.GetGeoCountry(), ev.GetAsn()
	if country == "" {
		country = ev.GetCdnCountry()
	}
	if asn == 0 {
		asn = ev.GetCdnAsn()
	}
	o.Country, o.ASN = features.CountryCode(country), asn
	if o.Country == 0 && asn == 0 {
		return
	}
	o.Hosting = e.opt.hosting.Has(asn)
	e.site.Add(o.T, o.Country, asn)
	e.siteDirty = true
}
