package replay

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// strongest is the strongest verdict a subject got during a replay.
type strongest struct {
	action  eventpb.Action
	rule    string
	at      int64
	example string // the request that triggered it
	changes int
}

// tally records, for one rule set, each subject's strongest verdict.
type tally map[string]*strongest

func (t tally) add(v *eventpb.Verdict, trigger *eventpb.RequestEvent) {
	s := t[v.GetSubject()]
	if s == nil {
		s = &strongest{}
		t[v.GetSubject()] = s
	}
	s.changes++
	if a := effective(v); a > s.action {
		s.action, s.rule, s.at = a, ruleOf(v), v.GetAtUnixNano()
		s.example = describe(trigger)
	}
}

// effective is the action a verdict stands for: in learning mode, the one
// the rules would have taken, since that is what tuning compares.
func effective(v *eventpb.Verdict) eventpb.Action {
	if wb := v.GetWouldBe(); wb > v.GetAction() {
		return wb
	}
	return v.GetAction()
}

func ruleOf(v *eventpb.Verdict) string {
	if r := v.GetRule(); r != "" {
		return r
	}
	return "ladder"
}

// describe is a short, log-like line of a request.
func describe(ev *eventpb.RequestEvent) string {
	if ev == nil {
		return ""
	}
	target := ev.GetPath()
	if q := ev.GetQuery(); q != "" {
		target += "?" + q
	}
	ua := ev.GetUserAgent()
	if len(ua) > 60 {
		ua = ua[:57] + "..."
	}
	return fmt.Sprintf("%s %s %s %d %q", ev.GetClientIp(), ev.GetMethod(), target, ev.GetStatus(), ua)
}

// Change is one subject whose strongest action differs between the rule files.
type Change struct {
	Subject string `json:"subject"`
	Before  string `json:"before"` // action under --rules
	After   string `json:"after"`  // action under --compare
	// Rule decided the stronger side; Example is the request that led to it.
	Rule    string `json:"rule"`
	Example string `json:"example"`
}

// Diff is what changes when the rules of --rules are replaced by those of
// --compare, subject by subject (each subject's strongest action in the replay).
type Diff struct {
	BaseRules, OtherRules string
	Subjects              int            // subjects with a verdict under either
	Changes               []Change       // sorted: stronger first, then by subject
	ByTransition          map[string]int // "ALLOW->BLOCK" -> subjects
	ByRule                map[string]int // rule of the stronger side -> subjects
}

func diff(baseName, otherName string, base, other tally) *Diff {
	d := &Diff{BaseRules: baseName, OtherRules: otherName, ByTransition: map[string]int{}, ByRule: map[string]int{}}
	seen := map[string]bool{}
	for s := range base {
		seen[s] = true
	}
	for s := range other {
		seen[s] = true
	}
	d.Subjects = len(seen)
	zero := &strongest{action: eventpb.Action_ALLOW}
	for s := range seen {
		a, b := base[s], other[s]
		if a == nil {
			a = zero
		}
		if b == nil {
			b = zero
		}
		aa, ba := max(a.action, eventpb.Action_ALLOW), max(b.action, eventpb.Action_ALLOW)
		if aa == ba {
			continue
		}
		side := b
		if aa > ba {
			side = a
		}
		c := Change{Subject: s, Before: verdict.ActionString(aa), After: verdict.ActionString(ba), Rule: side.rule, Example: side.example}
		d.Changes = append(d.Changes, c)
		d.ByTransition[c.Before+"->"+c.After]++
		d.ByRule[c.Rule]++
	}
	slices.SortFunc(d.Changes, func(x, y Change) int {
		if c := cmp.Compare(rank(y), rank(x)); c != 0 {
			return c
		}
		return cmp.Compare(x.Subject, y.Subject)
	})
	return d
}

// rank orders changes by how much they matter: escalations to BLOCK first.
func rank(c Change) int {
	a, _ := verdict.ParseAction(c.After)
	b, _ := verdict.ParseAction(c.Before)
	return int(a)*8 + int(a-b) + 4
}

// MaxExamples is how many changed subjects the report lists.
const MaxExamples = 20

// WriteReport prints the diff for a person.
func (d *Diff) WriteReport(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "rules %s -> %s: %d of %d subjects with a verdict change their strongest action\n",
		d.BaseRules, d.OtherRules, len(d.Changes), d.Subjects)
	if len(d.Changes) > 0 {
		b.WriteString("\nby action:\n")
		for _, k := range sortedByCount(d.ByTransition) {
			fmt.Fprintf(&b, "  %-20s %d\n", k, d.ByTransition[k])
		}
		b.WriteString("\nby rule (of the stronger side):\n")
		for _, k := range sortedByCount(d.ByRule) {
			fmt.Fprintf(&b, "  %-20s %d\n", k, d.ByRule[k])
		}
		b.WriteString("\nsubjects (strongest changes first):\n")
		for i, c := range d.Changes {
			if i == MaxExamples {
				fmt.Fprintf(&b, "  ... and %d more\n", len(d.Changes)-MaxExamples)
				break
			}
			fmt.Fprintf(&b, "  %-28s %-9s -> %-9s rule=%s\n      e.g. %s\n", c.Subject, c.Before, c.After, c.Rule, c.Example)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedByCount(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return keys
}
