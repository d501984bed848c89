// Package replay runs recorded traffic (log files, or a time range of the
// requests topic) through the aggregator's Engine and the decider in one
// process, in event-time order, and writes the verdict changes as contract
// JSON lines. It is how rules are tuned: the same input and rules give the
// same output, byte for byte, and nothing is written to Kafka. It can also
// score the verdicts against a labels file (`bulwark simulate --labels`) and
// compare two rule files.
package replay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/detect/signatures"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/ingest/geoip"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// Config says what to replay and how.
type Config struct {
	// Files are log files in Format (gzip and zstd files are decompressed), merged
	// by event time. Either Files or Topic.
	Files        []string
	Format       logparse.Format
	ParseOptions logparse.Options
	// GeoIP, when set, adds country, ASN and AS organisation to events read
	// from files, as the shipper does (events from the topic have them).
	GeoIP *geoip.DB
	// Topic reads Kafka's requests topic (Kafka.Topics.Requests) instead.
	Topic bool
	Kafka kafka.Config
	// Events, if set, is the input instead of Files or Topic.
	Events Events
	// Since and Until bound the events' time (zero: open).
	Since, Until time.Time
	// Reorder is how far each file is read ahead to put its lines in time
	// order (logs of several workers interleave out of order); 0 means
	// DefaultReorder, a negative value none.
	Reorder time.Duration
	// AllowedLateness is the engines' allowed lateness (see
	// aggregator.WithAllowedLateness); 0 means aggregator.DefaultAllowedLateness.
	AllowedLateness time.Duration

	// Rules is the rule file ("" for the one shipped with Bulwark).
	Rules string
	// Signatures is the operator's request-signature file, read over the
	// shipped signatures ("" for the shipped set alone).
	Signatures string
	// NoSignatures turns the request-signature layer off.
	NoSignatures bool
	// Compare, if set, is a second rule file run side by side; Result.Diff
	// says which subjects it treats differently. A model file (*.json) here
	// means the Rules with that model (in ModelMode): rules against model.
	Compare string
	// RuleSet and CompareSet, when set, are used instead of the files
	// Rules and Compare (which then only name them in the report): the
	// console compares a rule file with and without a live policy.
	RuleSet, CompareSet *rules.RuleSet
	// Model, if set, is a model file (`bulwark train`) the replay scores
	// with in ModelMode and ModelWeight, in place of the rule file's
	// `model:` section.
	Model       string
	ModelMode   model.Mode
	ModelWeight float64
	// Sampler, if set, returns for each engine partition a function that
	// gets every subject the first lane scores (aggregator.WithSampler);
	// `bulwark train` builds its training set with it. The partitions run
	// concurrently, each calling only its own function.
	Sampler func(partition int) func(*aggregator.Sample)
	// RDNSCache holds reverse-DNS answers recorded by a live decider
	// (`bulwark bots export-cache`); nil: bots verified only by reverse DNS
	// are unverifiable.
	RDNSCache *crawlers.Answers

	// AttackMode turns on the site-wide baselines and attack mode
	// (aggregator.WithAttackMode with attacks.DefaultConfig); Result.Attacks
	// lists the attacks raised.
	AttackMode bool
	// OperatorRecords are attack records of operators (bulwark attack
	// start|end; ReadAttackRecords, ReadAttackTopic), applied in attack
	// mode at their event time as the live aggregators applied them
	// (attacks.OperatorActions); other records are ignored.
	OperatorRecords []*eventpb.Attack

	// Labels, if set, maps client IPs to labels; Result.Evaluation scores
	// the verdicts against them.
	Labels map[string]simulate.Label

	// Output receives one verdict JSON line per verdict change (nil: discarded).
	Output io.Writer
	// Progress, if set, gets a progress line about once a second (for a terminal).
	Progress io.Writer
	Log      *slog.Logger
}

// DefaultReorder is the default Config.Reorder: logs merged from several
// workers or servers are out of order by up to a minute or so.
const DefaultReorder = 2 * time.Minute

// MaxLateShare is the share of events dropped as too late above which a
// replay's result is not to be trusted (Result.TooLate).
const MaxLateShare = 0.01

