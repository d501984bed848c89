package challenge

import (
	"net/netip"
	"testing"
	"time"
)

// The parsers of what clients send: the cookie, the token, the return
// path and the page's reports. None may panic; a cookie or token that
// parses must have been signed.
func FuzzClearance(f *testing.F) {
	ks := mustKeys(f, "k1:0123456789abcdef0123")
	now := time.Unix(1_800_000_000, 0)
	f.Add(NewClearance(netip.MustParseAddr("203.0.113.7"), testUA, LevelLight, [12]byte{}, now, time.Hour).Encode(ks))
	f.Add("1.k1..")
	f.Add("1.k1.AAAA.AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		v := NewVerifier(ks)
		if c, err := v.Verify(s, netip.MustParseAddr("203.0.113.7"), testUA, now); err == nil && c.Encode(ks) != s {
			t.Fatalf("accepted %q, which is not what signing gives", s)
		}
	})
}

func FuzzToken(f *testing.F) {
	ks := mustKeys(f, "k1:0123456789abcdef0123")
	f.Add(newToken(netip.MustParseAddr("2001:db8::1"), testUA, LevelHard, time.Unix(1_800_000_000, 0)).encode(ks))
	f.Add("t.k1.x.y")
	f.Fuzz(func(t *testing.T, s string) {
		if tok, err := parseToken(ks, s); err == nil && tok.encode(ks) != s {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzSafeReturn(f *testing.F) {
	for _, s := range []string{"/", "/cart?x=1", "//evil.example", "https://evil.example/", "/\\evil", "/%2F%2Fevil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := SafeReturn(s)
		if !ok {
			return
		}
		if len(got) == 0 || got[0] != '/' || (len(got) > 1 && (got[1] == '/' || got[1] == '\\')) {
			t.Fatalf("SafeReturn(%q) = %q: not a path on this site", s, got)
		}
	})
}

func FuzzReports(f *testing.F) {
	f.Add(`{"wd":false,"ua":"x","langs":1,"scr":[1,1],"missing":[]}`, `{"moves":[1,5,9],"press":400}`)
	f.Add(`{"scr":[1]}`, `{"moves":[1e308,-1e308],"press":1e999}`)
	f.Fuzz(func(t *testing.T, env, ix string) {
		_ = envChecks(env, "x")
		_ = interactionCheck(ix)
	})
}
