// Package overrides writes operator verdicts (`bulwark block|allow|unblock`)
// straight to the compacted verdict topic, where the decider, the sidecar
// and the edge syncers all read them. An operator verdict (origin OPERATOR)
// wins over computed ones until it expires; an unblock is a tombstone.
package overrides

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// ErrBadTTL is returned (wrapped) for a TTL that is not positive: an
// override that never expires is refused.
var ErrBadTTL = errors.New("ttl must be positive")

// ErrFingerprintAction is returned (wrapped) for an operator BLOCK,
// CHALLENGE or MONITOR on an fp: subject. Many people share a browser
// build: a fingerprint is blocked only with an active attack, through the
// addresses that show it there. An operator's ALLOW on fp:HEX (it lifts
// what the fingerprint's verdict added, never an address's own verdict)
// and an unblock are accepted.
var ErrFingerprintAction = errors.New("a fingerprint alone is never blocked or challenged")

// Rule is the rule name of every operator verdict.
const Rule = "operator"

// Request is one operator override to write.
type Request struct {
	Action eventpb.Action
	// Subject is any spelling subject.Parse accepts.
	Subject string
	TTL     time.Duration
	Reason  string
	// Force writes a network wider than the limits allow (never a TTL
	// beyond them); the verdict's reasons then say it was forced.
	Force bool
}

// Verdict builds the operator verdict of req at now, within l. It returns
// the canonical subject, which is the record's key.
func (l Limits) Verdict(req Request, now time.Time) (string, *eventpb.Verdict, error) {
	sub, err := subject.Parse(strings.TrimSpace(req.Subject))
	if err != nil {
		return "", nil, err
	}
	if err := l.CheckTTL(req.TTL); err != nil {
		return "", nil, err
	}
	var forced string
	if err := l.CheckWidth(sub); err != nil {
		if !req.Force {
			return "", nil, err
		}
		// Said in the verdict, so whoever reads it sees it was on purpose.
		forced = "forced: wider than the override limit"
	}
	action := req.Action
	if action < eventpb.Action_ALLOW || action > eventpb.Action_BLOCK {
		return "", nil, fmt.Errorf("operator verdict with action %v", action)
	}
	if sub.Kind == subject.KindFP && action != eventpb.Action_ALLOW {
		return "", nil, fmt.Errorf("%w: to act on %s, force attack mode with it: bulwark attack start CLASS --fingerprint %s --reason TEXT (its addresses are then challenged on the class and blocked once they fail there); allow and unblock are accepted",
			ErrFingerprintAction, sub, sub)
	}
	score := 0.0
	if action >= eventpb.Action_CHALLENGE {
		score = 100
	}
	r := "operator"
	if reason := strings.TrimSpace(req.Reason); reason != "" {
		r += ": " + reason
	}
	reasons := []string{r}
	if forced != "" {
		reasons = append(reasons, forced)
	}
	canon := sub.String()
	v := &eventpb.Verdict{
		Subject: canon, Action: action, Score: score, Reasons: reasons,
		AtUnixNano: now.UnixNano(), Origin: eventpb.Origin_OPERATOR, Rule: Rule,
		ExpiresAtUnixNano: now.Add(req.TTL).UnixNano(),
	}
	return canon, v, nil
}

// Verdict builds an operator verdict on sub (any spelling subject.Parse
// accepts) at now, within DefaultLimits and without force.
func Verdict(action eventpb.Action, sub string, ttl time.Duration, reason string, now time.Time) (string, *eventpb.Verdict, error) {
	return DefaultLimits().Verdict(Request{Action: action, Subject: sub, TTL: ttl, Reason: reason}, now)
}

// Write writes v (nil: a tombstone, which lifts any verdict) on the
// canonical subject key and waits for the broker's acknowledgement.
func Write(ctx context.Context, cfg kafka.Config, key string, v *eventpb.Verdict) error {
	rec := &kgo.Record{Topic: cfg.Topics.Verdicts, Key: []byte(key)}
	if v != nil {
		b, err := proto.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode verdict: %w", err)
		}
		rec.Value = b
	}
	// The default partitioner is the one the decider uses: a subject's
	// records must land in one partition for their order to hold.
	cl, err := kafka.NewClient(cfg, nil, kgo.RecordDeliveryTimeout(15*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("write to %s: %w", cfg.Topics.Verdicts, err)
	}
	return nil
}
