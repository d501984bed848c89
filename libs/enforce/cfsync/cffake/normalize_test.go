package cffake

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNormalizeIP(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		got, err := normalizeIP(in)
		if want == "" {
			if err == nil {
				t.Errorf("normalizeIP(%q) = %q, want rejected", in, got)
			}
			return
		}
		if err != nil || got != want {
			t.Errorf("normalizeIP(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	f("192.0.2.1", "192.0.2.1")
	f("192.0.2.1/32", "192.0.2.1")
	f("192.0.2.9/24", "192.0.2.0/24")
	f("10.0.0.0/8", "10.0.0.0/8")
	f("10.0.0.0/7", "")
	f("2001:db8::1", "2001:db8::/64")
	f("2001:db8::/64", "2001:db8::/64")
	f("2001:db8::/65", "")
	f("2000::/4", "2000::/4")
	f("::/3", "")
	f("::ffff:192.0.2.1", "")
	f("fe80::1%eth0", "")
	f("", "")
	f("hello", "")
}

func FuzzNormalizeIP(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "10.0.0.0/8", "2001:db8::1", "2001:db8::/64", "2001:db8::/65", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := normalizeIP(s)
		if err != nil {
			return
		}
		// Accepted items are stable and within Cloudflare's ranges.
		if n2, err := normalizeIP(n); err != nil || n2 != n {
			t.Fatalf("normalizeIP(%q) = %q, then %q, %v", s, n, n2, err)
		}
		if strings.Contains(n, "/") {
			p := netip.MustParsePrefix(n)
			if p.Addr().Is4() && p.Bits() < 8 || p.Addr().Is6() && (p.Bits() < 4 || p.Bits() > 64) {
				t.Fatalf("accepted %q", n)
			}
		}
	})
}
