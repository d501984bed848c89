package verdicttable_test

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

var (
	block     = eventpb.Action_BLOCK
	challenge = eventpb.Action_CHALLENGE
	monitor   = eventpb.Action_MONITOR
	allow     = eventpb.Action_ALLOW
)

func mustApply(t testing.TB, tab *verdicttable.Table, key string, v *eventpb.Verdict) {
	t.Helper()
	if err := tab.Apply(key, v); err != nil {
		t.Fatalf("Apply(%q): %v", key, err)
	}
}

func TestLookupStrongestWins(t *testing.T) {
	now := time.Now()
	tab := verdicttable.New()
	mustApply(t, tab, "ip:203.0.113.7", &eventpb.Verdict{Action: monitor, Score: 55})
	mustApply(t, tab, "net:203.0.113.0/24", &eventpb.Verdict{Action: challenge, Score: 70})
	mustApply(t, tab, "net:203.0.0.0/16", &eventpb.Verdict{Action: block, Score: 99})
	mustApply(t, tab, "net:198.51.100.0/24", &eventpb.Verdict{Action: challenge})
	mustApply(t, tab, "net:198.51.100.128/25", &eventpb.Verdict{Action: monitor})
	mustApply(t, tab, "ip:2001:db8::1", &eventpb.Verdict{Action: challenge})
	mustApply(t, tab, "net:2001:db8:0:1::/64", &eventpb.Verdict{Action: block})
	mustApply(t, tab, "session:s-block", &eventpb.Verdict{Action: block})
	mustApply(t, tab, "session:s-mon", &eventpb.Verdict{Action: monitor})
	mustApply(t, tab, "ip:192.0.2.50", &eventpb.Verdict{Action: allow})

	f := func(ip, session string, want eventpb.Action, wantSubject string) {
		t.Helper()
		var a netip.Addr
		if ip != "" {
			a = netip.MustParseAddr(ip)
		}
		r := tab.Lookup(a, session, now)
		if r.Action != want || r.Subject() != wantSubject {
			t.Fatalf("Lookup(%s, %q) = %v %s, want %v %s", ip, session, r.Action, r.Subject(), want, wantSubject)
		}
	}
	f("203.0.113.7", "", block, "net:203.0.0.0/16")           // the /16 beats the IP and the /24
	f("203.0.113.8", "", block, "net:203.0.0.0/16")           // nets only
	f("203.1.0.1", "", allow, "ip:203.1.0.1")                 // outside every net
	f("198.51.100.200", "", challenge, "net:198.51.100.0/24") // a shorter net can be stronger
	f("198.51.100.1", "", challenge, "net:198.51.100.0/24")
	f("::ffff:198.51.100.1", "", challenge, "net:198.51.100.0/24") // mapped addresses match IPv4
	f("2001:db8::1", "", challenge, "ip:2001:db8::1")
	f("2001:db8:0:1::99", "", block, "net:2001:db8:0:1::/64")
	f("2001:db8::1", "s-block", block, "session:s-block")
	f("192.0.2.1", "s-mon", monitor, "session:s-mon")
	f("192.0.2.1", "unknown", allow, "ip:192.0.2.1")
	f("", "s-block", block, "session:s-block")
	f("", "nope", allow, "session:nope")
	f("192.0.2.50", "", allow, "ip:192.0.2.50")

	r := tab.Lookup(netip.MustParseAddr("192.0.2.50"), "", now)
	if !r.Found() || r.Kind != subject.KindIP {
		t.Fatalf("an ALLOW verdict is still a match: %+v", r)
	}
	if r := tab.Lookup(netip.MustParseAddr("192.0.2.51"), "", now); r.Found() || r.Verdict() != nil {
		t.Fatalf("no verdict expected: %+v", r)
	}
	if got := tab.Sizes(); got != (verdicttable.Sizes{IP: 3, Net: 5, Session: 2}) {
		t.Fatalf("Sizes = %+v", got)
	}
}