// ErrNoInput is returned when a Config names neither files nor the topic.
var ErrNoInput = errors.New("replay: no input: give log files or the topic")

// Validate checks the config.
func (c *Config) Validate() error {
	inputs := 0
	for _, in := range []bool{len(c.Files) > 0, c.Topic, c.Events != nil} {
		if in {
			inputs++
		}
	}
	switch {
	case inputs == 0:
		return ErrNoInput
	case inputs > 1:
		return errors.New("replay: give one input: log files, the topic or another source")
	case c.AllowedLateness < 0:
		return errors.New("replay: allowed lateness must not be negative")
	case len(c.OperatorRecords) > 0 && !c.AttackMode:
		return errors.New("replay: operators' attack records need attack mode")
	case !c.Since.IsZero() && !c.Until.IsZero() && !c.Until.After(c.Since):
		return fmt.Errorf("replay: until (%s) is not after since (%s)", c.Until.Format(time.RFC3339), c.Since.Format(time.RFC3339))
	}
	if len(c.Files) > 0 {
		if _, err := logparse.New(c.Format, c.ParseOptions); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
	}
	return nil
}

// Result is what a replay found.
type Result struct {
	Lines    int64            // lines (or records) read
	Events   int64            // events replayed
	Skipped  int64            // outside Since/Until
	Bad      map[string]int64 // unparseable lines by reason
	Late     uint64           // events the engine dropped as too late
	Scores   int64
	Verdicts int64
	// ByAction counts verdict changes by action.
	ByAction map[string]int64
	// Evaluation is set when Labels were given; Diff when Compare was,
	// and CompareEvaluation (the Compare rules against the labels) when both.
	Evaluation        *Evaluation
	Diff              *Diff
	CompareEvaluation *Evaluation
	// Attacks are the attacks raised with AttackMode: the last record of
	// each, in order of start: the site-wide ones (and the operators') once,
	// shared-fingerprint crawls once per replay partition that saw one.
	Attacks []*eventpb.Attack
	// First and Last are the event times of the first and last events.
	First, Last time.Time
	Elapsed     time.Duration
}

// TooLate reports whether more than MaxLateShare of the events were dropped
// as later than the allowed lateness: the verdicts then miss that traffic.
func (r *Result) TooLate() bool {
	return r.Events > 0 && float64(r.Late) > MaxLateShare*float64(r.Events)
}

// LinesPerSecond is the replay's throughput.
func (r *Result) LinesPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Lines) / r.Elapsed.Seconds()
}

// inFlight is how many batches exist: some being filled, some queued, some
// in the engines, one being decided.
const inFlight = 8

