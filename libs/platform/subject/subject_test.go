package subject_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

func TestCanonical(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		got, err := subject.Canonical(in)
		if want == "" {
			if !errors.Is(err, subject.ErrMalformed) {
				t.Fatalf("Canonical(%q) = %q, %v; want ErrMalformed", in, got, err)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("Canonical(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	f("ip:203.0.113.7", "ip:203.0.113.7")
	f("203.0.113.7", "ip:203.0.113.7")
	f("ip:::ffff:203.0.113.7", "ip:203.0.113.7")
	f("ip:2001:DB8::1", "ip:2001:db8::1")
	f("net:203.0.113.9/24", "net:203.0.113.0/24")
	f("2001:db8:1:2::5/64", "net:2001:db8:1:2::/64")
	f("net:::ffff:10.1.2.3/120", "net:10.1.2.0/24")
	f("session:abc", "session:abc")
	f("session:", "")
	f("ip:fe80::1%eth0", "")
	f("host:example.com", "")
	f("", "")
}

func TestNetOf(t *testing.T) {
	f := func(ip, want string) {
		t.Helper()
		if got := subject.Net(subject.NetOf(netip.MustParseAddr(ip))); got != want {
			t.Fatalf("NetOf(%s) = %s, want %s", ip, got, want)
		}
	}
	f("203.0.113.77", "net:203.0.113.0/24")
	f("::ffff:203.0.113.77", "net:203.0.113.0/24")
	f("2001:db8:a:b:c:d:e:f", "net:2001:db8:a:b::/64")
}