func TestOperatorVerdictsBeatComputed(t *testing.T) {
	now := time.Now()
	tab := verdicttable.New()
	op := eventpb.Origin_OPERATOR
	mustApply(t, tab, "net:203.0.113.0/24", &eventpb.Verdict{Action: block, Score: 95, Origin: eventpb.Origin_COMPUTED})
	mustApply(t, tab, "ip:203.0.113.7", &eventpb.Verdict{Action: allow, Origin: op})
	mustApply(t, tab, "session:s-bot", &eventpb.Verdict{Action: challenge})
	mustApply(t, tab, "ip:198.51.100.9", &eventpb.Verdict{Action: monitor, Origin: op})
	mustApply(t, tab, "net:198.51.100.0/24", &eventpb.Verdict{Action: block, Origin: op})

	f := func(ip, session string, want eventpb.Action, wantSubject string) {
		t.Helper()
		r := tab.Lookup(netip.MustParseAddr(ip), session, now)
		if r.Action != want || r.Subject() != wantSubject {
			t.Fatalf("Lookup(%s, %q) = %v %s, want %v %s", ip, session, r.Action, r.Subject(), want, wantSubject)
		}
	}
	f("203.0.113.7", "", allow, "ip:203.0.113.7")       // `bulwark allow` lifts the computed /24 block
	f("203.0.113.7", "s-bot", allow, "ip:203.0.113.7")  // and the computed session challenge
	f("203.0.113.8", "", block, "net:203.0.113.0/24")   // neighbours stay blocked
	f("198.51.100.9", "", block, "net:198.51.100.0/24") // between operators, the stronger wins
}

// An action this version does not know is refused, not stored: the sidecar
// indexes its answers and metrics by action, and cannot rank it.
func TestUnknownActionIsRefused(t *testing.T) {
	tab := verdicttable.New()
	mustApply(t, tab, "ip:192.0.2.1", &eventpb.Verdict{Action: challenge})
	for _, v := range []*eventpb.Verdict{{Action: eventpb.Action(9)}, {Action: block, WouldBe: eventpb.Action(-1)}} {
		if err := tab.Apply("ip:192.0.2.1", v); !errors.Is(err, verdicttable.ErrBadAction) {
			t.Fatalf("Apply(action %v) = %v, want ErrBadAction", v.GetAction(), err)
		}
	}
	if r := tab.Lookup(netip.MustParseAddr("192.0.2.1"), "", time.Now()); r.Action != challenge {
		t.Fatalf("after refused records the action is %v, want the earlier CHALLENGE", r.Action)
	}
}

func TestTombstonesAndOverwrites(t *testing.T) {
	now := time.Now()
	tab := verdicttable.New()
	ip := netip.MustParseAddr("203.0.113.7")
	mustApply(t, tab, "ip:203.0.113.7", &eventpb.Verdict{Action: block})
	mustApply(t, tab, "ip:203.0.113.7", &eventpb.Verdict{Action: challenge})
	if r := tab.Lookup(ip, "", now); r.Action != challenge {
		t.Fatalf("overwrite: %v", r.Action)
	}
	mustApply(t, tab, "203.0.113.7", nil) // bare addresses are subjects too
	if r := tab.Lookup(ip, "", now); r.Found() {
		t.Fatalf("tombstone left %+v", r)
	}
	mustApply(t, tab, "net:203.0.113.0/24", &eventpb.Verdict{Action: block})
	mustApply(t, tab, "session:x", &eventpb.Verdict{Action: block})
	mustApply(t, tab, "net:203.0.113.0/24", nil)
	mustApply(t, tab, "session:x", nil)
	mustApply(t, tab, "session:never-set", nil)
	mustApply(t, tab, "net:10.0.0.0/8", nil)
	if r := tab.Lookup(ip, "x", now); r.Found() {
		t.Fatalf("tombstones left %+v", r)
	}
	if tab.Len() != 0 {
		t.Fatalf("Len = %d after tombstones", tab.Len())
	}
	for _, bad := range []string{"", "ip:nope", "net:1.2.3.4/99", "session:", "host:x"} {
		if err := tab.Apply(bad, &eventpb.Verdict{Action: block}); err == nil {
			t.Fatalf("Apply(%q) accepted a bad subject", bad)
		}
	}
}

