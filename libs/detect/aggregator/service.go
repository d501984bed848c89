package aggregator

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
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

// heartbeatInterval bounds how long a rebalance waits for this member.
const heartbeatInterval = 500 * time.Millisecond

// maxFuture is how far ahead of this machine's clock an event time may be.
const maxFuture = time.Hour

// Aggregator is the Kafka service around Engine: one engine per assigned
// partition of the requests topic, scores to the scores topic, state to the
// state topic, all in one transaction with the offset commit (see doc.go).
type Aggregator struct {
	cfg  Config
	kcfg kafka.Config
	scfg scoring.Config
	log  *slog.Logger
	m    *metrics
	am   *attackMetrics
	ctl  *attackControl // operators' attack records (attackcontrol.go)
	sf   *siteFold      // site-wide across partitions (sitefold.go); nil when off
	// nparts is the requests topic's partition count (EnsureStateTopic).
	nparts int32
	reg    prometheus.Registerer
	txnID  string
	sigs   *signatures.Holder
	// hosting is the hosting-network list of net_hosting_share_10m.
	hosting features.ASNSet
	sigRl   *signatures.Reloader // nil without a signature file
	model   *model.Holder        // nil without a model file
	modelRl *model.Reloader      // nil without a model file

	mu       sync.Mutex
	revoked  map[int32]bool // revoked or lost since the last End (set by group callbacks)
	owned    map[int32]bool // assigned and neither revoked nor lost (set by group callbacks)
	assigned []int32        // newly assigned, not yet seen by Run (set by group callbacks)

	pollMu     sync.Mutex
	pollCancel context.CancelFunc // cuts Run's poll short when restored state is ready

	rs      *restorer            // loads state in the background (see restore.go)
	waiting map[int32]bool       // owned by Run: paused until their state is loaded
	parts   map[int32]*partition // owned by Run's goroutine
	alive   time.Time
	aliveMu sync.Mutex

	pending    int // records processed in the open transaction
	committed  int // records processed in committed transactions
	crashAfter int // tests: die with a transaction open once this many records are committed
}

