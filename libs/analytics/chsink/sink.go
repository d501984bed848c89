package chsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/detect/robots"
	"github.com/bulwarkhq/bulwark/libs/platform/backoff"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// Sink consumes the Bulwark topics and writes them to ClickHouse.
type Sink struct {
	cfg    Config
	kcfg   kafka.Config
	log    *slog.Logger
	reg    prometheus.Registerer
	m      *metrics
	tables map[string]*table // by topic
	vs     *verdictState

	mu    sync.Mutex // guards parts against the rebalance callbacks
	parts map[tp]*partition
	// committed is the last offset committed per partition, to skip no-op commits.
	committed map[tp]int64
	lastFlush time.Time
	ready     atomic.Bool
	// gen counts revocations; revokedAt is the generation at which a
	// partition was last revoked, so records polled before are dropped.
	gen       atomic.Uint64
	revokedAt map[tp]uint64

	// afterInsert, when set (tests), runs after an insert was acknowledged
	// and before its offsets are committed; an error stops Run there, like a crash.
	afterInsert func(table string) error
}

type tp struct {
	topic     string
	partition int32
}

// New checks the configuration and builds a sink; Run does the work.
func New(cfg Config, kafkaCfg kafka.Config, log *slog.Logger, reg prometheus.Registerer) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := kafkaCfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	src, _ := robots.ParseSpec(cfg.Robots) // checked by Validate
	lctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	rs, err := robots.Load(lctx, src, nil)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("BULWARK_CHSINK_ROBOTS: %w", err)
	}
	bots, err := newBotClassifier(cfg.BotDirectory, rs)
	if err != nil {
		return nil, fmt.Errorf("BULWARK_CHSINK_BOT_DIRECTORY: %w", err)
	}
	s := &Sink{
		cfg:       cfg,
		kcfg:      kafkaCfg,
		log:       log.With("component", "chsink"),
		reg:       reg,
		m:         newMetrics(reg),
		vs:        &verdictState{m: map[string]activeVerdict{}, bots: bots},
		parts:     map[tp]*partition{},
		committed: map[tp]int64{},
		revokedAt: map[tp]uint64{},
		tables:    map[string]*table{},
	}
	for _, t := range []struct {
		t     table
		topic string
	}{
		{requestsTable, kafkaCfg.Topics.Requests},
		{scoresTable, kafkaCfg.Topics.Scores},
		{verdictsTable, kafkaCfg.Topics.Verdicts},
		{deadLettersTable, kafkaCfg.Topics.RequestsDLQ},
		{feedbackTable, kafkaCfg.Topics.Feedback},
		{auditTable, kafkaCfg.Topics.Audit},
		{attacksTable, kafkaCfg.Topics.Attacks},
	} {
		tt := t.t
		tt.topic = t.topic
		s.tables[t.topic] = &tt
	}
	return s, nil
}

// Run connects to ClickHouse (waiting for it), applies the schema when
// configured, and sinks records until ctx ends; then it sends what it holds,
// commits, and returns nil.
func (s *Sink) Run(ctx context.Context) error {
	conn, features, err := s.connect(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer conn.Close()
	s.ready.Store(true)
	defer s.ready.Store(false)
	if err := s.vs.load(ctx, conn, s.cfg.ClickHouse.Database, time.Now()); err != nil {
		s.log.Warn("starting without the current verdicts", "err", err)
	}

	topics := make([]string, 0, len(s.tables))
	for t := range s.tables {
		topics = append(topics, t)
	}
	cl, err := kafka.NewClient(s.kcfg.WithClientID("chsink"), s.reg,
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsRevoked(s.forget),
		kgo.OnPartitionsLost(s.forget),
	)
	if err != nil {
		return err
	}
	defer cl.Close()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.consume(gctx, cl, conn) })
	if s.cfg.StatsInterval > 0 {
		g.Go(func() error { s.recordStats(gctx, cl, conn); return nil })
	}
	if !features.TTL && s.cfg.ClickHouse.RetentionDays > 0 {
		g.Go(func() error { s.keepRetention(gctx, conn); return nil })
	}
	return g.Wait()
}

// ErrNotReady is Ready's answer until the sink has reached ClickHouse and
// applied the schema.
var ErrNotReady = errors.New("chsink: not connected to ClickHouse yet")

// Ready reports whether the sink is connected and working (for /readyz).
func (s *Sink) Ready() error {
	if !s.ready.Load() {
		return ErrNotReady
	}
	return nil
}

