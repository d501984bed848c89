package aggregator

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
)

// restorer loads the state of partitions from the state topic in the
// background, all of them through one Kafka client: a partition asked for is
// added to the client's fetches at once (so 64 partitions are read
// concurrently, in the same fetch requests), its records are loaded into its
// engine on up to GOMAXPROCS goroutines (one engine per goroutine at a time),
// and it is done when the read reaches the state partition's committed end
// (the last stable offset listed when it was asked for). With control
// records kept, the last record before that end is always visible (every
// transaction ends with a marker, and the active segment is never
// compacted), so no restore waits for the topic to go quiet.
type restorer struct {
	cl      *kgo.Client
	adm     *kadm.Client
	topic   string
	newEng  func() *Engine
	m       *metrics
	log     *slog.Logger
	workers int
	// quiet is how long the whole read may make no progress before the
	// partitions still loading are given up with what they have: a guard
	// against an end that cannot be reached (a broker losing the tail),
	// not the normal way to finish.
	quiet time.Duration
	// wake is called when results are ready (the service cuts its poll
	// short to pick them up).
	wake func()

	mu      sync.Mutex
	asked   []int32
	results []restored
	signal  chan struct{} // capacity 1: there are asked partitions
	ready   chan struct{} // capacity 1: there are results
}

// restored is one partition's loaded state.
type restored struct {
	id   int32
	eng  *Engine
	next int64 // the requests offset the state corresponds to; -1: no state
	took time.Duration
	err  error
}

// loading is a partition being read.
type loading struct {
	eng   *Engine
	end   int64 // done once the read reaches this offset
	pos   int64 // offset after the last record read
	next  int64
	since time.Time
	again bool // asked again while loading: extend to the then committed end
}

func newRestorer(cl *kgo.Client, topic string, newEng func() *Engine, m *metrics, log *slog.Logger) *restorer {
	return &restorer{
		cl: cl, adm: kadm.NewClient(cl), topic: topic, newEng: newEng, m: m, log: log,
		workers: runtime.GOMAXPROCS(0), quiet: 10 * time.Second, wake: func() {},
		signal: make(chan struct{}, 1), ready: make(chan struct{}, 1),
	}
}

// restoreClientOpts are the options of the restorer's client: a direct
// consumer (no partitions until asked) of committed records, markers kept.
func restoreClientOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(250 * time.Millisecond),
		kgo.FetchMaxPartitionBytes(8 << 20),
	}
}

// ask queues partitions to be loaded (again). It does not block.
func (r *restorer) ask(ids ...int32) {
	if len(ids) == 0 {
		return
	}
	r.mu.Lock()
	r.asked = append(r.asked, ids...)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// take returns the results ready so far.
func (r *restorer) take() []restored {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.results
	r.results = nil
	return out
}

// pending reports whether results are ready.
func (r *restorer) pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.results) > 0
}

func (r *restorer) deliver(res restored) {
	r.m.restoring.Dec()
	if res.err == nil {
		r.m.restores.Inc()
		r.m.restoreSeconds.Observe(res.took.Seconds())
	}
	r.mu.Lock()
	r.results = append(r.results, res)
	r.mu.Unlock()
	select {
	case r.ready <- struct{}{}:
	default:
	}
	r.wake()
}

// run reads until ctx ends.
func (r *restorer) run(ctx context.Context) {
	active := map[int32]*loading{}
	lastProgress := time.Now()
	for {
		if len(active) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-r.signal:
			}
		}
		r.mu.Lock()
		asked := r.asked
		r.asked = nil
		r.mu.Unlock()
		if len(asked) > 0 {
			if err := r.start(ctx, active, asked); err != nil {
				if ctx.Err() != nil {
					return
				}
				for _, id := range asked {
					r.m.restoring.Inc() // deliver counts it down
					r.deliver(restored{id: id, err: err})
				}
				continue
			}
			lastProgress = time.Now()
		}
		if len(active) == 0 {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := r.cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if pctx.Err() == nil {
				r.m.fetchErrors.Inc()
				r.log.Warn("fetch state", "topic", t, "partition", p, "err", err)
			}
		})
		n, err := r.load(ctx, active, fs)
		if err != nil {
			return // ctx ended
		}
		if n > 0 {
			lastProgress = time.Now()
		}
		var done []int32
		for id, l := range active {
			if l.pos >= l.end && !l.again {
				done = append(done, id)
			}
		}
		stuck := time.Since(lastProgress) > r.quiet
		if stuck {
			for id, l := range active {
				if l.pos < l.end {
					r.m.staleState.Inc()
					r.log.Warn("state partition read made no progress; continuing with what was read",
						"partition", id, "read_to", l.pos, "end", l.end)
					done = append(done, id)
				}
			}
			lastProgress = time.Now()
		}
		if again := r.extend(ctx, active); again != nil {
			return
		}
		r.finish(active, done)
	}
}

