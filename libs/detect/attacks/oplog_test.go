package attacks_test

import (
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

func TestOperatorActions(t *testing.T) {
	start := time.Unix(0, t0).Add(90 * time.Second) // 09:01:30
	forced := attacks.NewForced(attacks.ClassLogin, "00000000000003e7", start, time.Hour, "ticket 42")
	forcedEnd := attacks.Ended(forced, start.Add(20*time.Minute), "contained")
	detected := &eventpb.Attack{Id: "login-failures-2026-12-03T09:10Z", EndpointClass: "login", Signal: attacks.SignalFailures,
		StartedUnixNano: t0 + int64(10*time.Minute), TimeUnixNano: t0 + int64(15*time.Minute), Source: attacks.SourceAggregator, Enforcing: true}
	detectedEnd := attacks.Ended(detected, time.Unix(0, t0).Add(30*time.Minute), "an SSO outage")
	type act struct {
		at    time.Duration // after t0
		force bool
		id    string
	}
	f := func(name string, recs []*eventpb.Attack, want []act) {
		t.Helper()
		got := attacks.OperatorActions(recs)
		if len(got) != len(want) {
			t.Fatalf("%s: %d actions %+v, want %d", name, len(got), got, len(want))
		}
		for i, w := range want {
			g := got[i]
			id := g.End
			if g.Force != nil {
				id = g.Force.GetId()
				if g.Force.GetEndedUnixNano() != 0 || !g.Force.GetEnforcing() || g.Force.GetUntilUnixNano() != forced.GetUntilUnixNano() {
					t.Errorf("%s: action %d forces %v, want the record as it started", name, i, g.Force)
				}
				if g.Force.GetReason() != forced.GetReason() {
					t.Errorf("%s: action %d reason %q, want %q", name, i, g.Force.GetReason(), forced.GetReason())
				}
			}
			if g.At != t0+int64(w.at) || (g.Force != nil) != w.force || id != w.id || g.Record == nil {
				t.Errorf("%s: action %d = at %s force %v id %s, want at %s force %v id %s", name, i,
					time.Duration(g.At-t0), g.Force != nil, id, w.at, w.force, w.id)
			}
		}
	}
	// Every record of the topic (bulwark tail attacks).
	f("topic", []*eventpb.Attack{forced, detected, forcedEnd, detectedEnd}, []act{
		{90 * time.Second, true, forced.GetId()},
		{21*time.Minute + 30*time.Second, false, forced.GetId()},
		{30 * time.Minute, false, detected.GetId()},
	})
	// The last record of each (bulwark attack list --all --json): a forced
	// attack known by its end only starts at its start minute.
	f("last records", []*eventpb.Attack{forcedEnd, detectedEnd}, []act{
		{time.Minute, true, forced.GetId()},
		{21*time.Minute + 30*time.Second, false, forced.GetId()},
		{30 * time.Minute, false, detected.GetId()},
	})
	f("still forced", []*eventpb.Attack{forced}, []act{{90 * time.Second, true, forced.GetId()}})
	f("the detector's own records", []*eventpb.Attack{detected}, nil)
	f("nothing", nil, nil)
}
