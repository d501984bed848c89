package decider

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// Fingerprint verdicts (fp:HEX). The aggregator scores a fingerprint only
// during an enforcing attack that names it, with the failing addresses seen
// with it (libs/detect/aggregator fpsubject.go); here that is checked again
// (a score without an attack= reason is refused: a fingerprint alone is
// never enough), and the addresses become the verdict's: merged with those
// it holds, the most recent last, at most subject.MaxFPAddresses, and never
// one that is allow-listed (rule file or live policy), allowed by an
// operator, or labelled human. Readers enforce the verdict on these
// addresses only, so an address also blocked on its own keeps its own
// verdict when the fp: verdict is lifted or expires.

// fpAttackEnded returns the attack an operator ended, when s is the
// aggregator's score saying so ("attack_ended=<id>").
func fpAttackEnded(s *eventpb.Score) (string, bool) {
	for _, r := range s.GetReasons() {
		if id, ok := strings.CutPrefix(r, "attack_ended="); ok && id != "" {
			return id, true
		}
	}
	return "", false
}

// liftFP lifts the computed fp: verdict of key if it was raised by attack
// id, which an operator ended (`bulwark attack end ID`): the operator said
// it is over, or was no attack, so the fingerprint's addresses are let
// through at once. The addresses' own verdicts run their course.
func (d *Decider) liftFP(key, id string) []Change {
	cur := d.state[key]
	if cur == nil || cur.v.GetOrigin() == eventpb.Origin_OPERATOR || !slices.Contains(cur.v.GetReasons(), "attack="+id) {
		return nil
	}
	d.m.lifts.WithLabelValues("attack_ended").Inc()
	d.remove(key)
	return []Change{{Subject: key, Why: WhyLift}}
}

// fpScoreProblem says why an fp: score cannot be decided on, or "".
func fpScoreProblem(s *eventpb.Score) string {
	if !slices.ContainsFunc(s.GetReasons(), func(r string) bool { return strings.HasPrefix(r, "attack=") }) {
		return "fp_without_attack"
	}
	if len(s.GetAddresses()) == 0 {
		return "fp_without_addresses"
	}
	return ""
}

// fpAddresses returns the addresses an fp: verdict covers after a score:
// cur's (when it is still in force and computed) and the score's, minus
// those exempt at t, the score's last, at most subject.MaxFPAddresses.
// added reports whether the score brought an address cur did not hold.
func (d *Decider) fpAddresses(cur *eventpb.Verdict, s *eventpb.Score, t time.Time) (out []string, added bool) {
	seen := map[string]bool{}
	for _, a := range cur.GetAddresses() {
		if !seen[a] && !d.fpExempt(a, t) {
			seen[a] = true
			out = append(out, a)
		}
	}
	have := len(out)
	for _, raw := range s.GetAddresses() {
		ip, err := netip.ParseAddr(raw)
		if err != nil || ip.Zone() != "" {
			d.m.badScores.WithLabelValues("fp_bad_address").Inc()
			continue
		}
		a := ip.Unmap().String()
		if seen[a] || d.fpExempt(a, t) {
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	added = len(out) > have
	if n := len(out) - subject.MaxFPAddresses; n > 0 {
		out = out[n:]
	}
	return out, added
}

// fpExempt reports whether address a (canonical) must not be blocked
// through a fingerprint at t: allow lists, an operator's ALLOW, a human
// label or a passed challenge that holds.
func (d *Decider) fpExempt(a string, t time.Time) bool {
	ip, err := netip.ParseAddr(a)
	if err != nil {
		return true
	}
	key := subject.IP(ip)
	sub := subject.Subject{Kind: subject.KindIP, Addr: ip}
	if d.rs.Allow.Allows(key, sub, netip.Addr{}) || d.operatorAllows(sub, "", t) {
		return true
	}
	if tr, ok := d.trusted[key]; ok && t.Before(tr.until) {
		return true
	}
	if e := d.state[key]; e != nil && e.v.GetOrigin() == eventpb.Origin_OPERATOR &&
		e.v.GetAction() == eventpb.Action_ALLOW && verdict.Active(e.v, t) {
		return true
	}
	return false
}

// dropFromFPs takes the addresses in p out of every fp: verdict in force
// that lists them (allowed or labelled human after the verdict was
// written) and returns the changed verdicts.
func (d *Decider) dropFromFPs(p netip.Prefix) []Change {
	return d.filterFPs(func(a string) bool {
		ip, err := netip.ParseAddr(a)
		return err == nil && p.Contains(ip)
	})
}

// refilterFPs takes the addresses exempt now (an operator's ALLOW read from
// the verdict topic, a reloaded rule file or live policy that allow-lists
// them) out of every fp: verdict, and returns the changed verdicts. Expire
// runs it when something that can exempt an address changed (fpDirty).
func (d *Decider) refilterFPs(now time.Time) []Change {
	d.fpDirty = false
	return d.filterFPs(func(a string) bool { return d.fpExempt(a, now) })
}

// filterFPs drops the addresses for which drop is true from every computed
// fp: verdict; one left without addresses is lifted.
func (d *Decider) filterFPs(drop func(a string) bool) []Change {
	var out []Change
	for _, key := range slices.Sorted(maps.Keys(d.fps)) {
		e := d.state[key]
		if e == nil || e.v.GetOrigin() == eventpb.Origin_OPERATOR {
			continue
		}
		keep := slices.DeleteFunc(slices.Clone(e.v.GetAddresses()), drop)
		if len(keep) == len(e.v.GetAddresses()) {
			continue
		}
		if len(keep) == 0 {
			d.m.lifts.WithLabelValues("fp_emptied").Inc()
			d.remove(key)
			out = append(out, Change{Subject: key, Why: WhyLift})
			continue
		}
		v := proto.CloneOf(e.v)
		v.Addresses = keep
		d.put(key, &entry{v: v, offences: e.offences})
		d.m.verdicts.WithLabelValues(verdict.ActionString(v.Action), wouldBeLabel(v.WouldBe), v.Rule, WhyExpand.String()).Inc()
		out = append(out, Change{Subject: key, Verdict: v, Why: WhyExpand})
	}
	return out
}
