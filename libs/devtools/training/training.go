// Package training builds training sets from labelled traffic and trains
// the learned model (libs/detect/model): `bulwark train`. Samples are the
// feature vectors the aggregator's engine computes, by the same code in
// event time (a replay with a sampler), taken at several points of each
// subject's life so that the model learns to decide early.
package training

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// Config says what to train on and how.
type Config struct {
	// Replay is the input (log files or the requests topic) and the rules
	// whose features and rule scores the samples carry. Its Output, Labels,
	// Compare, Model and Sampler are set by Run.
	Replay replay.Config
	// Labels maps client IPs, or "session:ID" subjects, to labels
	// (`bulwark simulate --labels`). Verified crawlers are not learned (the
	// decider verifies them; a model that learned them as people would wave
	// impostors through); unlabelled subjects are skipped.
	Labels map[string]simulate.Label
	Params model.Params
	// TestShare is the share of samples, the latest in event time, held
	// out for the evaluation (0: train on everything, no evaluation).
	TestShare float64
	// SampleEvery is the sampling period of a long-lived subject, in scores
	// (0: DefaultSampleEvery).
	SampleEvery uint32
	// Threshold is the model's flagging probability; RuleThreshold the rule
	// score at which the rules flag (the ladder's challenge level).
	Threshold, RuleThreshold float64
	// Evaluate, if set, is scored on every sample instead of training a
	// model (`bulwark train --evaluate`; see evaluateOnly).
	Evaluate *model.Model
	// Subjects is the kind of subject sampled and scored by the model:
	// model.SubjectIP, model.SubjectSession, or "" to follow the labels
	// (sessions when every label names a session, else addresses).
	Subjects string
	// Split is how samples are held out: SplitTime, SplitSession or
	// SplitAuto ("": time, unless that leaves a side with one class).
	Split string
	// Seed seeds the session split (and cross-validation's folds).
	Seed uint64
	// Folds > 1 adds a cross-validation grouped by subject (CrossValidate).
	Folds int
}

// Result is a trained model and what it was trained on.
type Result struct {
	File    *model.File
	Dataset *model.Dataset
	Replay  *replay.Result
	Train   int // samples trained on
	Test    int // samples held out
	// Split is the split used ("time" or "session"; "" without a test
	// share) and SplitNote why, when auto chose it.
	Split, SplitNote string
	Seed             uint64           // the split's and folds' seed
	CV               *CrossValidation // with Config.Folds
}

// ErrNoSamples is returned when no labelled subject was seen.
var ErrNoSamples = errors.New("no labelled samples: do the labels name the clients of the input?")

// Run builds the training set, trains and evaluates.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.TestShare < 0 || cfg.TestShare >= 1 {
		return nil, fmt.Errorf("test share %v: want 0 <= share < 1", cfg.TestShare)
	}
	if cfg.Threshold <= 0 || cfg.Threshold > 1 {
		return nil, fmt.Errorf("threshold %v: want 0 < threshold <= 1", cfg.Threshold)
	}
	if err := cfg.Params.Validate(); err != nil {
		return nil, err
	}
	lab, err := newLabeller(cfg.Labels)
	if err != nil {
		return nil, err
	}
	if lab.kind, err = subjectKind(cfg.Subjects, lab); err != nil {
		return nil, err
	}
	var parts [partitions]*collector
	every := cfg.SampleEvery
	if every == 0 {
		every = DefaultSampleEvery
	}
	rc := cfg.Replay
	rc.Output, rc.Labels, rc.Compare, rc.Model = nil, nil, "", ""
	rc.Sampler = func(p int) func(*aggregator.Sample) {
		c := &collector{lab: lab, seen: map[uint64]uint32{}, ds: &model.Dataset{}, every: every}
		parts[p%partitions] = c
		return c.sample
	}
	res, err := replay.Run(ctx, rc)
	if err != nil {
		return nil, err
	}
	ds := merge(parts[:])
	if ds.Len() == 0 {
		return nil, ErrNoSamples
	}
	if cfg.Evaluate != nil {
		return evaluateOnly(cfg, ds, res), nil
	}
	ds.Weigh(cfg.Params.PerSubject, cfg.Params.HumanWeight)
	train := all(ds.Len())
	var test []int
	var until int64
	var split, note string
	if cfg.TestShare > 0 {
		if train, test, until, split, note, err = holdOut(ds, cfg.TestShare, cfg.Split, cfg.Seed); err != nil {
			return nil, err
		}
	}
	f, err := model.Train(ds, train, cfg.Params)
	if err != nil {
		return nil, fmt.Errorf("train on %d samples: %w", len(train), err)
	}
	f.Threshold = cfg.Threshold
	f.Subjects = []string{lab.kind}
	f.TrainedAt = time.Now().UTC().Truncate(time.Second)
	f.Data = model.DataInfo{Digest: ds.Digest(), Samples: ds.Len(), Subjects: ds.Subjects(), Sources: rc.Files, Split: split}
	for _, y := range ds.Y {
		if y {
			f.Data.Positives++
		}
	}
	if until != 0 {
		f.Data.TrainUntil = time.Unix(0, until).UTC()
	}
	if len(test) > 0 {
		m, err := model.Compile(f)
		if err != nil {
			return nil, err
		}
		f.Evaluation = model.Evaluate(m, ds, test, cfg.RuleThreshold)
	}
	out := &Result{File: f, Dataset: ds, Replay: res, Train: len(train), Test: len(test), Split: split, SplitNote: note, Seed: cfg.Seed}
	if cfg.Folds > 1 {
		if out.CV, err = CrossValidate(ds, cfg.Folds, cfg.Seed, cfg.Params, cfg.Threshold, cfg.RuleThreshold); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// partitions matches replay's engine partitions (each has its collector).
const partitions = 16

func all(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = i
	}
	return r
}

