package console

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/policy"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// deciderReports holds each decider's latest policy status record from the
// audit topic (written by package decider: what it did with the latest
// live policy), so the policy page can say "decider X refused this
// policy" without the console knowing the deciders' addresses.
type deciderReports struct {
	mu     sync.Mutex
	latest map[string]*eventpb.AuditEvent // by actor
}

func (d *deciderReports) add(ev *eventpb.AuditEvent) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.latest == nil {
		d.latest = map[string]*eventpb.AuditEvent{}
	}
	if old := d.latest[ev.GetActor()]; old == nil || old.GetTimeUnixNano() <= ev.GetTimeUnixNano() {
		d.latest[ev.GetActor()] = ev
	}
}

// deciderStatus is one decider's row on the policy page.
type deciderStatus struct {
	Decider string    `json:"decider"`
	At      time.Time `json:"at"`
	// Digest of the policy it answered about ("" = none: its file alone).
	Digest string `json:"digest"`
	Result string `json:"result"`
	// Current: the answer is about the policy the console shows in force.
	Current bool `json:"current"`
	Refused bool `json:"refused"`
}

// statuses lists every decider heard from, by name, each marked as about
// the policy in force (doc) or an older one (still catching up, or gone).
func (d *deciderReports) statuses(doc []byte) []deciderStatus {
	want := policy.Digest(doc)
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]deciderStatus, 0, len(d.latest))
	for actor, ev := range d.latest {
		out = append(out, deciderStatus{Decider: strings.TrimPrefix(actor, "decider:"), At: time.Unix(0, ev.GetTimeUnixNano()),
			Digest: ev.GetDetail(), Result: ev.GetResult(), Current: ev.GetDetail() == want,
			Refused: strings.HasPrefix(ev.GetResult(), "refused")})
	}
	slices.SortFunc(out, func(a, b deciderStatus) int { return strings.Compare(a.Decider, b.Decider) })
	return out
}

// isDeciderReport tells a decider's policy status record from an
// operator's action.
func isDeciderReport(ev *eventpb.AuditEvent) bool {
	return ev.GetRole() == policy.StatusRole && ev.GetAction() == policy.StatusAction
}
