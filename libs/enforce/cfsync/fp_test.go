package cfsync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// TestFingerprintVerdictItems: an fp: verdict is one list item per address
// it lists (an IPv6 address as its /64), merged with an address's own
// verdict; lifting the fingerprint (tombstone, or an operator's ALLOW on
// it) removes its items but not an address also blocked on its own.
func TestFingerprintVerdictItems(t *testing.T) {
	e := newEnv(t, 10*time.Millisecond)
	e.start(e.config())
	e.eventually("bulwark_block")

	const fp = "fp:02f1bea35578836f"
	e.put("ip:192.0.2.1", block(95, time.Hour, "rate_10s=48/s"))
	v := block(92, time.Hour, "score=92", "attack=login-failures-2026-12-03T10:14Z", "fp=02f1bea35578836f")
	v.Addresses = []string{"192.0.2.1", "198.51.100.3", "203.0.113.9", "2001:db8::7"}
	e.put(fp, v)
	e.eventually("bulwark_block", "192.0.2.1", "198.51.100.3", "203.0.113.9", "2001:db8::/64")
	for _, it := range e.fake.Items("bulwark_block") {
		if it.IP == "203.0.113.9" && !strings.Contains(it.Comment, "attack=login-failures-2026-12-03T10:14Z") {
			t.Errorf("item %s comment %q does not name the attack", it.IP, it.Comment)
		}
	}

	// More addresses: the verdict is rewritten with them (expand).
	v.Addresses = append(v.Addresses, "203.0.113.10")
	e.put(fp, v)
	e.eventually("bulwark_block", "192.0.2.1", "198.51.100.3", "203.0.113.9", "203.0.113.10", "2001:db8::/64")

	// An operator's ALLOW on the fingerprint lifts what it added.
	e.put(fp, &eventpb.Verdict{Action: eventpb.Action_ALLOW, Origin: eventpb.Origin_OPERATOR, ExpiresAtUnixNano: time.Now().Add(time.Hour).UnixNano()})
	e.eventually("bulwark_block", "192.0.2.1")

	e.put(fp, v)
	e.eventually("bulwark_block", "192.0.2.1", "198.51.100.3", "203.0.113.9", "203.0.113.10", "2001:db8::/64")
	e.put(fp, nil)
	e.eventually("bulwark_block", "192.0.2.1")
}
