package aggregator

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/detect/signatures"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// offsetKey is the state record holding the next requests offset that a
// partition's state corresponds to (8 bytes, little endian).
var offsetKey = []byte("O")

var errCrashed = errors.New("aggregator: simulated crash")

// maxFuture is how far ahead of this machine's clock an event time may be.
const maxFuture = time.Hour

// Aggregator is the Kafka service around Engine: one engine per assigned
// partition of the requests topic, scores to the scores topic, state to the
// state topic, all in one transaction with the offset commit (see doc.go).
type Aggregator struct {
	cfg   Config
	kcfg  kafka.Config
	scfg  scoring.Config
	log   *slog.Logger
	m     *metrics
	reg   prometheus.Registerer
	txnID string
	sigs  *signatures.Holder
	sigRl *signatures.Reloader // nil without a signature file

	mu      sync.Mutex
	revoked map[int32]bool // revoked or lost since the last End (set by group callbacks)

	parts   map[int32]*partition // owned by Run's goroutine
	alive   time.Time
	aliveMu sync.Mutex

	pending    int // records processed in the open transaction
	committed  int // records processed in committed transactions
	crashAfter int // tests: die with a transaction open once this many records are committed
}

type partition struct {
	eng     *Engine
	next    int64 // offset after the last processed record
	touched bool  // processed records in the open transaction
	counted Stats // engine stats already added to the metrics
}

// New builds the aggregator. scfg is the features section of the rule file
// (scoring.LoadRuleFileSection, or scoring.DefaultConfig()).
func New(cfg Config, kcfg kafka.Config, scfg scoring.Config, log *slog.Logger, reg prometheus.Registerer) (*Aggregator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := scfg.Validate(); err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id := cfg.TransactionalID
	if id == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		id = cfg.Group + "-" + host + "-" + hex.EncodeToString(b[:])
	}
	set, err := signatures.Load(cfg.SignaturesFile)
	if err != nil {
		return nil, config.Invalid("SIGNATURES_FILE", "%v", err)
	}
	a := &Aggregator{
		cfg: cfg, kcfg: kcfg, scfg: scfg, log: log.With("txn_id", id), m: newMetrics(reg), reg: reg, txnID: id,
		revoked: map[int32]bool{}, parts: map[int32]*partition{}, sigs: signatures.NewHolder(set),
	}
	if cfg.SignaturesFile != "" {
		a.sigRl = signatures.NewReloader(cfg.SignaturesFile, a.sigs, signatures.DefaultReloadInterval, log, reg)
	}
	log.Info("request signatures", "file", set.Name, "revision", set.Revision, "digest", set.Digest, "signatures", len(set.Sigs))
	return a, nil
}

// ErrNotRunning is returned by Alive before Run starts consuming, and when
// the processing loop has not come round for two minutes.
var ErrNotRunning = errors.New("aggregator is not consuming")

// Alive reports whether the processing loop has made progress recently
// (for /healthz).
func (a *Aggregator) Alive() error {
	a.aliveMu.Lock()
	defer a.aliveMu.Unlock()
	if a.alive.IsZero() || time.Since(a.alive) > 2*time.Minute {
		return ErrNotRunning
	}
	return nil
}

func (a *Aggregator) beat() {
	a.aliveMu.Lock()
	a.alive = time.Now()
	a.aliveMu.Unlock()
}

// EnsureStateTopic creates the compacted state topic with as many partitions
// as the requests topic (state partition p holds requests partition p's state).
func (a *Aggregator) EnsureStateTopic(ctx context.Context) error {
	cl, err := kafka.NewClient(a.kcfg.WithClientID("aggregator-admin"), nil)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	tds, err := adm.ListTopics(ctx, a.kcfg.Topics.Requests)
	if err != nil {
		return fmt.Errorf("describe topic %s: %w", a.kcfg.Topics.Requests, err)
	}
	td, ok := tds[a.kcfg.Topics.Requests]
	if !ok || td.Err != nil {
		return fmt.Errorf("describe topic %s: %v", a.kcfg.Topics.Requests, td.Err)
	}
	n := len(td.Partitions)
	if err := kafka.EnsureTopics(ctx, adm, []kafka.TopicSpec{{
		Name: a.cfg.StateTopic, Partitions: int32(n), ReplicationFactor: -1,
		Configs: map[string]string{"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": "3600000"},
	}}); err != nil {
		return err
	}
	// The requests topic may have grown since the state topic was made.
	sds, err := adm.ListTopics(ctx, a.cfg.StateTopic)
	if err != nil {
		return fmt.Errorf("describe topic %s: %w", a.cfg.StateTopic, err)
	}
	if have := len(sds[a.cfg.StateTopic].Partitions); have < n {
		rs, err := adm.UpdatePartitions(ctx, n, a.cfg.StateTopic)
		if err == nil {
			err = rs.Error()
		}
		if err != nil {
			return fmt.Errorf("grow topic %s to %d partitions: %w", a.cfg.StateTopic, n, err)
		}
	}
	return nil
}

