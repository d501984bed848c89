package decider_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

const fpSub = "fp:02f1bea35578836f"

func fpScore(at time.Time, reasons []string, addrs ...string) *eventpb.Score {
	s := mkScore(fpSub, at, 92)
	s.Reasons, s.Addresses = reasons, addrs
	s.Trigger.ClientIp = addrs[0]
	return s
}

var fpAttack = []string{"attack=login-failures-2026-11-21T10:00Z", "fp_failing_addresses=3"}

// TestFPNeedsAnAttack: a fingerprint's score without an attack is refused,
// however busy it is: a fingerprint alone is never enough.
func TestFPNeedsAnAttack(t *testing.T) {
	d := newDecider(t, "rules: []\n")
	ctx := context.Background()
	expect(t, d.Decide(ctx, fpScore(t0, []string{"fp_failing_addresses=500"}, "203.0.113.7", "198.51.100.9")))
	noAddrs := fpScore(t0, fpAttack, "203.0.113.7")
	noAddrs.Addresses = nil
	expect(t, d.Decide(ctx, noAddrs))
}

// TestFPVerdict: an fp: score during an attack is a BLOCK listing its
// addresses; later scores add theirs (expand) without a new incident;
// allow-listed addresses are never listed; a human label or an operator's
// ALLOW takes an address out; an empty verdict is lifted.
func TestFPVerdict(t *testing.T) {
	d := newDecider(t, "rules: []\nallow:\n  cidrs: [192.0.2.0/24]\n")
	ctx := context.Background()
	got := d.Decide(ctx, fpScore(t0, fpAttack, "203.0.113.7", "198.51.100.9", "192.0.2.10", "::ffff:203.0.113.8"))
	expect(t, got, fpSub+" BLOCK(ladder) new")
	if a := got[0].Verdict.GetAddresses(); !slices.Equal(a, []string{"203.0.113.7", "198.51.100.9", "203.0.113.8"}) {
		t.Fatalf("addresses %v: want the three not allow-listed, canonical", a)
	}
	expect(t, d.Decide(ctx, fpScore(t0.Add(time.Second), fpAttack, "203.0.113.7")))
	got = d.Decide(ctx, fpScore(t0.Add(2*time.Second), fpAttack, "198.51.100.20"))
	expect(t, got, fpSub+" BLOCK(ladder) expand")
	if a := got[0].Verdict.GetAddresses(); len(a) != 4 || a[3] != "198.51.100.20" {
		t.Fatalf("addresses %v: want the new one last", a)
	}
	if got[0].Verdict.GetExpiresAtUnixNano() != d.Current(fpSub).GetExpiresAtUnixNano() {
		t.Fatal("held verdict differs from the written one")
	}

	got = d.Feedback(&eventpb.Feedback{Subject: "ip:198.51.100.9", Kind: eventpb.FeedbackKind_LABEL_HUMAN, TimeUnixNano: t0.Add(3 * time.Second).UnixNano()}, t0.Add(3*time.Second))
	expect(t, got, fpSub+" BLOCK(ladder) expand")
	if a := got[0].Verdict.GetAddresses(); slices.Contains(a, "198.51.100.9") || len(a) != 3 {
		t.Fatalf("after a human label: %v", a)
	}
	// A labelled person seen with the fingerprint again is not listed again.
	expect(t, d.Decide(ctx, fpScore(t0.Add(4*time.Second), fpAttack, "198.51.100.9")))

	// An operator's ALLOW of an address, read from the verdict topic,
	// takes it out at the next expiry pass.
	now := t0.Add(5 * time.Second)
	d.Observe("ip:203.0.113.7", &eventpb.Verdict{Action: eventpb.Action_ALLOW, Origin: eventpb.Origin_OPERATOR,
		AtUnixNano: now.UnixNano(), ExpiresAtUnixNano: now.Add(time.Hour).UnixNano()}, now)
	got = d.Expire(now)
	expect(t, got, fpSub+" BLOCK(ladder) expand")
	if a := got[0].Verdict.GetAddresses(); slices.Contains(a, "203.0.113.7") {
		t.Fatalf("after an operator's ALLOW: %v", a)
	}
	for _, a := range []string{"ip:203.0.113.8", "ip:198.51.100.20"} {
		d.Feedback(&eventpb.Feedback{Subject: a, Kind: eventpb.FeedbackKind_LABEL_HUMAN, TimeUnixNano: now.UnixNano()}, now)
	}
	if d.Current(fpSub) != nil {
		t.Fatalf("fp verdict without addresses still held: %v", d.Current(fpSub))
	}
}

