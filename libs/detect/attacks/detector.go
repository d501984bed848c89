package attacks

import (
	"fmt"
	"math"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Hit is one request as the site-wide view needs it.
type Hit struct {
	T      int64 // event time, Unix ns
	Class  Class
	Failed bool // a 401/403 or an app-level login failure (Failed)
	// NewClient: the client's address had no state before this request (no
	// request within the engine's idle timeout).
	NewClient bool
	// NoPage: the client never loaded a page or an asset before this request.
	NoPage bool
	// FP is the client's fingerprint (Fingerprint).
	FP uint64
	// FirstFailure: this failure is the client's first in ten minutes.
	// Fingerprints are counted by client, not by request: one person
	// retrying five times is one person, and a tool is many addresses.
	FirstFailure bool
}

// Config holds the detector's thresholds. Start from DefaultConfig.
type Config struct {
	// Window is the span each measure is taken over, evaluated every minute.
	Window time.Duration
	// MinFailures and MinRequests are the least counts in a window for a
	// failures (or no-page) and a surge anomaly: a small shop's three
	// failed logins are never an attack.
	MinFailures, MinRequests uint32
	// Z is how many scaled MADs above the median an anomaly must be.
	Z float64
	// MinRatioRise is how far (absolute) a ratio must rise over its baseline.
	MinRatioRise float64
	// SurgeFactor is how many times the expected rate a surge must reach.
	SurgeFactor float64
	// Warmup is the history needed before anything is judged.
	Warmup time.Duration
	// EndAfter is how long the baseline must have recovered before an
	// attack ends.
	EndAfter time.Duration
	// Refresh is how often an active attack's record is written again.
	Refresh time.Duration
	// FPMinShare and FPMinLift: a fingerprint is an attack's when at least
	// this share of the anomalous requests carry it, and at least this many
	// times its share in normal traffic.
	FPMinShare, FPMinLift float64
}

// DefaultConfig is what the aggregator uses.
func DefaultConfig() Config {
	return Config{
		Window:       5 * time.Minute,
		MinFailures:  12,
		MinRequests:  60,
		Z:            6,
		MinRatioRise: 0.2,
		SurgeFactor:  3,
		Warmup:       30 * time.Minute,
		EndAfter:     5 * time.Minute,
		Refresh:      5 * time.Minute,
		FPMinShare:   0.2,
		FPMinLift:    4,
	}
}

// Validate checks the config.
func (c Config) Validate() error {
	switch {
	case c.Window < time.Minute || c.Window > time.Hour || c.Window%time.Minute != 0:
		return fmt.Errorf("attack window %s: want whole minutes within 1m..1h", c.Window)
	case c.Z <= 0 || c.SurgeFactor <= 1 || c.MinRatioRise <= 0 || c.MinRatioRise >= 1:
		return fmt.Errorf("attack thresholds z=%g surge=%g ratio rise=%g: want z > 0, surge > 1, 0 < rise < 1", c.Z, c.SurgeFactor, c.MinRatioRise)
	case c.Warmup < c.Window || c.EndAfter < time.Minute || c.Refresh < time.Minute:
		return fmt.Errorf("attack warm-up %s, end-after %s, refresh %s: want warm-up >= window and the others >= 1m", c.Warmup, c.EndAfter, c.Refresh)
	case c.FPMinShare <= 0 || c.FPMinShare > 1 || c.FPMinLift < 1:
		return fmt.Errorf("attack fingerprint share %g, lift %g: want 0 < share <= 1 and lift >= 1", c.FPMinShare, c.FPMinLift)
	}
	return nil
}

// Signals an attack is raised on.
const (
	SignalFailures = "failures"
	SignalNoPage   = "no-page"
	SignalSurge    = "surge"
)

var signals = [...]string{SignalFailures, SignalNoPage, SignalSurge}

// bucket is one minute (or, in the seasonal ring, five) of one class.
type bucket struct {
	req, fail, fresh, nopage uint32
	filled                   bool // the minute was seen (as opposed to before the first event)
	attacked                 bool // a failures or no-page anomaly of the class was active: kept out of baselines
}

func (b *bucket) add(o bucket) {
	b.req += o.req
	b.fail += o.fail
	b.fresh += o.fresh
	b.nopage += o.nopage
	b.filled = b.filled || o.filled
	b.attacked = b.attacked || o.attacked
}

const (
	recentMinutes = 128             // the minute ring: the last two hours
	blockMinutes  = 5               // the seasonal ring's resolution
	seasonBlocks  = 8 * 24 * 60 / 5 // eight days of five-minute blocks
	dayBlocks     = 24 * 60 / 5     // a day ago
	weekBlocks    = 7 * 24 * 60 / 5 // a week ago
	recentSamples = 24              // windows of the last two hours in a baseline
	minSamples    = 6               // the least clean windows anything is judged against
	maxCatchUp    = recentMinutes   // minutes closed at once after a gap
)

// classState is one endpoint class's history, attacks and fingerprints.
type classState struct {
	min    [recentMinutes]bucket
	season [seasonBlocks]bucket
	active [len(signals)]*eventpb.Attack
	quiet  [len(signals)]int // minutes since the signal was last anomalous
	// muted: an operator ended the signal's attack; it is not raised again
	// until the signal has been quiet for EndAfter (operator.go).
	muted [len(signals)]bool
	// forced is the attack an operator forced on the class, if any.
	forced *eventpb.Attack
	fps    fpTracker
}

// Detector keeps the site-wide baselines and the attacks they raise.
type Detector struct {
	cfg     Config
	window  int64 // minutes
	cls     [numClasses]classState
	minute  int64 // the newest minute seen (Unix minutes); 0 before any event
	first   int64 // the first minute seen
	out     []*eventpb.Attack
	stats   Stats
	normal  fpNormal
	scratch []float64
	// dirty says which parts of a checkpoint changed (checkpoint.go);
	// saved that Changes was called since the detector was (re)made.
	dirty dirty
	saved bool
	// counter is set on a detector that only counts (NewCounter, fold.go).
	counter *counter
}

// Stats are the detector's counters.
type Stats struct {
	Hits    uint64 // requests observed
	Started uint64 // attacks started
	Ended   uint64 // attacks ended
	Active  int    // attacks active now
	Dropped uint64 // hits too late for their minute's bucket
}

// New returns a detector; cfg must be valid.
func New(cfg Config) *Detector {
	return &Detector{cfg: cfg, window: int64(cfg.Window / time.Minute)}
}

// Observe counts one request. Call Advance with its time first.
func (d *Detector) Observe(h Hit) {
	if h.Class == ClassNone || h.Class >= numClasses {
		return
	}
	m := h.T / int64(time.Minute)
	if d.minute == 0 || m > d.minute || d.minute-m >= recentMinutes {
		d.stats.Dropped++
		return
	}
	d.stats.Hits++
	d.dirty.cur[h.Class] = true
	b := &d.cls[h.Class].min[m%recentMinutes]
	b.req++
	if h.Failed {
		b.fail++
	}
	if h.NewClient {
		b.fresh++
	}
	if h.NoPage {
		b.nopage++
	}
	if c := d.counter; c != nil {
		site := d
		if c.site != nil {
			site = c.site
		}
		c.observe(h, site.anyActive(h.Class))
		return
	}
	d.cls[h.Class].fps.observe(h)
	if !h.Failed && !d.anyActive(h.Class) {
		d.normal.observe(h.FP)
	}
}

// Advance moves the detector's clock to t: every minute that closes is
// evaluated. It returns true when attack records are waiting (Take).
func (d *Detector) Advance(t int64) bool {
	m := t / int64(time.Minute)
	if d.minute == 0 {
		d.minute, d.first = m, m
		d.open(m)
		d.dropStale(t)
		return false
	}
	if m <= d.minute {
		return len(d.out) > 0
	}
	if m-d.minute > maxCatchUp {
		d.skip(m)
		return len(d.out) > 0
	}
	for d.minute < m {
		d.close(d.minute)
		d.minute++
		d.open(d.minute)
	}
	return len(d.out) > 0
}

// skip jumps over a gap of more than the minute ring without a request (a
// quiet night of a small shop, a replay of two separate days): the minutes
// in between are empty, which is what the baselines remember of them;
// active attacks end where the gap began. A gap longer than the seasonal
// history starts the history afresh.
func (d *Detector) skip(m int64) {
	d.dirty.all()
	if d.counter != nil {
		d.counter.close(d, d.minute) // the minute before the gap is counted
	}
	end := (d.minute + 1) * int64(time.Minute)
	for c := range d.cls {
		cs := &d.cls[c]
		for si := range cs.active {
			if cs.active[si] != nil {
				d.end(cs, si, end)
			}
		}
	}
	if m-d.minute >= seasonBlocks*blockMinutes {
		out, stats, counter := d.out, d.stats, d.counter
		var forced [numClasses]*eventpb.Attack
		for c := range d.cls {
			forced[c] = d.cls[c].forced // an operator's, not the history's: it outlives the gap until its time is up
		}
		*d = *New(d.cfg)
		d.out, d.stats, d.counter = out, stats, counter
		for c := range d.cls {
			d.cls[c].forced = forced[c]
		}
		d.minute, d.first = m, m
		d.open(m)
		return
	}
	for c := range d.cls {
		cs := &d.cls[c]
		for b := d.minute/blockMinutes + 1; b < m/blockMinutes; b++ {
			cs.season[b%seasonBlocks] = bucket{filled: true}
		}
		for i := range cs.min {
			cs.min[i] = bucket{filled: true}
		}
	}
	d.minute = m
	d.open(m)
}

// open clears minute m's buckets before it is counted.
func (d *Detector) open(m int64) {
	d.dirty.meta = true
	for c := range d.cls {
		d.cls[c].min[m%recentMinutes] = bucket{filled: true}
		d.dirty.ring[c], d.dirty.cur[c] = true, true
	}
}

// close evaluates every class at the end of minute m and folds the minute
// into the seasonal ring.
func (d *Detector) close(m int64) {
	if d.counter != nil {
		d.counter.close(d, m)
		return
	}
	for c := ClassLogin; c < numClasses; c++ {
		cs := &d.cls[c]
		had := cs.active
		d.evaluate(c, cs, m)
		for si := range cs.active {
			if had[si] != nil || cs.active[si] != nil {
				d.dirty.active[c][si] = true // started, refreshed or ended
			}
		}
		b := cs.min[m%recentMinutes]
		b.attacked = d.anyActive(c)
		cs.min[m%recentMinutes].attacked = b.attacked
		blk := m / blockMinutes
		s := &cs.season[blk%seasonBlocks]
		if m%blockMinutes == 0 || !s.filled {
			*s = bucket{}
		}
		s.add(b)
		d.dirty.season[c][(blk%seasonBlocks)/SeasonChunk] = true
		d.dirty.fps[c] = true
		cs.fps.rotate(m)
		d.expire(cs, (m+1)*int64(time.Minute))
	}
	attacked := false
	for c := ClassLogin; c < numClasses; c++ {
		attacked = attacked || d.anyActive(c)
	}
	if !attacked {
		d.normal.rotate(m)
	}
}

// window sums the minutes (end-w, end] of class cs; ok is false when one of
// them was never seen or was under attack.
func (d *Detector) sum(cs *classState, end int64) (b bucket, ok bool) {
	if end-d.window+1 < d.first || d.minute-end+d.window > recentMinutes {
		return b, false
	}
	for x := end - d.window + 1; x <= end; x++ {
		mb := cs.min[x%recentMinutes]
		if !mb.filled || mb.attacked {
			return b, false
		}
		b.add(mb)
	}
	return b, true
}

// seasonal sums the five-minute blocks around the one ending at end, back
// by ago blocks; ok is false when there is no clean history there.
func (d *Detector) seasonal(cs *classState, end, ago int64) (out []bucket) {
	if end-ago*blockMinutes-d.window < d.first {
		return nil
	}
	blk := end/blockMinutes - ago
	for _, off := range []int64{-1, 0, 1} {
		var b bucket
		ok := true
		n := (d.window + blockMinutes - 1) / blockMinutes
		for i := int64(0); i < n; i++ {
			s := cs.season[((blk+off-i)%seasonBlocks+seasonBlocks)%seasonBlocks]
			if !s.filled || s.attacked {
				ok = false
				break
			}
			b.add(s)
		}
		if ok {
			out = append(out, b)
		}
	}
	return out
}

// measure is one signal's value in a window.
type measure func(b bucket) float64

func failRatio(b bucket) float64 {
	if b.req == 0 {
		return 0
	}
	return float64(b.fail) / float64(b.req)
}

func noPageShare(b bucket) float64 {
	if b.req == 0 {
		return 0
	}
	return float64(b.nopage) / float64(b.req)
}

func rate(b bucket) float64 { return float64(b.req) }

// evaluate judges class c at the end of minute m.
func (d *Detector) evaluate(c Class, cs *classState, m int64) {
	cur := bucket{}
	for x := m - d.window + 1; x <= m; x++ {
		if x >= d.first {
			cur.add(cs.min[((x%recentMinutes)+recentMinutes)%recentMinutes])
		}
	}
	var base []bucket
	if m-d.first+1 >= int64(d.cfg.Warmup/time.Minute) {
		for k := int64(1); k <= recentSamples; k++ {
			if b, ok := d.sum(cs, m-k*d.window); ok {
				base = append(base, b)
			}
		}
		base = append(base, d.seasonal(cs, m, dayBlocks)...)
		base = append(base, d.seasonal(cs, m, weekBlocks)...)
	}
	for si, sig := range signals {
		anomalous, z, obs, exp := false, 0.0, 0.0, 0.0
		if len(base) >= minSamples {
			anomalous, z, obs, exp = d.judge(sig, cur, base)
		}
		a := cs.active[si]
		if len(base) < minSamples && a != nil {
			// Too little clean history to judge (the attack's own minutes
			// are kept out of it): the attack is judged against what was
			// expected when it started, and ends once back near that.
			if d.recovered(sig, cur, a) {
				cs.quiet[si]++
				if cs.quiet[si] >= int(d.cfg.EndAfter/time.Minute) {
					d.end(cs, si, (m+1)*int64(time.Minute))
				}
			} else {
				cs.quiet[si] = 0
			}
			continue
		}
		switch {
		case a == nil && cs.muted[si]:
			d.unmute(cs, si, anomalous)
		case anomalous && a == nil:
			d.start(c, cs, si, sig, m, cur, z, obs, exp)
		case anomalous:
			cs.quiet[si] = 0
			a.Strength = max(a.Strength, z)
			t := (m + 1) * int64(time.Minute)
			switch {
			case t-a.TimeUnixNano >= int64(d.cfg.Refresh):
				d.update(c, cs, a, sig, t, cur, z, obs, exp)
			case !a.Enforcing && sig != SignalSurge:
				// Not yet attributed: look for the fingerprint every minute,
				// so attack mode starts as soon as enough clients show it.
				if fps := cs.fps.attackFPs(&d.normal, d.cfg.FPMinShare, d.cfg.FPMinLift, sig == SignalNoPage); len(fps) > 0 {
					d.update(c, cs, a, sig, t, cur, z, obs, exp)
				}
			}
		case a != nil:
			cs.quiet[si]++
			if cs.quiet[si] >= int(d.cfg.EndAfter/time.Minute) {
				t := (m + 1) * int64(time.Minute)
				d.end(cs, si, t)
			}
		}
	}
}

// judge applies one signal's rule to the window cur against base.
func (d *Detector) judge(sig string, cur bucket, base []bucket) (bool, float64, float64, float64) {
	xs := d.scratch[:0]
	var f measure
	switch sig {
	case SignalFailures:
		f = failRatio
	case SignalNoPage:
		f = noPageShare
	default:
		f = rate
	}
	for _, b := range base {
		xs = append(xs, f(b))
	}
	d.scratch = xs
	med, spread := robustLow(xs)
	obs := f(cur)
	switch sig {
	case SignalFailures, SignalNoPage:
		count := cur.fail
		if sig == SignalNoPage {
			count = cur.nopage
		}
		// A ratio's noise is at least what a binomial of this size gives.
		floor := math.Sqrt(max(med*(1-med), 0.01) / float64(max(cur.req, 1)))
		spread = max(spread, floor, 0.01)
		z := (obs - med) / spread
		ok := count >= d.cfg.MinFailures && z >= d.cfg.Z && obs >= med+d.cfg.MinRatioRise && obs >= 2*med
		return ok, z, obs, med
	}
	spread = max(spread, math.Sqrt(max(med, 1)))
	z := (obs - med) / spread
	ok := cur.req >= d.cfg.MinRequests && z >= d.cfg.Z && obs >= d.cfg.SurgeFactor*max(med, 1)
	return ok, z, obs, med
}

// recovered reports whether the window cur is back near what attack a
// expected when it started.
func (d *Detector) recovered(sig string, cur bucket, a *eventpb.Attack) bool {
	switch sig {
	case SignalFailures:
		return failRatio(cur) < a.Expected+d.cfg.MinRatioRise/2
	case SignalNoPage:
		return noPageShare(cur) < a.Expected+d.cfg.MinRatioRise/2
	}
	return rate(cur) < d.cfg.SurgeFactor*max(a.Expected, 1)
}

// attackID names an attack: class, signal and its start minute.
func attackID(c Class, sig string, start int64) string {
	return c.String() + "-" + sig + "-" + time.Unix(0, start).UTC().Format("2006-01-02T15:04Z")
}

func (d *Detector) start(c Class, cs *classState, si int, sig string, m int64, cur bucket, z, obs, exp float64) {
	// Since when: the first minute of the window that was anomalous by
	// itself (its ratio above the baseline's, or its rate above a share of
	// the window's expected), else the window's last.
	startM := m
	for x := m - d.window + 1; x < m; x++ {
		if x < d.first {
			continue
		}
		b := cs.min[x%recentMinutes]
		var hot bool
		switch sig {
		case SignalFailures:
			hot = failRatio(b) >= exp+d.cfg.MinRatioRise && int64(b.fail)*d.window >= int64(d.cfg.MinFailures)
		case SignalNoPage:
			hot = noPageShare(b) >= exp+d.cfg.MinRatioRise && int64(b.nopage)*d.window >= int64(d.cfg.MinFailures)
		default:
			hot = float64(b.req) >= d.cfg.SurgeFactor*max(exp, 1)/float64(d.window)
		}
		if hot {
			startM = x
			break
		}
	}
	startT := startM * int64(time.Minute)
	a := &eventpb.Attack{
		Id:              attackID(c, sig, startT),
		EndpointClass:   c.String(),
		Signal:          sig,
		StartedUnixNano: startT,
		Source:          "aggregator",
	}
	cs.active[si] = a
	cs.quiet[si] = 0
	d.dirty.active[c][si] = true
	d.stats.Started++
	d.update(c, cs, a, sig, (m+1)*int64(time.Minute), cur, z, obs, exp)
}

// update refreshes an active attack's figures and fingerprints and queues
// its record.
func (d *Detector) update(c Class, cs *classState, a *eventpb.Attack, sig string, t int64, cur bucket, z, obs, exp float64) {
	a.TimeUnixNano = t
	a.Strength = math.Round(max(a.Strength, z)*10) / 10
	a.Observed, a.Expected = round3(obs), round3(exp)
	a.Requests, a.Failures, a.NewClients, a.NoPageClients = cur.req, cur.fail, cur.fresh, cur.nopage
	if sig != SignalSurge {
		a.Fingerprints = cs.fps.attackFPs(&d.normal, d.cfg.FPMinShare, d.cfg.FPMinLift, sig == SignalNoPage)
		a.Enforcing = len(a.Fingerprints) > 0
	}
	a.Reason = reason(c, sig, a)
	d.out = append(d.out, cloneAttack(a))
}

func (d *Detector) end(cs *classState, si int, t int64) {
	a := cs.active[si]
	cs.active[si] = nil
	a.EndedUnixNano, a.TimeUnixNano = t, t
	a.Enforcing = false
	d.stats.Ended++
	d.out = append(d.out, cloneAttack(a))
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func reason(c Class, sig string, a *eventpb.Attack) string {
	var what string
	switch sig {
	case SignalFailures:
		what = fmt.Sprintf("%s failure ratio %.2f vs baseline %.2f (%d of %d requests in %s)", c, a.Observed, a.Expected, a.Failures, a.Requests, "5 min")
	case SignalNoPage:
		what = fmt.Sprintf("%s share of clients that never loaded a page %.2f vs baseline %.2f (%d of %d)", c, a.Observed, a.Expected, a.NoPageClients, a.Requests)
	default:
		what = fmt.Sprintf("%s requests %.0f vs baseline %.0f in 5 min, %d from new clients", c, a.Observed, a.Expected, a.NewClients)
	}
	what += fmt.Sprintf(", z=%.1f", a.Strength)
	switch {
	case sig == SignalSurge:
		what += "; a surge at a normal failure ratio is recorded, not enforced (a sale, a newsletter)"
	case a.Enforcing:
		what += "; shared fingerprint " + fmtFPs(a.Fingerprints) + ": attack mode on"
	default:
		what += "; spread over many fingerprints (an outage of the login itself?): recorded, not enforced"
	}
	return what
}

func fmtFPs(fps []string) string {
	s := ""
	for i, f := range fps {
		if i > 0 {
			s += ","
		}
		s += "fp:" + f
	}
	return s
}

func cloneAttack(a *eventpb.Attack) *eventpb.Attack {
	c := &eventpb.Attack{
		Id: a.Id, EndpointClass: a.EndpointClass, Signal: a.Signal, StartedUnixNano: a.StartedUnixNano,
		EndedUnixNano: a.EndedUnixNano, TimeUnixNano: a.TimeUnixNano, Strength: a.Strength,
		Observed: a.Observed, Expected: a.Expected, Enforcing: a.Enforcing, Reason: a.Reason, Source: a.Source,
		Requests: a.Requests, Failures: a.Failures, NewClients: a.NewClients, NoPageClients: a.NoPageClients,
		UntilUnixNano: a.UntilUnixNano,
	}
	c.Fingerprints = append([]string(nil), a.Fingerprints...)
	return c
}

// Take returns the attack records written since the last call, in order.
func (d *Detector) Take() []*eventpb.Attack {
	out := d.out
	d.out = nil
	return out
}

func (d *Detector) anyActive(c Class) bool {
	if d.cls[c].forced != nil {
		return true
	}
	for _, a := range d.cls[c].active {
		if a != nil && a.Signal != SignalSurge {
			return true
		}
	}
	return false
}

// Active returns the attacks active now.
func (d *Detector) Active() []*eventpb.Attack {
	var out []*eventpb.Attack
	for c := range d.cls {
		for _, a := range d.cls[c].active {
			if a != nil {
				out = append(out, cloneAttack(a))
			}
		}
		if f := d.cls[c].forced; f != nil {
			out = append(out, cloneAttack(f))
		}
	}
	return out
}

// Stats returns the detector's counters.
func (d *Detector) Stats() Stats {
	s := d.stats
	for c := range d.cls {
		for _, a := range d.cls[c].active {
			if a != nil {
				s.Active++
			}
		}
		if d.cls[c].forced != nil {
			s.Active++
		}
	}
	return s
}

// Record queues an attack record raised outside the baselines (the
// aggregator's shared-fingerprint crawls), to be taken with the others.
func (d *Detector) Record(a *eventpb.Attack) {
	d.out = append(d.out, cloneAttack(a))
}