// statePartitioner sends state records to the partition set on them (the
// input partition) and everything else by key hash, as Kafka clients do.
type statePartitioner struct {
	stateTopic string
	byKey      kgo.Partitioner
}

func (p statePartitioner) ForTopic(t string) kgo.TopicPartitioner {
	if t == p.stateTopic {
		return kgo.ManualPartitioner().ForTopic(t)
	}
	return p.byKey.ForTopic(t)
}

// Run consumes until ctx ends, then commits what it has and leaves the group.
func (a *Aggregator) Run(ctx context.Context) error {
	if err := a.EnsureStateTopic(ctx); err != nil {
		return err
	}
	opts, err := a.clientOpts()
	if err != nil {
		return err
	}
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("aggregator kafka session: %w", err)
	}
	defer sess.Close()
	a.beat()
	if a.sigRl != nil {
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		go a.sigRl.Run(rctx)
	}

	var (
		inTxn    bool
		txnStart time.Time
		promise  *kgo.FirstErrPromise
		dst      []*eventpb.Score
		ev       = &eventpb.RequestEvent{}
		mo       = proto.MarshalOptions{Deterministic: true}
	)
	for {
		wait := a.cfg.SnapshotInterval
		if inTxn {
			wait = max(time.Until(txnStart.Add(a.cfg.SnapshotInterval)), time.Millisecond)
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches := sess.PollRecords(pctx, 10000)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			a.m.fetchErrors.Inc()
			a.log.Warn("fetch", "topic", topic, "partition", p, "err", err)
		})
		if !fetches.Empty() && !inTxn {
			if err := sess.Begin(); err != nil {
				return fmt.Errorf("begin transaction: %w", err)
			}
			inTxn, txnStart = true, time.Now()
			promise = kgo.AbortingFirstErrPromise(sess.Client())
		}
		if a.rewound(fetches) {
			// The client went back to offsets this instance has already
			// processed (franz-go resets a partition it thinks lost data):
			// the engines are ahead of those records. Abort, and let every
			// engine be reloaded from the state of the committed offsets,
			// rather than count the same events twice.
			a.log.Warn("consumer rewound to offsets already processed; aborting the transaction and reloading state")
			if inTxn {
				if _, err := sess.End(context.WithoutCancel(ctx), kgo.TryAbort); err != nil {
					return fmt.Errorf("abort transaction after a rewind: %w", err)
				}
				inTxn = false
			}
			a.m.txns.WithLabelValues("aborted").Inc()
			clear(a.parts)
			a.pending = 0
			continue
		}
		var perr error
		pctx = context.WithoutCancel(ctx) // a shutdown still commits what was processed
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if perr != nil || len(fp.Records) == 0 {
				return
			}
			p, err := a.partition(ctx, fp.Partition, fp.Records[0].Offset)
			if err != nil {
				perr = err
				return
			}
			p.touched = true
			a.pending += len(fp.Records)
			for _, r := range fp.Records {
				p.next = r.Offset + 1
				if err := proto.Unmarshal(r.Value, ev); err != nil {
					a.m.decodeErrors.Inc()
					continue
				}
				if ev.GetTimeUnixNano() > time.Now().Add(maxFuture).UnixNano() {
					// A clock far in the future would move the partition's
					// watermark there and make every later event "late".
					a.m.future.Inc()
					continue
				}
				dst = p.eng.Process(ev, dst[:0])
				for _, s := range dst {
					b, err := mo.Marshal(s)
					if err != nil {
						perr = fmt.Errorf("marshal score: %w", err)
						return
					}
					sess.Produce(pctx, &kgo.Record{Topic: a.kcfg.Topics.Scores, Key: []byte(s.Subject), Value: b}, promise.Promise())
				}
			}
		})
		if perr != nil {
			if inTxn {
				_, _ = sess.End(context.WithoutCancel(ctx), kgo.TryAbort)
			}
			if ctx.Err() != nil {
				return nil // shutting down while loading state: nothing was lost
			}
			return perr
		}
		if a.crashAfter > 0 && a.committed >= a.crashAfter && inTxn {
			return errCrashed // tests: die mid-transaction, as a killed process would
		}
		done := ctx.Err() != nil
		if inTxn && (done || time.Since(txnStart) >= a.cfg.SnapshotInterval) {
			if err := a.commit(ctx, sess, promise); err != nil {
				return err
			}
			inTxn = false
		}
		a.beat()
		if done {
			return nil
		}
	}
}

