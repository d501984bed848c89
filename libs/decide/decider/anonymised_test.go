package decider_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Scores of an anonymised log's sessions carry a trigger without a client
// address: the ladder decides on the session, a crawler's user agent from
// no address is not verified (and asks no DNS), and nothing panics.
func TestAnonymisedSessionScores(t *testing.T) {
	d := newDecider(t, "rules: []\n")
	ctx := context.Background()
	sub := "session:97hf7ciplt2k54f5j6109nekn0"
	anon := func(at time.Duration, score float64, opts ...scoreOpt) {
		t.Helper()
		s := mkScore(sub, t0.Add(at), score, opts...)
		s.Trigger.ClientIp, s.Trigger.SessionId = "", strings.TrimPrefix(sub, "session:")
		d.Decide(ctx, s)
	}
	anon(0, 75)
	if v := d.Current(sub); v == nil || v.GetAction().String() != "CHALLENGE" {
		t.Fatalf("verdict %v, want CHALLENGE on the session", v)
	}
	sub = "session:crawlerlike"
	anon(time.Second, 95, ua("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"))
	if v := d.Current(sub); v == nil || v.GetAction().String() == "ALLOW" {
		t.Fatalf("a Googlebot user agent without an address was let through as verified: %v", v)
	}
}
