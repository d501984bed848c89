// Package verdictlog reads the compacted verdict topic from its start, with
// no consumer group, and hands every verdict and tombstone to a callback in
// offset order. The sidecar, the edge syncers and the decider each keep their
// own table this way: every replica holds the whole set, which is how
// verdicts replicate across zones (ARCHITECTURE.md).
package verdictlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/backoff"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// Apply receives one record of the verdict topic: v is nil for a tombstone
// (the verdict on subject is lifted). It is called from one goroutine, in
// offset order within a partition; a subject always lives in one partition.
type Apply func(subject string, v *eventpb.Verdict)

// Reader follows the verdict topic.
type Reader struct {
	cfg     kafka.Config
	apply   Apply
	log     *slog.Logger
	metrics *metrics

	ready     chan struct{}
	readyOnce sync.Once
	caughtUp  atomic.Bool
	lag       atomic.Int64
	lastAt    atomic.Int64 // unix nanos of the last record's timestamp
	onStart   func(records int64)
}

// OnStart sets a function that Run calls once, before applying anything,
// with the number of records on the topic (from its start and end offsets;
// compaction may have left fewer live subjects): a size hint, so that a
// table of a million verdicts is not rehashed as it grows. Call it before Run.
func (r *Reader) OnStart(f func(records int64)) { r.onStart = f }

// New builds a reader; name labels its metrics ("sidecar", "cfsync", ...).
func New(cfg kafka.Config, name string, apply Apply, log *slog.Logger, reg prometheus.Registerer) *Reader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reader{
		cfg:     cfg.WithClientID("verdicts-" + name),
		apply:   apply,
		log:     log.With("component", "verdictlog", "reader", name),
		metrics: newMetrics(name, reg),
		ready:   make(chan struct{}),
	}
}

// Ready is closed once the reader has applied every record that was on the
// topic when it started (the high watermarks seen at start).
func (r *Reader) Ready() <-chan struct{} { return r.ready }

// CaughtUp reports whether Ready is closed.
func (r *Reader) CaughtUp() bool { return r.caughtUp.Load() }

// Lag is the number of records behind the high watermarks of the last fetch.
func (r *Reader) Lag() int64 { return r.lag.Load() }

// LastRecordTime is the timestamp of the last record applied (zero if none).
func (r *Reader) LastRecordTime() time.Time {
	if ns := r.lastAt.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Run follows the topic until ctx is done. It retries while Kafka is
// unreachable at start, so a reader started before the broker still comes up.
func (r *Reader) Run(ctx context.Context) error {
	topic := r.cfg.Topics.Verdicts
	cl, err := kafka.NewClient(r.cfg, nil,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return fmt.Errorf("verdict reader: %w", err)
	}
	defer cl.Close()

	start := time.Now()
	targets, err := r.startOffsets(ctx, kadm.NewClient(cl), topic)
	if err != nil {
		return err
	}
	if r.onStart != nil {
		r.onStart(r.records(ctx, kadm.NewClient(cl), topic, targets))
	}
	next := map[int32]int64{}
	r.checkCaughtUp(targets, next, start)

	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.metrics.fetchErrors.Inc()
				r.log.Warn("fetch verdicts", "topic", t, "partition", p, "err", err)
			}
		})
		var lag int64
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, rec := range p.Records {
				r.applyRecord(rec)
				next[p.Partition] = rec.Offset + 1
			}
			if p.HighWatermark > 0 {
				if l := p.HighWatermark - next[p.Partition]; l > 0 {
					lag += l
				}
			}
		})
		r.lag.Store(lag)
		r.metrics.lag.Set(float64(lag))
		r.checkCaughtUp(targets, next, start)
	}
}

func (r *Reader) applyRecord(rec *kgo.Record) {
	r.metrics.records.Inc()
	r.lastAt.Store(rec.Timestamp.UnixNano())
	r.metrics.lastRecord.Set(float64(rec.Timestamp.UnixNano()) / 1e9)
	key := string(rec.Key)
	if key == "" {
		r.metrics.badRecords.Inc()
		r.log.Warn("verdict record without a key", "partition", rec.Partition, "offset", rec.Offset)
		return
	}
	if _, err := subject.Parse(key); err != nil {
		// A key no entry point would accept (a 100 KB or multi-line
		// session id, written by an old or foreign writer) is not loaded
		// into any table: counted and logged instead.
		r.metrics.badSubjects.Inc()
		r.log.Warn("verdict record with a malformed subject skipped", "partition", rec.Partition, "offset", rec.Offset, "err", err)
		return
	}
	if rec.Value == nil {
		r.metrics.tombstones.Inc()
		r.apply(key, nil)
		return
	}
	v := &eventpb.Verdict{}
	if err := proto.Unmarshal(rec.Value, v); err != nil {
		r.metrics.badRecords.Inc()
		r.log.Warn("undecodable verdict record", "partition", rec.Partition, "offset", rec.Offset, "err", err)
		return
	}
	if v.Subject == "" {
		v.Subject = key
	}
	r.apply(key, v)
}

// startOffsets lists the end offsets at start: catching up means reaching them.
func (r *Reader) startOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	bo := backoff.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second}.Start()
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			targets := map[int32]int64{}
			ends.Each(func(o kadm.ListedOffset) { targets[o.Partition] = o.Offset })
			if len(targets) > 0 {
				return targets, nil
			}
			err = fmt.Errorf("topic %s has no partitions", topic)
		}
		wait := bo.Next()
		r.log.Warn("list verdict topic end offsets; retrying", "topic", topic, "err", err, "in", wait)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// records is the number of records between the topic's start offsets and
// the targets (0 if the start offsets cannot be listed: it is only a hint).
func (r *Reader) records(ctx context.Context, adm *kadm.Client, topic string, targets map[int32]int64) int64 {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		r.log.Debug("list verdict topic start offsets for a size hint", "err", err)
		return 0
	}
	var n int64
	for p, end := range targets {
		if s, ok := starts.Lookup(topic, p); ok && end > s.Offset {
			n += end - s.Offset
		}
	}
	return n
}

func (r *Reader) checkCaughtUp(targets, next map[int32]int64, start time.Time) {
	if r.caughtUp.Load() {
		return
	}
	for p, end := range targets {
		if next[p] < end {
			return
		}
	}
	r.readyOnce.Do(func() {
		r.caughtUp.Store(true)
		d := time.Since(start)
		r.metrics.catchUp.Set(d.Seconds())
		r.log.Info("caught up with the verdict topic", "took", d.Round(time.Millisecond))
		close(r.ready)
	})
}

// RunWith follows the topic and runs work once the reader has caught up,
// both until ctx is done or one fails: the shape of every consumer that acts
// on the whole verdict set (the edge syncers). A cancelled ctx is not an error.
func (r *Reader) RunWith(ctx context.Context, work func(context.Context) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.Run(gctx) })
	g.Go(func() error {
		select {
		case <-gctx.Done():
			return nil
		case <-r.Ready():
		}
		return work(gctx)
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
