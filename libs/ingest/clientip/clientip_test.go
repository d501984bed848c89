package clientip

import (
	"net/netip"
	"testing"
)

func mustResolver(t testing.TB, cidrs string) *Resolver {
	t.Helper()
	p, err := ParseCIDRs(cidrs)
	if err != nil {
		t.Fatalf("ParseCIDRs(%q): %v", cidrs, err)
	}
	return New(p)
}

func TestFromXFF(t *testing.T) {
	f := func(cidrs, remote, xff, want string) {
		t.Helper()
		r := mustResolver(t, cidrs)
		var ra netip.Addr
		if remote != "" {
			ra = netip.MustParseAddr(remote)
		}
		got := r.FromXFF(ra, []byte(xff))
		gotS := ""
		if got.IsValid() {
			gotS = got.String()
		}
		if gotS != want {
			t.Fatalf("trusted=%q remote=%q xff=%q: got %q, want %q", cidrs, remote, xff, gotS, want)
		}
		if s := r.FromXFFString(ra, xff); s != got {
			t.Fatalf("FromXFFString disagrees: %v vs %v", s, got)
		}
	}
	// No trusted proxies: the socket peer is the client, XFF is ignored.
	f("", "203.0.113.7", "198.51.100.1", "203.0.113.7")
	f("", "2001:db8::1", "198.51.100.1", "2001:db8::1")
	// Untrusted peer: its XFF is ignored.
	f("10.0.0.0/8", "203.0.113.7", "198.51.100.1", "203.0.113.7")
	// One trusted proxy.
	f("10.0.0.0/8", "10.1.2.3", "198.51.100.1", "198.51.100.1")
	f("10.0.0.0/8", "10.1.2.3", "", "10.1.2.3")
	f("10.0.0.0/8", "10.1.2.3", "   ", "10.1.2.3")
	// Spoofed left part is skipped: the first untrusted hop from the right wins.
	f("10.0.0.0/8", "10.1.2.3", "1.1.1.1, 198.51.100.1", "198.51.100.1")
	f("10.0.0.0/8", "10.1.2.3", "1.1.1.1, 198.51.100.1, 10.9.9.9", "198.51.100.1")
	f("10.0.0.0/8,192.168.0.0/16", "10.1.2.3", "1.1.1.1,198.51.100.1,192.168.1.1,10.0.0.5", "198.51.100.1")
	// All hops trusted: the leftmost.
	f("10.0.0.0/8", "10.1.2.3", "10.0.0.1, 10.0.0.2", "10.0.0.1")
	// Garbage stops the walk at the last trusted address (nginx realip).
	f("10.0.0.0/8", "10.1.2.3", "198.51.100.1, unknown", "10.1.2.3")
	f("10.0.0.0/8", "10.1.2.3", "198.51.100.1, unknown, 10.0.0.9", "10.0.0.9")
	f("10.0.0.0/8", "10.1.2.3", "_hidden, 198.51.100.1", "198.51.100.1")
	f("10.0.0.0/8", "10.1.2.3", "\x00\xff", "10.1.2.3")
	// Empty list elements are skipped.
	f("10.0.0.0/8", "10.1.2.3", "198.51.100.1,,", "198.51.100.1")
	// Ports, brackets, IPv6, zones, mapped addresses.
	f("10.0.0.0/8", "10.1.2.3", "198.51.100.1:4711", "198.51.100.1")
	f("10.0.0.0/8", "10.1.2.3", "[2001:db8::7]:443", "2001:db8::7")
	f("10.0.0.0/8", "10.1.2.3", "[2001:db8::7]", "2001:db8::7")
	f("10.0.0.0/8", "10.1.2.3", "2001:db8::7", "2001:db8::7")
	f("10.0.0.0/8", "10.1.2.3", "fe80::1%eth0", "fe80::1")
	f("10.0.0.0/8", "10.1.2.3", "::ffff:198.51.100.1", "198.51.100.1")
	f("10.0.0.0/8", "::ffff:10.1.2.3", "198.51.100.1", "198.51.100.1")
	f("10.0.0.0/8", "10.1.2.3", "198.51.100.1:99999", "10.1.2.3")
	f("10.0.0.0/8", "10.1.2.3", "[198.51.100.1]:80", "10.1.2.3")
	f("10.0.0.0/8", "10.1.2.3", "[2001:db8::7", "10.1.2.3")
	f("10.0.0.0/8", "10.1.2.3", "1.2.3.4:", "10.1.2.3")
	// IPv6 proxies.
	f("2001:db8:ffff::/48", "2001:db8:ffff::1", "2001:db8:1::5, 2001:db8:ffff::2", "2001:db8:1::5")
	// Unix-socket peer: trusted only when some proxy is trusted.
	f("127.0.0.1", "", "198.51.100.1", "198.51.100.1")
	f("", "", "198.51.100.1", "")
	f("127.0.0.1", "", "unknown", "")
}

