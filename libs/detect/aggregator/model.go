package aggregator

import (
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// The learned model is applied here, in the aggregator, not in the decider:
// the model reads the full feature vector, which only the aggregator holds
// (a score carries the present features by name in a map, and the decider
// would rebuild a vector per score); and so the score the decider, the
// scores topic and ClickHouse see already is the combined one, with the
// model's reason and its probability beside the rules'.

// WithModel scores with the model h holds (h's model may be swapped or
// removed while the engine runs: a reload). The model scores the subject
// kinds its file names (model.File.Subjects): a model trained on addresses
// scores ip: subjects only; session: and net: subjects by the rules alone.
// Labels name such clients by address, and an address's vector carries its
// crowd (how many sessions share it); a derived session behind an office
// NAT (one address, one common browser) mixes dozens of people into one
// subject that looks like a fast client, and a model applied to sessions
// flagged both simulated offices (BENCHMARKS.md, section model). A model
// trained on sessions (labels of a site's own session ids, e.g. an
// anonymised log) scores session: subjects, and only those named by the
// log's session id: a log's session is one browser, never a derived crowd.
func WithModel(h *model.Holder) Option { return func(o *options) { o.model = h } }

// Sample is a subject's feature vector at the moment it was scored, for
// building training sets (`bulwark train`). Everything in it is valid only
// during the call.
type Sample struct {
	Kind      subject.Kind
	Event     *eventpb.RequestEvent // the request that made the subject be scored
	Vector    *features.Vector
	RuleScore float64 // the rule scorer's score, before any model
}

// WithSampler calls f with every subject the engine scores for a request
// (not for idle flushes), whether or not the score is emitted.
func WithSampler(f func(*Sample)) Option { return func(o *options) { o.sampler = f } }

// engineModel is the model's part of the subject being scored.
type engineModel struct {
	active *model.Active // nil: no model scored this subject
	p      float64
	rule   float64
	sample Sample
}

// score scores e.vector: the rule scorer, then the model in force; ev is
// the request the subject is scored for.
func (e *Engine) score(kind subject.Kind, ev *eventpb.RequestEvent) float64 {
	rule := e.scorer.Score(kind, &e.vector, &e.points)
	e.mdl.active, e.mdl.rule = nil, rule
	if e.opt.model == nil || (kind != subject.KindIP && kind != subject.KindSession) {
		return rule
	}
	a := e.opt.model.Load()
	if a == nil {
		return rule
	}
	if kind == subject.KindIP && !a.Model.ScoresIPs() ||
		kind == subject.KindSession && (!a.Model.ScoresSessions() || ev.GetSessionId() == "") {
		return rule
	}
	e.mdl.active, e.mdl.p = a, a.Model.Predict(&e.vector)
	return a.Combine(rule, e.mdl.p)
}

// sample hands the subject just scored to the sampler, if any.
func (e *Engine) sample(kind subject.Kind, ev *eventpb.RequestEvent) {
	if e.opt.sampler == nil {
		return
	}
	e.mdl.sample = Sample{Kind: kind, Event: ev, Vector: &e.vector, RuleScore: e.mdl.rule}
	e.opt.sampler(&e.mdl.sample)
}

// modelFields records the model's probability on s and, when the model
// counts (blend or replace, worth at least a rule reason's points), puts its
// reason first: "model=0.93 (iat_cv_1m, referer_missing_share_10m)".
func (e *Engine) modelFields(s *eventpb.Score) {
	a := e.mdl.active
	if a == nil {
		return
	}
	s.ModelScore = proto.Float64(e.mdl.p)
	s.Model = a.Label()
	if a.Mode == model.Shadow || a.Points(e.mdl.rule, e.mdl.p) < minModelPoints {
		return
	}
	r := make([]string, 0, len(s.Reasons)+1)
	r = append(r, a.Model.Reason(&e.vector))
	r = append(r, s.Reasons...)
	if len(r) > scoring.MaxReasons {
		r = r[:scoring.MaxReasons]
	}
	s.Reasons = r
}

// minModelPoints: the model is named as a reason when it adds at least as
// many points as the weakest rule reason (scoring's minReasonPoints).
const minModelPoints = 5
