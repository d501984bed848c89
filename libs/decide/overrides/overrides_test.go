package overrides_test

import (
	"errors"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
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
	f(eventpb.Action_ALLOW, "198.51.100.9/24", 0, "", "net:198.51.100.0/24",
		`{"subject":"net:198.51.100.0/24","action":"ALLOW","score":0,"reasons":["operator"],"at":"2026-11-21T10:00:00Z","rule":"operator","origin":"OPERATOR"}`)

	if _, _, err := overrides.Verdict(eventpb.Action_BLOCK, "nope", time.Hour, "", now); !errors.Is(err, subject.ErrMalformed) {
		t.Fatalf("bad subject: %v", err)
	}
	if _, _, err := overrides.Verdict(eventpb.Action_BLOCK, "ip:192.0.2.1", -time.Hour, "", now); !errors.Is(err, overrides.ErrBadTTL) {
		t.Fatalf("negative ttl: %v", err)
	}
}