func TestParseCIDRs(t *testing.T) {
	f := func(in string, want []string, wantErr bool) {
		t.Helper()
		got, err := ParseCIDRs(in)
		if (err != nil) != wantErr {
			t.Fatalf("ParseCIDRs(%q) err = %v, wantErr %v", in, err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("ParseCIDRs(%q) = %v, want %v", in, got, want)
		}
		for i := range got {
			if got[i].String() != want[i] {
				t.Fatalf("ParseCIDRs(%q)[%d] = %v, want %v", in, i, got[i], want[i])
			}
		}
	}
	f("", nil, false)
	f(" , ", nil, false)
	f("127.0.0.0/8,::1", []string{"127.0.0.0/8", "::1/128"}, false)
	f("10.1.2.3/8, 192.0.2.1", []string{"10.0.0.0/8", "192.0.2.1/32"}, false)
	f("::ffff:10.0.0.1", []string{"10.0.0.1/32"}, false)
	f("10.0.0.0/33", nil, true)
	f("nope", nil, true)
}

func TestTrusted(t *testing.T) {
	r := mustResolver(t, "10.0.0.0/8,::1,::ffff:192.168.0.0/112")
	f := func(addr string, want bool) {
		t.Helper()
		if got := r.Trusted(netip.MustParseAddr(addr)); got != want {
			t.Fatalf("Trusted(%s) = %v, want %v", addr, got, want)
		}
	}
	f("10.255.0.1", true)
	f("::ffff:10.0.0.1", true)
	f("::1", true)
	f("192.168.3.4", true)
	f("11.0.0.1", false)
	f("::2", false)
	if r.Len() != 3 {
		t.Fatalf("Len = %d", r.Len())
	}
	var nilR *Resolver
	if nilR.Trusted(netip.MustParseAddr("10.0.0.1")) || nilR.Len() != 0 {
		t.Fatal("nil resolver trusts something")
	}
	if got := nilR.FromXFF(netip.MustParseAddr("10.0.0.1"), []byte("1.2.3.4")); got.String() != "10.0.0.1" {
		t.Fatalf("nil resolver FromXFF = %v", got)
	}
}

func TestFromXFFZeroAlloc(t *testing.T) {
	r := mustResolver(t, "10.0.0.0/8,2001:db8:ffff::/48")
	remote := netip.MustParseAddr("10.1.2.3")
	xff := []byte("1.1.1.1, [2001:db8::7]:443, 10.0.0.9:80")
	allocs := testing.AllocsPerRun(100, func() {
		if !r.FromXFF(remote, xff).IsValid() {
			t.Fatal("invalid")
		}
	})
	if allocs != 0 {
		t.Fatalf("FromXFF allocates %.1f times per call", allocs)
	}
}

func FuzzFromXFF(f *testing.F) {
	for _, s := range []string{
		"198.51.100.1", "1.1.1.1, 198.51.100.1, 10.0.0.1", "unknown", "[2001:db8::7]:443",
		"fe80::1%eth0", ",,,", "::ffff:10.0.0.1", "[", "1.2.3.4:", "_obf, 10.0.0.1",
	} {
		f.Add("10.1.2.3", s)
	}
	r := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")})
	f.Fuzz(func(t *testing.T, remote, xff string) {
		ra, _ := netip.ParseAddr(remote)
		got := r.FromXFFString(ra, xff)
		if got.IsValid() {
			if got.Zone() != "" || got.Is4In6() {
				t.Fatalf("non-canonical result %v", got)
			}
		} else if ra.IsValid() {
			t.Fatalf("valid remote %v gave invalid client", ra)
		}
		if ra.IsValid() && !r.Trusted(ra) && got != ra.Unmap().WithZone("") {
			t.Fatalf("untrusted remote %v replaced by %v", ra, got)
		}
	})
}

func BenchmarkFromXFF(b *testing.B) {
	r := mustResolver(b, "10.0.0.0/8,172.16.0.0/12")
	remote := netip.MustParseAddr("10.1.2.3")
	xff := []byte("203.0.113.9, 198.51.100.1, 172.16.0.4")
	b.ReportAllocs()
	for b.Loop() {
		r.FromXFF(remote, xff)
	}
}