// connect opens ClickHouse and applies the schema, retrying with backoff:
// at start ClickHouse may simply not be up yet.
func (s *Sink) connect(ctx context.Context) (driver.Conn, chschema.Features, error) {
	bo := s.backoff()
	for {
		conn, err := chschema.Open(ctx, s.cfg.ClickHouse)
		if err == nil {
			var f chschema.Features
			if s.cfg.Migrate {
				var res chschema.Result
				res, err = chschema.Apply(ctx, conn, s.cfg.ClickHouse, s.log)
				f = res.Features
			} else {
				f, err = chschema.Probe(ctx, conn)
			}
			if err == nil {
				s.m.up.Set(1)
				s.log.Info("clickhouse ready", "addr", s.cfg.ClickHouse.Addr, "version", f.Version, "ttl", f.TTL, "low_cardinality", f.LowCardinality)
				return conn, f, nil
			}
			conn.Close()
		}
		s.m.up.Set(0)
		wait := bo.Next()
		s.log.Warn("clickhouse not ready, retrying", "addr", s.cfg.ClickHouse.Addr, "err", err, "in", wait)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return nil, chschema.Features{}, err
		}
	}
}

// forget drops the state of partitions this member no longer owns: their
// uncommitted rows are re-read by the next owner, and deduplicated there.
func (s *Sink) forget(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gen := s.gen.Add(1)
	for topic, ps := range lost {
		for _, p := range ps {
			k := tp{topic, p}
			s.revokedAt[k] = gen
			if st := s.parts[k]; st != nil {
				s.m.buffered.Sub(float64(st.rows()))
			}
			delete(s.parts, k)
			delete(s.committed, k)
		}
	}
}

// fetched is one poll's records, decoded by the fetch goroutine.
type fetched struct {
	gen   uint64 // revocation generation when the poll started
	parts []fetchedPart
}

type fetchedPart struct {
	k    tp
	hw   int64
	recs []decoded
}

type decoded struct {
	r   *kgo.Record
	v   any
	err error
}

// fetch polls and decodes in its own goroutine, one poll ahead of the
// inserts, so that Kafka and Protobuf work overlaps ClickHouse's. The
// channel holds an insert's worth of polls: memory stays bounded when
// inserts stall.
func (s *Sink) fetch(ctx context.Context, cl *kgo.Client, out chan<- fetched) {
	defer close(out)
	for {
		gen := s.gen.Load()
		fetches := cl.PollRecords(ctx, s.cfg.BatchRows)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				s.log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
			}
		})
		f := fetched{gen: gen}
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			t := s.tables[fp.Topic]
			if t == nil {
				return
			}
			part := fetchedPart{k: tp{fp.Topic, fp.Partition}, hw: fp.HighWatermark, recs: make([]decoded, len(fp.Records))}
			for i, r := range fp.Records {
				v, err := t.decode(r, s.vs)
				part.recs[i] = decoded{r, v, err}
			}
			f.parts = append(f.parts, part)
		})
		select {
		case out <- f:
		case <-ctx.Done():
			return
		}
	}
}

func (s *Sink) consume(ctx context.Context, cl *kgo.Client, conn driver.Conn) error {
	s.lastFlush = time.Now()
	fctx, stopFetch := context.WithCancel(ctx)
	// Enough decoded polls to fill the next insert while this one runs.
	polls := make(chan fetched, max(1, s.cfg.InsertRows/s.cfg.BatchRows))
	fetchDone := make(chan struct{})
	go func() { s.fetch(fctx, cl, polls); close(fetchDone) }()
	defer func() { stopFetch(); <-fetchDone }()

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		// Wake up at the flush interval, and soon enough to notice a
		// partition going quiet.
		wait := time.Until(s.lastFlush.Add(s.cfg.FlushInterval))
		wait = max(min(wait, s.quietLinger()), time.Millisecond)
		timer.Reset(wait)
		select {
		case f, ok := <-polls:
			if ok {
				s.mu.Lock()
				s.apply(f, time.Now())
				s.mu.Unlock()
			} else if ctx.Err() == nil {
				return nil // the client was closed
			}
		case <-timer.C:
		case <-ctx.Done():
		}
		s.mu.Lock()
		due, partial := s.flushDue(time.Now())
		s.mu.Unlock()

		if ctx.Err() != nil {
			// Send what we hold, once, with a little time of its own.
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := s.flush(fctx, cl, conn, sendAll)
			cancel()
			if err != nil {
				s.log.Warn("final flush failed; the rows will be re-read at the next start", "err", err)
			}
			return nil
		}
		if due {
			if err := s.flushRetrying(ctx, cl, conn, partial); err != nil {
				if ctx.Err() != nil {
					continue // the final flush above runs next
				}
				return err
			}
		}
	}
}

// apply adds a poll's records to the partitions' blocks, dropping those of
// partitions revoked since the poll started (their next owner reads them).
func (s *Sink) apply(f fetched, now time.Time) {
	for _, fp := range f.parts {
		if f.gen < s.revokedAt[fp.k] {
			continue
		}
		for _, d := range fp.recs {
			s.add(d, now)
		}
		if p := s.parts[fp.k]; p != nil && fp.hw > p.hw {
			p.hw = fp.hw
		}
	}
}

