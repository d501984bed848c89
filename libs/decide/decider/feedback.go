package decider

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// What the decider learns from the feedback topic (challenge outcomes and
// operator labels): a pass, or a "human" label, lifts the subject's
// CHALLENGE and keeps later scores from challenging it again until the
// clearance expires, and gives it a trust credit (the seed documents'
// session trust score) that lowers its future scores and halves every
// trustHalfLife. Failures, and passes no person produces (solved faster
// than instantSolve, or several in the same time to the millisecond),
// escalate to BLOCK, as does a "bot" label. BLOCK is never lifted by a
// pass: a blocked client is never shown a challenge.
const (
	trustCredit      = 20.0 // score points
	trustHalfLife    = 30 * time.Minute
	failWindow       = 10 * time.Minute
	failLimit        = 3
	instantSolve     = 50 * time.Millisecond
	inhumanLimit     = 2
	feedbackBlockTTL = time.Hour
	labelTTL         = 24 * time.Hour
	// labelClearance is how long a "human" label keeps a subject from
	// being challenged.
	labelClearance = 24 * time.Hour
)

// trust is what passes earned a subject.
type trust struct {
	until  time.Time // no computed CHALLENGE before this
	credit float64   // score points at `at`, halving every trustHalfLife
	at     time.Time
}

func (tr trust) creditAt(t time.Time) float64 {
	if tr.credit == 0 {
		return 0
	}
	return tr.credit * math.Exp2(-t.Sub(tr.at).Hours()/trustHalfLife.Hours())
}

// suspicion counts a subject's failed and inhuman answers in failWindow.
type suspicion struct {
	failures, inhuman int
	since             time.Time
	lastSolve         int64 // ms of the last pass, to spot identical timings
}

