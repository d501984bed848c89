// Package feedback carries challenge outcomes and operator labels on the
// feedback topic (bulwark.feedback.v1, eventpb.Feedback keyed by subject):
// Publisher is the challenge pages' Sink, Label builds an operator's
// record, and Write publishes one synchronously (the CLI).
package feedback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// Publisher produces feedback records without making the page that caused
// them wait: records are buffered (up to maxBuffered) and sent by the
// client; when Kafka is away and the buffer is full a record is dropped
// and counted, never blocking a visitor.
type Publisher struct {
	cl      *kgo.Client
	topic   string
	log     *slog.Logger
	sent    *prometheus.CounterVec
	dropped *prometheus.CounterVec
}

const maxBuffered = 10000

// NewPublisher builds a publisher to the feedback topic of cfg; source
// labels its metrics ("gate", "sidecar").
func NewPublisher(cfg kafka.Config, source string, log *slog.Logger, reg prometheus.Registerer) (*Publisher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cl, err := kafka.NewClient(cfg.WithClientID("feedback-"+source), reg,
		kgo.DefaultProduceTopic(cfg.Topics.Feedback),
		kgo.MaxBufferedRecords(maxBuffered),
		kgo.ProducerLinger(20*time.Millisecond),
	)
	if err != nil {
		return nil, fmt.Errorf("feedback publisher: %w", err)
	}
	cl2 := prometheus.Labels{"source": source}
	p := &Publisher{
		cl: cl, topic: cfg.Topics.Feedback, log: log.With("component", "feedback"),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_feedback_published_total", Help: "Feedback records acknowledged by Kafka, by kind.", ConstLabels: cl2,
		}, []string{"kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_feedback_dropped_total", Help: "Feedback records not published, by reason (buffer_full, kafka).", ConstLabels: cl2,
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(p.sent, p.dropped)
	}
	return p, nil
}

// Publish sends f keyed by its subject.
func (p *Publisher) Publish(ctx context.Context, f *eventpb.Feedback) {
	b, err := proto.Marshal(f)
	if err != nil {
		p.dropped.WithLabelValues("encode").Inc()
		return
	}
	kind := f.GetKind().String()
	p.cl.TryProduce(ctx, &kgo.Record{Key: []byte(f.GetSubject()), Value: b}, func(_ *kgo.Record, err error) {
		switch {
		case err == nil:
			p.sent.WithLabelValues(kind).Inc()
		case errors.Is(err, kgo.ErrMaxBuffered):
			p.dropped.WithLabelValues("buffer_full").Inc()
		default:
			p.dropped.WithLabelValues("kafka").Inc()
			p.log.Warn("publish feedback", "subject", f.GetSubject(), "kind", kind, "err", err)
		}
	})
}

// Close sends what is buffered (within ctx) and closes the client.
func (p *Publisher) Close(ctx context.Context) error {
	err := p.cl.Flush(ctx)
	p.cl.Close()
	if err != nil {
		return fmt.Errorf("flush feedback: %w", err)
	}
	return nil
}

// Label is an operator's label of a subject: human or bot.
func Label(subj, label, reason string, now time.Time) (*eventpb.Feedback, error) {
	sub, err := subject.Parse(subj)
	if err != nil {
		return nil, err
	}
	key := sub.String()
	if sub.Kind == subject.KindFP && label == "bot" {
		// Many people share a browser build: labelling one a bot would
		// label them all.
		return nil, fmt.Errorf("label %s bot: a fingerprint alone is never blocked; to act on it, force attack mode with it: bulwark attack start CLASS --fingerprint %s --reason TEXT", key, key)
	}
	f := &eventpb.Feedback{Subject: key, TimeUnixNano: now.UnixNano(), Reason: reason, Source: "cli"}
	switch label {
	case "human":
		f.Kind = eventpb.FeedbackKind_LABEL_HUMAN
	case "bot":
		f.Kind = eventpb.FeedbackKind_LABEL_BOT
	default:
		return nil, fmt.Errorf("label %q: want human or bot", label)
	}
	return f, nil
}

// Write publishes one record and waits for Kafka's acknowledgement.
func Write(ctx context.Context, cfg kafka.Config, f *eventpb.Feedback) error {
	cl, err := kafka.NewClient(cfg.WithClientID("label"), nil, kgo.DefaultProduceTopic(cfg.Topics.Feedback))
	if err != nil {
		return err
	}
	defer cl.Close()
	b, err := proto.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode feedback: %w", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(f.GetSubject()), Value: b}).FirstErr(); err != nil {
		return fmt.Errorf("write feedback for %s to %s: %w", f.GetSubject(), cfg.Topics.Feedback, err)
	}
	return nil
}
