package shipper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/ingest/geoip"
	"github.com/bulwarkhq/bulwark/libs/ingest/logfile"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// Summary counts what a run did.
type Summary struct {
	Read, Shipped, Rejected, Skipped int64
}

// Shipper publishes log lines to Kafka.
type Shipper struct {
	cfg     Config
	kcfg    kafka.Config
	topics  kafka.Topics
	format  logparse.Format
	popts   logparse.Options
	log     *slog.Logger
	metrics *metrics
	client  *kgo.Client
	adm     *kadm.Client
	store   *CheckpointStore
	geo     *geoip.DB // nil when no database is configured

	mu       sync.Mutex
	trackers map[string]*ackTracker // path -> tracker, for checkpointing
	running  map[string]bool

	// pctx is the context records are produced with: cancelled only when a
	// stop has outlasted StopTimeout (see Run). Made in New, not Run, so that
	// a Logpush handler mounted before Run starts reads it without a race.
	pctx    context.Context
	abandon context.CancelFunc

	read, shipped, rejected, skipped atomic.Int64
}

// New builds a shipper. Close it (or let Run return) to release the client.
func New(cfg Config, kcfg kafka.Config, log *slog.Logger, reg prometheus.Registerer) (*Shipper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	format, popts, err := cfg.ParseOptions()
	if err != nil {
		return nil, fmt.Errorf("shipper parser: %w", err)
	}
	codec, _ := compression(cfg.Compression)
	geo, err := geoip.Open(cfg.GeoIP)
	if err != nil {
		return nil, fmt.Errorf("shipper geoip: %w", err)
	}
	s := &Shipper{
		cfg:      cfg,
		kcfg:     kcfg.WithClientID("shipper"),
		topics:   kcfg.Topics,
		format:   format,
		popts:    popts,
		geo:      geo,
		log:      log.With("component", "shipper"),
		trackers: map[string]*ackTracker{},
		running:  map[string]bool{},
	}
	store, err := OpenCheckpoints(cfg.CheckpointFile)
	if err != nil {
		return nil, err
	}
	s.store = store
	s.pctx, s.abandon = context.WithCancel(context.Background())
	client, err := kafka.NewClient(s.kcfg, reg,
		kgo.ProducerBatchCompression(codec),
		kgo.RecordPartitioner(newHashedPartitioner(kcfg.Topics.Requests)),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
		kgo.ProducerLinger(cfg.Linger),
		// kgo's defaults retry a record without limit and without a delivery
		// deadline: while Kafka is away the buffer fills and reading stops.
		kgo.ProduceRequestTimeout(30*time.Second),
	)
	if err != nil {
		return nil, err
	}
	s.client = client
	s.adm = kadm.NewClient(client)
	s.metrics = newMetrics(reg, func() float64 { return float64(client.BufferedProduceRecords()) })
	if reg != nil && geo != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "bulwark_shipper_geoip_errors_total",
			Help: "GeoIP database reloads that failed (a changed file unreadable or corrupt; the databases loaded before stay in use and the next check tries again)."},
			func() float64 { return float64(geo.Errors()) }))
	}
	return s, nil
}

// Summary returns the counts so far.
func (s *Shipper) Summary() Summary {
	return Summary{Read: s.read.Load(), Shipped: s.shipped.Load(), Rejected: s.rejected.Load(), Skipped: s.skipped.Load()}
}

// Close releases the Kafka client; Run calls it on return.
func (s *Shipper) Close() { s.client.Close() }

