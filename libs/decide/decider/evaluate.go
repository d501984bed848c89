package decider

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// decision is what the rules say about one score.
type decision struct {
	exempt  string // why the subject is exempt ("allow_list", "verified_crawler", an ALLOW rule's name), or ""
	action  eventpb.Action
	wouldBe eventpb.Action // learning mode: the action the rules would take
	rule    string
	ttl     time.Duration
	reason  string
	fake    bool // the client claims a crawler it is not
}

// maxReasons bounds a verdict's reasons: the sidecar returns them on every lookup.
const maxReasons = 8

func (dec decision) reasons(score float64, offences int, scoreReasons []string) []string {
	out := make([]string, 0, maxReasons)
	if dec.reason == "" {
		out = append(out, "score="+strconv.FormatFloat(score, 'f', -1, 64))
	} else {
		out = append(out, dec.reason)
	}
	if dec.fake && dec.reason != "fake_crawler" {
		out = append(out, "fake_crawler")
	}
	if dec.wouldBe != eventpb.Action_ACTION_UNSPECIFIED {
		out = append(out, "would_be="+verdict.ActionString(dec.wouldBe))
	}
	if offences > 1 {
		out = append(out, "repeat_offender="+strconv.Itoa(offences))
	}
	for _, r := range scoreReasons {
		if len(out) == maxReasons {
			break
		}
		out = append(out, r)
	}
	return out
}

// parseOffences reads back the repeat-offence count of a verdict restored
// from the topic (the Verdict message has no field for it).
func parseOffences(reasons []string) int {
	for _, r := range reasons {
		if n, ok := strings.CutPrefix(r, "repeat_offender="); ok {
			if v, err := strconv.Atoi(n); err == nil && v > 0 {
				return v
			}
		}
	}
	return 1
}

// candidate is one source of an action: the ladder or a rule.
type candidate struct {
	action   eventpb.Action
	rule     string
	ttl      time.Duration
	reason   string
	learning bool
}

// evaluate applies the rule set to a score. The strongest action wins; on a
// tie the first rule in the file wins, and a rule wins over the ladder.
func (d *Decider) evaluate(ctx context.Context, s *eventpb.Score, key string, sub subject.Subject) decision {
	rs := d.rs
	trig := s.GetTrigger()
	client, _ := netip.ParseAddr(trig.GetClientIp())
	if rs.Allow.Allows(key, sub, client) {
		return decision{exempt: "allow_list"}
	}
	var cr rules.Crawler
	if d.verifier != nil && trig.GetUserAgent() != "" {
		var res crawlers.Result
		if d.opts.SyncCrawlerChecks {
			res = d.verifier.Check(ctx, trig.GetUserAgent(), client)
		} else {
			res = d.verifier.CheckAsync(trig.GetUserAgent(), client)
		}
		if res.Status == crawlers.Verified {
			return decision{exempt: "verified_crawler"}
		}
		if res.Status != crawlers.NotClaimed {
			cr = rules.Crawler{Name: res.Crawler, Claimed: true, Fake: res.Status == crawlers.Fake}
		}
	}

	env := rules.NewEnv(s, cr)
	la := rs.Ladder.Action(s.GetScore())
	// The ladder's reason ("score=96.5") is formatted only for a verdict
	// that is written, by reasons(): most scores write nothing.
	ladder := candidate{action: la, rule: "ladder", ttl: rs.TTL.For(la), learning: rs.Learning}
	best, enforced := ladder, ladder
	for _, r := range rs.Rules {
		ok, err := r.Match(&d.machine, &env)
		if err != nil {
			d.m.ruleErrors.WithLabelValues(r.Name).Inc()
			d.log.Debug("rule failed", "rule", r.Name, "subject", key, "err", err)
			continue
		}
		if !ok {
			continue
		}
		if r.Action == eventpb.Action_ALLOW {
			return decision{exempt: r.Name}
		}
		c := candidate{action: r.Action, rule: r.Name, ttl: r.TTL, reason: r.Reason, learning: rs.Learning || r.Learning}
		if c.ttl == 0 {
			c.ttl = rs.TTL.For(r.Action)
		}
		if c.reason == "" {
			c.reason = "rule=" + r.Name
		}
		if beats(c, best) {
			best = c
		}
		if !c.learning && beats(c, enforced) {
			enforced = c
		}
	}

	dec := decision{action: best.action, rule: best.rule, ttl: best.ttl, reason: best.reason, fake: cr.Fake}
	switch {
	case best.action == eventpb.Action_ALLOW:
	case rs.Learning:
		dec.action, dec.wouldBe = eventpb.Action_MONITOR, best.action
	case best.learning && enforced.action < best.action:
		// A rule in learning mode would be stronger than what is enforced:
		// write what is enforced (at least MONITOR) and say what it would be.
		dec.action, dec.wouldBe = max(enforced.action, eventpb.Action_MONITOR), best.action
		if enforced.action > eventpb.Action_ALLOW {
			dec.ttl = enforced.ttl
		}
	case best.learning:
		dec = decision{action: enforced.action, rule: enforced.rule, ttl: enforced.ttl, reason: enforced.reason, fake: cr.Fake}
	}
	return dec
}

func beats(c, best candidate) bool {
	return c.action > best.action || (c.action == best.action && best.rule == "ladder")
}
