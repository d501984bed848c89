package decider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/decide/policy"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdictlog"
)

// Config is bulwark-decider's configuration (BULWARK_*).
type Config struct {
	RulesFile      string        `env:"RULES_FILE" help:"The rule file; empty: the one shipped with Bulwark."`
	Group          string        `env:"DECIDER_GROUP" envDefault:"bulwark-decider" help:"The consumer group on the scores topic."`
	MetricsAddr    string        `env:"DECIDER_METRICS_ADDR" envDefault:"127.0.0.1:8483" help:"Where bulwark-decider serves /metrics, /healthz and /readyz (see CheckReady); the Service itself serves nothing, so that 'bulwark dev' serves one registry for all its components."`
	ReloadInterval time.Duration `env:"DECIDER_RELOAD_INTERVAL" envDefault:"2s" help:"How often the rule file's modification time is checked."`
	ReloadSettle   time.Duration `env:"DECIDER_RELOAD_SETTLE" envDefault:"500ms" help:"How long a changed rule file must keep its size and modification time before it is read, so a half-written file is not."`
	// Overrides holds BULWARK_OVERRIDE_*: its MaxTTL bounds operator verdicts
	// read from the verdict topic, as the CLI bounds the ones it writes.
	Overrides  overrides.Limits
	ExpiryTick time.Duration `env:"DECIDER_EXPIRY_TICK" envDefault:"1s" help:"Bounds how late an expiry tombstone is written."`

	Resolver crawlers.Resolver `env:"-" help:"Not from the environment: tests set a fake."`
	// Name is how this decider signs its policy status records on the
	// audit topic (the console shows them per decider).
	Name string `env:"-" help:"Not from the environment: the host name (the pod's name under Kubernetes); tests set their own."`
}

// DefaultConfig returns the defaults (as the environment would give them):
// the shipped rule file, group bulwark-decider.
func DefaultConfig() Config {
	return Config{Group: "bulwark-decider", MetricsAddr: "127.0.0.1:8483", ReloadInterval: 2 * time.Second,
		ReloadSettle: 500 * time.Millisecond, Overrides: overrides.DefaultLimits(), ExpiryTick: time.Second}
}

// Validate checks the settings, naming the variable at fault.
func (c Config) Validate() error {
	if c.Group == "" {
		return config.Invalid("DECIDER_GROUP", "must not be empty")
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return config.Invalid("DECIDER_METRICS_ADDR", "%q is not host:port", c.MetricsAddr)
		}
	}
	if c.ReloadInterval <= 0 {
		return config.Invalid("DECIDER_RELOAD_INTERVAL", "must be positive, got %s", c.ReloadInterval)
	}
	if c.ReloadSettle <= 0 {
		return config.Invalid("DECIDER_RELOAD_SETTLE", "must be positive, got %s", c.ReloadSettle)
	}
	if err := c.Overrides.Validate(); err != nil {
		return err
	}
	if c.ExpiryTick <= 0 {
		return config.Invalid("DECIDER_EXPIRY_TICK", "must be positive, got %s", c.ExpiryTick)
	}
	return nil
}

// Service is bulwark-decider: it restores the verdicts in force from the
// compacted verdict topic, then consumes scores in a consumer group and
// writes verdict changes and expiry tombstones, committing the scores'
// offsets only once the verdicts they caused are acknowledged.
type Service struct {
	cfg      Config
	kcfg     kafka.Config
	log      *slog.Logger
	reg      prometheus.Registerer
	m        *Metrics
	d        *Decider
	reloader *Reloader
	reader   *verdictlog.Reader
	own      *ownWrites
	ready    atomic.Bool
	readyCh  chan struct{}
	// policy follows the live policy topic (live.go).
	policy      *policy.Follower
	liveResults *prometheus.CounterVec
	reports     *liveReports

	// writeMu orders Decide/Expire with the Produce calls of their changes,
	// so records reach a partition in the order they were decided.
	writeMu sync.Mutex
	cl      *kgo.Client
}