// Run ships the configured files (and serves Logpush pushes when configured)
// until ctx is done, or, without Follow, until every file has been read and
// acknowledged. On return everything read has been acknowledged or is
// recorded as not yet shipped in the checkpoints, so a restart resumes there.
func (s *Shipper) Run(ctx context.Context) error {
	defer s.Close()
	pctx, abandon := s.pctx, s.abandon
	defer abandon()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			// Unblock a Produce waiting for buffer space (Kafka away) once
			// the stop has taken long enough; unacknowledged lines are read
			// again after a restart.
			t := time.AfterFunc(s.cfg.StopTimeout, abandon)
			<-stopped
			t.Stop()
		case <-stopped:
		}
	}()
	paths, err := s.expand()
	if err != nil {
		return err
	}
	if !s.cfg.Follow && len(paths) == 0 {
		return fmt.Errorf("no log files match %v", s.cfg.Files)
	}
	g, gctx := errgroup.WithContext(ctx)
	if s.geo != nil {
		go s.geo.Watch(gctx, s.log)
	}
	for _, p := range paths {
		s.startFile(gctx, g, p)
	}
	stopAux := make(chan struct{})
	var aux sync.WaitGroup
	if s.cfg.Follow {
		aux.Add(1)
		go func() { defer aux.Done(); s.checkpointLoop(gctx, stopAux) }()
		if len(s.cfg.Files) > 0 {
			g.Go(func() error { return s.rescanLoop(gctx, g) })
		}
	}
	if s.cfg.LogpushAddr != "" {
		g.Go(func() error { return s.serveLogpush(gctx) })
	}
	err = g.Wait()
	close(stopAux)
	aux.Wait()

	// Deliver what is buffered, within a bound, then record how far we got.
	if ferr := s.client.Flush(pctx); ferr != nil {
		s.log.Warn("flush on stop: some records were not acknowledged; they are read again on restart", "err", ferr)
	}
	if cerr := s.saveCheckpoints(); cerr != nil && err == nil {
		err = cerr
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = nil
	}
	sum := s.Summary()
	s.log.Info("shipper finished", "read", sum.Read, "shipped", sum.Shipped, "rejected", sum.Rejected, "skipped_as_already_sent", sum.Skipped)
	return err
}

// expand resolves the configured paths and globs to files.
func (s *Shipper) expand() ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, pat := range s.cfg.Files {
		matches, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("BULWARK_SHIPPER_FILES: bad pattern %q: %w", pat, err)
		}
		if len(matches) == 0 && s.cfg.Follow && !hasMeta(pat) {
			matches = []string{pat} // a plain path that does not exist yet: wait for it
		}
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out, nil
}

func hasMeta(p string) bool {
	for _, c := range p {
		if c == '*' || c == '?' || c == '[' {
			return true
		}
	}
	return false
}

func (s *Shipper) startFile(ctx context.Context, g *errgroup.Group, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[path] {
		return
	}
	s.running[path] = true
	g.Go(func() error { return s.shipFile(ctx, path) })
}

func (s *Shipper) rescanLoop(ctx context.Context, g *errgroup.Group) error {
	t := time.NewTicker(s.cfg.RescanInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		paths, err := s.expand()
		if err != nil {
			return err
		}
		for _, p := range paths {
			s.startFile(ctx, g, p)
		}
	}
}

// shipFile reads one file to its end (or forever when following).
func (s *Shipper) shipFile(ctx context.Context, path string) error {
	cp, known := s.store.Get(path)
	if !known {
		var err error
		if cp, err = s.freshCheckpoint(ctx, path); err != nil {
			return err
		}
	}
	delivered, err := s.recoverDelivered(ctx, path, cp, known)
	if err != nil {
		return err
	}
	f, err := tail.Open(path, cp.Position, tail.Options{Follow: s.cfg.Follow, PollInterval: s.cfg.PollInterval, MaxLineBytes: s.cfg.MaxLineBytes,
		OnRotate: func(r tail.Rotation) { s.rotated(path, r) }})
	if err != nil {
		return fmt.Errorf("ship %s: %w", path, err)
	}
	defer f.Close()
	tracker := newAckTracker(f.Position(), cp.Partitions)
	s.mu.Lock()
	s.trackers[path] = tracker
	s.mu.Unlock()
	if !known {
		// Record the start marks at once: a crash before the first periodic
		// checkpoint must still find what it already sent.
		if err := s.saveCheckpoints(); err != nil {
			return err
		}
	}
	pipe, err := newPipeline(ctx, s, path, tracker.ack, tracker.commit)
	if err != nil {
		return fmt.Errorf("ship %s: %w", path, err)
	}
	// Every line handed to the pipeline is produced (or, after a stop, left
	// unacknowledged) before the file counts as done.
	defer pipe.close()
	readC := s.metrics.linesRead.WithLabelValues(path)
	bytesC := s.metrics.bytesRead.WithLabelValues(path)
	dupC := s.metrics.duplicatesSkipped.WithLabelValues(path)
	// Lines read are counted once per batch: three atomic adds per line
	// were a measurable share of the reader's time.
	var nread, nbytes int64
	count := func() {
		s.read.Add(nread)
		readC.Add(float64(nread))
		bytesC.Add(float64(nbytes))
		nread, nbytes = 0, 0
	}
	defer count()
	for {
		if !f.Buffered() {
			count()
			pipe.flush() // Next may read or wait: what was read goes on now
		}
		line, err := f.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ship %s: %w", path, err)
		}
		nread++
		nbytes += line.End - line.Offset
		end := line.EndPosition()
		if delivered.has(line.Identity, line.Offset) {
			tracker.add(end, true)
			s.skipped.Add(1)
			dupC.Inc()
			continue
		}
		pipe.add(line, tracker.add(end, false))
	}
}

