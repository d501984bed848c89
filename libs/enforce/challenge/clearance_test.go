package challenge

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

const testUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func mustKeys(t testing.TB, spec string) *Keys {
	t.Helper()
	ks, err := ParseKeys(spec)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestVerifyRefuses(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	ks := mustKeys(t, "new:0123456789abcdef0123,old:fedcba9876543210fedc")
	ip := netip.MustParseAddr("203.0.113.7")
	c := NewClearance(ip, testUA, LevelHard, [12]byte{1, 2, 3}, now, time.Hour)
	good := c.Encode(ks)
	oldOnly := mustKeys(t, "old:fedcba9876543210fedc")
	byOld := c.Encode(oldOnly)
	other := mustKeys(t, "new:somebody-elses-secret-key")
	forgedSig := good[:len(good)-2] + "AA"
	// Flip the level byte in the payload, keeping the old signature.
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "." + parts[2][:12] + flip(parts[2][12]) + parts[2][13:] + "." + parts[3]

	f := func(name, cookie string, ip netip.Addr, ua string, at time.Time, want error) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			v := NewVerifier(ks)
			// Twice: the second answer comes from the cache when the first was a pass.
			for i := 0; i < 2; i++ {
				got, err := v.Verify(cookie, ip, ua, at)
				if !errors.Is(err, want) || (want == nil) != (err == nil) {
					t.Fatalf("try %d: err %v, want %v", i, err, want)
				}
				if want == nil && (got.Level != LevelHard || got.Subject != "ip:203.0.113.7") {
					t.Fatalf("clearance %+v", got)
				}
			}
		})
	}
	f("valid", good, ip, testUA, now, nil)
	f("valid from the same /24", good, netip.MustParseAddr("203.0.113.200"), testUA, now, nil)
	f("old key still verifies", byOld, ip, testUA, now, nil)
	f("forged signature", forgedSig, ip, testUA, now, ErrForged)
	f("tampered payload", tampered, ip, testUA, now, ErrForged)
	f("signed with another secret", c.Encode(other), ip, testUA, now, ErrForged)
	f("expired", good, ip, testUA, now.Add(time.Hour+time.Second), ErrExpired)
	f("other network", good, netip.MustParseAddr("203.0.114.7"), testUA, now, ErrOtherNetwork)
	f("other user agent", good, ip, testUA+" evil", now, ErrOtherAgent)
	f("unknown key id", strings.Replace(good, ".new.", ".gone.", 1), ip, testUA, now, ErrUnknownKey)
	f("garbage", "not-a-cookie", ip, testUA, now, ErrMalformed)
	f("empty", "", ip, testUA, now, ErrMalformed)

	t.Run("cached pass then other network", func(t *testing.T) {
		v := NewVerifier(ks)
		if _, err := v.Verify(good, ip, testUA, now); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(good, netip.MustParseAddr("198.51.100.1"), testUA, now); !errors.Is(err, ErrOtherNetwork) {
			t.Fatalf("err %v, want ErrOtherNetwork", err)
		}
		if _, err := v.Verify(good, ip, testUA, now.Add(2*time.Hour)); !errors.Is(err, ErrExpired) {
			t.Fatalf("err %v, want ErrExpired", err)
		}
	})
	t.Run("IPv6 binds the /64", func(t *testing.T) {
		v6 := netip.MustParseAddr("2001:db8:1:2::7")
		c6 := NewClearance(v6, testUA, LevelLight, [12]byte{}, now, time.Hour).Encode(ks)
		v := NewVerifier(ks)
		if _, err := v.Verify(c6, netip.MustParseAddr("2001:db8:1:2:ffff::1"), testUA, now); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(c6, netip.MustParseAddr("2001:db8:1:3::7"), testUA, now); !errors.Is(err, ErrOtherNetwork) {
			t.Fatalf("err %v, want ErrOtherNetwork", err)
		}
	})
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

func TestSatisfiesLevel(t *testing.T) {
	now := time.Now()
	ks := RandomKeys()
	ip := netip.MustParseAddr("192.0.2.1")
	v := NewVerifier(ks)
	light := NewClearance(ip, testUA, LevelLight, [12]byte{}, now, time.Hour).Encode(ks)
	for _, tc := range []struct {
		need Level
		want bool
	}{{LevelLight, true}, {LevelHard, false}, {LevelInteractive, false}} {
		if got := v.Satisfies(light, ip, testUA, tc.need, now); got != tc.want {
			t.Errorf("light clearance for %v: %v, want %v", tc.need, got, tc.want)
		}
	}
	if v.Satisfies("", ip, testUA, LevelLight, now) {
		t.Error("no cookie satisfied")
	}
}

func TestParseKeys(t *testing.T) {
	f := func(spec string, wantErr string) {
		t.Helper()
		_, err := ParseKeys(spec)
		if (err == nil) != (wantErr == "") || (err != nil && !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("ParseKeys(%q) = %v, want %q", spec, err, wantErr)
		}
	}
	f("0123456789abcdef", "")
	f("a:0123456789abcdef,b:0123456789abcdeX", "")
	f("short", "at least 16")
	f("", "no secret")
	f("a:0123456789abcdef,0123456789abcdef", "want ID:SECRET")
	f("a:0123456789abcdef,a:0123456789abcdeX", "twice")
	f("b@d:0123456789abcdef", "id")
}

func TestLevelFor(t *testing.T) {
	for _, tc := range []struct {
		score float64
		want  Level
	}{{70, LevelLight}, {79.9, LevelLight}, {80, LevelHard}, {84.9, LevelHard}, {85, LevelInteractive}, {99, LevelInteractive}} {
		if got := LevelFor(tc.score); got != tc.want {
			t.Errorf("LevelFor(%v) = %v, want %v", tc.score, got, tc.want)
		}
	}
}

// BenchmarkVerifyCached is what a clearance adds to an in-process
// authorize for a returning visitor: the budget is 200 ns.
// BenchmarkVerifyUncached is the first sight of a cookie (two HMAC blocks
// and the user agent's hash), the baseline of the same run.
func BenchmarkVerifyCached(b *testing.B) {
	ks := RandomKeys()
	ip := netip.MustParseAddr("203.0.113.7")
	now := time.Now()
	v := NewVerifier(ks)
	cookie := NewClearance(ip, testUA, LevelLight, [12]byte{}, now, time.Hour).Encode(ks)
	b.ReportAllocs()
	stop := testkit.ThreadCPUPerOp(b)
	for b.Loop() {
		if !v.Satisfies(cookie, ip, testUA, LevelLight, now) {
			b.Fatal("refused")
		}
	}
	stop()
}

func BenchmarkVerifyUncached(b *testing.B) {
	ks := RandomKeys()
	ip := netip.MustParseAddr("203.0.113.7")
	now := time.Now()
	cookie := NewClearance(ip, testUA, LevelLight, [12]byte{}, now, time.Hour).Encode(ks)
	b.ReportAllocs()
	stop := testkit.ThreadCPUPerOp(b)
	for b.Loop() {
		if _, err := decode(ks, cookie); err != nil {
			b.Fatal(err)
		}
		_ = UAHash(testUA)
	}
	stop()
}
