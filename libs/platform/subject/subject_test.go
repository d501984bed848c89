package subject_test

import (
	"errors"
	"net/netip"
	"strings"
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
	f("fp:02f1bea35578836f", "fp:02f1bea35578836f")
	f("fp:02F1BEA35578836F", "fp:02f1bea35578836f")
	f("fp:2f1bea35578836f", "")
	f("fp:02f1bea35578836g", "")
	f("fp:+2f1bea35578836f", "")
	f("fp:", "")
	if got := subject.FP(0x2f1bea35578836f); got != "fp:02f1bea35578836f" {
		t.Errorf("FP = %q", got)
	}
	if got := subject.FP(0); got != "fp:0000000000000000" {
		t.Errorf("FP(0) = %q", got)
	}
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

func TestValidateSession(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		ok       bool
	}{
		{"php", "9f86d081884c7d659a2feaa0c55ad015", true},
		{"base64 and url-encoded", "eyJhbGciOi+/=.abc_-~%2F", true},
		{"cookie punctuation", "a!#$&'()*,;:<=>?@[]^`{|}", true},
		{"at the limit", strings.Repeat("a", subject.MaxSessionLen), true},
		{"empty", "", false},
		{"one over the limit", strings.Repeat("a", subject.MaxSessionLen+1), false},
		{"100 KB", strings.Repeat("a", 100<<10), false},
		{"newline", "abc\ndef", false},
		{"space", "abc def", false},
		{"tab", "abc\t", false},
		{"NUL", "abc\x00", false},
		{"DEL", "abc\x7f", false},
		{"non-ASCII", "sessión", false},
		{"invalid UTF-8", "abc\xff", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := subject.ValidateSession(tc.id)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateSession = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, subject.ErrMalformed) {
				t.Fatalf("%v does not wrap ErrMalformed", err)
			}
			// Parse applies the same check.
			if _, err := subject.Parse("session:" + tc.id); (err == nil) != tc.ok {
				t.Fatalf("Parse = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && len(err.Error()) > 300 {
				t.Fatalf("error message of %d bytes quotes the whole input", len(err.Error()))
			}
		})
	}
}

func TestSessionID(t *testing.T) {
	if got := subject.SessionID("abc"); got != "abc" {
		t.Fatalf("SessionID(abc) = %q", got)
	}
	long := strings.Repeat("z", 1000)
	a, b := subject.SessionID(long), subject.SessionID(long)
	if a != b || subject.SessionID(long+"y") == a {
		t.Fatalf("SessionID is not one id per raw id: %q %q", a, b)
	}
	for _, id := range []string{long, "with space", "new\nline", ""} {
		if err := subject.ValidateSession(subject.SessionID(id)); err != nil {
			t.Fatalf("SessionID(%.20q) gives an invalid id: %v", id, err)
		}
	}
}

// FuzzParse checks that Parse never panics, that what it accepts has a
// canonical spelling that parses to itself, and that a session it accepts
// passes ValidateSession.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"ip:203.0.113.7", "203.0.113.7", "ip:::ffff:1.2.3.4", "net:10.0.0.0/8",
		"2001:db8::/32", "net:::/0", "session:abc", "session:", "session:a\nb", "host:x", "", "ip:fe80::1%eth0", "fp:02f1bea35578836f", "fp:xyz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sub, err := subject.Parse(s)
		if err != nil {
			if !errors.Is(err, subject.ErrMalformed) {
				t.Fatalf("Parse(%q): %v does not wrap ErrMalformed", s, err)
			}
			return
		}
		canon := sub.String()
		again, err := subject.Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) gave %q, which does not parse: %v", s, canon, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical spelling not stable: %q -> %q -> %q", s, canon, again.String())
		}
		if sub.Kind == subject.KindSession {
			if err := subject.ValidateSession(sub.Session); err != nil {
				t.Fatalf("Parse(%q) accepted a session ValidateSession refuses: %v", s, err)
			}
		}
	})
}