// rotated logs and counts a rotation of path; one whose old file could not
// be found is an error: lines may be lost, and an operator must know.
func (s *Shipper) rotated(path string, r tail.Rotation) {
	s.metrics.rotations.WithLabelValues(path, r.Kind).Inc()
	args := []any{"path", path, "kind", r.Kind, "old", r.Old.String(), "new", r.New.String(), "old_offset", r.Offset, "while_away", r.WhileAway}
	if r.Lost {
		s.metrics.rotationsLost.WithLabelValues(path, r.Kind).Inc()
		s.log.Error("log file rotated and the rest of the old file was not found beside it: lines written to it after old_offset may be lost "+
			"(a copytruncate or renamed copy must keep the file's name as prefix, e.g. "+filepath.Base(path)+".1 or "+filepath.Base(path)+".1.gz; plain, gzip or zstd)", args...)
		return
	}
	if r.From != "" {
		args = append(args, "reading_rest_from", r.From)
	}
	s.log.Info("log file rotated", args...)
}

// freshCheckpoint is the checkpoint of a file seen for the first time: its
// start (or end, with StartAt=end) and the current end of every partition.
func (s *Shipper) freshCheckpoint(ctx context.Context, path string) (Checkpoint, error) {
	var cp Checkpoint
	if s.cfg.StartAt == "end" {
		if fi, err := os.Stat(path); err == nil {
			cp.Position = tail.Position{Identity: tail.IdentityOf(fi), Offset: fi.Size()}
		}
	}
	if s.store.path == "" {
		return cp, nil // nothing persisted: nothing to recover later either
	}
	marks, err := s.endMarks(ctx)
	if err != nil {
		return cp, fmt.Errorf("ship %s: %w", path, err)
	}
	cp.Partitions = marks
	return cp, nil
}

// endMarks lists the end offsets of the requests and DLQ topics, waiting
// for Kafka if it is not there yet.
func (s *Shipper) endMarks(ctx context.Context) (map[string]Mark, error) {
	backoff := 200 * time.Millisecond
	for {
		ends, err := s.adm.ListEndOffsets(ctx, s.topics.Requests, s.topics.RequestsDLQ)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			marks := map[string]Mark{}
			ends.Each(func(o kadm.ListedOffset) {
				marks[markKey(o.Topic, o.Partition)] = Mark{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset}
			})
			return marks, nil
		}
		s.log.Warn("list end offsets; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Shipper) checkpointLoop(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(s.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.saveCheckpoints(); err != nil {
			s.log.Error("save checkpoints", "err", err)
		}
	}
}

func (s *Shipper) saveCheckpoints() error {
	s.mu.Lock()
	cps := make(map[string]Checkpoint, len(s.trackers))
	for p, t := range s.trackers {
		cps[p] = t.checkpoint()
	}
	s.mu.Unlock()
	for p, cp := range cps {
		if fi, err := os.Stat(p); err == nil {
			lag := fi.Size() - cp.Position.Offset
			same := tail.IdentityOf(fi).SameFile(cp.Position.Identity)
			switch {
			case same && lag < 0 && compressed(p):
				// Offsets of a compressed file are in its content, which is
				// bigger than the file: its lag in bytes is not known, and a
				// finished archive must not look behind.
				lag = 0
			case !same || lag < 0:
				lag = fi.Size() // rotated: the whole new file is ahead of us
			}
			s.metrics.lagBytes.WithLabelValues(p).Set(float64(lag))
		}
	}
	if err := s.store.Save(cps); err != nil {
		s.metrics.checkpointErrors.Inc()
		return err
	}
	return nil
}

// compressed reports whether the file at path is gzip'd or zstd-compressed.
func compressed(path string) bool {
	c, err := logfile.IsCompressed(path)
	return err == nil && c != logfile.None
}
