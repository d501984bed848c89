package console

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// overviewData is the overview page: active verdicts by action and rule,
// the networks with most blocked clients and the commonest reasons.
type overviewData struct {
	At        time.Time
	Total     int
	ByAction  []count
	ByRule    []count
	TopNets   []count
	Reasons   []count
	Operators []verdictView
	Ready     bool
}

type count struct {
	Name string
	N    int
}

// overviewCache recomputes the overview at most every few seconds: a walk
// of a million verdicts takes a while, and many open consoles should not
// each pay for it.
type overviewCache struct {
	store *store
	mu    sync.Mutex
	last  overviewData
}

const overviewEvery = 5 * time.Second

func (c *overviewCache) get(now time.Time) overviewData {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.last.At.IsZero() && now.Sub(c.last.At) < overviewEvery {
		return c.last
	}
	c.last = c.compute(now)
	return c.last
}

func (c *overviewCache) compute(now time.Time) overviewData {
	d := overviewData{At: now}
	select {
	case <-c.store.reader.Ready():
		d.Ready = true
	default:
	}
	actions, rules, nets, reasons := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	c.store.table.Range(func(key string, v *eventpb.Verdict) bool {
		if !verdict.Active(v, now) {
			return true
		}
		d.Total++
		actions[verdict.ActionString(v.GetAction())]++
		rules[cmp.Or(v.GetRule(), "(none)")]++
		if v.GetOrigin() == eventpb.Origin_OPERATOR && len(d.Operators) < 50 {
			d.Operators = append(d.Operators, viewOf(key, v))
		}
		if v.GetAction() != eventpb.Action_BLOCK {
			return true
		}
		if sub, err := subject.Parse(key); err == nil {
			switch sub.Kind {
			case subject.KindIP:
				nets[subject.Net(subject.NetOf(sub.Addr))]++
			case subject.KindNet:
				nets[key]++
			}
		}
		for _, r := range v.GetReasons() {
			// "rate_10s=48/s" counts as rate_10s: the value differs per client.
			name, _, _ := strings.Cut(r, "=")
			name, _, _ = strings.Cut(name, ":")
			reasons[name]++
		}
		return true
	})
	d.ByAction, d.ByRule = top(actions, 10), top(rules, 20)
	d.TopNets, d.Reasons = top(nets, 15), top(reasons, 15)
	slices.SortFunc(d.Operators, func(a, b verdictView) int { return b.At.Compare(a.At) })
	return d
}

func top(m map[string]int, n int) []count {
	out := make([]count, 0, len(m))
	for k, v := range m {
		out = append(out, count{k, v})
	}
	slices.SortFunc(out, func(a, b count) int { return cmp.Or(b.N-a.N, strings.Compare(a.Name, b.Name)) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	d := s.over.get(s.now())
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, d)
		return
	}
	s.render(w, r, http.StatusOK, "overview.html", page{Title: "Overview", Data: d})
}
