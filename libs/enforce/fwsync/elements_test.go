package fwsync

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
)

func TestBounds(t *testing.T) {
	f := func(in, start, end string) {
		t.Helper()
		s, e := bounds(netip.MustParsePrefix(in))
		gotEnd := "none"
		if e.IsValid() {
			gotEnd = e.String()
		}
		if s.String() != start || gotEnd != end {
			t.Errorf("bounds(%s) = %s, %s; want %s, %s", in, s, gotEnd, start, end)
		}
	}
	f("192.0.2.7/32", "192.0.2.7", "192.0.2.8")
	f("192.0.2.0/24", "192.0.2.0", "192.0.3.0")
	f("10.0.0.0/7", "10.0.0.0", "12.0.0.0")
	f("255.255.255.0/24", "255.255.255.0", "none")
	f("2001:db8::/48", "2001:db8::", "2001:db8:1::")
	f("2001:db8::1/128", "2001:db8::1", "2001:db8::2")
	f("2001:db8::/61", "2001:db8::", "2001:db8:0:8::")
}

func TestElementsDropOverlaps(t *testing.T) {
	now := time.Now()
	e := func(p string, ttl time.Duration) blockset.Entry {
		en := blockset.Entry{Prefix: netip.MustParsePrefix(p)}
		if ttl > 0 {
			en.ExpiresAt = now.Add(ttl)
		}
		return en
	}
	v4, v6 := elements([]blockset.Entry{
		e("192.0.2.7/32", time.Hour),
		e("192.0.2.0/24", time.Minute),
		e("192.0.2.0/24", 2*time.Minute), // same network: the longer-lived
		e("198.51.100.9/32", 0),
		e("0.0.0.0/8", 0),
		e("2001:db8::1/128", 0),
		e("2001:db8::/32", time.Hour),
	})
	if len(v4) != 2 || !v4[netip.MustParsePrefix("192.0.2.0/24")].Equal(now.Add(2*time.Minute)) || !v4[netip.MustParsePrefix("198.51.100.9/32")].IsZero() {
		t.Errorf("v4 = %v", v4)
	}
	if len(v6) != 1 {
		t.Errorf("v6 = %v, want only the covering /32", v6)
	}
}

func TestDiff(t *testing.T) {
	now := time.Now()
	p := netip.MustParsePrefix
	inst := map[netip.Prefix]time.Time{p("192.0.2.1/32"): {}, p("192.0.2.2/32"): now.Add(time.Hour), p("192.0.2.3/32"): {}}
	want := map[netip.Prefix]time.Time{p("192.0.2.1/32"): {}, p("192.0.2.2/32"): now.Add(2 * time.Hour), p("192.0.2.4/32"): {},
		p("192.0.2.5/32"): now.Add(100 * time.Millisecond)} // about to expire: not worth adding
	del, add := diff(inst, want, now)
	if len(del) != 2 || len(add) != 2 {
		t.Errorf("del %v add %v; want .2 (expiry moved) and .3 deleted, .2 and .4 added", del, add)
	}
}

func TestConfigValidate(t *testing.T) {
	f := func(mut func(*Config), wantVar string) {
		t.Helper()
		c := Config{Table: "bulwark", Actions: "BLOCK", SyncInterval: time.Second, ResyncInterval: time.Minute}
		mut(&c)
		err := c.Validate()
		if wantVar == "" && err != nil || wantVar != "" && (err == nil || !strings.Contains(err.Error(), wantVar)) {
			t.Errorf("Validate = %v, want %q", err, wantVar)
		}
	}
	f(func(*Config) {}, "")
	f(func(c *Config) { c.Actions = "block, challenge" }, "")
	f(func(c *Config) { c.Table = "" }, "BULWARK_FWSYNC_TABLE")
	f(func(c *Config) { c.Table = "a b" }, "BULWARK_FWSYNC_TABLE")
	f(func(c *Config) { c.Actions = "MONITOR" }, "BULWARK_FWSYNC_ACTIONS")
	f(func(c *Config) { c.Actions = "nope" }, "BULWARK_FWSYNC_ACTIONS")
	f(func(c *Config) { c.SyncInterval = 0 }, "BULWARK_FWSYNC_SYNC_INTERVAL")
}
