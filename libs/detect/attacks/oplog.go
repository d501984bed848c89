package attacks

import (
	"cmp"
	"slices"
	"strings"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// OperatorAction is an operator's record as a replay applies it: at event
// time At, Force puts a forced attack to work (Detector.Force), or End ends
// the attack of that id (Detector.EndByOperator). Record is the operator's
// record of the action, for the replay's list of attacks.
type OperatorAction struct {
	At     int64
	Force  *eventpb.Attack
	End    string
	Record *eventpb.Attack
}

// OperatorActions turns attack records (every record of the attacks topic,
// or only the last of each attack as `bulwark attack list --json` prints
// them) into the operators' actions in event-time order, so that a replay
// does what the live aggregators did when the records reached them. The
// detector's own records are skipped: a replay detects for itself.
//
// A forced attack starts at its start record's time; when only its end
// record is given, at its start minute. An attack ends at its operator end
// record's ended time. The order is deterministic (time, then starts
// before ends, then id).
func OperatorActions(recs []*eventpb.Attack) []OperatorAction {
	type plan struct {
		start         *eventpb.Attack
		startAt       int64
		end           *eventpb.Attack
		endAt         int64
		fromEndRecord bool
	}
	byID := map[string]*plan{}
	for _, r := range recs {
		if r.GetSource() != SourceOperator || r.GetId() == "" {
			continue
		}
		p := byID[r.GetId()]
		if p == nil {
			p = &plan{}
			byID[r.GetId()] = p
		}
		if r.GetSignal() == SignalOperator {
			switch {
			case r.GetEndedUnixNano() == 0:
				if p.start == nil || p.fromEndRecord || r.GetTimeUnixNano() < p.startAt {
					p.start, p.startAt, p.fromEndRecord = r, r.GetTimeUnixNano(), false
				}
			case p.start == nil:
				p.start, p.startAt, p.fromEndRecord = r, r.GetStartedUnixNano(), true
			}
		}
		if r.GetEndedUnixNano() != 0 && (p.end == nil || r.GetEndedUnixNano() < p.endAt) {
			p.end, p.endAt = r, r.GetEndedUnixNano()
		}
	}
	var out []OperatorAction
	for id, p := range byID {
		if p.start != nil {
			f := cloneAttack(p.start)
			f.EndedUnixNano, f.TimeUnixNano, f.Enforcing = 0, p.startAt, true
			if p.fromEndRecord {
				f.Reason = reasonBeforeEnd(f.GetReason())
			}
			out = append(out, OperatorAction{At: p.startAt, Force: f, Record: cloneAttack(f)})
		}
		if p.end != nil && (p.start == nil || p.endAt >= p.startAt) {
			out = append(out, OperatorAction{At: p.endAt, End: id, Record: cloneAttack(p.end)})
		}
	}
	slices.SortFunc(out, func(a, b OperatorAction) int {
		if c := cmp.Compare(a.At, b.At); c != 0 {
			return c
		}
		if (a.Force == nil) != (b.Force == nil) {
			if a.Force != nil {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Record.GetId(), b.Record.GetId())
	})
	return out
}

// reasonBeforeEnd recovers a forced attack's reason from its end record's
// ("ended by an operator: WHY (was: REASON)", as Ended writes it).
func reasonBeforeEnd(r string) string {
	if i := strings.Index(r, " (was: "); strings.HasPrefix(r, "ended by an operator: ") && i >= 0 && strings.HasSuffix(r, ")") {
		return r[i+len(" (was: ") : len(r)-1]
	}
	return r
}