// NewService builds the decider service. It fails on a rule file that does
// not load: a service must not start on rules nobody can read.
func NewService(cfg Config, kcfg kafka.Config, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "decider")
	rs, err := rules.LoadOrDefault(cfg.RulesFile)
	if err != nil {
		return nil, fmt.Errorf("decider: %w", err)
	}
	m := NewMetrics(reg)
	d, err := New(rs, Options{Log: log, Metrics: m, Resolver: cfg.Resolver, OverrideMaxTTL: cfg.Overrides.MaxTTL})
	if err != nil {
		return nil, fmt.Errorf("decider: %w", err)
	}
	s := &Service{cfg: cfg, kcfg: kcfg, log: log, reg: reg, m: m, d: d, own: newOwnWrites(), readyCh: make(chan struct{})}
	if err := d.initLayers(cfg.RulesFile); err != nil {
		return nil, fmt.Errorf("decider: %w", err)
	}
	s.liveResults = newLiveMetrics(reg)
	name := cfg.Name
	if name == "" {
		if name, err = os.Hostname(); err != nil || name == "" {
			name = "unnamed"
		}
	}
	s.reports = newLiveReports(name, log, reg)
	s.policy = policy.NewFollower(kcfg, "decider", s.applyLive, log, reg)
	if cfg.RulesFile != "" {
		s.reloader = NewReloader(cfg.RulesFile, d, cfg.ReloadInterval, cfg.ReloadSettle, log)
	}
	s.reader = verdictlog.New(kcfg, "decider", s.applyVerdict, log, reg)
	// At most 4 M: the hint counts records compaction has not removed yet.
	s.reader.OnStart(func(n int64) { d.Reserve(int(min(n, 4<<20))) })
	log.Info("rules loaded", "file", rs.Source, "digest", rs.Digest, "rules", len(rs.Rules), "learning", rs.Learning)
	return s, nil
}

// Decider returns the service's decider (for tests and `bulwark dev`).
func (s *Service) Decider() *Decider { return s.d }

// Ready is closed once the verdicts in force are restored and scores are consumed.
func (s *Service) Ready() <-chan struct{} { return s.readyCh }

// ErrNotReady is returned by CheckReady while the verdicts in force are being restored.
var ErrNotReady = errors.New("decider: catching up with the verdict topic")

// CheckReady returns nil once the service decides on scores (for /readyz).
func (s *Service) CheckReady() error {
	if !s.ready.Load() {
		return ErrNotReady
	}
	return nil
}

// applyVerdict is the verdict topic's callback: while catching up it
// restores state; afterwards it tells this decider's own records (read
// back) from everyone else's (operators, other replicas).
func (s *Service) applyVerdict(subject string, v *eventpb.Verdict) {
	if !s.ready.Load() {
		s.d.Restore(subject, v)
		return
	}
	if own, last := s.own.match(subject, v); own {
		s.m.echoes.Inc()
		if last {
			s.d.settle(subject, v)
		}
		return
	}
	s.d.Observe(subject, v, time.Now())
}

// Run runs until ctx is done or a verdict cannot be written.
func (s *Service) Run(ctx context.Context) error {
	status, err := kafka.NewClient(s.kcfg.WithClientID("decider-policy-status"), nil,
		kgo.DefaultProduceTopic(s.kcfg.Topics.Audit), kgo.RecordDeliveryTimeout(15*time.Second))
	if err != nil {
		return fmt.Errorf("decider: policy status writer: %w", err)
	}
	defer status.Close()
	defer s.reports.stop()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.reader.Run(ctx) })
	g.Go(func() error { return s.policy.Run(ctx) })
	if s.reloader != nil {
		g.Go(func() error { return s.reloader.Run(ctx) })
	}
	g.Go(func() error { return s.refreshCrawlers(ctx) })
	g.Go(func() error {
		select {
		case <-ctx.Done():
			return nil
		case <-s.reader.Ready():
		}
		// A restarted decider decides under the live policy, not the file alone.
		select {
		case <-ctx.Done():
			return nil
		case <-s.policy.Ready():
		}
		// Its answer to the policy it starts under, before it decides.
		s.reports.start(status)
		s.ready.Store(true)
		close(s.readyCh)
		s.log.Info("verdicts restored; deciding", "held", s.d.Len())
		return s.decide(ctx)
	})
	return g.Wait()
}

func (s *Service) decide(ctx context.Context) error {
	topics := s.kcfg.Topics
	cl, err := kafka.NewClient(s.kcfg.WithClientID("decider"), s.reg,
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(topics.Scores),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// No rebalance while a batch is between Decide and its commit:
		// a new owner of the partition would decide the same scores again.
		kgo.BlockRebalanceOnPoll(),
		kgo.DefaultProduceTopic(topics.Verdicts),
		kgo.ProducerLinger(0),
	)
	if err != nil {
		return fmt.Errorf("decider: %w", err)
	}
	s.cl = cl
	defer cl.Close()
	// Close leaves the group, which waits for a rebalance that a poll blocked.
	defer cl.AllowRebalance()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.expireLoop(ctx) })
	g.Go(func() error { return s.consume(ctx, cl) })
	g.Go(func() error { return s.consumeFeedback(ctx) })
	return g.Wait()
}