// labeller finds a sample's label.
type labeller struct {
	ips      map[netip.Addr]simulate.Label
	sessions map[string]simulate.Label // by session id (without "session:")
	kind     string                    // the subjects sampled: model.SubjectIP or SubjectSession
}

func newLabeller(labels map[string]simulate.Label) (*labeller, error) {
	l := &labeller{ips: map[netip.Addr]simulate.Label{}, sessions: map[string]simulate.Label{}}
	for k, v := range labels {
		switch v.Label {
		case "bot", "human", "verified_crawler":
		default:
			return nil, fmt.Errorf("labels: %s: label %q (want bot, human or verified_crawler)", k, v.Label)
		}
		if s, err := subject.Parse(k); err == nil && s.Kind == subject.KindSession {
			l.sessions[s.Session] = v
			continue
		}
		a, err := netip.ParseAddr(k)
		if err != nil {
			return nil, fmt.Errorf("labels: %q is neither an IP address nor a session: subject", k)
		}
		l.ips[a.Unmap()] = v
	}
	return l, nil
}

// collector samples one engine partition.
type collector struct {
	lab   *labeller
	seen  map[uint64]uint32 // times each subject was scored
	ds    *model.Dataset
	every uint32
}

// due is the sampling schedule: a subject is sampled at its 1st..4th score,
// then at every power of two, and every 32nd: early decisions are learned
// as well as late ones, and a long-lived subject does not flood the set.
func due(n, every uint32) bool { return n <= 4 || n&(n-1) == 0 || n%every == 0 }

// DefaultSampleEvery is Config.SampleEvery's default.
const DefaultSampleEvery = 32

func (c *collector) sample(s *aggregator.Sample) {
	if c.lab.kind == model.SubjectSession {
		c.sampleSession(s)
		return
	}
	if s.Kind != subject.KindIP {
		return // an address model scores ip: subjects only (aggregator.WithModel)
	}
	ev := s.Event
	a, err := netip.ParseAddr(ev.GetClientIp())
	if err != nil {
		return
	}
	a = a.Unmap()
	b := a.As16()
	key := xxhash.Sum64(append([]byte{'i'}, b[:]...))
	lbl, ok := c.lab.ips[a]
	if !ok && len(c.lab.sessions) > 0 {
		// Labels of sessions (a site's own session ids) label the address's
		// vector at the requests of that session.
		lbl, ok = c.lab.sessions[aggregator.SessionID(ev)]
	}
	if !ok || lbl.Label == "verified_crawler" {
		return
	}
	c.add(s, key, lbl)
}

// sampleSession samples the session: subjects of the log's own session
// ids, the subjects a session model scores (aggregator.WithModel).
func (c *collector) sampleSession(s *aggregator.Sample) {
	ev := s.Event
	if s.Kind != subject.KindSession || ev.GetSessionId() == "" {
		return
	}
	id := aggregator.SessionID(ev)
	lbl, ok := c.lab.sessions[id]
	if !ok || lbl.Label == "verified_crawler" {
		return
	}
	c.add(s, xxhash.Sum64String("s"+id), lbl)
}

// add keeps the sample when the subject's schedule says so.
func (c *collector) add(s *aggregator.Sample, key uint64, lbl simulate.Label) {
	ev := s.Event
	n := c.seen[key] + 1
	c.seen[key] = n
	if !due(n, c.every) {
		return
	}
	group := string(lbl.Kind)
	if lbl.Evasive {
		group += " (evasive)"
	}
	c.ds.Add(s.Vector, lbl.Label == "bot", ev.GetTimeUnixNano(), key, group, s.RuleScore)
}

// merge joins the partitions' samples in event-time order (ties by subject,
// then partition order): the same input gives the same set.
func merge(parts []*collector) *model.Dataset {
	type row struct {
		c *collector
		i int
	}
	var rows []row
	for _, c := range parts {
		if c == nil {
			continue
		}
		for i := range c.ds.Len() {
			rows = append(rows, row{c, i})
		}
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		if x := cmp.Compare(a.c.ds.T[a.i], b.c.ds.T[b.i]); x != 0 {
			return x
		}
		return cmp.Compare(a.c.ds.Subj[a.i], b.c.ds.Subj[b.i])
	})
	out := &model.Dataset{}
	for _, r := range rows {
		d := r.c.ds
		out.Add(&d.X[r.i], d.Y[r.i], d.T[r.i], d.Subj[r.i], d.Groups[d.Group[r.i]], d.Rule[r.i])
	}
	return out
}
