package training

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// FollowConfig is `bulwark train --follow`: retrain on a schedule or after
// a number of new labels on the feedback topic, whichever comes first.
type FollowConfig struct {
	Every       time.Duration // retrain this often (0: no schedule)
	AfterLabels int           // retrain after this many new labels (0: no count)
	Kafka       kafka.Config  // the feedback topic's cluster
	Log         *slog.Logger
	// Retrain trains a candidate and promotes it or keeps it refused
	// (training.Run then Promote, with the feedback's labels).
	Retrain func(context.Context) (*Decision, error)
}

// Validate says what is missing.
func (c FollowConfig) Validate() error {
	switch {
	case c.Every < 0 || c.AfterLabels < 0:
		return errors.New("--every and --after-labels must not be negative")
	case c.Every == 0 && c.AfterLabels == 0:
		return errors.New("--follow needs --every, --after-labels or both: when to retrain")
	case c.Every > 0 && c.Every < time.Second:
		return fmt.Errorf("--every %s: at least 1s", c.Every)
	case c.Retrain == nil:
		return errors.New("follow: no retrain function")
	}
	return nil
}

// Follower runs retrainings for as long as its context lives.
type Follower struct {
	cfg    FollowConfig
	labels atomic.Int64  // evidence records since the last retraining began
	due    chan struct{} // AfterLabels reached (buffered 1)
	gauges *promotionGauges

	labelsGauge prometheus.GaugeFunc
	runs        *prometheus.CounterVec // by trigger and outcome
	unreadable  prometheus.Counter
	took        prometheus.Gauge
	consumed    prometheus.Counter
}

// NewFollower checks cfg and registers the follower's metrics on reg.
func NewFollower(cfg FollowConfig, reg prometheus.Registerer) (*Follower, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	f := &Follower{cfg: cfg, due: make(chan struct{}, 1), gauges: newPromotionGauges(reg)}
	f.labelsGauge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "model_training", Name: "labels_since_last",
		Help: "Feedback records that are evidence (operator labels, passed challenges, failed ones with a failed check) since the last retraining began."},
		func() float64 { return float64(f.labels.Load()) })
	f.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "model_training", Name: "runs_total",
		Help: "Retrainings, by trigger (schedule, labels) and outcome (promoted, refused, failed)."}, []string{"trigger", "outcome"})
	f.unreadable = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "model_training", Name: "feedback_unreadable_total",
		Help: "Feedback records that did not decode (not counted as labels)."})
	f.consumed = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "model_training", Name: "feedback_records_total",
		Help: "Feedback records read while following the topic."})
	f.took = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "model_training", Name: "last_duration_seconds",
		Help: "How long the last retraining (training, evaluation, promotion) took."})
	reg.MustRegister(f.labelsGauge, f.runs, f.unreadable, f.consumed, f.took)
	for _, tr := range []string{"schedule", "labels"} {
		for _, o := range []string{"promoted", "refused", "failed"} {
			f.runs.WithLabelValues(tr, o)
		}
	}
	return f, nil
}

// Run follows the feedback topic and retrains when due, until ctx is done
// (then it returns nil). A retraining that fails is logged and counted and
// the next trigger tries again: the model in force stays.
func (f *Follower) Run(ctx context.Context) error {
	// New labels are those written after the follower started: records
	// older than that were in the topic for the last run's (or the first
	// scheduled run's) read of the whole topic.
	start := time.Now()
	name := f.cfg.Kafka.Topics.Feedback
	cl, err := kafka.NewClient(f.cfg.Kafka.WithClientID("train-follow"), nil, kgo.ConsumeTopics(name),
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(start.UnixMilli())), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return fmt.Errorf("follow %s: %w", name, err)
	}
	defer cl.Close()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- f.count(cctx, cl) }()

	var tick <-chan time.Time
	if f.cfg.Every > 0 {
		t := time.NewTicker(f.cfg.Every)
		defer t.Stop()
		tick = t.C
	}
	f.cfg.Log.Info("following feedback", "topic", name, "every", f.cfg.Every, "after_labels", f.cfg.AfterLabels)
	for {
		var trigger string
		select {
		case <-ctx.Done():
			cancel()
			<-errc
			return nil
		case err := <-errc:
			return err
		case <-tick:
			trigger = "schedule"
		case <-f.due:
			trigger = "labels"
		}
		f.retrain(ctx, trigger)
	}
}

// retrain runs one retraining and records its outcome.
func (f *Follower) retrain(ctx context.Context, trigger string) {
	n := f.labels.Swap(0)
	select { // a label trigger raised meanwhile is answered by this run
	case <-f.due:
	default:
	}
	f.cfg.Log.Info("retraining", "trigger", trigger, "new_labels", n)
	began := time.Now()
	d, err := f.cfg.Retrain(ctx)
	f.took.Set(time.Since(began).Seconds())
	if err != nil {
		if ctx.Err() != nil {
			return // stopping: not a failure of the data
		}
		f.runs.WithLabelValues(trigger, "failed").Inc()
		f.cfg.Log.Error("retraining failed; the model in force stays", "trigger", trigger, "err", err)
		return
	}
	f.gauges.set(d, time.Now())
	outcome := "refused"
	if d.Promoted {
		outcome = "promoted"
	}
	f.runs.WithLabelValues(trigger, outcome).Inc()
	args := []any{"trigger", trigger, "outcome", outcome, "reason", d.Reason,
		"candidate_precision", d.Candidate.Precision, "candidate_recall", d.Candidate.Recall, "kept", d.Kept,
		"took", time.Since(began).Round(time.Millisecond)}
	if d.Current != nil {
		args = append(args, "in_force_precision", d.Current.Precision, "in_force_recall", d.Current.Recall)
	}
	f.cfg.Log.Info("model promotion", args...)
}

// count reads new feedback records and raises due when AfterLabels of them
// are evidence.
func (f *Follower) count(ctx context.Context, cl *kgo.Client) error {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		for _, fe := range fs.Errors() {
			// franz-go retries broker errors itself; what reaches here is
			// worth a log line, not a stop (the schedule still runs).
			f.cfg.Log.Warn("reading feedback", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			f.consumed.Inc()
			fb := &eventpb.Feedback{}
			if err := proto.Unmarshal(r.Value, fb); err != nil {
				f.unreadable.Inc()
				return
			}
			if !Evidence(fb) {
				return
			}
			if n := f.labels.Add(1); f.cfg.AfterLabels > 0 && n >= int64(f.cfg.AfterLabels) {
				select {
				case f.due <- struct{}{}:
				default:
				}
			}
		})
	}
}