// consumeFeedback applies the feedback topic (challenge outcomes, labels)
// and writes the verdict changes it causes. Its own consumer group: a
// feedback record is applied once, and old ones are harmless (a clearance
// past its expiry or a failure outside the window changes nothing).
func (s *Service) consumeFeedback(ctx context.Context) error {
	cl, err := kafka.NewClient(s.kcfg.WithClientID("decider-feedback"), s.reg,
		kgo.ConsumerGroup(s.cfg.Group+"-feedback"),
		kgo.ConsumeTopics(s.kcfg.Topics.Feedback),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return fmt.Errorf("decider: feedback consumer: %w", err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.log.Warn("fetch feedback", "topic", t, "partition", p, "err", err)
			}
		})
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		w := s.newBatch(ctx)
		s.writeMu.Lock()
		for _, r := range recs {
			f := &eventpb.Feedback{}
			if err := proto.Unmarshal(r.Value, f); err != nil {
				s.m.feedback.WithLabelValues("decode").Inc()
				continue
			}
			if f.Subject == "" {
				f.Subject = string(r.Key)
			}
			w.write(s.d.Feedback(f, time.Now()), time.Time{})
		}
		s.writeMu.Unlock()
		if err := w.wait(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func (s *Service) consume(ctx context.Context, cl *kgo.Client) error {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.log.Warn("fetch scores", "topic", t, "partition", p, "err", err)
			}
		})
		recs := fs.Records()
		if len(recs) == 0 {
			cl.AllowRebalance()
			continue
		}
		w := s.newBatch(ctx)
		s.writeMu.Lock()
		for _, r := range recs {
			sc := &eventpb.Score{}
			if err := proto.Unmarshal(r.Value, sc); err != nil {
				s.m.badScores.WithLabelValues("decode").Inc()
				s.log.Warn("undecodable score", "partition", r.Partition, "offset", r.Offset, "err", err)
				continue
			}
			if sc.Subject == "" {
				sc.Subject = string(r.Key)
			}
			w.write(s.d.Decide(ctx, sc), r.Timestamp)
		}
		s.writeMu.Unlock()
		if err := w.wait(); err != nil {
			if ctx.Err() != nil {
				return nil // shutting down: the scores are read again at restart
			}
			return err
		}
		if err := cl.CommitRecords(ctx, recs...); err != nil && ctx.Err() == nil {
			s.m.commitErrors.Inc()
			s.log.Warn("commit score offsets", "err", err)
		}
		cl.AllowRebalance()
	}
}

// expireLoop writes the tombstones of expired verdicts. The timer is set
// to the next expiry, and at least every ExpiryTick, since a verdict
// decided meanwhile may expire sooner.
func (s *Service) expireLoop(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		w := s.newBatch(ctx)
		s.writeMu.Lock()
		w.write(s.d.Expire(time.Now()), time.Time{})
		s.writeMu.Unlock()
		if err := w.wait(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("write expiry tombstones: %w", err)
		}
		wait := s.cfg.ExpiryTick
		if next, ok := s.d.NextExpiry(); ok {
			wait = min(wait, max(time.Until(next), time.Millisecond))
		}
		t.Reset(wait)
	}
}

// batch is the verdict records of one poll, produced in order and awaited together.
type batch struct {
	ctx  context.Context
	s    *Service
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func (s *Service) newBatch(ctx context.Context) *batch { return &batch{ctx: ctx, s: s} }

// write produces changes (under writeMu). arrived is when the score that
// caused them was written to the scores topic, for the latency histogram.
func (b *batch) write(changes []Change, arrived time.Time) {
	for _, c := range changes {
		rec := &kgo.Record{Key: []byte(c.Subject)}
		if c.Verdict != nil {
			v, err := proto.Marshal(c.Verdict)
			if err != nil {
				b.fail(fmt.Errorf("encode verdict of %s: %w", c.Subject, err))
				continue
			}
			rec.Value = v
		}
		b.s.own.add(c.Subject, c.Verdict)
		b.wg.Add(1)
		b.s.cl.Produce(b.ctx, rec, func(r *kgo.Record, err error) {
			defer b.wg.Done()
			if err != nil {
				b.s.m.produceErrors.Inc()
				b.fail(fmt.Errorf("write verdict of %s: %w", r.Key, err))
				return
			}
			if !arrived.IsZero() {
				b.s.m.latency.Observe(time.Since(arrived).Seconds())
			}
		})
	}
}

func (b *batch) fail(err error) {
	b.mu.Lock()
	b.errs = append(b.errs, err)
	b.mu.Unlock()
}

func (b *batch) wait() error {
	b.wg.Wait()
	return errors.Join(b.errs...)
}

// refreshCrawlers re-fetches the published crawler ranges at the interval
// of the rules in force (which a reload may change).
func (s *Service) refreshCrawlers(ctx context.Context) error {
	for {
		every := s.d.Rules().Crawlers.Refresh
		wait := every
		if wait <= 0 {
			wait = time.Minute // refresh off: look again later, the rules may change
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if every > 0 {
			if err := s.d.RefreshCrawlers(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("crawler ranges refresh failed; keeping the current ranges", "err", err)
			}
		}
	}
}
