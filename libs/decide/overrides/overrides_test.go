package overrides_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

func TestVerdict(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	f := func(a eventpb.Action, sub string, ttl time.Duration, reason, wantKey, wantJSON string) {
		t.Helper()
		key, v, err := overrides.Verdict(a, sub, ttl, reason, now)
		if err != nil {
			t.Fatal(err)
		}
		if key != wantKey || string(verdict.Marshal(key, v)) != wantJSON {
			t.Fatalf("got %s %s", key, verdict.Marshal(key, v))
		}
	}
	f(eventpb.Action_BLOCK, "203.0.113.7", time.Hour, "abuse", "ip:203.0.113.7",
		`{"subject":"ip:203.0.113.7","action":"BLOCK","score":100,"reasons":["operator: abuse"],"at":"2026-11-21T10:00:00Z","expires_at":"2026-11-21T11:00:00Z","rule":"operator","origin":"OPERATOR"}`)
	f(eventpb.Action_ALLOW, "198.51.100.9/24", 24*time.Hour, "", "net:198.51.100.0/24",
		`{"subject":"net:198.51.100.0/24","action":"ALLOW","score":0,"reasons":["operator"],"at":"2026-11-21T10:00:00Z","expires_at":"2026-11-22T10:00:00Z","rule":"operator","origin":"OPERATOR"}`)
	f(eventpb.Action_ALLOW, "fp:02F1BEA35578836F", time.Hour, "a shop's own app", "fp:02f1bea35578836f",
		`{"subject":"fp:02f1bea35578836f","action":"ALLOW","score":0,"reasons":["operator: a shop's own app"],"at":"2026-11-21T10:00:00Z","expires_at":"2026-11-21T11:00:00Z","rule":"operator","origin":"OPERATOR"}`)
}

// TestFingerprintNeverBlockedByHand: an operator cannot block, challenge
// or monitor a fingerprint (many people share a browser build); the error
// says how to act on one.
func TestFingerprintNeverBlockedByHand(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for _, a := range []eventpb.Action{eventpb.Action_BLOCK, eventpb.Action_CHALLENGE, eventpb.Action_MONITOR} {
		_, _, err := overrides.Verdict(a, "fp:02f1bea35578836f", time.Hour, "", now)
		if !errors.Is(err, overrides.ErrFingerprintAction) || !strings.Contains(err.Error(), "bulwark attack start CLASS --fingerprint fp:02f1bea35578836f") {
			t.Errorf("%v on fp: %v", a, err)
		}
	}
}

