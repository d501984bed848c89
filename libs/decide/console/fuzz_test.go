package console

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzParseQuery: whatever an operator types is a subject or an error,
// never a panic, and a subject's canonical form parses back to itself.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "ip:2001:db8::1", "198.51.100.0/24", "net:10.0.0.0/8", "session:abc", "abc123", " ", "::ffff:1.2.3.4", "ip:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		sub, err := parseQuery(q)
		if err != nil {
			return
		}
		back, err := parseQuery(sub.String())
		if err != nil || back.String() != sub.String() {
			t.Fatalf("%q -> %q -> %q, %v", q, sub.String(), back.String(), err)
		}
	})
}

// FuzzSessionCookie: no cookie value but one the console signed yields a
// principal.
func FuzzSessionCookie(f *testing.F) {
	a := &auth{sign: signer{key: []byte("0123456789abcdef0123456789abcdef")}, ttl: time.Hour}
	// Fixed, so that every fuzzing process has the same one.
	good := a.sign.sign(sessionCookie, []byte(`{"u":"token:admin","r":3,"e":4102444800,"n":"fixed"}`))
	f.Add(good)
	f.Add(good + "x")
	f.Add("eyJ1IjoieCIsInIiOjMsImUiOjk5OTk5OTk5OTk5fQ.AAAA")
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", sessionCookie+"="+v)
		p := a.principal(r, time.Now())
		if p.Role != RoleNone && v != good {
			t.Fatalf("cookie %q signed in as %+v", v, p)
		}
	})
}

// TestSafeNext: a login's return address stays on the console.
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/clients/ip:1.2.3.4": "/clients/ip:1.2.3.4", "//evil.example/": "/", "https://evil.example": "/",
		"/\\evil.example": "/", "": "/", "clients": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDiffLines(t *testing.T) {
	var got []string
	for _, l := range diffLines("ladder:\n    challenge: 60\nlearning: true\n", "ladder:\n    challenge: 65\nlearning: true\n") {
		got = append(got, l.Op+l.Text)
	}
	want := " ladder:|-    challenge: 60|+    challenge: 65| learning: true"
	if strings.Join(got, "|") != want {
		t.Fatalf("diff %q, want %q", strings.Join(got, "|"), want)
	}
}
