package blockset_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
)

// TestFingerprintExpanded: an fp: verdict is one entry per address it
// lists; an address also blocked on its own keeps its own entry when the
// fp: verdict is lifted; ALLOW on the fingerprint lists nothing.
func TestFingerprintExpanded(t *testing.T) {
	s := blockset.New("test", []eventpb.Action{eventpb.Action_BLOCK}, nil, prometheus.NewRegistry())
	now := time.Now()
	exp := now.Add(time.Hour).UnixNano()
	s.Apply("ip:192.0.2.1", &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 95, ExpiresAtUnixNano: exp})
	s.Apply("fp:02f1bea35578836f", &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 92, ExpiresAtUnixNano: exp,
		Reasons: []string{"attack=login-failures-2026-12-03T10:14Z"}, Addresses: []string{"192.0.2.1", "2001:db8::7", "::ffff:198.51.100.3", "bad"}})
	got := s.Active(now)
	want := []string{"192.0.2.1/32", "198.51.100.3/32", "2001:db8::7/128", "192.0.2.1/32"}
	if len(got) != len(want) {
		t.Fatalf("Active = %+v", got)
	}
	for i, e := range got {
		if e.Prefix != netip.MustParsePrefix(want[i]) {
			t.Fatalf("entry %d = %s %s, want %s", i, e.Subject, e.Prefix, want[i])
		}
	}
	if got[0].Subject != "fp:02f1bea35578836f" || got[3].Subject != "ip:192.0.2.1" || got[0].Reasons[0] != "attack=login-failures-2026-12-03T10:14Z" {
		t.Fatalf("entries %+v", got)
	}
	if s.Len() != 4 {
		t.Errorf("Len = %d", s.Len())
	}
	if next := s.NextExpiry(now); next.UnixNano() != exp {
		t.Errorf("NextExpiry = %v", next)
	}
	// Expired: nothing of it is active.
	if got := s.Active(now.Add(2 * time.Hour)); len(got) != 0 {
		t.Errorf("after expiry: %+v", got)
	}
	// An operator's ALLOW on the fingerprint: its addresses go, the
	// address's own BLOCK stays.
	s.Apply("fp:02f1bea35578836f", &eventpb.Verdict{Action: eventpb.Action_ALLOW, Origin: eventpb.Origin_OPERATOR})
	if got := s.Active(now); len(got) != 1 || got[0].Subject != "ip:192.0.2.1" {
		t.Fatalf("after the fingerprint's ALLOW: %+v", got)
	}
	s.Apply("fp:02f1bea35578836f", &eventpb.Verdict{Action: eventpb.Action_BLOCK, Addresses: []string{"203.0.113.9"}})
	s.Apply("fp:02f1bea35578836f", nil)
	if got := s.Active(now); len(got) != 1 || got[0].Subject != "ip:192.0.2.1" {
		t.Fatalf("after the fingerprint's tombstone: %+v", got)
	}
}