type partition struct {
	eng     *Engine
	next    int64  // offset after the last processed record
	touched bool   // processed records in the open transaction
	counted Stats  // engine stats already added to the metrics
	ctl     uint64 // the version of the operators' attack records the engine has (attackcontrol.go)
	// fresh: loaded in the background, no record processed yet; next is
	// the offset the state corresponds to, checked against the first
	// record's offset (the group's committed offset) before processing.
	fresh bool
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
	hosting, err := cfg.HostingASNs()
	if err != nil {
		return nil, config.Invalid("AGGREGATOR_HOSTING_ASNS_FILE", "%v", err)
	}
	a := &Aggregator{
		cfg: cfg, kcfg: kcfg, scfg: scfg, log: log.With("txn_id", id), m: newMetrics(reg), am: newAttackMetrics(reg), ctl: newAttackControl(), reg: reg, txnID: id,
		revoked: map[int32]bool{}, owned: map[int32]bool{}, parts: map[int32]*partition{}, waiting: map[int32]bool{}, sigs: signatures.NewHolder(set),
		hosting: hosting,
	}
	if cfg.AttackMode && cfg.AttackSiteWide {
		a.sf = newSiteFold(attacks.DefaultConfig(), reg)
	}
	if cfg.SignaturesFile != "" {
		a.sigRl = signatures.NewReloader(cfg.SignaturesFile, a.sigs, signatures.DefaultReloadInterval, log, reg)
	}
	if cfg.ModelFile != "" {
		mode, _ := model.ParseMode(cfg.ModelMode) // checked by Validate
		act, err := model.LoadActive(cfg.ModelFile, mode, cfg.ModelWeight)
		switch {
		case err == nil:
			log.Info("model", "file", cfg.ModelFile, "id", act.Model.ID(), "mode", mode, "weight", cfg.ModelWeight)
		case cfg.ModelWait && errors.Is(err, fs.ErrNotExist):
			log.Warn("model file not there yet: the rules score alone until it appears (BULWARK_MODEL_WAIT)", "file", cfg.ModelFile, "mode", mode)
		default:
			return nil, config.Invalid("MODEL_FILE", "%v", err)
		}
		a.model = model.NewHolder(act) // nil until the file appears
		a.modelRl = model.NewReloader(cfg.ModelFile, mode, cfg.ModelWeight, a.model, model.DefaultReloadInterval, log, reg)
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
	a.nparts = int32(n)
	if a.sf != nil {
		a.sf.fold.Expect(a.nparts, time.Now())
		if err := a.ensureSiteCountsTopic(ctx, adm); err != nil {
			return err
		}
	}
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
	// One client restores the state of every partition this instance gets,
	// in the background, while the partitions it has go on scoring.
	rcl, err := kafka.NewClient(a.kcfg.WithClientID("aggregator-restore"), nil, append(restoreClientOpts(), kgo.WithLogger(kafka.Logger(a.log)))...)
	if err != nil {
		return err
	}
	defer rcl.Close()
	a.rs = newRestorer(rcl, a.cfg.StateTopic, a.newEngine, a.m, a.log)
	a.rs.wake = a.wakePoll
	rctx, rcancel := context.WithCancel(ctx)
	rdone := make(chan struct{})
	go func() { a.rs.run(rctx); close(rdone) }()
	defer func() { rcancel(); <-rdone }()

	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("aggregator kafka session: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			sess.Close()
		}
	}()
	a.beat()
	if a.sigRl != nil {
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		go a.sigRl.Run(rctx)
	}
	if a.modelRl != nil {
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		go a.modelRl.Run(rctx)
	}
	if a.cfg.AttackMode {
		fctx, stop := context.WithCancel(ctx)
		fdone := make(chan struct{})
		go func() {
			defer close(fdone)
			if err := a.followAttacks(fctx); err != nil {
				a.log.Error("operators' attack records are not followed", "err", err)
			}
		}()
		defer func() { stop(); <-fdone }()
	}
	if a.sf != nil {
		sctx, stop := context.WithCancel(ctx)
		sdone := make(chan struct{})
		go func() {
			defer close(sdone)
			if err := a.followSiteCounts(sctx); err != nil {
				a.log.Error("site-wide counts are not followed", "err", err)
			}
		}()
		defer func() { stop(); <-sdone }()
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
		if err := a.syncPartitions(sess.Client()); err != nil {
			return err
		}
		a.applyAttackControl()
		if a.sf != nil {
			a.mu.Lock()
			owner := a.owned[0]
			a.mu.Unlock()
			a.sf.apply(owner)
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		a.setPollCancel(cancel)
		fetches := sess.PollRecords(pctx, 10000)
		a.setPollCancel(nil)
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
		if (!fetches.Empty() || a.foldPending()) && !inTxn {
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
			a.reload(sess.Client(), slices.Collect(maps.Keys(a.parts)))
			a.pending = 0
			continue
		}
		var perr error
		pctx = context.WithoutCancel(ctx) // a shutdown still commits what was processed
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if perr != nil || len(fp.Records) == 0 {
				return
			}
			p, err := a.partition(ctx, sess.Client(), fp.Partition, fp.Records[0].Offset)
			if err != nil {
				perr = err
				return
			}
			p.ctl = a.ctl.apply(p.eng, p.ctl)
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
				if perr = a.produceAttacks(pctx, sess, p.eng, promise); perr != nil {
					return
				}
				if a.sf != nil {
					if perr = a.produceSiteCounts(pctx, sess, fp.Partition, p.eng, promise); perr != nil {
						return
					}
				}
			}
		})
		if perr == nil && inTxn && a.sf != nil {
			perr = a.produceFoldAttacks(pctx, sess, promise)
		}
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
		if done {
			stopAt := time.Now()
			// A planned stop (SIGTERM, scale-down, rolling update): commit
			// what was processed, then leave the group at once, so that
			// the partitions move with their state complete and the new
			// owners need not wait for a session timeout or an abort.
			if inTxn {
				if err := a.commit(ctx, sess, promise); err != nil {
					return err
				}
			}
			sess.Close()
			closed = true
			took := time.Since(stopAt)
			a.m.handover.Observe(took.Seconds())
			a.log.Info("stopped: state committed and partitions given up", "partitions", len(a.parts), "took", took.Round(time.Millisecond))
			return nil
		}
		if inTxn && time.Since(txnStart) >= a.cfg.SnapshotInterval {
			if err := a.commit(ctx, sess, promise); err != nil {
				return err
			}
			inTxn = false
		}
		a.beat()
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
		// Members learn of a rebalance (a pod joining or leaving) at their
		// next heartbeat: Kafka's 3 s default would be most of a moved
		// partition's scoring gap.
		kgo.HeartbeatInterval(heartbeatInterval),
		// A partition resumed once its state is in joins the next fetch to
		// its broker, after the one in flight, which waits up to this long
		// when its other partitions are quiet (franz-go's default: 5 s).
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.TransactionalID(a.txnID),
		kgo.TransactionTimeout(60*time.Second),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(statePartitioner{stateTopic: a.cfg.StateTopic, byKey: kgo.StickyKeyPartitioner(nil)}),
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, m map[string][]int32) {
			ps := m[a.kcfg.Topics.Requests]
			a.m.rebalances.WithLabelValues("assigned").Inc()
			a.log.Info("partitions assigned", "partitions", ps)
			// Nothing of a new partition is fetched until its state is
			// loaded (Run resumes it then): a record polled before would
			// be in the group's next offset commit without its state.
			cl.PauseFetchPartitions(map[string][]int32{a.kcfg.Topics.Requests: ps})
			a.mu.Lock()
			for _, p := range ps {
				a.owned[p] = true
			}
			a.assigned = append(a.assigned, ps...)
			a.mu.Unlock()
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
		delete(a.owned, p)
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
		// The engines that processed records in the aborted transaction
		// are ahead of the committed state: they are reloaded (the consumer
		// rewinds to the committed offsets). The others are exactly at
		// their committed state and go on scoring without a pause.
		a.m.txns.WithLabelValues("aborted").Inc()
		var reload []int32
		for id, p := range a.parts {
			if p.touched || revoked[id] {
				delete(a.parts, id)
				if !revoked[id] {
					reload = append(reload, id)
				}
			}
		}
		a.log.Info("transaction aborted (rebalance or produce error); reloading the state of the partitions it touched",
			"partitions", reload, "produce_err", promise.Err())
		a.reload(sess.Client(), reload)
		a.pending = 0
		a.updateGauges()
		return nil
	}
	a.m.txns.WithLabelValues("committed").Inc()
	if p0, ok := a.parts[0]; ok && a.sf != nil {
		a.sf.prune(p0.eng.sitePublished)
	}
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
		a.am.raised.WithLabelValues("CHALLENGE").Add(float64(st.AttackChallenged - p.counted.AttackChallenged))
		a.am.raised.WithLabelValues("BLOCK").Add(float64(st.AttackBlocked - p.counted.AttackBlocked))
		a.am.fpScores.Add(float64(st.FPScores - p.counted.FPScores))
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
	a.m.parts.Set(float64(len(a.parts) + len(a.waiting)))
	a.m.paused.Set(float64(len(a.waiting)))
	if oldest > 0 {
		a.m.watermarkLag.Set(time.Since(time.Unix(0, oldest)).Seconds())
	}
}

// rewound reports whether a fetch holds records of a partition from before
// the offset its engine has reached.
func (a *Aggregator) rewound(fetches kgo.Fetches) bool {
	rewound := false
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if p, ok := a.parts[fp.Partition]; ok && !p.fresh && len(fp.Records) > 0 && fp.Records[0].Offset < p.next {
			rewound = true
		}
	})
	return rewound
}

func (a *Aggregator) newEngine() *Engine {
	opts := []Option{WithAllowedLateness(a.cfg.AllowedLateness), WithIdleTimeout(a.cfg.IdleTimeout), WithSignatures(a.sigs), WithHostingASNs(a.hosting)}
	if a.model != nil {
		opts = append(opts, WithModel(a.model))
	}
	if a.cfg.AttackMode {
		opts = append(opts, WithAttackMode(attacks.DefaultConfig()))
		if a.sf != nil {
			opts = append(opts, WithSiteFold(a.sf.fold))
		}
	}
	e := NewEngine(a.scfg, opts...)
	e.TrackChanges()
	return e
}
