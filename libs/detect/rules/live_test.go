package rules_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

func TestLivePolicy(t *testing.T) {
	file := []byte("version: 1\nladder: {monitor: 30, challenge: 60, block: 85}\nallow: {cidrs: [192.0.2.0/24]}\n")
	base, err := rules.Parse(file, "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := func(live, wantErr string, check func(*rules.RuleSet) string) {
		t.Helper()
		rs, err := rules.ParseWithLive(file, "rules.yaml", []byte(live))
		if wantErr != "" {
			if !errors.Is(err, rules.ErrInvalid) || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("%q: error %v, want %q", live, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", live, err)
		}
		if msg := check(rs); msg != "" {
			t.Fatalf("%q: %s", live, msg)
		}
	}
	f("", "", func(rs *rules.RuleSet) string {
		if rs.Digest != base.Digest || rs.Source != "rules.yaml" {
			return "an empty policy changed the rule set: " + rs.Digest
		}
		return ""
	})
	f("ladder: {challenge: 50}\n", "", func(rs *rules.RuleSet) string {
		if rs.Ladder != (rules.Ladder{Monitor: 30, Challenge: 50, Block: 85}) || !strings.HasPrefix(rs.Digest, base.Digest+"+") {
			return "ladder " + rs.Source
		}
		return ""
	})
	f("learning: true\nttl: {block: 2h}\n", "", func(rs *rules.RuleSet) string {
		if !rs.Learning || rs.TTL.Block != 2*time.Hour || rs.TTL.Challenge != base.TTL.Challenge {
			return "learning or ttl not laid over"
		}
		return ""
	})
	f("allow: {subjects: [ip:203.0.113.7]}\n", "", func(rs *rules.RuleSet) string {
		if !rs.Allow.Allows("ip:203.0.113.7", mustSubject(t, "ip:203.0.113.7"), mustSubject(t, "ip:203.0.113.7").Addr) ||
			!rs.Allow.Allows("ip:192.0.2.9", mustSubject(t, "ip:192.0.2.9"), mustSubject(t, "ip:192.0.2.9").Addr) {
			return "allow lists not added to the file's"
		}
		return ""
	})
	name := base.Rules[0].Name
	f("rule_learning: {"+name+": true}\n", "", func(rs *rules.RuleSet) string {
		if !rs.Rules[0].Learning || base.Rules[0].Learning {
			return "rule learning not set, or set on the file's rule set"
		}
		return ""
	})
	f("ladder: {challenge: 90}\n", "thresholds must rise", nil)
	f("ttl: {block: 0s}\n", "at least 1s", nil)
	f("allow: {cidrs: [not-a-cidr]}\n", "not-a-cidr", nil)
	f("rule_learning: {no_such_rule: true}\n", "no_such_rule", nil)
	f("rules: []\n", "live policy", nil)
	f("ladder: [1, 2]\n", "live policy", nil)
}

func TestLivePolicyMarshal(t *testing.T) {
	c := 55.0
	d := 90 * time.Minute
	p := rules.LivePolicy{Ladder: rules.LiveLadder{Challenge: &c}, TTL: rules.LiveTTL{Block: &d}}
	back, err := rules.ParseLive(p.Marshal())
	if err != nil || *back.Ladder.Challenge != 55 || *back.TTL.Block != d || back.Learning != nil {
		t.Fatalf("round trip: %s -> %+v %v", p.Marshal(), back, err)
	}
	if (rules.LivePolicy{}).Marshal() != nil {
		t.Fatal("an empty policy encodes as something")
	}
}

func FuzzParseLive(f *testing.F) {
	f.Add([]byte("ladder: {challenge: 50}\nlearning: true\n"))
	f.Add([]byte("allow: {cidrs: [10.0.0.0/8]}\nrule_learning: {x: true}\n"))
	file := []byte("version: 1\n")
	f.Fuzz(func(t *testing.T, live []byte) {
		// Every document is a rule set or an ErrInvalid, never a panic.
		if _, err := rules.ParseWithLive(file, "rules.yaml", live); err != nil && !errors.Is(err, rules.ErrInvalid) {
			t.Fatalf("%q: error %v does not wrap ErrInvalid", live, err)
		}
	})
}

func mustSubject(t *testing.T, s string) subject.Subject {
	t.Helper()
	sub, err := subject.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}
