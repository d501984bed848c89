package decider_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

func fb(sub string, kind eventpb.FeedbackKind, at time.Time, solve time.Duration) *eventpb.Feedback {
	return &eventpb.Feedback{Subject: sub, Kind: kind, TimeUnixNano: at.UnixNano(), SolveMillis: solve.Milliseconds(),
		ClearanceExpiresUnixNano: at.Add(time.Hour).UnixNano(), Level: 1, Challenge: "pow"}
}

func TestFeedback(t *testing.T) {
	ctx := context.Background()
	ip := "ip:203.0.113.7"
	passed, failed := eventpb.FeedbackKind_CHALLENGE_PASSED, eventpb.FeedbackKind_CHALLENGE_FAILED

	t.Run("a pass lifts the CHALLENGE and keeps it lifted", func(t *testing.T) {
		d := newDecider(t, "rules: []\n")
		expect(t, d.Decide(ctx, mkScore(ip, t0, 75)), ip+" CHALLENGE(ladder) new")
		expect(t, d.Feedback(fb(ip, passed, t0.Add(time.Second), 900*time.Millisecond), t0), ip+" - lift")
		// The same client keeps scoring 75: the trust credit (20 points)
		// makes it 55, a MONITOR, and no CHALLENGE while the clearance holds.
		expect(t, d.Decide(ctx, mkScore(ip, t0.Add(time.Minute), 75)), ip+" MONITOR(ladder) new")
		// BLOCK still applies.
		expect(t, d.Decide(ctx, mkScore(ip, t0.Add(2*time.Minute), 99)), ip+" BLOCK(ladder) upgrade")
	})
	t.Run("the credit decays", func(t *testing.T) {
		d := newDecider(t, "rules: []\n")
		expect(t, d.Feedback(fb(ip, passed, t0, 900*time.Millisecond), t0))
		// Three hours later: clearance over, credit 20/64: a 75 challenges again.
		expect(t, d.Decide(ctx, mkScore(ip, t0.Add(3*time.Hour), 75)), ip+" CHALLENGE(ladder) new")
	})
	t.Run("repeated failures block", func(t *testing.T) {
		d := newDecider(t, "rules: []\n")
		expect(t, d.Decide(ctx, mkScore(ip, t0, 75)), ip+" CHALLENGE(ladder) new")
		expect(t, d.Feedback(fb(ip, failed, t0.Add(time.Second), 0), t0))
		expect(t, d.Feedback(fb(ip, failed, t0.Add(2*time.Second), 0), t0))
		expect(t, d.Feedback(fb(ip, failed, t0.Add(3*time.Second), 0), t0), ip+" BLOCK(challenge_failures) upgrade")
	})
	t.Run("failures far apart do not", func(t *testing.T) {
		d := newDecider(t, "rules: []\n")
		for i := range 5 {
			at := t0.Add(time.Duration(i) * 11 * time.Minute)
			expect(t, d.Feedback(fb(ip, failed, at, 0), at))
		}
	})
	t.Run("instant solves block", func(t *testing.T) {
		d := newDecider(t, "rules: []\n")
		expect(t, d.Decide(ctx, mkScore(ip, t0, 75)), ip+" CHALLENGE(ladder) new")
		expect(t, d.Feedback(fb(ip, passed, t0.Add(time.Second), 3*time.Millisecond), t0), ip+" - lift")
		expect(t, d.Feedback(fb(ip, passed, t0.Add(2*time.Second), 4*time.Millisecond), t0), ip+" BLOCK(challenge_inhuman) new")
	})
	t.Run("identical solve times block", func(t *testing.T) {
		d := newDecider(t, "rules: []\n")
		expect(t, d.Feedback(fb(ip, passed, t0, 812*time.Millisecond), t0))
		expect(t, d.Feedback(fb(ip, passed, t0.Add(time.Minute), 812*time.Millisecond), t0))
		expect(t, d.Feedback(fb(ip, passed, t0.Add(2*time.Minute), 812*time.Millisecond), t0), ip+" BLOCK(challenge_inhuman) new")
	})
	t.Run("labels", func(t *testing.T) {
		d := newDecider(t, "rules: []\n")
		expect(t, d.Feedback(fb(ip, eventpb.FeedbackKind_LABEL_BOT, t0, 0), t0), ip+" BLOCK(label_bot) new")
		expect(t, d.Feedback(fb(ip, eventpb.FeedbackKind_LABEL_HUMAN, t0.Add(time.Minute), 0), t0), ip+" - lift")
		expect(t, d.Decide(ctx, mkScore(ip, t0.Add(2*time.Minute), 75)), ip+" MONITOR(ladder) new")
	})
	t.Run("issued, abandoned and bad subjects change nothing", func(t *testing.T) {
		d := newDecider(t, "rules: []\n")
		expect(t, d.Decide(ctx, mkScore(ip, t0, 75)), ip+" CHALLENGE(ladder) new")
		expect(t, d.Feedback(fb(ip, eventpb.FeedbackKind_CHALLENGE_ISSUED, t0, 0), t0))
		expect(t, d.Feedback(fb(ip, eventpb.FeedbackKind_CHALLENGE_ABANDONED, t0, 0), t0))
		expect(t, d.Feedback(fb("nonsense", passed, t0, time.Second), t0))
	})
}