func (a *Aggregator) clientOpts() ([]kgo.Opt, error) {
	kc := a.kcfg.WithClientID("aggregator")
	opts, err := kc.Opts()
	if err != nil {
		return nil, err
	}
	if a.reg != nil {
		opts = append(opts, kgo.WithHooks(kprom.NewMetrics("bulwark_kafka",
			kprom.Registerer(prometheus.WrapRegistererWith(prometheus.Labels{"client": kc.ClientID}, a.reg)),
			kprom.Gatherer(prometheus.NewRegistry()))))
	}
	return append(opts,
		kgo.WithLogger(kafka.Logger(a.log)),
		kgo.ConsumerGroup(a.cfg.Group),
		kgo.ConsumeTopics(a.kcfg.Topics.Requests),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.TransactionalID(a.txnID),
		kgo.TransactionTimeout(60*time.Second),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(statePartitioner{stateTopic: a.cfg.StateTopic, byKey: kgo.StickyKeyPartitioner(nil)}),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.m.rebalances.WithLabelValues("assigned").Inc()
			a.log.Info("partitions assigned", "partitions", m[a.kcfg.Topics.Requests])
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.markRevoked("revoked", m[a.kcfg.Topics.Requests])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.markRevoked("lost", m[a.kcfg.Topics.Requests])
		}),
	), nil
}

func (a *Aggregator) markRevoked(event string, ps []int32) {
	if len(ps) == 0 {
		return
	}
	a.m.rebalances.WithLabelValues(event).Inc()
	a.log.Info("partitions "+event, "partitions", ps)
	a.mu.Lock()
	for _, p := range ps {
		a.revoked[p] = true
	}
	a.mu.Unlock()
}

// commit writes the changed state of every partition processed in this
// transaction with its next offset, and ends the transaction with the offset
// commit. After an abort every engine is dropped: the consumer rewinds to the
// committed offsets, and the engines are reloaded from the state that goes
// with them.
func (a *Aggregator) commit(ctx context.Context, sess *kgo.GroupTransactSession, promise *kgo.FirstErrPromise) error {
	ectx := context.WithoutCancel(ctx)
	for id, p := range a.parts {
		if !p.touched {
			continue
		}
		put := func(k, v []byte) {
			a.m.stateRecords.Inc()
			sess.Produce(ectx, &kgo.Record{Topic: a.cfg.StateTopic, Partition: id, Key: k, Value: v}, promise.Promise())
		}
		p.eng.Changes(put)
		put(offsetKey, binary.LittleEndian.AppendUint64(nil, uint64(p.next)))
	}
	committed, err := sess.End(ectx, promise.Err() == nil)
	if err != nil {
		return fmt.Errorf("end transaction: %w", err)
	}
	a.mu.Lock()
	revoked := a.revoked
	a.revoked = map[int32]bool{}
	a.mu.Unlock()
	if !committed {
		a.m.txns.WithLabelValues("aborted").Inc()
		a.log.Info("transaction aborted (rebalance or produce error); reloading state", "produce_err", promise.Err())
		clear(a.parts)
		a.pending = 0
		a.updateGauges()
		return nil
	}
	a.m.txns.WithLabelValues("committed").Inc()
	a.committed += a.pending
	a.pending = 0
	for id, p := range a.parts {
		st := p.eng.Stats()
		a.m.events.Add(float64(st.Events - p.counted.Events))
		a.m.late.Add(float64(st.Late - p.counted.Late))
		a.m.bad.Add(float64(st.BadEvents - p.counted.BadEvents))
		a.m.scores.Add(float64(st.Emitted - p.counted.Emitted))
		a.m.expired.Add(float64(st.Expired - p.counted.Expired))
		a.m.sigMatches.Add(float64(st.SigMatches - p.counted.SigMatches))
		a.m.malformed.Add(float64(st.Malformed - p.counted.Malformed))
		p.counted, p.touched = st, false
		if revoked[id] {
			delete(a.parts, id)
		}
	}
	a.updateGauges()
	return nil
}

