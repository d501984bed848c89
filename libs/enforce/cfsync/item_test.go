package cfsync

import (
	"net/netip"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
)

func TestIPKey(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		p := netip.MustParsePrefix(in)
		got, ok := ipKey(p)
		if want == "" {
			if ok {
				t.Errorf("ipKey(%s) = %q, want unlistable", in, got)
			}
			return
		}
		if !ok || got != want {
			t.Errorf("ipKey(%s) = %q, %v; want %q", in, got, ok, want)
		}
		if rk := remoteKey(got); rk != want {
			t.Errorf("remoteKey(%s) = %q, want it unchanged", got, rk)
		}
	}
	f("192.0.2.7/32", "192.0.2.7")
	f("192.0.2.0/24", "192.0.2.0/24")
	f("10.0.0.0/8", "10.0.0.0/8")
	f("10.0.0.0/7", "")
	f("2001:db8::1/128", "2001:db8::/64")
	f("2001:db8:0:0:ffff::/80", "2001:db8::/64")
	f("2001:db8::/32", "2001:db8::/32")
	f("2000::/4", "2000::/4")
	f("::/3", "")
	f("::ffff:192.0.2.1/128", "192.0.2.1")
}

func TestRemoteKey(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := remoteKey(in); got != want {
			t.Errorf("remoteKey(%q) = %q, want %q", in, got, want)
		}
	}
	f("2001:db8::5", "2001:db8::/64")
	f("192.0.2.7/32", "192.0.2.7")
	f("not an ip", "not an ip")
	f("10.0.0.0/4", "10.0.0.0/4")
}

func TestCommentRoundTrip(t *testing.T) {
	exp := time.Date(2026, 11, 21, 11, 0, 3, 0, time.UTC)
	w := &want{}
	w.merge(blockset.Entry{Action: eventpb.Action_BLOCK, Score: 96.5, Reasons: []string{"rate_10s=48/s", "no_static_assets"}, ExpiresAt: exp})
	c := w.comment()
	if c != "bulwark BLOCK score=96.5 expires=2026-11-21T11:00:03Z reasons=rate_10s=48/s,no_static_assets" {
		t.Errorf("comment = %q", c)
	}
	if got, ok := commentExpiry(c); !ok || !got.Equal(exp) {
		t.Errorf("commentExpiry = %v, %v", got, ok)
	}
	if needsRewrite(c, w, time.Hour) {
		t.Error("an unchanged item needs a rewrite")
	}
	w2 := *w
	w2.expires = exp.Add(2 * time.Hour)
	if !needsRewrite(c, &w2, time.Hour) {
		t.Error("an expiry moved by 2h does not need a rewrite")
	}
	w2.expires = time.Time{}
	if !needsRewrite(c, &w2, time.Hour) {
		t.Error("an expiry lifted to never does not need a rewrite")
	}
	if !needsRewrite("added by hand", w, time.Hour) {
		t.Error("a foreign comment does not need a rewrite")
	}
}

func TestMergeKeepsLongestLife(t *testing.T) {
	now := time.Now()
	w := &want{}
	w.merge(blockset.Entry{Action: eventpb.Action_CHALLENGE, Score: 99, ExpiresAt: now.Add(time.Hour)})
	w.merge(blockset.Entry{Action: eventpb.Action_BLOCK, Score: 50, ExpiresAt: now.Add(2 * time.Hour)})
	w.merge(blockset.Entry{Action: eventpb.Action_BLOCK, Score: 40, ExpiresAt: now.Add(30 * time.Minute)})
	if w.action != eventpb.Action_BLOCK || w.score != 50 || !w.expires.Equal(now.Add(2*time.Hour)) || w.subjects != 3 {
		t.Errorf("merged = %+v", w)
	}
	w.merge(blockset.Entry{Action: eventpb.Action_BLOCK, Score: 10})
	if !w.expires.IsZero() {
		t.Errorf("a never-expiring verdict did not make the item never expire: %v", w.expires)
	}
}

func FuzzRemoteKey(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "10.0.0.0/8", "2001:db8::/32", "::ffff:1.2.3.4/120", "", "x/y", "1.2.3.4/40"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := remoteKey(s)
		// A key that parses is stable: reading it back gives itself.
		if remoteKey(k) != k {
			t.Errorf("remoteKey(%q) = %q, but remoteKey(%q) = %q", s, k, k, remoteKey(k))
		}
	})
}

func FuzzCommentExpiry(f *testing.F) {
	for _, s := range []string{"bulwark BLOCK score=1 expires=never", "bulwark BLOCK expires=2026-11-21T11:00:03Z reasons=a", "bulwark expires=", "hand made"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exp, ok := commentExpiry(s)
		if ok && !exp.IsZero() {
			w := &want{key: "192.0.2.1", expires: exp, action: eventpb.Action_BLOCK, subjects: 1}
			if got, ok2 := commentExpiry(w.comment()); !ok2 || !got.Equal(exp.Truncate(time.Second)) {
				t.Errorf("expiry %v did not survive a comment round trip: %v %v", exp, got, ok2)
			}
		}
	})
}
