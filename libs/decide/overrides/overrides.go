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

// ErrBadTTL is returned for a negative TTL.
var ErrBadTTL = errors.New("ttl must not be negative (0: never expires)")

// Rule is the rule name of every operator verdict.
const Rule = "operator"

// Verdict builds an operator verdict on sub (any spelling subject.Parse
// accepts) at now; ttl 0 means it never expires. It returns the canonical
// subject, which is the record's key.
func Verdict(action eventpb.Action, sub string, ttl time.Duration, reason string, now time.Time) (string, *eventpb.Verdict, error) {
	canon, err := subject.Canonical(strings.TrimSpace(sub))
	if err != nil {
		return "", nil, err
	}
	if ttl < 0 {
		return "", nil, ErrBadTTL
	}
	if action < eventpb.Action_ALLOW || action > eventpb.Action_BLOCK {
		return "", nil, fmt.Errorf("operator verdict with action %v", action)
	}
	score := 0.0
	if action >= eventpb.Action_CHALLENGE {
		score = 100
	}
	r := "operator"
	if reason = strings.TrimSpace(reason); reason != "" {
		r += ": " + reason
	}
	v := &eventpb.Verdict{
		Subject: canon, Action: action, Score: score, Reasons: []string{r},
		AtUnixNano: now.UnixNano(), Origin: eventpb.Origin_OPERATOR, Rule: Rule,
	}
	if ttl > 0 {
		v.ExpiresAtUnixNano = now.Add(ttl).UnixNano()
	}
	return canon, v, nil
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