func (a *Aggregator) updateGauges() {
	var ips, sessions, nets, hot int
	var bytes int64
	oldest := int64(0)
	for _, p := range a.parts {
		st := p.eng.Stats()
		ips, sessions, nets, hot = ips+st.IPs, sessions+st.Sessions, nets+st.Nets, hot+st.Hot
		bytes += st.StateBytes
		if st.Watermark > 0 && (oldest == 0 || st.Watermark < oldest) {
			oldest = st.Watermark
		}
	}
	a.m.active.WithLabelValues("ip").Set(float64(ips))
	a.m.active.WithLabelValues("session").Set(float64(sessions))
	a.m.active.WithLabelValues("net").Set(float64(nets))
	a.m.active.WithLabelValues("hot").Set(float64(hot))
	a.m.stateBytes.Set(float64(bytes))
	a.m.parts.Set(float64(len(a.parts)))
	if oldest > 0 {
		a.m.watermarkLag.Set(time.Since(time.Unix(0, oldest)).Seconds())
	}
}

// partition returns the engine of partition id, loading its state from the
// state topic on first use after an assignment or an abort.
func (a *Aggregator) partition(ctx context.Context, id int32, first int64) (*partition, error) {
	if p, ok := a.parts[id]; ok {
		return p, nil
	}
	start := time.Now()
	eng, err := a.restore(ctx, id, first)
	if err != nil {
		return nil, err
	}
	a.m.restores.Inc()
	a.m.restoreSeconds.Observe(time.Since(start).Seconds())
	p := &partition{eng: eng, next: first}
	p.counted = eng.Stats()
	a.parts[id] = p
	return p, nil
}

// rewound reports whether a fetch holds records of a partition from before
// the offset its engine has reached.
func (a *Aggregator) rewound(fetches kgo.Fetches) bool {
	rewound := false
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if p, ok := a.parts[fp.Partition]; ok && len(fp.Records) > 0 && fp.Records[0].Offset < p.next {
			rewound = true
		}
	})
	return rewound
}

// restore reads partition id of the state topic into a new engine. The state
// should end exactly at first, the offset the group resumes from: both were
// committed in one transaction. If it ends earlier, the transaction's markers
// may not be visible yet, so it retries for a while, then goes on with what
// it has (counted in stale_state_total).
func (a *Aggregator) restore(ctx context.Context, id int32, first int64) (*Engine, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		eng := a.newEngine()
		next, err := a.readState(ctx, id, eng, first)
		if err != nil {
			return nil, err
		}
		if next < 0 || next == first {
			a.log.Info("partition state loaded", "partition", id, "offset", first, "ips", eng.Stats().IPs)
			return eng, nil
		}
		if next > first || time.Now().After(deadline) {
			a.m.staleState.Inc()
			a.log.Warn("partition state does not match the committed offset; continuing with it", "partition", id, "state_offset", next, "offset", first)
			return eng, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (a *Aggregator) newEngine() *Engine {
	e := NewEngine(a.scfg, WithAllowedLateness(a.cfg.AllowedLateness), WithIdleTimeout(a.cfg.IdleTimeout), WithSignatures(a.sigs))
	e.TrackChanges()
	return e
}

// readState loads the committed records of one state partition into eng and
// returns the offset they correspond to (-1 when there is no state).
func (a *Aggregator) readState(ctx context.Context, id int32, eng *Engine, first int64) (int64, error) {
	cl, err := kafka.NewClient(a.kcfg.WithClientID("aggregator-restore"), nil,
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{a.cfg.StateTopic: {id: kgo.NewOffset().AtStart()}}),
	)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListCommittedOffsets(ctx, a.cfg.StateTopic)
	if err != nil {
		return 0, fmt.Errorf("list offsets of %s: %w", a.cfg.StateTopic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, a.cfg.StateTopic)
	if err != nil {
		return 0, fmt.Errorf("list offsets of %s: %w", a.cfg.StateTopic, err)
	}
	end, _ := ends.Lookup(a.cfg.StateTopic, id)
	begin, _ := starts.Lookup(a.cfg.StateTopic, id)
	next := int64(-1)
	if end.Offset <= begin.Offset {
		return next, nil
	}
	for {
		// A transaction writes a partition's offset record after its state
		// records, so the state is complete once the offset record that
		// matches the group's offset is read. Otherwise: every transaction
		// ends with a marker after its last record, so the log is read once a
		// record at end-2 or later is; a quiet poll means the tail is aborted
		// records or markers.
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		var last int64 = -1
		var n int
		fs.EachRecord(func(r *kgo.Record) {
			n++
			last = r.Offset
			if next == first {
				return // complete; the rest of this fetch is aborted or newer
			}
			if string(r.Key) == string(offsetKey) {
				if len(r.Value) == 8 {
					next = int64(binary.LittleEndian.Uint64(r.Value))
				}
				return
			}
			if err := eng.Load(r.Key, r.Value); err != nil {
				a.m.incompatible.Inc()
			}
		})
		if n == 0 || last+2 >= end.Offset || next == first {
			return next, nil
		}
	}
}
