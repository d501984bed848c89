package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/detect/robots"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// Policy is what the rule file says to do with a bot (bots: section).
type Policy uint8

const (
	// PolicyNone: no policy; the bot is scored like any client.
	PolicyNone Policy = iota
	// PolicyAllow: a verified bot is never challenged or blocked.
	PolicyAllow
	// PolicyMonitor: a MONITOR verdict, so it is seen and counted.
	PolicyMonitor
	// PolicyChallenge and PolicyBlock: that verdict.
	PolicyChallenge
	PolicyBlock
	// PolicyRateLimit: allowed up to bots.rate_limit.per_minute, then bots.rate_limit.action.
	PolicyRateLimit
)

var policyNames = []string{"", "allow", "monitor", "challenge", "block", "rate_limit"}

func (p Policy) String() string {
	if int(p) < len(policyNames) && p != PolicyNone {
		return policyNames[p]
	}
	return "none"
}

func parsePolicy(s string) (Policy, error) {
	if i := slices.Index(policyNames, strings.ToLower(strings.TrimSpace(s))); i > 0 {
		return Policy(i), nil
	}
	return PolicyNone, fmt.Errorf("%q is not a policy (allow, monitor, challenge, block, rate_limit)", s)
}

// BotPolicies are the bots: section: a policy per category, overridden per bot.
type BotPolicies struct {
	categories map[string]Policy
	bots       map[string]Policy
	// RateLimit is the requests per minute a rate_limit bot may make;
	// RateLimitAction and RateLimitTTL are the verdict beyond it.
	RateLimit       float64
	RateLimitAction eventpb.Action
	RateLimitTTL    time.Duration
	// Robots says where each host's robots.txt is (the decider loads them).
	Robots []robots.Source
}

// For returns the policy of a bot of the given category.
func (b *BotPolicies) For(bot, category string) Policy {
	if b == nil {
		return PolicyNone
	}
	if p, ok := b.bots[bot]; ok {
		return p
	}
	return b.categories[category]
}

func (c *compiler) bots(s botsSpec, known []crawlers.Crawler) *BotPolicies {
	b := &BotPolicies{categories: map[string]Policy{}, bots: map[string]Policy{}, RateLimit: s.RateLimit.PerMinute, RateLimitTTL: s.RateLimit.TTL}
	for cat, v := range s.Categories {
		if !slices.Contains(crawlers.Categories, cat) {
			c.e.at([]any{"bots", "categories", cat}, "unknown category %q (known: %s)", cat, strings.Join(crawlers.Categories, ", "))
			continue
		}
		p, err := parsePolicy(v)
		if err != nil {
			c.e.at([]any{"bots", "categories", cat}, "%v", err)
		}
		b.categories[cat] = p
	}
	for name, v := range s.Bots {
		if !slices.ContainsFunc(known, func(k crawlers.Crawler) bool { return k.Name == name }) {
			c.e.at([]any{"bots", "bots", name}, "unknown bot %q (see `bulwark bots`, or add it to crawlers.list)", name)
			continue
		}
		p, err := parsePolicy(v)
		if err != nil {
			c.e.at([]any{"bots", "bots", name}, "%v", err)
		}
		b.bots[name] = p
	}
	hosts := make([]string, 0, len(s.Robots))
	for h := range s.Robots {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	for _, h := range hosts {
		loc := strings.TrimSpace(s.Robots[h])
		if strings.TrimSpace(h) == "" || loc == "" {
			c.e.at([]any{"bots", "robots", h}, "want HOST: FILE_OR_URL")
			continue
		}
		b.Robots = append(b.Robots, robots.Source{Host: h, Location: loc})
	}
	if s.RateLimit.PerMinute <= 0 {
		c.e.at([]any{"bots", "rate_limit", "per_minute"}, "must be positive")
	}
	if s.RateLimit.TTL < time.Second {
		c.e.at([]any{"bots", "rate_limit", "ttl"}, "must be at least 1s")
	}
	a, err := verdict.ParseAction(s.RateLimit.Action)
	if err != nil || a < eventpb.Action_MONITOR {
		c.e.at([]any{"bots", "rate_limit", "action"}, "want MONITOR, CHALLENGE or BLOCK, got %q", s.RateLimit.Action)
	}
	b.RateLimitAction = a
	return b
}
