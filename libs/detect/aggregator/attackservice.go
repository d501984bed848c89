package aggregator

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// attackMetrics count attack mode's output.
type attackMetrics struct {
	records *prometheus.CounterVec // attack records produced, by signal and state
	raised  *prometheus.CounterVec // scores raised by attack mode, by action
	// fpScores counts fp: subjects scored (fpsubject.go).
	fpScores prometheus.Counter
	// control counts operators' records taken from the attacks topic (by
	// action: start, end), controlErrors its fetch and decode errors.
	control       *prometheus.CounterVec
	controlErrors prometheus.Counter
}

func newAttackMetrics(reg prometheus.Registerer) *attackMetrics {
	m := &attackMetrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "aggregator", Name: "attack_records_total",
			Help: "Attack records written to the attacks topic, by signal (failures, no-page, surge) and state (active, ended)."}, []string{"signal", "state"}),
		raised: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "aggregator", Name: "attack_mode_raised_total",
			Help: "Scores raised to CHALLENGE or BLOCK by attack mode, by action."}, []string{"action"}),
		control: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "aggregator", Name: "attack_operator_records_total",
			Help: "Operators' attack records (bulwark attack start|end) taken from the attacks topic, by action (start, end)."}, []string{"action"}),
		fpScores: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "aggregator", Name: "fp_scores_total",
			Help: "Scores of fp: subjects (a fingerprint of an enforcing attack, with the failing addresses seen with it)."}),
		controlErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "aggregator", Name: "attack_follow_errors_total",
			Help: "Fetch and decode errors reading the attacks topic for operators' records."}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.raised, m.fpScores, m.control, m.controlErrors)
	}
	return m
}

// produceAttacks writes the attack records the engine raised to the attacks
// topic, in the open transaction: an attack is recorded exactly when the
// events that raised it are committed.
func (a *Aggregator) produceAttacks(ctx context.Context, sess *kgo.GroupTransactSession, eng *Engine, promise *kgo.FirstErrPromise) error {
	return a.produceAttackRecords(ctx, sess, eng.TakeAttacks(), promise)
}

// produceAttackRecords writes attack records in the open transaction.
func (a *Aggregator) produceAttackRecords(ctx context.Context, sess *kgo.GroupTransactSession, recs []*eventpb.Attack, promise *kgo.FirstErrPromise) error {
	for _, at := range recs {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(at)
		if err != nil {
			return fmt.Errorf("marshal attack %s: %w", at.GetId(), err)
		}
		state := "active"
		if at.GetEndedUnixNano() != 0 {
			state = "ended"
			a.log.Info("attack ended", "attack", at.GetId(), "strength", at.GetStrength())
		} else if at.GetTimeUnixNano()-at.GetStartedUnixNano() <= int64(attackStartSlack) {
			a.log.Warn("attack", "attack", at.GetId(), "enforcing", at.GetEnforcing(), "reason", at.GetReason())
		}
		a.am.records.WithLabelValues(at.GetSignal(), state).Inc()
		sess.Produce(ctx, &kgo.Record{Topic: a.kcfg.Topics.Attacks, Key: []byte(at.GetId()), Value: b}, promise.Promise())
	}
	return nil
}
