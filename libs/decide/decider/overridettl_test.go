package decider_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// Operator verdicts on the topic that never expire, or expire after
// OverrideMaxTTL, are held (and lifted) at the bound: written by an old CLI
// or a script, they do not outlive BULWARK_OVERRIDE_MAX_TTL.
func TestOperatorVerdictsBoundedByMaxTTL(t *testing.T) {
	const maxTTL = 30 * 24 * time.Hour
	reg := prometheus.NewRegistry()
	m := decider.NewMetrics(reg)
	d, err := decider.New(rules.Default(), decider.Options{Metrics: m, Resolver: &fakeResolver{}, OverrideMaxTTL: maxTTL})
	if err != nil {
		t.Fatal(err)
	}
	forever := func(sub string) *eventpb.Verdict {
		v := operator(sub, eventpb.Action_BLOCK, t0, time.Hour)
		v.ExpiresAtUnixNano = 0
		return v
	}
	for _, tc := range []struct {
		name    string
		sub     string
		v       *eventpb.Verdict
		restore bool
		want    time.Time // held expiry
	}{
		{"no expiry", "ip:192.0.2.1", forever("ip:192.0.2.1"), false, t0.Add(maxTTL)},
		{"no expiry, restored at start", "ip:192.0.2.2", forever("ip:192.0.2.2"), true, t0.Add(maxTTL)},
		{"in 2140", "ip:192.0.2.3", operator("ip:192.0.2.3", eventpb.Action_BLOCK, t0, 1000000*time.Hour), false, t0.Add(maxTTL)},
		{"within the bound", "ip:192.0.2.4", operator("ip:192.0.2.4", eventpb.Action_BLOCK, t0, time.Hour), false, t0.Add(time.Hour)},
		{"at the bound", "ip:192.0.2.5", operator("ip:192.0.2.5", eventpb.Action_ALLOW, t0, maxTTL), true, t0.Add(maxTTL)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := tc.v.GetExpiresAtUnixNano()
			if tc.restore {
				d.Restore(tc.sub, tc.v)
			} else {
				d.Observe(tc.sub, tc.v, t0)
			}
			got := d.Current(tc.sub)
			if got == nil || got.GetExpiresAtUnixNano() != tc.want.UnixNano() {
				t.Fatalf("held %v, want expiry %v", got, tc.want)
			}
			if tc.v.GetExpiresAtUnixNano() != orig {
				t.Fatal("the record read from the topic was changed")
			}
		})
	}
	if n := testkit.Metric(t, reg, "bulwark_decider_overrides_bounded_total"); n != 3 {
		t.Fatalf("bounded overrides counted %v, want 3", n)
	}
	expect(t, d.Expire(t0.Add(time.Hour)), "ip:192.0.2.4 - expire")
	expect(t, d.Expire(t0.Add(maxTTL)), "ip:192.0.2.1 - expire", "ip:192.0.2.2 - expire", "ip:192.0.2.3 - expire", "ip:192.0.2.5 - expire")

	// Computed verdicts are the rule file's business, not this bound's.
	d2, err := decider.New(rules.Default(), decider.Options{Resolver: &fakeResolver{}, OverrideMaxTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	computed := operator("ip:192.0.2.9", eventpb.Action_BLOCK, t0, time.Hour)
	computed.Origin = eventpb.Origin_COMPUTED
	d2.Restore("ip:192.0.2.9", computed)
	if got := d2.Current("ip:192.0.2.9"); got.GetExpiresAtUnixNano() != t0.Add(time.Hour).UnixNano() {
		t.Fatalf("computed verdict changed: %v", got)
	}
}
