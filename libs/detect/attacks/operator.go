package attacks

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Operators end an attack or force one (bulwark attack end|start). Their
// records go on the attacks topic like the detector's, with source
// "operator"; every aggregator follows the topic and applies them to the
// detector of each partition it holds (Force, EndByOperator).

// Sources of attack records.
const (
	SourceAggregator = "aggregator"
	SourceOperator   = "operator"
)

// SignalOperator is the signal of a forced attack.
const SignalOperator = "operator"

var fpPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// ParseFP checks a fingerprint as operators type it ("fp:<16 hex>" or the
// 16 hex digits alone) and returns its 16 hex digits.
func ParseFP(s string) (string, error) {
	h := s
	if len(h) > 3 && h[:3] == "fp:" {
		h = h[3:]
	}
	if !fpPattern.MatchString(h) {
		return "", fmt.Errorf("fingerprint %q: want fp:<16 lowercase hex digits>, as attack records and verdict reasons show it", s)
	}
	return h, nil
}

// NewForced is the record of an attack an operator forces on class c from
// start for d: attack mode on the class for clients without good history,
// and BLOCK for those with fingerprint fp (16 hex digits) that fail there.
func NewForced(c Class, fp string, start time.Time, d time.Duration, why string) *eventpb.Attack {
	t := start.Truncate(time.Minute)
	a := &eventpb.Attack{
		Id:              c.String() + "-" + SignalOperator + "-" + t.UTC().Format("2006-01-02T15:04Z"),
		EndpointClass:   c.String(),
		Signal:          SignalOperator,
		StartedUnixNano: t.UnixNano(),
		TimeUnixNano:    start.UnixNano(),
		UntilUnixNano:   start.Add(d).UnixNano(),
		Enforcing:       true,
		Source:          SourceOperator,
		Reason:          fmt.Sprintf("forced by an operator for %s: %s; attack mode on", d, why),
	}
	if fp != "" {
		a.Id += "-" + fp[:8]
		a.Fingerprints = []string{fp}
		a.Reason = fmt.Sprintf("forced by an operator for %s: %s; fingerprint fp:%s: attack mode on", d, why, fp)
	}
	return a
}

// Ended returns the record of attack a ended by an operator at t.
func Ended(a *eventpb.Attack, t time.Time, why string) *eventpb.Attack {
	e := cloneAttack(a)
	e.EndedUnixNano, e.TimeUnixNano, e.Enforcing = t.UnixNano(), t.UnixNano(), false
	e.Source = SourceOperator
	e.Reason = "ended by an operator: " + why + " (was: " + a.GetReason() + ")"
	return e
}

// Force puts an operator's attack to work on its class until its end
// (UntilUnixNano, in event time). It replaces a forced attack the class
// had; it does nothing for one already in force or already over (the
// detector's clock is past its end), and reports whether it took it.
func (d *Detector) Force(a *eventpb.Attack) bool {
	c, ok := ParseClass(a.GetEndpointClass())
	if !ok || a.GetEndedUnixNano() != 0 {
		return false
	}
	cs := &d.cls[c]
	if cs.forced != nil && cs.forced.GetId() == a.GetId() {
		return false
	}
	if d.minute != 0 && a.GetUntilUnixNano() <= d.minute*int64(time.Minute) {
		return false
	}
	cs.forced = cloneAttack(a)
	d.stats.Started++
	return true
}

// EndByOperator ends the active attack id at t, if this detector has it:
// a forced one, or a detected one, whose signal is then not raised again
// on the class until it has been quiet for EndAfter (an operator who ends
// an attack has judged it; the same anomaly going on is not a new one).
// The operator's record is the attack's last; none is queued here.
func (d *Detector) EndByOperator(id string) bool {
	for c := range d.cls {
		cs := &d.cls[c]
		if cs.forced != nil && cs.forced.GetId() == id {
			cs.forced = nil
			d.stats.Ended++
			return true
		}
		if si := slices.IndexFunc(cs.active[:], func(a *eventpb.Attack) bool { return a != nil && a.GetId() == id }); si >= 0 {
			cs.active[si] = nil
			cs.muted[si], cs.quiet[si] = true, 0
			d.dirty.active[c][si], d.dirty.ring[c] = true, true
			d.stats.Ended++
			return true
		}
	}
	return false
}

// expire ends the class's forced attack once the clock reaches its end.
func (d *Detector) expire(cs *classState, t int64) {
	a := cs.forced
	if a == nil || t < a.GetUntilUnixNano() {
		return
	}
	cs.forced = nil
	a.EndedUnixNano, a.TimeUnixNano, a.Enforcing = a.GetUntilUnixNano(), t, false
	a.Reason += "; ended: its time was up"
	d.stats.Ended++
	d.out = append(d.out, a)
}

// unmute counts a muted signal's quiet minutes and lifts the mute after
// EndAfter of them.
func (d *Detector) unmute(cs *classState, si int, anomalous bool) {
	if anomalous {
		cs.quiet[si] = 0
		return
	}
	cs.quiet[si]++
	if cs.quiet[si] >= int(d.cfg.EndAfter/time.Minute) {
		cs.muted[si], cs.quiet[si] = false, 0
	}
}

// dropStale forgets, without a record, the forced attacks that were over
// before this detector's first event: a fresh or reloaded engine is given
// every operator record, and one whose time is long up is nothing to it.
func (d *Detector) dropStale(t int64) {
	for c := range d.cls {
		if f := d.cls[c].forced; f != nil && f.GetUntilUnixNano() <= t {
			d.cls[c].forced = nil
		}
	}
}
