package verdicttable

import (
	"encoding/binary"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// entry is a verdict as the table stores it (40 bytes, no pointers): the
// fields a lookup reads are plain values, and the rule and reasons, needed
// only to print a verdict, are packed into one interned string (see
// interner). Verdicts repeat the same rule and reasons a lot, so each
// combination is stored once. A million protobuf messages with their
// separate strings would take about four times the memory.
type entry struct {
	exp     int64 // unix nanos, 0 = never
	at      int64
	score   float64
	extra   extraRef // rule and reasons (appendExtra), interned; 0 = none
	action  uint8
	origin  uint8
	wouldBe uint8
	// stale marks an entry loaded from a snapshot and not seen again since;
	// DropStale removes those once the topic replay has caught up.
	stale bool
}

func (e *entry) active(now int64) bool { return e.exp == 0 || now < e.exp }

// newEntry converts v, taking a reference on its interned extra: the caller
// stores the entry or releases it.
func (t *Table) newEntry(v *eventpb.Verdict) entry {
	var buf [256]byte
	return entry{
		exp:     v.GetExpiresAtUnixNano(),
		at:      v.GetAtUnixNano(),
		score:   v.GetScore(),
		extra:   t.extras.acquire(appendExtra(buf[:0], v.GetRule(), v.GetReasons())),
		action:  uint8(v.GetAction()),
		origin:  uint8(v.GetOrigin()),
		wouldBe: uint8(v.GetWouldBe()),
	}
}

func (e *entry) verdict(in *interner, subject string) *eventpb.Verdict {
	var rule string
	var reasons []string
	if e.extra != 0 {
		rule, reasons = unpackExtra(in.get(e.extra))
	}
	return &eventpb.Verdict{
		Subject:           subject,
		Action:            eventpb.Action(e.action),
		Score:             e.score,
		Reasons:           reasons,
		AtUnixNano:        e.at,
		ExpiresAtUnixNano: e.exp,
		Origin:            eventpb.Origin(e.origin),
		Rule:              rule,
		WouldBe:           eventpb.Action(e.wouldBe),
	}
}

// appendExtra stores the rule and reasons as length-prefixed strings (uvarint
// length, bytes) in one allocation. Reasons may hold any byte, so a
// separator-joined string would not round-trip.
func appendExtra(b []byte, rule string, reasons []string) []byte {
	if rule == "" && len(reasons) == 0 {
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(rule)))
	b = append(b, rule...)
	for _, r := range reasons {
		b = binary.AppendUvarint(b, uint64(len(r)))
		b = append(b, r...)
	}
	return b
}

func unpackExtra(s string) (rule string, reasons []string) {
	next := func() (string, bool) {
		n, k := binary.Uvarint([]byte(s))
		if k <= 0 || uint64(len(s)-k) < n {
			return "", false
		}
		v := s[k : k+int(n)]
		s = s[k+int(n):]
		return v, true
	}
	rule, _ = next()
	for len(s) > 0 {
		r, ok := next()
		if !ok {
			break
		}
		reasons = append(reasons, r)
	}
	return rule, reasons
}
