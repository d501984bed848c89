// Package policy carries the live policy (rules.LivePolicy: thresholds,
// TTLs, learning mode, allow lists) on the compacted policy topic
// (bulwark.policy.v1, one key): the console writes it, every decider
// follows it and lays it over its rule file. The latest record is the
// policy in force; an empty one (or a tombstone) returns to the file.
// Compaction keeps it across restarts, and every decider reads the topic
// from its start, so they all converge on the same policy.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// Key is the key of every policy record.
const Key = "live"

// Digest names a policy document in status reports: the first 16 hex
// digits of its SHA-256 ("" for none, the rule files alone). The console
// compares a decider's reported digest with the policy it shows.
func Digest(doc []byte) string {
	if len(doc) == 0 {
		return ""
	}
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:8])
}

// StatusAction is the action of a decider's status record on the audit
// topic (see package decider): what it did with the latest policy.
const StatusAction = "policy_status"

// StatusRole is the role of those records; their actor is "decider:NAME".
const StatusRole = "decider"

// Write puts doc in force everywhere (after checking it decodes); an empty
// doc returns to the rule files. It waits for Kafka's acknowledgement.
func Write(ctx context.Context, kcfg kafka.Config, doc []byte) error {
	if _, err := rules.ParseLive(doc); err != nil {
		return err
	}
	cl, err := kafka.NewClient(kcfg.WithClientID("policy"), nil, kgo.RecordDeliveryTimeout(15*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: kcfg.Topics.Policy, Key: []byte(Key), Value: doc}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("write the live policy to %s: %w", kcfg.Topics.Policy, err)
	}
	return nil
}

// Follower reads the policy topic from its start and hands every policy
// record to apply, in order.
type Follower struct {
	kcfg    kafka.Config
	apply   func(doc []byte, at time.Time)
	log     *slog.Logger
	ready   chan struct{}
	records prometheus.Counter
}

// NewFollower builds a follower; name labels its metrics (decider, console).
func NewFollower(kcfg kafka.Config, name string, apply func(doc []byte, at time.Time), log *slog.Logger, reg prometheus.Registerer) *Follower {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Follower{kcfg: kcfg, apply: apply, log: log.With("component", "policy"), ready: make(chan struct{}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bulwark_policy_records_total", Help: "Live policy records read from the policy topic.",
			ConstLabels: prometheus.Labels{"reader": name},
		})}
	if reg != nil {
		reg.MustRegister(f.records)
	}
	return f
}

// Ready is closed once every record on the topic when Run started has
// been applied.
func (f *Follower) Ready() <-chan struct{} { return f.ready }

// Run follows the topic until ctx is done.
func (f *Follower) Run(ctx context.Context) error {
	topic := f.kcfg.Topics.Policy
	cl, err := kafka.NewClient(f.kcfg.WithClientID("policy-reader"), nil,
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return fmt.Errorf("policy reader: %w", err)
	}
	defer cl.Close()
	end, err := f.endOffsets(ctx, cl, topic)
	if err != nil {
		return err
	}
	next := map[int32]int64{}
	f.checkReady(end, next)
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				f.log.Warn("fetch policy", "topic", t, "partition", p, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if string(r.Key) != Key {
				f.log.Warn("record with an unknown key on the policy topic, skipped", "key", string(r.Key), "offset", r.Offset)
				return
			}
			f.records.Inc()
			f.apply(r.Value, r.Timestamp)
		})
		f.checkReady(end, next)
	}
}

// endOffsets asks for the topic's end offsets, retrying until Kafka
// answers or ctx is done.
func (f *Follower) endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	adm := kadm.NewClient(cl)
	for {
		offs, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = offs.Error()
		}
		if err == nil {
			end := map[int32]int64{}
			offs.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
			return end, nil
		}
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			// No policy was ever written where nobody created the topic:
			// the rule files hold, and the topic is read once it exists.
			f.log.Warn("no policy topic yet; the rule file is in force", "topic", topic)
			return map[int32]int64{}, nil
		}
		f.log.Warn("policy topic end offsets", "topic", topic, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (f *Follower) checkReady(end, next map[int32]int64) {
	select {
	case <-f.ready:
		return
	default:
	}
	for p, e := range end {
		if next[p] < e {
			return
		}
	}
	close(f.ready)
}