// start adds partitions to the read: it lists the state topic's start and
// committed end offsets once for all of them.
func (r *restorer) start(ctx context.Context, active map[int32]*loading, ids []int32) error {
	starts, ends, err := r.offsets(ctx)
	if err != nil {
		return err
	}
	add := map[int32]kgo.Offset{}
	var empty []int32
	for _, id := range ids {
		if l, ok := active[id]; ok {
			l.again = true // the read goes on from where it is, to the new end
			continue
		}
		r.m.restoring.Inc()
		begin, _ := starts.Lookup(r.topic, id)
		end, _ := ends.Lookup(r.topic, id)
		if begin.Err != nil || end.Err != nil {
			r.deliver(restored{id: id, err: fmt.Errorf("list offsets of %s partition %d: %v %v", r.topic, id, begin.Err, end.Err)})
			continue
		}
		l := &loading{eng: r.newEng(), end: end.Offset, pos: begin.Offset, next: -1, since: time.Now()}
		if end.Offset <= begin.Offset {
			r.deliver(restored{id: id, eng: l.eng, next: -1, took: time.Since(l.since)})
			empty = append(empty, id)
			continue
		}
		active[id] = l
		add[id] = kgo.NewOffset().At(begin.Offset)
	}
	if len(add) > 0 {
		r.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{r.topic: add})
	}
	if len(empty) > 0 {
		r.log.Debug("partitions without state", "partitions", empty)
	}
	return nil
}

func (r *restorer) offsets(ctx context.Context) (starts, ends kadm.ListedOffsets, err error) {
	starts, err = r.adm.ListStartOffsets(ctx, r.topic)
	if err == nil {
		// The committed end: the last stable offset of a read_committed
		// reader, before any transaction still open.
		ends, err = r.adm.ListCommittedOffsets(ctx, r.topic)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list offsets of %s: %w", r.topic, err)
	}
	return starts, ends, nil
}

// extend moves the end of partitions asked for again to the committed end
// now.
func (r *restorer) extend(ctx context.Context, active map[int32]*loading) error {
	var again bool
	for _, l := range active {
		again = again || l.again
	}
	if !again {
		return nil
	}
	_, ends, err := r.offsets(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		r.log.Warn("list the state topic's end again", "err", err)
		return nil // retried on the next round
	}
	for id, l := range active {
		if l.again {
			if e, _ := ends.Lookup(r.topic, id); e.Err == nil {
				l.end = max(l.end, e.Offset)
				l.again = false
			}
		}
	}
	return nil
}

func (r *restorer) finish(active map[int32]*loading, done []int32) {
	if len(done) == 0 {
		return
	}
	r.cl.RemoveConsumePartitions(map[string][]int32{r.topic: done})
	for _, id := range done {
		l := active[id]
		delete(active, id)
		took := time.Since(l.since)
		// Logged before the engine is handed over: Run owns it after.
		r.log.Info("partition state loaded", "partition", id, "state_offset", l.next, "ips", l.eng.Stats().IPs,
			"took", took.Round(time.Millisecond))
		r.deliver(restored{id: id, eng: l.eng, next: l.next, took: took})
	}
}

// load applies a fetch to the engines, one goroutine per partition, at most
// workers at a time, and returns how many records it read.
func (r *restorer) load(ctx context.Context, active map[int32]*loading, fs kgo.Fetches) (int, error) {
	byPart := map[int32][][]*kgo.Record{}
	n := 0
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		if fp.Topic == r.topic && len(fp.Records) > 0 && active[fp.Partition] != nil {
			byPart[fp.Partition] = append(byPart[fp.Partition], fp.Records)
			n += len(fp.Records)
		}
	})
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(r.workers)
	for id, batches := range byPart {
		l := active[id]
		g.Go(func() error {
			for _, recs := range batches {
				r.apply(l, recs)
			}
			return nil
		})
	}
	_ = g.Wait()
	return n, ctx.Err()
}

func (r *restorer) apply(l *loading, recs []*kgo.Record) {
	for _, rec := range recs {
		if rec.Offset < l.pos {
			continue // already read (a refetch)
		}
		l.pos = rec.Offset + 1
		if rec.Attrs.IsControl() {
			continue
		}
		if string(rec.Key) == string(offsetKey) {
			if len(rec.Value) == 8 {
				l.next = int64(binary.LittleEndian.Uint64(rec.Value))
			}
			continue
		}
		if err := l.eng.Load(rec.Key, rec.Value); err != nil {
			r.m.incompatible.Inc()
		}
	}
}