func TestExpiry(t *testing.T) {
	now := time.Now()
	tab := verdicttable.New()
	soon := now.Add(time.Minute).UnixNano()
	mustApply(t, tab, "ip:192.0.2.1", &eventpb.Verdict{Action: block, ExpiresAtUnixNano: soon})
	mustApply(t, tab, "net:192.0.2.0/24", &eventpb.Verdict{Action: challenge, ExpiresAtUnixNano: soon})
	mustApply(t, tab, "net:192.0.0.0/16", &eventpb.Verdict{Action: monitor})
	mustApply(t, tab, "session:s", &eventpb.Verdict{Action: block, ExpiresAtUnixNano: soon})
	mustApply(t, tab, "ip:192.0.2.2", &eventpb.Verdict{Action: block, ExpiresAtUnixNano: now.Add(-time.Second).UnixNano()})

	ip := netip.MustParseAddr("192.0.2.1")
	if r := tab.Lookup(ip, "s", now); r.Action != block {
		t.Fatalf("before expiry: %v", r.Action)
	}
	later := now.Add(time.Minute)
	if r := tab.Lookup(ip, "s", later); r.Action != monitor || r.Subject() != "net:192.0.0.0/16" {
		t.Fatalf("at expiry: %v %s; expired verdicts must be invisible at once", r.Action, r.Subject())
	}
	if _, ok := tab.Get("ip:192.0.2.2"); ok {
		t.Fatal("an already expired verdict was stored")
	}
	if n := tab.Sweep(now); n != 0 {
		t.Fatalf("Sweep before expiry removed %d", n)
	}
	if n := tab.Sweep(later); n != 3 {
		t.Fatalf("Sweep removed %d, want 3", n)
	}
	if got := tab.Sizes(); got != (verdicttable.Sizes{Net: 1}) {
		t.Fatalf("Sizes after sweep = %+v", got)
	}
	// The same sweep in steps, as the Follower runs it.
	mustApply(t, tab, "ip:192.0.2.1", &eventpb.Verdict{Action: block, ExpiresAtUnixNano: soon})
	mustApply(t, tab, "net:192.0.2.0/24", &eventpb.Verdict{Action: challenge, ExpiresAtUnixNano: soon})
	mustApply(t, tab, "session:s", &eventpb.Verdict{Action: block, ExpiresAtUnixNano: soon})
	n := 0
	for k := range verdicttable.SweepSteps {
		n += tab.SweepStep(k, later)
	}
	if got := tab.Sizes(); n != 3 || got != (verdicttable.Sizes{Net: 1}) {
		t.Fatalf("SweepStep over a round removed %d, Sizes = %+v", n, got)
	}
}

func TestVerdictRoundTrip(t *testing.T) {
	tab := verdicttable.New()
	v := &eventpb.Verdict{Subject: "ip:2001:db8::7", Action: challenge, Score: 71.25,
		Reasons: []string{"rate_10s=48/s", "", "a\x00b"}, AtUnixNano: 1_700_000_000_000_000_001,
		ExpiresAtUnixNano: time.Now().Add(time.Hour).UnixNano(), Origin: eventpb.Origin_OPERATOR,
		Rule: "ladder", WouldBe: block}
	mustApply(t, tab, "ip:2001:db8::7", v)
	r := tab.Lookup(netip.MustParseAddr("2001:db8::7"), "", time.Now())
	if got := r.Verdict(); !proto.Equal(got, v) {
		t.Fatalf("Verdict() = %v, want %v", got, v)
	}
	if got, _ := tab.Get("ip:2001:db8::7"); !proto.Equal(got, v) {
		t.Fatalf("Get = %v", got)
	}
}