// TestFPOperatorAllow: an operator's ALLOW on the fp: subject keeps the
// fingerprint from being blocked again while it holds.
func TestFPOperatorAllow(t *testing.T) {
	d := newDecider(t, "rules: []\n")
	ctx := context.Background()
	expect(t, d.Decide(ctx, fpScore(t0, fpAttack, "203.0.113.7")), fpSub+" BLOCK(ladder) new")
	d.Observe(fpSub, &eventpb.Verdict{Action: eventpb.Action_ALLOW, Origin: eventpb.Origin_OPERATOR,
		AtUnixNano: t0.UnixNano(), ExpiresAtUnixNano: t0.Add(time.Hour).UnixNano()}, t0)
	expect(t, d.Decide(ctx, fpScore(t0.Add(time.Minute), fpAttack, "203.0.113.9")))
}

// TestFPCap: an fp: verdict lists at most subject.MaxFPAddresses, the most
// recently seen.
func TestFPCap(t *testing.T) {
	d := newDecider(t, "rules: []\n")
	ctx := context.Background()
	for i := range 1100 {
		a := fmt.Sprintf("10.0.%d.%d", i/256, i%256)
		d.Decide(ctx, fpScore(t0.Add(time.Duration(i)*time.Millisecond), fpAttack, a))
	}
	v := d.Current(fpSub)
	if n := len(v.GetAddresses()); n != 1024 {
		t.Fatalf("%d addresses, want 1024", n)
	}
	if a := v.GetAddresses(); a[0] != "10.0.0.76" || a[1023] != "10.0.4.75" {
		t.Fatalf("kept %s..%s, want the most recent", a[0], a[1023])
	}
}

// TestFPLabels: "human" on a fingerprint lifts its verdict and keeps it
// from coming back for the label's clearance; "bot" on a fingerprint is
// ignored (a fingerprint alone is never blocked).
func TestFPLabels(t *testing.T) {
	d := newDecider(t, "rules: []\n")
	ctx := context.Background()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	expect(t, d.Feedback(&eventpb.Feedback{Subject: fpSub, Kind: eventpb.FeedbackKind_LABEL_BOT, TimeUnixNano: at(0).UnixNano()}, at(0)))
	expect(t, d.Decide(ctx, fpScore(at(1), fpAttack, "203.0.113.7")), fpSub+" BLOCK(ladder) new")
	expect(t, d.Feedback(&eventpb.Feedback{Subject: fpSub, Kind: eventpb.FeedbackKind_LABEL_HUMAN, TimeUnixNano: at(2).UnixNano()}, at(2)),
		fpSub+" - lift")
	expect(t, d.Decide(ctx, fpScore(at(3), fpAttack, "203.0.113.8")))
}

// TestFPAttackEnded: the aggregator's word that an operator ended the
// attack lifts the fingerprint's verdict of that attack, not another's.
func TestFPAttackEnded(t *testing.T) {
	d := newDecider(t, "rules: []\n")
	ctx := context.Background()
	expect(t, d.Decide(ctx, fpScore(t0, fpAttack, "203.0.113.7")), fpSub+" BLOCK(ladder) new")
	ended := func(id string) *eventpb.Score {
		s := mkScore(fpSub, t0.Add(time.Second), 0)
		s.Reasons = []string{"attack_ended=" + id}
		return s
	}
	expect(t, d.Decide(ctx, ended("login-failures-2026-11-21T09:00Z")))
	expect(t, d.Decide(ctx, ended("login-failures-2026-11-21T10:00Z")), fpSub+" - lift")
	expect(t, d.Decide(ctx, ended("login-failures-2026-11-21T10:00Z")))
}

// TestFPAllowListReload: an allow list added by a reload (or the live
// policy) takes its addresses out of the fingerprint verdicts in force at
// the next expiry pass.
func TestFPAllowListReload(t *testing.T) {
	d := newDecider(t, "rules: []\n")
	ctx := context.Background()
	expect(t, d.Decide(ctx, fpScore(t0, fpAttack, "203.0.113.7", "192.0.2.10")), fpSub+" BLOCK(ladder) new")
	rs, err := rules.Parse([]byte("rules: []\nallow:\n  cidrs: [192.0.2.0/24]\n"), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetRules(rs); err != nil {
		t.Fatal(err)
	}
	got := d.Expire(t0.Add(time.Second))
	expect(t, got, fpSub+" BLOCK(ladder) expand")
	if a := got[0].Verdict.GetAddresses(); !slices.Equal(a, []string{"203.0.113.7"}) {
		t.Fatalf("after the reload: %v", a)
	}
	expect(t, d.Expire(t0.Add(2*time.Second)))
}
