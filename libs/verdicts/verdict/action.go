// Package verdict holds what every reader of verdicts shares: action names,
// expiry, "strongest wins", and the verdict JSON of ARCHITECTURE.md (contract) that
// `bulwark replay --output`, `bulwark tail` and the sidecar all print.
package verdict

import (
	"fmt"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// ActionString is the contract spelling of an action ("BLOCK"); the
// unspecified action reads as ALLOW, which is what an unknown client gets.
func ActionString(a eventpb.Action) string {
	switch a {
	case eventpb.Action_MONITOR:
		return "MONITOR"
	case eventpb.Action_CHALLENGE:
		return "CHALLENGE"
	case eventpb.Action_BLOCK:
		return "BLOCK"
	}
	return "ALLOW"
}

// ParseAction parses an action name, case-insensitively.
func ParseAction(s string) (eventpb.Action, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "ALLOW":
		return eventpb.Action_ALLOW, nil
	case "MONITOR":
		return eventpb.Action_MONITOR, nil
	case "CHALLENGE":
		return eventpb.Action_CHALLENGE, nil
	case "BLOCK":
		return eventpb.Action_BLOCK, nil
	}
	return 0, fmt.Errorf("unknown action %q: want ALLOW, MONITOR, CHALLENGE or BLOCK", s)
}

// Stronger reports whether a is a stronger action than b. Actions are
// numbered weakest first, so this is a comparison; it is named because
// "strongest wins" is a rule every reader applies.
func Stronger(a, b eventpb.Action) bool { return a > b }

// Active reports whether v applies at now: it is not nil and not past its
// expiry. Every reader checks this, so an expired verdict is ignored even
// before the decider's tombstone arrives.
func Active(v *eventpb.Verdict, now time.Time) bool {
	if v == nil {
		return false
	}
	exp := v.GetExpiresAtUnixNano()
	return exp == 0 || now.UnixNano() < exp
}

// At returns the verdict's event time.
func At(v *eventpb.Verdict) time.Time { return unixNano(v.GetAtUnixNano()) }

// ExpiresAt returns the verdict's expiry, or the zero time when it never expires.
func ExpiresAt(v *eventpb.Verdict) time.Time { return unixNano(v.GetExpiresAtUnixNano()) }

func unixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