// Feedback applies one feedback record at now and returns the verdict
// changes it causes.
func (d *Decider) Feedback(f *eventpb.Feedback, now time.Time) []Change {
	sub, err := subject.Parse(f.GetSubject())
	if err != nil {
		d.m.feedback.WithLabelValues("bad_subject").Inc()
		return nil
	}
	key := sub.String()
	at := now
	if f.GetTimeUnixNano() > 0 {
		at = time.Unix(0, f.GetTimeUnixNano())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch f.GetKind() {
	case eventpb.FeedbackKind_CHALLENGE_PASSED:
		if d.inhuman(key, f, at) {
			return d.escalate(key, at, "challenge_inhuman", fmt.Sprintf("inhuman_solves=%d", inhumanLimit))
		}
		until := time.Unix(0, f.GetClearanceExpiresUnixNano())
		return d.clear(key, until, at, "challenge_passed", false)
	case eventpb.FeedbackKind_LABEL_HUMAN:
		delete(d.suspects, key)
		out := d.clear(key, at.Add(labelClearance), at, "label_human", true)
		switch sub.Kind {
		case subject.KindIP:
			// A person is never blocked through a fingerprint (fp.go).
			out = append(out, d.dropFromFPs(netip.PrefixFrom(sub.Addr, sub.Addr.BitLen()))...)
		case subject.KindNet:
			out = append(out, d.dropFromFPs(sub.Prefix)...)
		}
		return out
	case eventpb.FeedbackKind_CHALLENGE_FAILED:
		if at.Before(now.Add(-failWindow)) {
			d.m.feedback.WithLabelValues("stale").Inc()
			return nil
		}
		s := d.suspect(key, at)
		s.failures++
		d.m.feedback.WithLabelValues("failed").Inc()
		if s.failures >= failLimit {
			return d.escalate(key, at, "challenge_failures", fmt.Sprintf("challenge_failures=%d/%s", s.failures, failWindow))
		}
	case eventpb.FeedbackKind_LABEL_BOT:
		if sub.Kind == subject.KindFP {
			// Never a verdict on a fingerprint alone (feedback.Label refuses it).
			d.m.feedback.WithLabelValues("fp_label_bot_ignored").Inc()
			return nil
		}
		delete(d.trusted, key)
		return d.block(key, at, labelTTL, "label_bot", append([]string{"label=bot"}, nonEmpty(f.GetReason())...))
	default:
		d.m.feedback.WithLabelValues(kindLabel(f.GetKind())).Inc()
	}
	return nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func kindLabel(k eventpb.FeedbackKind) string {
	switch k {
	case eventpb.FeedbackKind_CHALLENGE_ISSUED:
		return "issued"
	case eventpb.FeedbackKind_CHALLENGE_ABANDONED:
		return "abandoned"
	}
	return "other"
}

func (d *Decider) suspect(key string, at time.Time) *suspicion {
	s := d.suspects[key]
	if s == nil || at.Sub(s.since) > failWindow {
		s = &suspicion{since: at}
		d.suspects[key] = s
	}
	return s
}

// inhuman counts a pass solved too fast, or in exactly the time of the
// previous one, and reports whether the subject has had too many.
func (d *Decider) inhuman(key string, f *eventpb.Feedback, at time.Time) bool {
	ms := f.GetSolveMillis()
	s := d.suspect(key, at)
	odd := ms < instantSolve.Milliseconds() || (s.lastSolve != 0 && ms == s.lastSolve)
	s.lastSolve = ms
	if !odd {
		return false
	}
	s.inhuman++
	d.m.feedback.WithLabelValues("inhuman").Inc()
	return s.inhuman >= inhumanLimit
}

// clear records a pass and lifts the subject's computed CHALLENGE (and,
// for an operator's "human" label, a computed BLOCK too).
func (d *Decider) clear(key string, until, at time.Time, why string, liftBlock bool) []Change {
	if !until.After(at) {
		d.m.feedback.WithLabelValues("stale").Inc()
		return nil
	}
	prev := d.trusted[key]
	d.trusted[key] = trust{until: until, credit: prev.creditAt(at) + trustCredit, at: at}
	d.m.feedback.WithLabelValues(why).Inc()
	cur := d.state[key]
	if cur == nil || cur.v.GetOrigin() == eventpb.Origin_OPERATOR {
		return nil
	}
	switch a := cur.v.GetAction(); {
	case a == eventpb.Action_CHALLENGE, a == eventpb.Action_MONITOR && cur.v.GetWouldBe() == eventpb.Action_CHALLENGE,
		a == eventpb.Action_BLOCK && liftBlock:
		d.m.lifts.WithLabelValues(why).Inc()
		d.remove(key)
		return []Change{{Subject: key, Why: WhyLift}}
	}
	return nil
}

// escalate blocks a subject whose answers no person gives.
func (d *Decider) escalate(key string, at time.Time, rule, reason string) []Change {
	delete(d.trusted, key)
	delete(d.suspects, key)
	return d.block(key, at, feedbackBlockTTL, rule, []string{reason})
}

func (d *Decider) block(key string, at time.Time, ttl time.Duration, rule string, reasons []string) []Change {
	cur := d.state[key]
	if cur != nil && (cur.v.GetOrigin() == eventpb.Origin_OPERATOR ||
		(cur.v.GetAction() == eventpb.Action_BLOCK && cur.v.GetExpiresAtUnixNano() >= at.Add(ttl).UnixNano())) {
		return nil
	}
	v := &eventpb.Verdict{
		Subject: key, Action: eventpb.Action_BLOCK, Score: 100, Reasons: reasons,
		AtUnixNano: at.UnixNano(), ExpiresAtUnixNano: at.Add(ttl).UnixNano(),
		Origin: eventpb.Origin_COMPUTED, Rule: rule,
	}
	why := WhyNew
	if cur != nil {
		why = WhyUpgrade
	}
	d.put(key, &entry{v: v, offences: d.offend(key, at)})
	d.m.verdicts.WithLabelValues(verdict.ActionString(v.Action), wouldBeLabel(v.WouldBe), v.Rule, why.String()).Inc()
	return []Change{{Subject: key, Verdict: v, Why: why}}
}

// trustAt is what a subject's passes are worth at t: whether a CHALLENGE
// is suppressed, and the credit to take off its score.
func (d *Decider) trustAt(key string, t time.Time) (cleared bool, credit float64) {
	tr, ok := d.trusted[key]
	if !ok {
		return false, 0
	}
	credit = tr.creditAt(t)
	if credit < 0.5 && !t.Before(tr.until) {
		delete(d.trusted, key) // worth nothing any more
		return false, 0
	}
	return t.Before(tr.until), credit
}
