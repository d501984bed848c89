package decider

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/decide/policy"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// liveReports tells operators what this decider did with the live policy:
// one AuditEvent on the audit topic per policy record (actor
// "decider:NAME", role "decider", action "policy_status", detail the
// policy's digest, result "ok" or "refused: why"). The console already
// follows the audit topic, so it shows each decider's latest answer beside
// the policy with no address of the deciders to configure, and the answer
// is kept (and lands in ClickHouse's audit table) with the change it
// answers.
type liveReports struct {
	actor   string
	log     *slog.Logger
	results *prometheus.CounterVec

	mu sync.Mutex
	cl *kgo.Client // nil until the follower has caught up
	// pending is the answer to the latest record read while catching up:
	// a restart reports where it stands, not every policy of the topic.
	pending *eventpb.AuditEvent
}

func newLiveReports(name string, log *slog.Logger, reg prometheus.Registerer) *liveReports {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulwark_decider_policy_reports_total",
		Help: "Policy status records written to the audit topic (ok), or lost (failed: logged; the decider still runs the policy it reports).",
	}, []string{"result"})
	if reg != nil {
		reg.MustRegister(c)
	}
	l := &liveReports{actor: "decider:" + name, log: log, results: c}
	// Until a record is read, this decider runs its rule file alone.
	l.pending = l.event(nil, time.Time{}, nil)
	return l
}

func (l *liveReports) event(doc []byte, written time.Time, err error) *eventpb.AuditEvent {
	ev := &eventpb.AuditEvent{TimeUnixNano: time.Now().UnixNano(), Actor: l.actor, Role: policy.StatusRole,
		Action: policy.StatusAction, Detail: policy.Digest(doc), Result: "ok"}
	if !written.IsZero() {
		ev.Reason = "policy written " + written.UTC().Format(time.RFC3339)
	}
	if err != nil {
		ev.Result = "refused: " + err.Error()
	}
	return ev
}

// report records what was done with doc: written now once caught up,
// else kept for start.
func (l *liveReports) report(doc []byte, written time.Time, err error) {
	ev := l.event(doc, written, err)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cl == nil {
		l.pending = ev
		return
	}
	l.produce(ev)
}

// start writes the pending answer and every later one with cl.
func (l *liveReports) start(cl *kgo.Client) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cl = cl
	if l.pending != nil {
		l.produce(l.pending)
		l.pending = nil
	}
}

// stop ends writing before cl is closed.
func (l *liveReports) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cl = nil
}

// produce does not wait: the policy follower must not stall on the audit
// topic. A lost report is logged and counted; it changes no decision.
func (l *liveReports) produce(ev *eventpb.AuditEvent) {
	b, err := proto.Marshal(ev)
	if err != nil {
		l.results.WithLabelValues("failed").Inc()
		l.log.Error("encode policy status", "err", err)
		return
	}
	l.cl.Produce(context.Background(), &kgo.Record{Key: []byte(l.actor), Value: b}, func(_ *kgo.Record, err error) {
		if err != nil {
			l.results.WithLabelValues("failed").Inc()
			l.log.Warn("policy status not written to the audit topic", "digest", ev.GetDetail(), "result", ev.GetResult(), "err", err)
			return
		}
		l.results.WithLabelValues("ok").Inc()
	})
}
