package verdicttable_test

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

const fpKey = "fp:02f1bea35578836f"

func fpVerdict(a eventpb.Action, exp time.Time, addrs ...string) *eventpb.Verdict {
	v := &eventpb.Verdict{Action: a, Score: 92, Reasons: []string{"attack=login-failures-2026-12-03T10:14Z"}, Addresses: addrs}
	if !exp.IsZero() {
		v.ExpiresAtUnixNano = exp.UnixNano()
	}
	return v
}

// TestFingerprintVerdicts: an fp: verdict applies to the addresses it
// lists and to no other; the strongest verdict wins; its lift or expiry
// leaves an address's own verdict in force; an ALLOW on the fingerprint is
// listed for no address; an operator's ALLOW of an address beats it.
func TestFingerprintVerdicts(t *testing.T) {
	now := time.Now()
	tab := verdicttable.New()
	f := func(ip string, want eventpb.Action, wantSubject string) {
		t.Helper()
		r := tab.Lookup(netip.MustParseAddr(ip), "", now)
		if r.Action != want || (wantSubject != "" && r.Subject() != wantSubject) {
			t.Fatalf("Lookup(%s) = %v %s, want %v %s", ip, r.Action, r.Subject(), want, wantSubject)
		}
	}
	mustApply(t, tab, "ip:198.51.100.9", &eventpb.Verdict{Action: challenge})
	mustApply(t, tab, "ip:198.51.100.10", &eventpb.Verdict{Action: block})
	mustApply(t, tab, "ip:198.51.100.11", &eventpb.Verdict{Action: allow, Origin: eventpb.Origin_OPERATOR})
	mustApply(t, tab, fpKey, fpVerdict(block, now.Add(time.Hour), "203.0.113.7", "198.51.100.9", "198.51.100.10", "198.51.100.11", "::ffff:192.0.2.1", "2001:db8::1"))

	f("203.0.113.7", block, fpKey)
	f("192.0.2.1", block, fpKey)
	f("2001:db8::1", block, fpKey)
	f("198.51.100.9", block, fpKey)               // stronger than its own CHALLENGE
	f("198.51.100.10", block, "ip:198.51.100.10") // a tie: its own wins
	f("198.51.100.11", allow, "ip:198.51.100.11") // an operator's ALLOW wins
	f("203.0.113.8", allow, "ip:203.0.113.8")
	if got := tab.Sizes().FP; got != 1 {
		t.Fatalf("Sizes().FP = %d", got)
	}
	v, ok := tab.Get(fpKey)
	if !ok || len(v.GetAddresses()) != 6 || v.GetSubject() != fpKey {
		t.Fatalf("Get = %v, %v", v, ok)
	}
	if a := tab.Addresses(fpKey); !slices.Contains(a, "203.0.113.7") {
		t.Fatalf("Addresses = %v", a)
	}
	if r := tab.Lookup(netip.MustParseAddr("203.0.113.7"), "", now); r.Verdict().GetSubject() != fpKey || len(r.Verdict().GetAddresses()) != 0 {
		t.Fatalf("lookup answer %v: want the fp: subject without its list", r.Verdict())
	}

	// A snapshot keeps the addresses.
	var buf bytes.Buffer
	if n, err := tab.WriteSnapshot(&buf, now); err != nil || n != 4 {
		t.Fatalf("WriteSnapshot = %d, %v", n, err)
	}
	back := verdicttable.New()
	if _, err := back.LoadSnapshot(&buf, now); err != nil {
		t.Fatal(err)
	}
	if r := back.Lookup(netip.MustParseAddr("2001:db8::1"), "", now); r.Action != block || r.Subject() != fpKey {
		t.Fatalf("after a snapshot: %v %s", r.Action, r.Subject())
	}
	if n := back.DropStale(); n != 4 {
		t.Fatalf("DropStale = %d", n)
	}
	if r := back.Lookup(netip.MustParseAddr("2001:db8::1"), "", now); r.Found() {
		t.Fatalf("stale fp: verdict still answers")
	}

	// An operator's ALLOW on the fingerprint lifts what it added, not an
	// address's own verdict.
	mustApply(t, tab, fpKey, &eventpb.Verdict{Action: allow, Origin: eventpb.Origin_OPERATOR})
	f("203.0.113.7", allow, "ip:203.0.113.7")
	f("198.51.100.9", challenge, "ip:198.51.100.9")
	f("198.51.100.10", block, "ip:198.51.100.10")

	// Expiry and tombstones.
	mustApply(t, tab, fpKey, fpVerdict(block, now.Add(-time.Second), "203.0.113.7"))
	f("203.0.113.7", allow, "")
	mustApply(t, tab, fpKey, fpVerdict(block, now.Add(time.Hour), "203.0.113.7"))
	f("203.0.113.7", block, fpKey)
	if tab.Sweep(now.Add(2*time.Hour)) < 1 || tab.Sizes().FP != 0 {
		t.Fatalf("Sweep left the expired fp: verdict")
	}
	mustApply(t, tab, fpKey, fpVerdict(block, time.Time{}, "203.0.113.7"))
	mustApply(t, tab, fpKey, nil)
	f("203.0.113.7", allow, "")
	f("198.51.100.9", challenge, "ip:198.51.100.9")
	if tab.Sizes().FP != 0 {
		t.Fatal("tombstone left the fp: verdict")
	}
}

// TestFingerprintLookupAllocs: a lookup through the fingerprint index does
// not allocate.
func TestFingerprintLookupAllocs(t *testing.T) {
	tab := verdicttable.New()
	addrs := make([]string, subject.MaxFPAddresses)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()
	}
	mustApply(t, tab, fpKey, fpVerdict(block, time.Time{}, addrs...))
	ip, now := netip.MustParseAddr("10.0.3.255"), time.Now()
	if n := testing.AllocsPerRun(100, func() { tab.Lookup(ip, "", now) }); n != 0 {
		t.Fatalf("%v allocations per lookup", n)
	}
	if r := tab.Lookup(ip, "", now); r.Action != block {
		t.Fatalf("last address: %v", r.Action)
	}
}
