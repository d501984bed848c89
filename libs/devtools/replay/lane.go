package replay

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// partitions is how many engine and decider pairs share the events, by
// client network (/24 or /64), each on its own goroutine. Every subject of
// a request (its address, its network, its derived session) falls in one
// partition, so partitioning changes nothing that a subject's verdict
// depends on; only a session id logged by the site (nginx-json, a cookie)
// that moves between networks is tracked per network. It is a constant,
// not the number of cores, so that the output is the same on every
// machine: an engine's minute ticks follow the events it sees, which shows
// in the order of some idle-flush scores.
const partitions = 4

// lane is one rule file's pipeline: per partition an engine (or the base
// lane's, when both files score alike) and a decider.
type lane struct {
	name   string
	rs     *rules.RuleSet
	shared bool
	// ops are the operators' actions, in event-time order
	// (Config.OperatorRecords).
	ops   []attacks.OperatorAction
	site  *siteLane // site-wide attack mode (site.go); nil when off or shared
	parts [partitions]part
	tally tally
}

// part is a lane's state in one partition, touched only by its goroutine
// (and by the merge goroutine after the last batch).
type part struct {
	eng *aggregator.Engine // nil when shared
	dec *decider.Decider
	// nextExpiry is the earliest expiry the decider holds (0: none).
	nextExpiry int64
	scores     []*eventpb.Score
	attacks    []*eventpb.Attack // records raised in attack mode, in order
	nextOp     int               // the first of the lane's ops not yet applied
}

// operate applies the operators' actions due by event time t to the
// partition's engine, as the live aggregator applies an operator's record
// when it arrives; the records of those the engine took join its attacks.
func (pt *part) operate(ops []attacks.OperatorAction, t int64) {
	for pt.nextOp < len(ops) && ops[pt.nextOp].At <= t {
		op := ops[pt.nextOp]
		pt.nextOp++
		took := false
		if op.Force != nil {
			took = pt.eng.ForceAttack(op.Force)
		} else {
			took = pt.eng.EndAttack(op.End)
		}
		if took {
			pt.attacks = append(pt.attacks, op.Record)
		}
	}
}

func newLane(path string, rs *rules.RuleSet, ms *rules.ModelSpec, base *lane, engOpts []aggregator.Option, sampler func(int) func(*aggregator.Sample), answers *crawlers.Answers, site *attacks.Config) (*lane, error) {
	var err error
	if rs == nil {
		if rs, err = rules.LoadOrDefault(path); err != nil {
			return nil, err
		}
	} else {
		c := *rs // the crawler and model settings below must not change the caller's set
		rs = &c
	}
	name := path
	if name == "" {
		name = "default"
	}
	if ms != nil {
		rs.Model = *ms
		name += " + model " + ms.File
	}
	if rs.Model.File != "" {
		a, err := model.LoadActive(rs.Model.File, rs.Model.Mode, rs.Model.Weight)
		if err != nil {
			return nil, fmt.Errorf("rules %s: %w", name, err)
		}
		engOpts = append(slices.Clone(engOpts), aggregator.WithModel(model.NewHolder(a)))
	}
	// Replay must give the same output every time: crawlers are verified
	// by their published ranges (of the events' dates) and by recorded
	// reverse-DNS answers, never by live lookups. Without an answer, a bot
	// that only reverse DNS can verify is unverifiable, not an impostor.
	rs.Crawlers.RDNS = false
	rs.Crawlers.Answers = answers
	l := &lane{name: name, rs: rs}
	l.shared = base != nil && reflect.DeepEqual(base.rs.Features, rs.Features) && base.rs.Model == rs.Model
	if site != nil && !l.shared {
		l.site = &siteLane{fold: attacks.NewFold(*site)}
		engOpts = append(slices.Clone(engOpts), aggregator.WithSiteFold(l.site.fold))
	}
	for i := range l.parts {
		if !l.shared {
			opts := engOpts
			if sampler != nil {
				opts = append(slices.Clone(engOpts), aggregator.WithSampler(sampler(i)))
			}
			l.parts[i].eng = aggregator.NewEngine(rs.Features, opts...)
		}
		if l.parts[i].dec, err = decider.New(rs, decider.Options{}); err != nil {
			return nil, fmt.Errorf("rules %s: %w", name, err)
		}
	}
	return l, nil
}

// attacks returns the last record of every attack the lane's engines
// raised, ordered by start (then id).
func (l *lane) attacks() []*eventpb.Attack {
	var out []*eventpb.Attack
	if l.site != nil {
		// The site's attacks: the last record of each.
		last := map[string]int{}
		for _, a := range l.site.attacks {
			if j, ok := last[a.GetId()]; ok {
				out[j] = a
				continue
			}
			last[a.GetId()] = len(out)
			out = append(out, a)
		}
	}
	forced := map[string]int{}
	for i := range l.parts {
		p := &l.parts[i]
		if p.eng != nil {
			p.attacks = append(p.attacks, p.eng.TakeAttacks()...)
		}
		last := map[string]int{}
		for _, a := range p.attacks {
			if j, ok := last[a.GetId()]; ok {
				out[j] = a
				continue
			}
			if j, ok := forced[a.GetId()]; ok {
				// An operator's attack is one for every partition: its
				// newest record of any partition is its state.
				if a.GetTimeUnixNano() > out[j].GetTimeUnixNano() {
					out[j] = a
				}
				last[a.GetId()] = j
				continue
			}
			last[a.GetId()] = len(out)
			if a.GetSignal() == attacks.SignalOperator {
				forced[a.GetId()] = len(out)
			}
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b *eventpb.Attack) int {
		if c := cmp.Compare(a.GetStartedUnixNano(), b.GetStartedUnixNano()); c != 0 {
			return c
		}
		return cmp.Compare(a.GetId(), b.GetId())
	})
	return out
}

// late sums the events the lane's engines dropped as too late.
func (l *lane) late() uint64 {
	var n uint64
	for _, p := range l.parts {
		if p.eng != nil {
			n += p.eng.Stats().Late
		}
	}
	return n
}

// change is a verdict change of one lane, in the batch of the event that
// caused it.
type change struct {
	idx     int32
	lane    uint8
	t       int64
	c       decider.Change
	trigger *eventpb.RequestEvent
}

// expire returns the tombstones of the verdicts of partition p that ran
// out by event time t.
func (pt *part) expire(t int64, out []change, idx int32, lane uint8) []change {
	if pt.nextExpiry == 0 || t < pt.nextExpiry {
		return out
	}
	for _, c := range pt.dec.Expire(time.Unix(0, t)) {
		out = append(out, change{idx: idx, lane: lane, t: t, c: c})
	}
	pt.refreshExpiry()
	return out
}

func (pt *part) refreshExpiry() {
	pt.nextExpiry = 0
	if at, ok := pt.dec.NextExpiry(); ok {
		pt.nextExpiry = at.UnixNano()
	}
}

// decide runs scores through the partition's decider.
func (pt *part) decide(ctx context.Context, scores []*eventpb.Score, out []change, idx int32, lane uint8) []change {
	n := len(out)
	for _, s := range scores {
		for _, c := range pt.dec.Decide(ctx, s) {
			out = append(out, change{idx: idx, lane: lane, t: s.GetTimeUnixNano(), c: c, trigger: s.GetTrigger()})
		}
	}
	if len(out) > n {
		pt.refreshExpiry()
	}
	return out
}

// IsModelFile reports whether path names a model file (`bulwark train`
// writes JSON) rather than a rule file (YAML).
func IsModelFile(path string) bool { return strings.HasSuffix(strings.ToLower(path), ".json") }