// Run replays cfg's input. It returns when the input is exhausted, or with
// ctx's error when ctx ends first.
//
// Goroutines: one reads and parses into batches; one per partition runs its
// engines on the batch's events of its partition; one (the merge) walks the
// batch in event order, hands each event's scores to the deciders and writes
// the verdict changes. Batches go to the engines and to the merge in the
// same order, so the output depends on the input alone.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	var engOpts []aggregator.Option
	if cfg.AllowedLateness > 0 {
		engOpts = append(engOpts, aggregator.WithAllowedLateness(cfg.AllowedLateness))
	}
	if cfg.NoSignatures {
		engOpts = append(engOpts, aggregator.WithSignatures(nil))
	} else {
		set, err := signatures.Load(cfg.Signatures)
		if err != nil {
			return nil, err
		}
		engOpts = append(engOpts, aggregator.WithSignatures(signatures.NewHolder(set)))
	}
	if cfg.AttackMode {
		engOpts = append(engOpts, aggregator.WithAttackMode(attacks.DefaultConfig()))
	}
	var baseModel *rules.ModelSpec
	if cfg.Model != "" {
		baseModel = &rules.ModelSpec{File: cfg.Model, Mode: cfg.ModelMode, Weight: cfg.ModelWeight}
	}
	var site *attacks.Config
	if cfg.AttackMode {
		c := attacks.DefaultConfig()
		site = &c
	}
	base, err := newLane(cfg.Rules, cfg.RuleSet, baseModel, nil, engOpts, cfg.Sampler, cfg.RDNSCache, site)
	if err != nil {
		return nil, err
	}
	base.ops = attacks.OperatorActions(cfg.OperatorRecords)
	lanes := []*lane{base}
	if cfg.Compare != "" || cfg.CompareSet != nil {
		rulesFile, rs, ms := cfg.Compare, cfg.CompareSet, (*rules.ModelSpec)(nil)
		if cfg.CompareSet == nil && IsModelFile(cfg.Compare) {
			rulesFile, rs = cfg.Rules, cfg.RuleSet
			ms = &rules.ModelSpec{File: cfg.Compare, Mode: cfg.ModelMode, Weight: cfg.ModelWeight}
		}
		other, err := newLane(rulesFile, rs, ms, base, engOpts, nil, cfg.RDNSCache, site)
		if err != nil {
			return nil, err
		}
		other.ops = base.ops
		base.tally, other.tally = tally{}, tally{}
		lanes = append(lanes, other)
	}
	var evals []*evaluator // by lane
	if cfg.Labels != nil {
		for range lanes {
			ev, err := newEvaluator(cfg.Labels)
			if err != nil {
				return nil, err
			}
			evals = append(evals, ev)
		}
	}

	c := &counters{}
	w := window{}
	if !cfg.Since.IsZero() {
		w.since = cfg.Since.UnixNano()
	}
	if !cfg.Until.IsZero() {
		w.until = cfg.Until.UnixNano()
	}
	var src source
	switch {
	case cfg.Events != nil:
		src = &eventsSource{in: cfg.Events, w: w, c: c}
	case cfg.Topic:
		src, err = openTopic(ctx, cfg.Kafka, w, c)
	default:
		reorder := cfg.Reorder
		switch {
		case reorder == 0:
			reorder = DefaultReorder
		case reorder < 0:
			reorder = 0
		}
		var fs *files
		fs, err = openFiles(cfg.Files, cfg.Format, cfg.ParseOptions, w, c, reorder)
		if fs != nil {
			fs.geo = cfg.GeoIP
			src = fs
		}
	}
	if err != nil {
		return nil, err
	}
	defer src.close()

	out := cfg.Output
	if out == nil {
		out = io.Discard
	}
	bw := bufio.NewWriterSize(out, 256<<10)
	res := &Result{ByAction: map[string]int64{}, Bad: map[string]int64{}}
	e := &engineLoop{lanes: lanes, evals: evals, out: bw, res: res}

	start := time.Now()
	free := make(chan *batch, inFlight)
	toMerge := make(chan *batch, inFlight)
	var toEngine [partitions]chan *batch
	for i := range toEngine {
		toEngine[i] = make(chan *batch, inFlight)
	}
	for range inFlight {
		free <- newBatch()
	}
	g, gctx := errgroup.WithContext(ctx)
	var seq uint64 // the reader's batch numbers
	bar := newBarrier()
	g.Go(func() error { // read and parse
		defer func() {
			for _, ch := range toEngine {
				close(ch)
			}
			close(toMerge)
		}()
		for {
			var b *batch
			select {
			case b = <-free:
			case <-gctx.Done():
				return gctx.Err()
			}
			b.n = 0
			err := src.fill(gctx, b)
			if b.n > 0 {
				b.partition()
				seq++
				b.seq = seq
				b.pending.Add(partitions)
				for _, ch := range toEngine {
					ch <- b // never blocks: a channel holds every batch there is
				}
				toMerge <- b
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
	for p := range partitions {
		g.Go(func() error { // score and decide one partition
			for b := range toEngine[p] {
				if site != nil && !bar.wait(b.seq) {
					b.pending.Done() // the merge stopped: nothing more is run
					continue
				}
				b.run(gctx, p, lanes)
				b.pending.Done()
			}
			return nil
		})
	}
	g.Go(func() error { // decide and write, in event order
		defer bar.close()
		for b := range toMerge {
			b.pending.Wait()
			if site != nil {
				last := b.slots[b.n-1].ev.GetTimeUnixNano()
				for li, l := range lanes {
					if l.site != nil {
						l.site.foldBatch(l, b.counts[li], last)
					}
				}
				bar.done(b.seq)
			}
			if err := e.merge(b); err != nil {
				return err
			}
			b.reset()
			free <- b
		}
		e.finish(gctx, cfg.Until)
		return e.err
	})
	stopProgress := startProgress(cfg.Progress, c, e, start)
	err = g.Wait()
	stopProgress()
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write verdicts: %w", ferr)
	}
	if err != nil {
		return nil, err
	}

	res.Elapsed = time.Since(start)
	res.Lines, res.Events, res.Skipped = c.lines.Load(), c.events.Load(), c.skipped.Load()
	for i, name := range badReasons {
		if n := c.bad[i].Load(); n > 0 {
			res.Bad[name] = n
		}
	}
	res.Late = base.late()
	res.Attacks = base.attacks()
	if len(evals) > 0 {
		res.Evaluation = evals[0].result()
	}
	if len(evals) > 1 {
		res.CompareEvaluation = evals[1].result()
	}
	if len(lanes) > 1 {
		res.Diff = diff(lanes[0].name, lanes[1].name, lanes[0].tally, lanes[1].tally)
	}
	return res, nil
}

// engineLoop is the merge goroutine's state.
type engineLoop struct {
	lanes []*lane
	evals []*evaluator // by lane, when there are labels
	out   *bufio.Writer
	res   *Result
	line  []byte
	err   error
	// done and verdicts are read by the progress line while the loop runs.
	done, verdicts atomic.Int64
}

// merge walks a decided batch in event order: for each event, what was in
// force when it arrived (for the evaluation), then the verdict changes it
// caused.
func (e *engineLoop) merge(b *batch) error {
	var cur [partitions]int
	for i, s := range b.slots[:b.n] {
		t := s.ev.GetTimeUnixNano()
		if e.res.First.IsZero() {
			e.res.First = time.Unix(0, t).UTC()
		}
		e.res.Last = time.Unix(0, t).UTC()
		for _, ev := range e.evals {
			ev.request(s.ev)
		}
		cs := b.changes[s.part]
		for k := cur[s.part]; k < len(cs) && cs[k].idx == int32(i); k++ {
			e.emit(&cs[k])
			cur[s.part] = k + 1
		}
		if e.err != nil {
			return e.err
		}
	}
	for _, n := range b.scores {
		e.res.Scores += n
	}
	e.done.Add(int64(b.n))
	return nil
}

// finish moves the engines' watermark to the end of the window (when there
// is one), so that subjects idle at its end get their decayed scores, and
// decides on those. The partition goroutines have finished by then.
func (e *engineLoop) finish(ctx context.Context, until time.Time) {
	if until.IsZero() {
		return
	}
	t := until.UnixNano()
	for p := range partitions {
		var out []change
		for li, l := range e.lanes {
			pt := &l.parts[p]
			out = pt.expire(t, out, 0, uint8(li))
			scores := e.lanes[0].parts[p].scores
			if !l.shared {
				pt.scores = pt.eng.Advance(until, pt.scores[:0])
				scores = pt.scores
			}
			out = pt.decide(ctx, scores, out, 0, uint8(li))
		}
		for k := range out {
			e.emit(&out[k])
		}
	}
}

// emit handles one verdict change.
func (e *engineLoop) emit(ch *change) {
	l := e.lanes[ch.lane]
	v := ch.c.Verdict
	if v == nil {
		why := "expired"
		if ch.c.Why == decider.WhyLift {
			why = "lifted"
		}
		v = &eventpb.Verdict{Subject: ch.c.Subject, Action: eventpb.Action_ALLOW, Reasons: []string{why}, AtUnixNano: ch.t}
	}
	if l.tally != nil && ch.c.Verdict != nil {
		l.tally.add(v, ch.trigger)
	}
	if e.evals != nil {
		e.evals[ch.lane].verdict(v, ch.trigger)
	}
	if ch.lane != 0 {
		return
	}
	e.res.Verdicts++
	e.verdicts.Add(1)
	e.res.ByAction[actionName(v.GetAction())]++
	e.line = appendVerdict(e.line[:0], v)
	if _, err := e.out.Write(e.line); err != nil && e.err == nil {
		e.err = fmt.Errorf("write verdicts: %w", err)
	}
}
