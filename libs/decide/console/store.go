package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdictlog"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

// verdictChange is one record of the verdict topic for a subject: a
// verdict, or a lift (V nil) seen at At.
type verdictChange struct {
	At time.Time
	V  *eventpb.Verdict
}

// store is what the console knows from Kafka: the verdict table (as every
// sidecar holds it) with each subject's recent changes, and, without
// ClickHouse, recent requests and feedback per client.
type store struct {
	table    *verdicttable.Table
	reader   *verdictlog.Reader
	history  *recent[verdictChange]
	requests *recent[*eventpb.RequestEvent] // nil with ClickHouse
	feedback *recent[*eventpb.Feedback]     // nil with ClickHouse
	scores   *recent[*eventpb.Score]        // nil with ClickHouse
	// audits holds recent audit records by subject, and all under "".
	audits *recent[*eventpb.AuditEvent]
	// deciders: each decider's answer to the live policy (deciders.go).
	deciders deciderReports
	kcfg     kafka.Config
	log      *slog.Logger
	skipped  *prometheus.CounterVec
}

// historyPerSubject is how many verdict changes a subject's page lists.
const historyPerSubject = 20

func newStore(c Config, kcfg kafka.Config, fromTopics bool, log *slog.Logger, reg prometheus.Registerer) *store {
	s := &store{
		table: verdicttable.New(), kcfg: kcfg, log: log,
		history: newRecent[verdictChange](c.RecentClients, historyPerSubject),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_console_records_skipped_total",
			Help: "Records of the requests or feedback topic the console could not decode, by topic.",
		}, []string{"topic"}),
	}
	if reg != nil {
		reg.MustRegister(s.skipped)
	}
	s.audits = newRecent[*eventpb.AuditEvent](c.RecentClients, auditShown)
	if fromTopics {
		s.requests = newRecent[*eventpb.RequestEvent](c.RecentClients, c.RecentRequests)
		s.feedback = newRecent[*eventpb.Feedback](c.RecentClients, historyPerSubject)
		s.scores = newRecent[*eventpb.Score](c.RecentClients, historyPerSubject)
	}
	s.reader = verdictlog.New(kcfg, "console", s.applyVerdict, log, reg)
	return s
}

func (s *store) applyVerdict(key string, v *eventpb.Verdict) {
	if err := s.table.Apply(key, v); err != nil {
		s.log.Warn("skip verdict record", "key", key, "err", err)
		return
	}
	at := time.Now()
	if v != nil && v.GetAtUnixNano() != 0 {
		at = time.Unix(0, v.GetAtUnixNano())
	}
	s.history.add(key, verdictChange{At: at, V: v})
}

// run follows the topics until ctx is done.
func (s *store) run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.reader.Run(ctx) })
	g.Go(func() error {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-t.C:
				s.table.Sweep(now)
			}
		}
	})
	g.Go(func() error { return s.follow(ctx, s.kcfg.Topics.Audit, 30*24*time.Hour, s.applyAudit) })
	if s.requests != nil {
		// The last hour of requests is what a client page shows.
		g.Go(func() error { return s.follow(ctx, s.kcfg.Topics.Requests, time.Hour, s.applyRequest) })
		g.Go(func() error { return s.follow(ctx, s.kcfg.Topics.Feedback, 7*24*time.Hour, s.applyFeedback) })
		g.Go(func() error { return s.follow(ctx, s.kcfg.Topics.Scores, time.Hour, s.applyScore) })
	}
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// follow reads topic from since ago on, without a consumer group (every
// console replica keeps its own memory).
func (s *store) follow(ctx context.Context, topic string, since time.Duration, apply func(*kgo.Record) error) error {
	cl, err := kafka.NewClient(s.kcfg.WithClientID("console"), nil,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(time.Now().Add(-since).UnixMilli())))
	if err != nil {
		return fmt.Errorf("console reader of %s: %w", topic, err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.log.Warn("fetch", "topic", t, "partition", p, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if err := apply(r); err != nil {
				s.skipped.WithLabelValues(topic).Inc()
				s.log.Debug("skip record", "topic", topic, "offset", r.Offset, "err", err)
			}
		})
	}
}

func (s *store) applyRequest(r *kgo.Record) error {
	ev := &eventpb.RequestEvent{}
	if err := proto.Unmarshal(r.Value, ev); err != nil {
		return err
	}
	if ip, err := subject.Canonical(ev.GetClientIp()); err == nil {
		s.requests.add(ip, ev)
	}
	if id := ev.GetSessionId(); id != "" {
		s.requests.add(subject.Session(id), ev)
	}
	return nil
}

func (s *store) applyFeedback(r *kgo.Record) error {
	f := &eventpb.Feedback{}
	if err := proto.Unmarshal(r.Value, f); err != nil {
		return err
	}
	key := f.GetSubject()
	if key == "" {
		key = string(r.Key)
	}
	s.feedback.add(key, f)
	return nil
}

// auditShown is how many audit records the audit page lists.
const auditShown = 200

func (s *store) applyAudit(r *kgo.Record) error {
	a := &eventpb.AuditEvent{}
	if err := proto.Unmarshal(r.Value, a); err != nil {
		return err
	}
	s.audits.add("", a)
	if isDeciderReport(a) {
		s.deciders.add(a)
	}
	if a.GetSubject() != "" {
		s.audits.add(a.GetSubject(), a)
	}
	return nil
}

func (s *store) applyScore(r *kgo.Record) error {
	sc := &eventpb.Score{}
	if err := proto.Unmarshal(r.Value, sc); err != nil {
		return err
	}
	key := sc.GetSubject()
	if key == "" {
		key = string(r.Key)
	}
	s.scores.add(key, sc)
	return nil
}
