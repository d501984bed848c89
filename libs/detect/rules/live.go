package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// LivePolicy is the live policy: the few settings an operator changes from the
// console without editing the rule file (thresholds, TTLs, learning mode,
// allow lists). It is a YAML document with the rule file's own key names,
// kept on the compacted policy topic and laid over the rule file:
//
//	shipped default  <  rule file  <  live policy
//
// A setting the policy names replaces the file's; one it leaves out keeps
// the file's. Allow lists are added to the file's, never replace them, so a
// policy cannot drop an allow list someone reviewed in the file.
// rule_learning puts named rules of the file in (true) or out of (false)
// learning mode.
type LivePolicy struct {
	Learning     *bool           `yaml:"learning,omitempty"`
	Ladder       LiveLadder      `yaml:"ladder,omitempty"`
	TTL          LiveTTL         `yaml:"ttl,omitempty"`
	Allow        LiveAllow       `yaml:"allow,omitempty"`
	RuleLearning map[string]bool `yaml:"rule_learning,omitempty"`
}

// LiveLadder holds the thresholds a policy sets.
type LiveLadder struct {
	Monitor   *float64 `yaml:"monitor,omitempty"`
	Challenge *float64 `yaml:"challenge,omitempty"`
	Block     *float64 `yaml:"block,omitempty"`
}

// LiveTTL holds the TTLs a policy sets.
type LiveTTL struct {
	Monitor   *time.Duration `yaml:"monitor,omitempty"`
	Challenge *time.Duration `yaml:"challenge,omitempty"`
	Block     *time.Duration `yaml:"block,omitempty"`
}

// LiveAllow holds the allow-list entries a policy adds.
type LiveAllow struct {
	CIDRs    []string `yaml:"cidrs,omitempty"`
	Subjects []string `yaml:"subjects,omitempty"`
}

// ParseLive decodes a policy document, refusing keys it does not know
// (every other setting belongs in the rule file). Its values are checked
// when it is laid over a rule file (ParseWithPolicy), as a file's are.
func ParseLive(data []byte) (LivePolicy, error) {
	var p LivePolicy
	if len(bytes.TrimSpace(data)) == 0 {
		return p, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return p, fmt.Errorf("%w: live policy: %s (it may set learning, ladder, ttl, allow and rule_learning)",
			ErrInvalid, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return p, nil
}

// Empty reports whether p sets nothing.
func (p LivePolicy) Empty() bool {
	return p.Learning == nil && p.Ladder == (LiveLadder{}) && p.TTL == (LiveTTL{}) &&
		len(p.Allow.CIDRs) == 0 && len(p.Allow.Subjects) == 0 && len(p.RuleLearning) == 0
}

// Marshal encodes p as the document ParseLive reads.
func (p LivePolicy) Marshal() []byte {
	if p.Empty() {
		return nil
	}
	b, err := yaml.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("rules: encode policy: %v", err)) // plain values always encode
	}
	return b
}

func (p LivePolicy) apply(s *fileSpec) {
	set := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	setD := func(dst *time.Duration, v *time.Duration) {
		if v != nil {
			*dst = *v
		}
	}
	if p.Learning != nil {
		s.Learning = *p.Learning
	}
	set(&s.Ladder.Monitor, p.Ladder.Monitor)
	set(&s.Ladder.Challenge, p.Ladder.Challenge)
	set(&s.Ladder.Block, p.Ladder.Block)
	setD(&s.TTL.Monitor, p.TTL.Monitor)
	setD(&s.TTL.Challenge, p.TTL.Challenge)
	setD(&s.TTL.Block, p.TTL.Block)
	// Clone: the spec's slices may be the shipped default's.
	s.Allow.CIDRs = append(slices.Clone(s.Allow.CIDRs), p.Allow.CIDRs...)
	s.Allow.Subjects = append(slices.Clone(s.Allow.Subjects), p.Allow.Subjects...)
}

// applyRules sets the learning mode of the named rules of a compiled set
// (its own, freshly compiled rules).
func (p LivePolicy) applyRules(rs *RuleSet) error {
	var unknown []string
	for name, on := range p.RuleLearning {
		i := slices.IndexFunc(rs.Rules, func(r *Rule) bool { return r.Name == name })
		if i < 0 {
			unknown = append(unknown, name)
			continue
		}
		rs.Rules[i].Learning = on
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("%w: live policy: rule_learning names rules the rule file does not have: %s",
			ErrInvalid, strings.Join(unknown, ", "))
	}
	return nil
}
