package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// Topics holds the topic names (contract, ARCHITECTURE.md), overridable per
// deployment with BULWARK_TOPIC_*.
type Topics struct {
	Requests    string `env:"TOPIC_REQUESTS" envDefault:"bulwark.requests.v1" help:"Topic of parsed requests, keyed by client IP."`
	RequestsDLQ string `env:"TOPIC_REQUESTS_DLQ" envDefault:"bulwark.requests.dlq.v1" help:"Dead-letter topic: raw lines that could not be used, with the reason."`
	Scores      string `env:"TOPIC_SCORES" envDefault:"bulwark.scores.v1" help:"Topic of scores, keyed by subject."`
	Verdicts    string `env:"TOPIC_VERDICTS" envDefault:"bulwark.verdicts.v1" help:"Compacted topic of verdicts, keyed by subject; a tombstone lifts a verdict."`
	// Feedback holds challenge outcomes and operator labels, keyed by subject.
	Feedback string `env:"TOPIC_FEEDBACK" envDefault:"bulwark.feedback.v1" help:"Topic of challenge outcomes and operator labels, keyed by subject."`
	// Audit holds every operator action taken in the console, keyed by actor.
	Audit string `env:"TOPIC_AUDIT" envDefault:"bulwark.audit.v1" help:"Topic of operator actions (who, when, why, what), written by the console."`
	// Policy holds the live policy laid over the rule file (rules.LivePolicy).
	Policy string `env:"TOPIC_POLICY" envDefault:"bulwark.policy.v1" help:"Compacted topic of the live policy (thresholds, TTLs, learning, allow lists) set from the console and laid over the rule file by every decider."`
	// Attacks holds site-wide anomalies per endpoint class (libs/detect/attacks).
	Attacks string `env:"TOPIC_ATTACKS" envDefault:"bulwark.attacks.v1" help:"Topic of attack records (site-wide anomalies per endpoint class), keyed by attack id."`
	// SiteCounts holds each requests partition's per-minute counts per
	// endpoint class, folded by every aggregator into site-wide baselines.
	SiteCounts string `env:"TOPIC_SITE_COUNTS" envDefault:"bulwark.site-counts.v1" help:"Topic of per-partition, per-minute counts per endpoint class that every aggregator folds into the site-wide baselines of attack mode, keyed by partition."`
}

// DefaultTopics returns the contract names.
func DefaultTopics() Topics {
	return Topics{
		Requests:    "bulwark.requests.v1",
		RequestsDLQ: "bulwark.requests.dlq.v1",
		Scores:      "bulwark.scores.v1",
		Verdicts:    "bulwark.verdicts.v1",
		Feedback:    "bulwark.feedback.v1",
		Audit:       "bulwark.audit.v1",
		Policy:      "bulwark.policy.v1",
		Attacks:     "bulwark.attacks.v1",
		SiteCounts:  "bulwark.site-counts.v1",
	}
}

// Validate checks that every name is set and that they are distinct.
func (t Topics) Validate() error {
	seen := map[string]string{}
	for _, f := range []struct{ v, name string }{
		{t.Requests, "TOPIC_REQUESTS"}, {t.RequestsDLQ, "TOPIC_REQUESTS_DLQ"},
		{t.Scores, "TOPIC_SCORES"}, {t.Verdicts, "TOPIC_VERDICTS"},
		{t.Feedback, "TOPIC_FEEDBACK"}, {t.Audit, "TOPIC_AUDIT"},
		{t.Policy, "TOPIC_POLICY"}, {t.Attacks, "TOPIC_ATTACKS"},
		{t.SiteCounts, "TOPIC_SITE_COUNTS"},
	} {
		if f.v == "" {
			return config.Invalid(f.name, "topic name must not be empty")
		}
		if other, ok := seen[f.v]; ok {
			return config.Invalid(f.name, "topic %q is also BULWARK_%s", f.v, other)
		}
		seen[f.v] = f.name
	}
	return nil
}

// TopicSpec is one topic to create, with its configs.
type TopicSpec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16 // -1: the broker's default
	Configs           map[string]string
}