func (s *Sink) add(d decoded, now time.Time) {
	r := d.r
	t := s.tables[r.Topic]
	s.m.records.WithLabelValues(r.Topic).Inc()
	k := tp{r.Topic, r.Partition}
	p := s.parts[k]
	if p == nil {
		p = &partition{t: t, id: r.Partition}
		s.parts[k] = p
	}
	if d.err != nil {
		s.m.decodeErrors.WithLabelValues(r.Topic).Inc()
		s.log.Debug("skipping undecodable record", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", d.err)
	} else {
		s.m.buffered.Inc()
	}
	p.add(r, d.v, d.err == nil, s.cfg.BatchRows, now)
}

// quietLinger is how long a caught-up partition of a cumulative table must
// go without records before its open block is sent ahead of the flush
// interval: the end of a burst reaches the dashboards at once, while a
// steady stream is sent at the interval or as blocks fill. A quarter of the
// interval keeps ClickHouse from getting many tiny inserts.
func (s *Sink) quietLinger() time.Duration {
	return max(s.cfg.FlushInterval/4, 20*time.Millisecond)
}

// partialFn says, per partition, whether a flush sends its open block too.
type partialFn func(*partition) bool

func sendAll(*partition) bool { return true }

// flushDue says whether to flush and which open blocks go with the full
// ones: all of them when the flush interval passed, the quiet partitions'
// when some went quiet.
func (s *Sink) flushDue(now time.Time) (bool, partialFn) {
	if now.Sub(s.lastFlush) >= s.cfg.FlushInterval {
		for _, p := range s.parts {
			if p.dirty(true) {
				return true, sendAll
			}
		}
		s.lastFlush = now
		return false, nil
	}
	linger := s.quietLinger()
	quiet := func(p *partition) bool { return p.t.cumulative && p.quiet(now, linger) }
	full := 0
	for _, p := range s.parts {
		if p.dirty(true) && quiet(p) {
			return true, quiet
		}
		full += p.fullRows()
	}
	return full >= s.cfg.InsertRows, quiet
}

// flushRetrying flushes until it succeeds or ctx ends. While ClickHouse
// refuses, fetching is paused, so memory stays bounded and nothing is
// committed: nothing is lost.
func (s *Sink) flushRetrying(ctx context.Context, cl *kgo.Client, conn driver.Conn, partial partialFn) error {
	bo := s.backoff()
	paused := false
	defer func() {
		if paused {
			cl.ResumeFetchTopics(s.topics()...)
			s.m.paused.Set(0)
		}
	}()
	for {
		err := s.flush(ctx, cl, conn, partial)
		if err == nil {
			if paused {
				s.log.Info("clickhouse accepts rows again; fetching resumed")
			}
			return nil
		}
		var stop *stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		s.m.up.Set(0)
		if !paused {
			cl.PauseFetchTopics(s.topics()...)
			s.m.paused.Set(1)
			paused = true
		}
		wait := bo.Next()
		s.log.Warn("insert into clickhouse failed; fetching paused, retrying", "err", err, "in", wait)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// stopError ends Run (the test hook's "crash").
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }

// flush sends every table's pending rows, then commits what ClickHouse
// acknowledged. A table that fails leaves its partitions as they were.
func (s *Sink) flush(ctx context.Context, cl *kgo.Client, conn driver.Conn, partial partialFn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := true
	for _, p := range s.parts {
		if !partial(p) {
			all = false
			break
		}
	}
	if all {
		s.lastFlush = time.Now()
	}
	sent := map[tp]bool{} // per partition: its open block goes too
	var jobs []*insertJob
	for topic, t := range s.tables {
		var groups []partRows
		for k, p := range s.parts {
			if k.topic != topic {
				continue
			}
			sent[k] = partial(p)
			if p.dirty(sent[k]) {
				groups = append(groups, partRows{k, p.pending(nil, sent[k])})
			}
		}
		jobs = append(jobs, s.split(t, groups)...)
	}
	if len(jobs) == 0 {
		return nil
	}
	// Inserts run side by side: ClickHouse works on each on its own core.
	g := new(errgroup.Group)
	g.SetLimit(s.cfg.InsertParallelism)
	for _, j := range jobs {
		g.Go(func() error {
			j.err = s.insert(ctx, conn, j.t, j.rows)
			return nil
		})
	}
	_ = g.Wait()

	commits := map[string]map[int32]kgo.EpochOffset{}
	var firstErr error
	for _, j := range jobs {
		if j.err != nil {
			s.m.insertErrors.WithLabelValues(j.t.name).Inc()
			if firstErr == nil {
				firstErr = fmt.Errorf("insert %d rows into %s: %w", len(j.rows), j.t.name, j.err)
			}
			continue
		}
		s.m.up.Set(1)
		s.m.rows.WithLabelValues(j.t.name).Add(float64(len(j.rows)))
		if s.afterInsert != nil {
			if err := s.afterInsert(j.t.name); err != nil {
				return &stopError{err}
			}
		}
		for _, k := range j.parts {
			commit, released := s.parts[k].acked(sent[k])
			s.m.buffered.Sub(float64(released))
			if commit.Offset < 0 || s.committed[k] == commit.Offset {
				continue
			}
			if commits[k.topic] == nil {
				commits[k.topic] = map[int32]kgo.EpochOffset{}
			}
			commits[k.topic][k.partition] = commit
		}
	}
	if len(commits) > 0 {
		s.commit(ctx, cl, commits)
	}
	return firstErr
}

// partRows are one partition's rows to send.
type partRows struct {
	k    tp
	rows []sendRow
}

// insertJob is one INSERT: whole partitions, so that a block never spans
// two inserts (the rollup views aggregate one insert at a time).
type insertJob struct {
	t     *table
	parts []tp
	rows  []sendRow
	err   error
}

// split deals the partitions into at most InsertParallelism inserts of
// similar size, largest first; small flushes stay one insert.
func (s *Sink) split(t *table, groups []partRows) []*insertJob {
	if len(groups) == 0 {
		return nil
	}
	total := 0
	for _, g := range groups {
		total += len(g.rows)
	}
	n := min(s.cfg.InsertParallelism, len(groups), max(1, total/s.cfg.BatchRows))
	sort.Slice(groups, func(i, j int) bool { return len(groups[i].rows) > len(groups[j].rows) })
	jobs := make([]*insertJob, n)
	for i := range jobs {
		jobs[i] = &insertJob{t: t}
	}
	for _, g := range groups {
		smallest := jobs[0]
		for _, j := range jobs[1:] {
			if len(j.rows) < len(smallest.rows) {
				smallest = j
			}
		}
		smallest.parts = append(smallest.parts, g.k)
		smallest.rows = append(smallest.rows, g.rows...)
	}
	return jobs
}

func (s *Sink) insert(ctx context.Context, conn driver.Conn, t *table, rows []sendRow) error {
	start := time.Now()
	b, err := conn.PrepareBatch(ctx, t.insertSQL(s.cfg.ClickHouse.Database))
	if err != nil {
		return err
	}
	// The rows go as several data blocks of about BatchRows each, streamed
	// while the next is built, with buffers reused. A block of the sink
	// (one partition's run, keyed by batch_start) never spans two data
	// blocks: the rollup views aggregate one data block at a time.
	from := 0
	for from < len(rows) {
		to := from
		for to < len(rows) && (to-from < s.cfg.BatchRows || sameBlock(rows[to-1], rows[to])) {
			to++
		}
		if err := t.write(b, rows[from:to]); err != nil {
			_ = b.Abort()
			return err
		}
		if to < len(rows) {
			if err := b.Flush(); err != nil {
				_ = b.Abort()
				return err
			}
		}
		from = to
	}
	if err := b.Send(); err != nil {
		return err
	}
	took := time.Since(start)
	s.m.insertTime.WithLabelValues(t.name).Observe(took.Seconds())
	s.log.Debug("inserted", "table", t.name, "rows", len(rows), "took", took)
	return nil
}

func sameBlock(a, b sendRow) bool { return a.partition == b.partition && a.start == b.start }

// commit commits offsets; a failure is logged, not fatal: the rows are in
// ClickHouse and re-reading them is deduplicated.
func (s *Sink) commit(ctx context.Context, cl *kgo.Client, offsets map[string]map[int32]kgo.EpochOffset) {
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			s.m.commitErrors.Inc()
			s.log.Warn("offset commit failed", "err", err)
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					s.m.commitErrors.Inc()
					s.log.Warn("offset commit refused", "topic", t.Topic, "partition", p.Partition, "code", p.ErrorCode)
					continue
				}
				s.committed[tp{t.Topic, p.Partition}] = offsets[t.Topic][p.Partition].Offset
			}
		}
	})
}

func (s *Sink) topics() []string {
	out := make([]string, 0, len(s.tables))
	for t := range s.tables {
		out = append(out, t)
	}
	return out
}

// backoff starts a retry curve: from 200ms to MaxBackoff, jittered so that
// several sinks do not retry in step.
func (s *Sink) backoff() *backoff.Backoff {
	return backoff.Policy{Initial: 200 * time.Millisecond, Max: s.cfg.MaxBackoff}.Start()
}