func TestSnapshot(t *testing.T) {
	now := time.Now()
	tab := verdicttable.New()
	mustApply(t, tab, "ip:192.0.2.1", &eventpb.Verdict{Action: block, Reasons: []string{"r"}})
	mustApply(t, tab, "ip:192.0.2.2", &eventpb.Verdict{Action: block})
	mustApply(t, tab, "net:198.51.100.0/24", &eventpb.Verdict{Action: challenge})
	mustApply(t, tab, "session:s", &eventpb.Verdict{Action: monitor, ExpiresAtUnixNano: now.Add(time.Hour).UnixNano()})
	var buf bytes.Buffer
	if n, err := tab.WriteSnapshot(&buf, now); err != nil || n != 4 {
		t.Fatalf("WriteSnapshot = %d, %v", n, err)
	}

	back := verdicttable.New()
	if n, err := back.LoadSnapshot(bytes.NewReader(buf.Bytes()), now); err != nil || n != 4 {
		t.Fatalf("LoadSnapshot = %d, %v", n, err)
	}
	if r := back.Lookup(netip.MustParseAddr("198.51.100.9"), "", now); r.Action != challenge {
		t.Fatalf("snapshot net: %v", r.Action)
	}
	// The replay confirms two of them; the other two were lifted meanwhile.
	mustApply(t, back, "ip:192.0.2.1", &eventpb.Verdict{Action: block})
	mustApply(t, back, "net:198.51.100.0/24", &eventpb.Verdict{Action: challenge})
	if n := back.DropStale(); n != 2 {
		t.Fatalf("DropStale = %d, want 2", n)
	}
	if got := back.Sizes(); got != (verdicttable.Sizes{IP: 1, Net: 1}) {
		t.Fatalf("Sizes = %+v", got)
	}

	path := t.TempDir() + "/snap"
	if n, err := back.LoadSnapshotFile(path, now); n != 0 || err != nil {
		t.Fatalf("missing snapshot file: %d, %v", n, err)
	}
	if _, err := tab.SaveSnapshotFile(path, now); err != nil {
		t.Fatal(err)
	}
	if n, err := verdicttable.New().LoadSnapshotFile(path, now); n != 4 || err != nil {
		t.Fatalf("LoadSnapshotFile = %d, %v", n, err)
	}
	if _, err := verdicttable.New().LoadSnapshot(bytes.NewReader([]byte{0x05, 0x01}), now); err == nil {
		t.Fatal("a truncated snapshot loaded without error")
	}
}

// TestConcurrentReadersAndWriter is for -race: readers run while the
// writer inserts, overwrites, deletes and sweeps.
func TestConcurrentReadersAndWriter(t *testing.T) {
	tab := verdicttable.New()
	now := time.Now()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tab.Lookup(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), "s", now)
			}
		})
	}
	for i := range 5000 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		mustApply(t, tab, subject.IP(a), &eventpb.Verdict{Action: block})
		if i%10 == 0 {
			mustApply(t, tab, subject.Net(netip.PrefixFrom(a, 24).Masked()), &eventpb.Verdict{Action: challenge, ExpiresAtUnixNano: now.Add(time.Millisecond).UnixNano()})
			mustApply(t, tab, "session:s", &eventpb.Verdict{Action: monitor})
		}
		if i%3 == 0 {
			mustApply(t, tab, subject.IP(a), nil)
		}
		if i%1000 == 0 {
			tab.Sweep(now.Add(time.Second))
		}
	}
	close(stop)
	wg.Wait()
}

func FuzzApplyLookup(f *testing.F) {
	f.Add("ip:192.0.2.1", "192.0.2.1", "s", "rule", "reason")
	f.Add("net:2001:db8::/32", "2001:db8::5", "", "", "")
	f.Add("session:abc", "", "abc", "ladder", "x\x00y")
	f.Fuzz(func(t *testing.T, key, ip, session, rule, reason string) {
		tab := verdicttable.New()
		v := &eventpb.Verdict{Action: block, Rule: rule, Reasons: []string{reason, reason}}
		if err := tab.Apply(key, v); err != nil {
			return
		}
		a, _ := netip.ParseAddr(ip)
		r := tab.Lookup(a, session, time.Now())
		if r.Found() {
			got := r.Verdict()
			if got.Rule != rule || len(got.Reasons) != 2 || got.Reasons[1] != reason {
				t.Fatalf("round trip lost extra: %v", got)
			}
		}
		canon, _ := subject.Canonical(key)
		if _, ok := tab.Get(canon); !ok {
			t.Fatalf("Get(%q) after Apply(%q) found nothing", canon, key)
		}
	})
}
