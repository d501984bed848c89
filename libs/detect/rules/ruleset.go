package rules

import (
	"fmt"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"math"
	"net/netip"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/gaissmai/bart"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// RuleSet is a compiled, validated rule file. It is immutable: a reload
// builds a new one and swaps it in.
type RuleSet struct {
	// Source names the file ("default" for the shipped one); Digest is the
	// start of the SHA-256 of its bytes, logged on every reload.
	Source, Digest string
	// Learning: every verdict is written as MONITOR with would_be set.
	Learning     bool
	Ladder       Ladder
	TTL          TTL
	Escalation   Escalation
	Allow        *AllowList
	UnblockGrace time.Duration
	// CrawlersEnabled turns crawler verification on; Crawlers configures it.
	CrawlersEnabled bool
	Crawlers        crawlers.Config
	// Bots holds the policies per bot category and per bot.
	Bots  *BotPolicies
	Rules []*Rule
	// Features is the aggregator's section (scoring weights and lists).
	Features scoring.Config
	// Model is the aggregator's learned model (the `model:` section), if
	// any; its file is loaded by the aggregator, not here.
	Model ModelSpec
}

// Ladder holds the score thresholds of the actions.
type Ladder struct{ Monitor, Challenge, Block float64 }

// Action returns the ladder's action for a score.
func (l Ladder) Action(score float64) eventpb.Action {
	switch {
	case score >= l.Block:
		return eventpb.Action_BLOCK
	case score >= l.Challenge:
		return eventpb.Action_CHALLENGE
	case score >= l.Monitor:
		return eventpb.Action_MONITOR
	}
	return eventpb.Action_ALLOW
}

// TTL holds the verdict lifetimes per action.
type TTL struct {
	Monitor, Challenge, Block time.Duration
	// ExtendBelow: an unchanged verdict is rewritten with a later expiry
	// only when less than this share of its TTL remains.
	ExtendBelow float64
}

// For returns the TTL of an action (0 for ALLOW).
func (t TTL) For(a eventpb.Action) time.Duration {
	switch a {
	case eventpb.Action_MONITOR:
		return t.Monitor
	case eventpb.Action_CHALLENGE:
		return t.Challenge
	case eventpb.Action_BLOCK:
		return t.Block
	}
	return 0
}

// Escalation lengthens the TTL of repeat offenders.
type Escalation struct {
	Factor float64
	MaxTTL time.Duration
	Window time.Duration
}

// Apply returns base lengthened for the n-th offence (n >= 1) within the window.
func (e Escalation) Apply(base time.Duration, n int) time.Duration {
	if n <= 1 || e.Factor <= 1 {
		return base
	}
	d := float64(base) * math.Pow(e.Factor, float64(n-1))
	if e.MaxTTL > 0 && (d > float64(e.MaxTTL) || math.IsInf(d, 1)) {
		return max(base, e.MaxTTL)
	}
	return time.Duration(d)
}

// Rule is one compiled rule.
type Rule struct {
	Name     string
	When     string
	Action   eventpb.Action
	TTL      time.Duration // 0: the action's TTL
	Reason   string
	Learning bool
	program  *vm.Program
}

// Match evaluates the rule on env. m may be nil; a caller evaluating many
// rules in one goroutine passes one VM to reuse its stack.
func (r *Rule) Match(m *vm.VM, env *Env) (bool, error) {
	var out any
	var err error
	if m != nil {
		out, err = m.Run(r.program, env)
	} else {
		out, err = expr.Run(r.program, env)
	}
	if err != nil {
		return false, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	b, _ := out.(bool)
	return b, nil
}

// AllowList holds the clients that are never challenged or blocked.
type AllowList struct {
	cidrs    *bart.Lite
	subjects map[string]struct{}
}

// Allows reports whether the subject (parsed) or the client address of the
// request that scored it is allowed. A network subject is allowed when it
// overlaps an allowed CIDR: blocking it would block an allowed address.
func (a *AllowList) Allows(canonical string, sub subject.Subject, client netip.Addr) bool {
	if a == nil {
		return false
	}
	if _, ok := a.subjects[canonical]; ok {
		return true
	}
	switch sub.Kind {
	case subject.KindIP:
		if a.cidrs.Lookup(sub.Addr) {
			return true
		}
	case subject.KindNet:
		if a.cidrs.LookupPrefix(sub.Prefix) {
			return true
		}
		for range a.cidrs.Subnets(sub.Prefix) {
			return true
		}
	}
	return client.IsValid() && a.cidrs.Lookup(client.Unmap())
}

// ModelSpec is the rule file's `model:` section.
type ModelSpec = model.Spec