// Specs returns the topics of ARCHITECTURE.md with their policies: requests kept
// 7 days, the DLQ 14 days (a person has to look at it), scores 1 day, and
// verdicts compacted, with tombstones kept a day so every reader sees a lift.
func (t Topics) Specs(partitions int32, replication int16) []TopicSpec {
	day := int64(24 * time.Hour / time.Millisecond)
	ms := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []TopicSpec{
		{Name: t.Requests, Partitions: partitions, ReplicationFactor: replication, Configs: map[string]string{
			"cleanup.policy": "delete", "retention.ms": ms(7 * day), "compression.type": "producer",
		}},
		{Name: t.RequestsDLQ, Partitions: 1, ReplicationFactor: replication, Configs: map[string]string{
			"cleanup.policy": "delete", "retention.ms": ms(14 * day),
		}},
		{Name: t.Scores, Partitions: partitions, ReplicationFactor: replication, Configs: map[string]string{
			"cleanup.policy": "delete", "retention.ms": ms(day),
		}},
		{Name: t.Verdicts, Partitions: partitions, ReplicationFactor: replication, Configs: map[string]string{
			"cleanup.policy": "compact", "delete.retention.ms": ms(day), "min.compaction.lag.ms": "0",
		}},
		// Labels and challenge outcomes are training data: kept 30 days.
		{Name: t.Feedback, Partitions: partitions, ReplicationFactor: replication, Configs: map[string]string{
			"cleanup.policy": "delete", "retention.ms": ms(30 * day),
		}},
		// The audit trail outlives a yearly review; one partition keeps it
		// in the order the actions were taken.
		{Name: t.Audit, Partitions: 1, ReplicationFactor: replication, Configs: map[string]string{
			"cleanup.policy": "delete", "retention.ms": ms(400 * day),
		}},
		// One key, the policy in force: compacted, one partition.
		{Name: t.Policy, Partitions: 1, ReplicationFactor: replication, Configs: map[string]string{
			"cleanup.policy": "compact", "delete.retention.ms": ms(day), "min.compaction.lag.ms": "0",
		}},
		// Attacks are few and read whole (bulwark attack list, the sink):
		// one partition keeps them in order; kept 30 days like the feedback.
		{Name: t.Attacks, Partitions: 1, ReplicationFactor: replication, Configs: map[string]string{
			"cleanup.policy": "delete", "retention.ms": ms(30 * day),
		}},
		// Site-wide counts: a record a minute per requests partition,
		// read whole by every aggregator at its start to rebuild the
		// baselines: kept for their eight days of seasonal history and a
		// day more; one partition keeps each producer's minutes in order.
		{Name: t.SiteCounts, Partitions: 1, ReplicationFactor: replication, Configs: map[string]string{
			"cleanup.policy": "delete", "retention.ms": ms(9 * day),
		}},
	}
}

// EnsureTopics creates the topics that do not exist and sets the listed
// configs on those that do. It is idempotent: running it again changes nothing.
// Existing partition counts are left alone (growing them would move keys).
func EnsureTopics(ctx context.Context, adm *kadm.Client, specs []TopicSpec) error {
	for _, s := range specs {
		configs := make(map[string]*string, len(s.Configs))
		for k, v := range s.Configs {
			configs[k] = &v
		}
		resp, err := adm.CreateTopic(ctx, s.Partitions, s.ReplicationFactor, configs, s.Name)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, kerr.TopicAlreadyExists):
			if err := alterConfigs(ctx, adm, s); err != nil {
				return err
			}
		default:
			return fmt.Errorf("create topic %s: %w", s.Name, err)
		}
	}
	return nil
}

func alterConfigs(ctx context.Context, adm *kadm.Client, s TopicSpec) error {
	if len(s.Configs) == 0 {
		return nil
	}
	alters := make([]kadm.AlterConfig, 0, len(s.Configs))
	for k, v := range s.Configs {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}
	resps, err := adm.AlterTopicConfigs(ctx, alters, s.Name)
	if err != nil {
		return fmt.Errorf("set configs of topic %s: %w", s.Name, err)
	}
	for _, r := range resps {
		if r.Err != nil {
			return fmt.Errorf("set configs of topic %s: %w", s.Name, r.Err)
		}
	}
	return nil
}