func TestLimits(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name    string
		limits  overrides.Limits
		req     overrides.Request
		wantErr error // nil: accepted
		wantMsg string
	}{
		{"address", overrides.DefaultLimits(), overrides.Request{Subject: "ip:192.0.2.1", TTL: time.Hour}, nil, ""},
		{"aggregation /24", overrides.DefaultLimits(), overrides.Request{Subject: "net:198.51.100.0/24", TTL: time.Hour}, nil, ""},
		{"IPv4 /16 at the limit", overrides.DefaultLimits(), overrides.Request{Subject: "net:10.1.0.0/16", TTL: time.Hour}, nil, ""},
		{"IPv4 /8", overrides.DefaultLimits(), overrides.Request{Subject: "net:10.0.0.0/8", TTL: time.Hour}, overrides.ErrTooWide, "BULWARK_OVERRIDE_MAX_NET_V4"},
		{"the whole IPv4 internet", overrides.DefaultLimits(), overrides.Request{Subject: "net:0.0.0.0/0", TTL: time.Hour}, overrides.ErrTooWide, "more than a /16"},
		{"IPv4-mapped /0 is IPv4", overrides.DefaultLimits(), overrides.Request{Subject: "::ffff:0.0.0.0/96", TTL: time.Hour}, overrides.ErrTooWide, "BULWARK_OVERRIDE_MAX_NET_V4"},
		{"the whole IPv6 internet", overrides.DefaultLimits(), overrides.Request{Subject: "net:::/0", TTL: time.Hour}, overrides.ErrTooWide, "BULWARK_OVERRIDE_MAX_NET_V6"},
		{"IPv6 /32 at the limit", overrides.DefaultLimits(), overrides.Request{Subject: "2001:db8::/32", TTL: time.Hour}, nil, ""},
		{"IPv6 /31", overrides.DefaultLimits(), overrides.Request{Subject: "2001:db8::/31", TTL: time.Hour}, overrides.ErrTooWide, "/32"},
		{"forced /8", overrides.DefaultLimits(), overrides.Request{Subject: "net:10.0.0.0/8", TTL: time.Hour, Force: true}, nil, ""},
		{"forced /0", overrides.DefaultLimits(), overrides.Request{Subject: "net:::/0", TTL: time.Hour, Force: true}, nil, ""},
		{"configured wider", overrides.Limits{MaxTTL: day, MaxNetV4: 8, MaxNetV6: 32}, overrides.Request{Subject: "net:10.0.0.0/8", TTL: time.Hour}, nil, ""},
		{"configured narrower", overrides.Limits{MaxTTL: day, MaxNetV4: 24, MaxNetV6: 64}, overrides.Request{Subject: "net:10.1.0.0/16", TTL: time.Hour}, overrides.ErrTooWide, ""},
		{"ttl 0", overrides.DefaultLimits(), overrides.Request{Subject: "ip:192.0.2.1"}, overrides.ErrBadTTL, "must expire"},
		{"negative ttl", overrides.DefaultLimits(), overrides.Request{Subject: "ip:192.0.2.1", TTL: -time.Hour}, overrides.ErrBadTTL, ""},
		{"30 days at the limit", overrides.DefaultLimits(), overrides.Request{Subject: "ip:192.0.2.1", TTL: 30 * day}, nil, ""},
		{"1000000h", overrides.DefaultLimits(), overrides.Request{Subject: "ip:192.0.2.1", TTL: 1000000 * time.Hour}, overrides.ErrTTLTooLong, "BULWARK_OVERRIDE_MAX_TTL"},
		{"force does not lift the ttl bound", overrides.DefaultLimits(), overrides.Request{Subject: "ip:192.0.2.1", TTL: 31 * day, Force: true}, overrides.ErrTTLTooLong, ""},
		{"bad subject", overrides.DefaultLimits(), overrides.Request{Subject: "nope", TTL: time.Hour}, subject.ErrMalformed, ""},
		{"session with a newline", overrides.DefaultLimits(), overrides.Request{Subject: "session:a\nb", TTL: time.Hour}, subject.ErrMalformed, ""},
		{"100 KB session", overrides.DefaultLimits(), overrides.Request{Subject: "session:" + strings.Repeat("a", 100<<10), TTL: time.Hour}, subject.ErrMalformed, "at most 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Action = eventpb.Action_BLOCK
			key, v, err := tc.limits.Verdict(tc.req, now)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if v.GetExpiresAtUnixNano() != now.Add(tc.req.TTL).UnixNano() || key == "" {
					t.Fatalf("verdict %s %v", key, v)
				}
				_, _, wide := tc.limits.Verdict(overrides.Request{Action: eventpb.Action_BLOCK, Subject: tc.req.Subject, TTL: tc.req.TTL}, now)
				if forced := strings.Contains(strings.Join(v.GetReasons(), ","), "forced"); forced != (wide != nil) {
					t.Fatalf("reasons %q: forced should be said exactly when the limit was passed", v.GetReasons())
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %v, want %v containing %q", err, tc.wantErr, tc.wantMsg)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
		})
	}
}

func TestLimitsConfig(t *testing.T) {
	f := func(env map[string]string, want string) {
		t.Helper()
		l, err := config.LoadFrom[overrides.Limits](env)
		if want == "" {
			if err != nil {
				t.Fatal(err)
			}
			if len(env) == 0 && l != overrides.DefaultLimits() {
				t.Fatalf("env defaults %+v differ from DefaultLimits %+v", l, overrides.DefaultLimits())
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want %q", err, want)
		}
	}
	f(map[string]string{}, "")
	f(map[string]string{"BULWARK_OVERRIDE_MAX_TTL": "2160h", "BULWARK_OVERRIDE_MAX_NET_V4": "8"}, "")
	f(map[string]string{"BULWARK_OVERRIDE_MAX_TTL": "0s"}, "BULWARK_OVERRIDE_MAX_TTL")
	f(map[string]string{"BULWARK_OVERRIDE_MAX_NET_V4": "33"}, "BULWARK_OVERRIDE_MAX_NET_V4")
	f(map[string]string{"BULWARK_OVERRIDE_MAX_NET_V6": "-1"}, "BULWARK_OVERRIDE_MAX_NET_V6")
	f(map[string]string{"BULWARK_OVERRIDE_MAX_NET_V6": "wide"}, "BULWARK_OVERRIDE_MAX_NET_V6")
}
