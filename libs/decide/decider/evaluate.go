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
	fake    bool   // the client claims a crawler it is not
	bot     string // "bot=NAME category=C policy=P" (or status=impostor) for a claimed bot
	robots  bool   // the bot fetched what robots.txt forbids it
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
	if dec.bot != "" && dec.reason != dec.bot {
		out = append(out, dec.bot)
	}
	if dec.robots && dec.reason != "robots_violation" {
		out = append(out, "robots_violation")
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
	if sub.Kind == subject.KindFP {
		// The trigger is one of many addresses: the allow lists apply to
		// each of them (fp.go), and to the fp: subject itself, not to the
		// fingerprint as a whole through one address.
		client = netip.Addr{}
	}
	if rs.Allow.Allows(key, sub, client) {
		return decision{exempt: "allow_list"}
	}
	var cr rules.Crawler
	var policy *candidate
	var exempt, hold bool
	if sub.Kind != subject.KindFP {
		// A crawler is verified by its address; a fingerprint has many.
		cr, policy, exempt, hold = d.checkBot(ctx, s, client)
	}
	if exempt {
		return decision{exempt: "verified_crawler"}
	}

	env := rules.NewEnv(s, cr)
	la := rs.Ladder.Action(s.GetScore())
	if hold && la > eventpb.Action_MONITOR {
		// A crawler's score is made of what crawlers do (no assets, no
		// referer, steady pace): no evidence against one that could not be
		// checked through no fault of its own. The rules still apply.
		la = eventpb.Action_MONITOR
	}
	// The ladder's reason ("score=96.5") is formatted only for a verdict
	// that is written, by reasons(): most scores write nothing.
	ladder := candidate{action: la, rule: "ladder", ttl: rs.TTL.For(la), learning: rs.Learning}
	best, enforced := ladder, ladder
	if policy != nil && sub.Kind != subject.KindNet {
		// Not for network subjects: one bot does not make its /24 one.
		policy.learning = rs.Learning
		if cr.Verified {
			// The operator said what to do with this bot: its score does not.
			best, enforced = *policy, *policy
		} else if beats(*policy, best) {
			best, enforced = *policy, *policy
		}
	}
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

	dec := decision{action: best.action, rule: best.rule, ttl: best.ttl, reason: best.reason, fake: cr.Fake, bot: botReason(cr), robots: cr.RobotsViolation}
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
		dec = decision{action: enforced.action, rule: enforced.rule, ttl: enforced.ttl, reason: enforced.reason, fake: cr.Fake, bot: botReason(cr), robots: cr.RobotsViolation}
	}
	return dec
}

func beats(c, best candidate) bool {
	return c.action > best.action || (c.action == best.action && best.rule == "ladder")
}

// checkBot verifies the client's bot claim and applies the rule file's
// policy for the bot. exempt: a verified bot the policy allows (within its
// rate limit). policy, when not nil, is the candidate the policy adds.
// hold: a bot allowed or monitored that can be verified but could not be
// now (reverse DNS not available or failing, ranges of another date), whose
// score alone must not challenge or block it.
func (d *Decider) checkBot(ctx context.Context, s *eventpb.Score, client netip.Addr) (cr rules.Crawler, policy *candidate, exempt, hold bool) {
	trig := s.GetTrigger()
	if d.verifier == nil || trig.GetUserAgent() == "" {
		return cr, nil, false, false
	}
	// Range lists are judged at the request's time: a replayed 2015 log is
	// not checked against this year's lists.
	at := time.Unix(0, s.GetTimeUnixNano())
	var res crawlers.Result
	if d.opts.SyncCrawlerChecks {
		res = d.verifier.CheckAt(ctx, trig.GetUserAgent(), client, at)
	} else {
		res = d.verifier.CheckAsyncAt(trig.GetUserAgent(), client, at)
	}
	if res.Status == crawlers.NotClaimed {
		return cr, nil, false, false
	}
	rs := d.rs
	p := rules.PolicyNone
	if res.Status != crawlers.Impostor {
		p = rs.Bots.For(res.Crawler, res.Category)
	}
	d.m.bots.WithLabelValues(res.Crawler, res.Category, res.Status.String(), p.String()).Inc()
	cr = rules.Crawler{
		Name: res.Crawler, Category: res.Category, Policy: p.String(), Status: res.Status.String(), Claimed: true,
		Verified: res.Status == crawlers.Verified, Fake: res.Status == crawlers.Impostor,
		Impostor: res.Status == crawlers.Impostor, Unverifiable: res.Status == crawlers.Unverifiable,
	}
	if res.Status != crawlers.Impostor && d.robots != nil {
		path := trig.GetPath()
		if q := trig.GetQuery(); q != "" {
			path += "?" + q
		}
		cr.RobotsViolation = d.robots.Disallowed(trig.GetHost(), res.RobotsToken, path)
	}
	// "declared" (no way to check) gets no such benefit of the doubt:
	// anyone can write "Slackbot" in a User-Agent.
	checkable := cr.Unverifiable && res.By != "declared" && res.By != "bad_address"
	var c candidate
	if cr.RobotsViolation && (p == rules.PolicyAllow || p == rules.PolicyRateLimit) {
		// Not exempt: seen (MONITOR), and the rules decide (bot.robots_violation).
		d.m.robotsViolations.WithLabelValues(cr.Name).Inc()
		c = candidate{action: eventpb.Action_MONITOR, ttl: rs.TTL.Monitor, rule: "bot_policy", reason: botReason(cr)}
		return cr, &c, false, checkable
	}
	if cr.RobotsViolation {
		d.m.robotsViolations.WithLabelValues(cr.Name).Inc()
	}
	switch p {
	case rules.PolicyAllow:
		return cr, nil, cr.Verified, checkable
	case rules.PolicyRateLimit:
		if s.GetFeatures()["rate_1m"] <= rs.Bots.RateLimit {
			return cr, nil, cr.Verified, checkable
		}
		c = candidate{action: rs.Bots.RateLimitAction, ttl: rs.Bots.RateLimitTTL}
	case rules.PolicyMonitor:
		c = candidate{action: eventpb.Action_MONITOR, ttl: rs.TTL.Monitor}
		hold = checkable
	case rules.PolicyChallenge:
		c = candidate{action: eventpb.Action_CHALLENGE, ttl: rs.TTL.Challenge}
	case rules.PolicyBlock:
		c = candidate{action: eventpb.Action_BLOCK, ttl: rs.TTL.Block}
	default:
		return cr, nil, false, false
	}
	c.rule, c.reason = "bot_policy", botReason(cr)
	return cr, &c, false, hold
}

// botReason is the reason naming a claimed bot and what was done about it.
func botReason(cr rules.Crawler) string {
	switch {
	case !cr.Claimed:
		return ""
	case cr.Impostor:
		return "bot=" + cr.Name + " category=" + cr.Category + " status=impostor"
	}
	return "bot=" + cr.Name + " category=" + cr.Category + " policy=" + cr.Policy
}
