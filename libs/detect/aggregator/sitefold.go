package aggregator

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// Site-wide across partitions (BULWARK_AGGREGATOR_ATTACK_SITE_WIDE, see
// libs/detect/attacks fold.go). Every partition's engine counts its share
// and writes a SiteCounts record per minute of its event time to the
// site-counts topic, in the transaction of the events it counts. Every
// aggregator follows that topic from its start (its retention is the
// baselines' history, so a starting aggregator rebuilds the site-wide
// baselines from it) and folds the records into one attacks.Fold, which
// every engine it runs judges its clients by. The attack records of the
// fold are written by the aggregator that holds requests partition 0, in
// that partition's transaction, once: the newest record time it wrote is in
// partition 0's state (Engine.sitePublished), so a restart that rebuilds the
// fold does not write the same records again.

// siteFold is the aggregator's fold and the records waiting for it.
type siteFold struct {
	fold *attacks.Fold

	mu    sync.Mutex
	queue []*eventpb.SiteCounts // read by the follower, not yet folded

	out     []*eventpb.Attack // the fold's records, for partition 0's transaction
	counted attacks.FoldStats // already in the metrics
	folded  prometheus.Counter
	late    prometheus.Counter
	errors  prometheus.Counter
}

func newSiteFold(cfg attacks.Config, reg prometheus.Registerer) *siteFold {
	s := &siteFold{
		fold: attacks.NewFold(cfg),
		folded: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "aggregator", Name: "site_counts_folded_total",
			Help: "Per-partition minute counts folded into the site-wide baselines."}),
		late: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "aggregator", Name: "site_counts_late_total",
			Help: "Per-partition minute counts dropped because their minute was folded before they came (the partition had sent nothing for 30 s while behind the others)."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "aggregator", Name: "site_counts_follow_errors_total",
			Help: "Fetch and decode errors reading the site-counts topic."}),
	}
	if reg != nil {
		reg.MustRegister(s.folded, s.late, s.errors)
	}
	return s
}

func (s *siteFold) push(recs []*eventpb.SiteCounts) {
	s.mu.Lock()
	s.queue = append(s.queue, recs...)
	s.mu.Unlock()
}

// apply folds what the follower read. It runs on Run's goroutine, as the
// engines that read the fold do; owner says this aggregator holds
// requests partition 0 and so writes the fold's records.
func (s *siteFold) apply(owner bool) {
	s.mu.Lock()
	q := s.queue
	s.queue = nil
	s.mu.Unlock()
	now := time.Now()
	for _, sc := range q {
		s.fold.Add(sc, now)
	}
	if s.fold.Advance(now) {
		recs := s.fold.Detector().Take()
		if owner {
			s.out = append(s.out, recs...)
		}
	}
	if !owner {
		s.out = nil
	}
	st := s.fold.Stats()
	s.folded.Add(float64(st.Records - s.counted.Records))
	s.late.Add(float64(st.Late - s.counted.Late))
	s.counted = st
}

// prune drops the records written in a committed transaction.
func (s *siteFold) prune(published int64) {
	keep := s.out[:0]
	for _, at := range s.out {
		if at.GetTimeUnixNano() > published {
			keep = append(keep, at)
		}
	}
	clear(s.out[len(keep):])
	s.out = keep
}

// ensureSiteCountsTopic creates the site-counts topic as the contract
// specifies it, if it does not exist.
func (a *Aggregator) ensureSiteCountsTopic(ctx context.Context, adm *kadm.Client) error {
	for _, s := range a.kcfg.Topics.Specs(1, -1) {
		if s.Name == a.kcfg.Topics.SiteCounts {
			return kafka.EnsureTopics(ctx, adm, []kafka.TopicSpec{s})
		}
	}
	return nil
}

// followSiteCounts reads the site-counts topic from its start until ctx
// ends and queues its records for the fold.
func (a *Aggregator) followSiteCounts(ctx context.Context) error {
	topic := a.kcfg.Topics.SiteCounts
	cl, err := kafka.NewClient(a.kcfg.WithClientID("aggregator-site-counts"), nil,
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.WithLogger(kafka.Logger(a.log)))
	if err != nil {
		return fmt.Errorf("site-counts topic follower: %w", err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			a.sf.errors.Inc()
			a.log.Warn("fetch site-counts topic", "topic", t, "partition", p, "err", err)
		})
		var recs []*eventpb.SiteCounts
		fs.EachRecord(func(r *kgo.Record) {
			sc := &eventpb.SiteCounts{}
			if err := proto.Unmarshal(r.Value, sc); err != nil {
				a.sf.errors.Inc()
				a.log.Warn("undecodable record on the site-counts topic", "offset", r.Offset, "err", err)
				return
			}
			recs = append(recs, sc)
		})
		if len(recs) > 0 {
			a.sf.push(recs)
			a.wakePoll()
		}
	}
}

// produceSiteCounts writes the minute counts partition id's engine closed,
// in the open transaction.
func (a *Aggregator) produceSiteCounts(ctx context.Context, sess *kgo.GroupTransactSession, id int32, eng *Engine, promise *kgo.FirstErrPromise) error {
	for _, sc := range eng.TakeSiteCounts() {
		sc.Partition, sc.Partitions = id, a.nparts
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(sc)
		if err != nil {
			return fmt.Errorf("marshal site counts: %w", err)
		}
		sess.Produce(ctx, &kgo.Record{Topic: a.kcfg.Topics.SiteCounts, Key: []byte(strconv.Itoa(int(id))), Value: b}, promise.Promise())
	}
	return nil
}

// foldPending reports whether the fold has records for this aggregator to
// write: a transaction is begun for them when no request came.
func (a *Aggregator) foldPending() bool {
	if a.sf == nil || len(a.sf.out) == 0 {
		return false
	}
	p0, ok := a.parts[0]
	return ok && !p0.fresh && a.sf.out[len(a.sf.out)-1].GetTimeUnixNano() > p0.eng.sitePublished
}

// produceFoldAttacks writes the fold's attack records in the open
// transaction when this aggregator holds partition 0 (loaded): those newer
// than the newest it wrote before, which partition 0's state keeps.
func (a *Aggregator) produceFoldAttacks(ctx context.Context, sess *kgo.GroupTransactSession, promise *kgo.FirstErrPromise) error {
	p0, ok := a.parts[0]
	if !ok || p0.fresh || len(a.sf.out) == 0 {
		return nil
	}
	// The records stay in out until the transaction commits (prune): an
	// aborted one reloads partition 0's state, and they are written again.
	var recs []*eventpb.Attack
	for _, at := range a.sf.out {
		if at.GetTimeUnixNano() > p0.eng.sitePublished {
			recs = append(recs, at)
		}
	}
	if len(recs) == 0 {
		return nil
	}
	for _, at := range recs {
		p0.eng.sitePublished = max(p0.eng.sitePublished, at.GetTimeUnixNano())
	}
	p0.touched = true // its state (sitePublished) is written with the records
	return a.produceAttackRecords(ctx, sess, recs, promise)
}
