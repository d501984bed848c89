package verdict_test

import (
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

func TestAppendJSONContract(t *testing.T) {
	at := time.Date(2026, 11, 21, 10, 0, 3, 0, time.UTC)
	v := &eventpb.Verdict{
		Subject: "ip:203.0.113.7", Action: eventpb.Action_BLOCK, Score: 96.5,
		Reasons:    []string{"rate_10s=48/s", "no_static_assets"},
		AtUnixNano: at.UnixNano(), ExpiresAtUnixNano: at.Add(time.Hour).UnixNano(),
	}
	got := string(verdict.Marshal(v.Subject, v))
	want := `{"subject":"ip:203.0.113.7","action":"BLOCK","score":96.5,"reasons":["rate_10s=48/s","no_static_assets"],"at":"2026-11-21T10:00:03Z","expires_at":"2026-11-21T11:00:03Z"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := string(verdict.Marshal("ip:192.0.2.1", nil)); got != `{"subject":"ip:192.0.2.1","action":"ALLOW","score":0,"reasons":[]}` {
		t.Fatalf("unknown subject: %s", got)
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	f := func(v *eventpb.Verdict) {
		t.Helper()
		out := verdict.Marshal(v.GetSubject(), v)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
		sub, back, err := verdict.Unmarshal(out)
		if err != nil {
			t.Fatalf("unmarshal %s: %v", out, err)
		}
		if sub != v.GetSubject() {
			t.Fatalf("subject %q, want %q", sub, v.GetSubject())
		}
		// Invalid UTF-8 is replaced, so compare against the JSON round trip of encoding/json.
		var j verdict.JSON
		_ = json.Unmarshal(out, &j)
		reasons := j.Reasons
		if len(reasons) == 0 {
			reasons = nil
		}
		want := proto.Clone(v).(*eventpb.Verdict)
		want.Reasons = reasons
		if len(back.Reasons) == 0 {
			back.Reasons = nil
		}
		if !proto.Equal(back, want) {
			t.Fatalf("round trip:\n got %v\nwant %v", back, want)
		}
	}
	f(&eventpb.Verdict{Subject: "session:a\"b\\c\n<x>&\u2028", Action: eventpb.Action_CHALLENGE, Score: 71.25})
	f(&eventpb.Verdict{Subject: "ip:::1", Action: eventpb.Action_MONITOR, Reasons: []string{"bad\xffutf8", "\x01ctl"}, Rule: "login_stuffing",
		WouldBe: eventpb.Action_BLOCK, AtUnixNano: 1_700_000_000_123_456_789})
	f(&eventpb.Verdict{Subject: "net:203.0.113.0/24", Action: eventpb.Action_BLOCK, Score: 100, Origin: eventpb.Origin_OPERATOR, ExpiresAtUnixNano: 1_800_000_000_000_000_000})
	f(&eventpb.Verdict{Subject: "fp:02f1bea35578836f", Action: eventpb.Action_BLOCK, Score: 92,
		Reasons: []string{"score=92", "attack=login-failures-2026-12-03T10:14Z"}, Addresses: []string{"203.0.113.7", "2001:db8::1"}})
}

func TestFPVerdictJSON(t *testing.T) {
	v := &eventpb.Verdict{Subject: "fp:02f1bea35578836f", Action: eventpb.Action_BLOCK, Score: 92,
		Reasons: []string{"attack=login-failures-2026-12-03T10:14Z"}, Addresses: []string{"203.0.113.7", "198.51.100.9"}}
	got := string(verdict.Marshal(v.Subject, v))
	want := `{"subject":"fp:02f1bea35578836f","action":"BLOCK","score":92,"reasons":["attack=login-failures-2026-12-03T10:14Z"],"addresses":["203.0.113.7","198.51.100.9"]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestActive(t *testing.T) {
	now := time.Now()
	f := func(v *eventpb.Verdict, want bool) {
		t.Helper()
		if got := verdict.Active(v, now); got != want {
			t.Fatalf("Active(%v) = %v, want %v", v, got, want)
		}
	}
	f(nil, false)
	f(&eventpb.Verdict{}, true)
	f(&eventpb.Verdict{ExpiresAtUnixNano: now.Add(time.Second).UnixNano()}, true)
	f(&eventpb.Verdict{ExpiresAtUnixNano: now.UnixNano()}, false)
}

func BenchmarkAppendJSON(b *testing.B) {
	v := &eventpb.Verdict{Subject: "ip:203.0.113.7", Action: eventpb.Action_BLOCK, Score: 96.5,
		Reasons: []string{"rate_10s=48/s", "no_static_assets"}, AtUnixNano: time.Now().UnixNano(), ExpiresAtUnixNano: time.Now().Add(time.Hour).UnixNano()}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = verdict.AppendJSON(buf[:0], v.Subject, v)
	}
}
