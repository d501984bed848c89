package replay

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// flagged is the weakest action that counts as catching a client: a
// challenge or a block. MONITOR only watches.
const flagged = eventpb.Action_CHALLENGE

// holding is a verdict in force: its action until its expiry (0 = never).
type holding struct {
	action  eventpb.Action
	expires int64
}

func (h holding) catches(t int64) bool {
	return h.action >= flagged && (h.expires == 0 || t < h.expires)
}

// clientEval is what happened to one client address.
type clientEval struct {
	label     simulate.Label
	requests  int64
	caught    int64 // requests made while a CHALLENGE or BLOCK covered the client
	first     int64 // event time of its first request
	flaggedAt int64 // event time it was first flagged, 0 if never
}

func (c *clientEval) flag(t int64) {
	if c.flaggedAt == 0 || t < c.flaggedAt {
		c.flaggedAt = t
	}
}

// evaluator scores the verdicts of a replay against a labels file (ip ->
// label and kind, as `bulwark simulate --labels` writes). A client counts as
// flagged when a CHALLENGE or BLOCK verdict named it (its ip: subject, or a
// net: or session: verdict its own request triggered), or when it sent a
// request while a net: or session: verdict covering it was in force. A
// request counts as caught when it was sent while such a verdict was in
// force: the sidecar would have challenged or blocked it.
//
// With labels of sessions only (a dataset of session ids), the evaluation is
// per session instead: each session id of the log is one client, flagged
// when a CHALLENGE or BLOCK verdict named its session: subject, its
// requests caught while such a verdict was in force.
type evaluator struct {
	labels   map[netip.Addr]simulate.Label
	clients  map[netip.Addr]*clientEval
	ips      map[netip.Addr]holding
	nets     map[netip.Prefix]holding
	sessions map[uint64]holding
	// bySession: the evaluation is per session (sessLabels by session id
	// as in session: subjects, sessClients by the same).
	bySession   bool
	sessLabels  map[string]simulate.Label
	sessClients map[string]*clientEval
}

func newEvaluator(labels map[string]simulate.Label) (*evaluator, error) {
	e := &evaluator{
		labels:      make(map[netip.Addr]simulate.Label, len(labels)),
		clients:     map[netip.Addr]*clientEval{},
		ips:         map[netip.Addr]holding{},
		nets:        map[netip.Prefix]holding{},
		sessions:    map[uint64]holding{},
		sessLabels:  map[string]simulate.Label{},
		sessClients: map[string]*clientEval{},
	}
	for s, l := range labels {
		if id, ok := strings.CutPrefix(s, "session:"); ok {
			e.sessLabels[subject.SessionID(id)] = l
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("labels: %q is neither an IP address nor a session: subject", s)
		}
		e.labels[a.Unmap()] = l
	}
	// Mixed labels keep the evaluation per address (session labels then
	// only train models, `bulwark train`).
	e.bySession = len(e.sessLabels) > 0 && len(e.labels) == 0
	return e, nil
}

// session is the evaluation of the log's session id (as in session:
// subjects).
func (e *evaluator) session(id string) *clientEval {
	c := e.sessClients[id]
	if c == nil {
		l, ok := e.sessLabels[id]
		if !ok {
			l = simulate.Label{Label: "unlabelled", Kind: "unlabelled"}
		}
		c = &clientEval{label: l}
		e.sessClients[id] = c
	}
	return c
}

// requestBySession records a request of a per-session evaluation.
func (e *evaluator) requestBySession(ev *eventpb.RequestEvent) {
	if ev.GetSessionId() == "" {
		return // no session id: not one of the clients evaluated
	}
	a, _ := netip.ParseAddr(ev.GetClientIp())
	t := ev.GetTimeUnixNano()
	c := e.session(aggregator.SessionID(ev))
	c.requests++
	if c.first == 0 {
		c.first = t
	}
	if e.sessions[sessionOf(ev, a.Unmap())].catches(t) {
		c.caught++
		c.flag(t)
	}
}

// sessionOf keys a request's session as the aggregator does: the log's
// session id, else the client address with its user agent.
func sessionOf(ev *eventpb.RequestEvent, a netip.Addr) uint64 {
	d := xxhash.New()
	if id := ev.GetSessionId(); id != "" {
		d.WriteString("s")
		d.WriteString(id)
		return d.Sum64()
	}
	b := a.As16()
	d.WriteString("d")
	d.Write(b[:])
	d.WriteString(ev.GetUserAgent())
	return d.Sum64()
}

func (e *evaluator) client(a netip.Addr) *clientEval {
	c := e.clients[a]
	if c == nil {
		l, ok := e.labels[a]
		if !ok {
			l = simulate.Label{Label: "unlabelled", Kind: "unlabelled"}
		}
		c = &clientEval{label: l}
		e.clients[a] = c
	}
	return c
}

// request records a request before the engine sees it: what was in force
// then is what the sidecar would have answered.
func (e *evaluator) request(ev *eventpb.RequestEvent) {
	if e.bySession {
		e.requestBySession(ev)
		return
	}
	a, err := netip.ParseAddr(ev.GetClientIp())
	if err != nil {
		return
	}
	a = a.Unmap()
	t := ev.GetTimeUnixNano()
	c := e.client(a)
	c.requests++
	if c.first == 0 {
		c.first = t
	}
	caught := e.ips[a].catches(t)
	if !caught && len(e.nets) > 0 {
		caught = e.nets[subject.NetOf(a)].catches(t)
	}
	if !caught && len(e.sessions) > 0 {
		caught = e.sessions[sessionOf(ev, a)].catches(t)
	}
	if caught {
		c.caught++
		c.flag(t)
	}
}

// verdict records a verdict change; trigger is the request that led to it.
func (e *evaluator) verdict(v *eventpb.Verdict, trigger *eventpb.RequestEvent) {
	sub, err := subject.Parse(v.GetSubject())
	if err != nil {
		return
	}
	h := holding{action: v.GetAction(), expires: v.GetExpiresAtUnixNano()}
	var tip netip.Addr
	if trigger != nil {
		tip, _ = netip.ParseAddr(trigger.GetClientIp())
		tip = tip.Unmap()
	}
	switch sub.Kind {
	case subject.KindIP:
		e.ips[sub.Addr] = h
		tip = sub.Addr
	case subject.KindNet:
		e.nets[sub.Prefix] = h
	case subject.KindSession:
		if trigger == nil || (!tip.IsValid() && trigger.GetSessionId() == "") {
			return
		}
		e.sessions[sessionOf(trigger, tip)] = h
		if e.bySession {
			if h.action >= flagged && trigger.GetSessionId() != "" {
				e.session(sub.Session).flag(v.GetAtUnixNano())
			}
			return
		}
	case subject.KindFP:
		// A fingerprint's verdict acts on the addresses it lists.
		for _, raw := range v.GetAddresses() {
			if a, err := netip.ParseAddr(raw); err == nil && h.action >= flagged && !e.bySession {
				e.client(a.Unmap()).flag(v.GetAtUnixNano())
			}
		}
	}
	if e.bySession {
		return // an address's verdict names no session
	}
	if h.action >= flagged && tip.IsValid() {
		e.client(tip).flag(v.GetAtUnixNano())
	}
}

// KindEval is the evaluation of one kind of client.
type KindEval struct {
	Kind     string  `json:"kind"` // with " (evasive)" for evasive bots
	Label    string  `json:"label"`
	Evasive  bool    `json:"evasive,omitempty"`
	Clients  int     `json:"clients"`
	Requests int64   `json:"requests"`
	Flagged  int     `json:"flagged"`
	Caught   int64   `json:"caught_requests"`
	Rate     float64 `json:"flagged_share"` // recall for bots, false-positive rate otherwise
	// MedianTimeToFlag is from a client's first request to its flagging.
	MedianTimeToFlag time.Duration `json:"median_time_to_flag_ns"`
}

// Evaluation is the outcome of a replay against labels.
type Evaluation struct {
	Kinds []KindEval `json:"kinds"`
	// Precision: flagged bot clients among all flagged labelled clients.
	Precision float64 `json:"precision"`
	// Recall: flagged bot clients among all bot clients.
	Recall float64 `json:"recall"`
	// HumanFPRate: flagged humans among humans; HumanRequestFPRate: their
	// requests caught among all human requests.
	HumanFPRate        float64 `json:"human_fp_rate"`
	HumanRequestFPRate float64 `json:"human_request_fp_rate"`
	// CrawlersFlagged counts verified crawler addresses flagged (want 0).
	CrawlersFlagged int `json:"verified_crawlers_flagged"`
	// Unlabelled counts addresses missing from the labels file, and how
	// many of them were flagged.
	Unlabelled, UnlabelledFlagged int
	// Subjects is what a client is: "ip" (an address) or "session" (a
	// session id of the log, with labels of sessions).
	Subjects string `json:"subjects"`
	// LabelledUnseen counts labelled sessions that sent no request in the
	// input (per-session evaluations): not counted in any figure.
	LabelledUnseen int `json:"labelled_unseen,omitempty"`
}

// Targets of the issue: recall for every bot kind with at least
// MinRequests requests, the false-positive rate on humans.
const (
	TargetRecall      = 0.95
	TargetHumanFPRate = 0.001
	MinRequests       = 30
)

func (e *evaluator) result() *Evaluation {
	type acc struct {
		k     KindEval
		delay []time.Duration
	}
	kinds := map[string]*acc{}
	ev := &Evaluation{Subjects: "ip"}
	var botFlagged, botAll, flaggedAll, humans, humansFlagged int
	var humanReq, humanCaught int64
	clients := make([]*clientEval, 0, len(e.clients)+len(e.sessClients))
	if e.bySession {
		ev.Subjects = "session"
		for _, c := range e.sessClients {
			clients = append(clients, c)
		}
		for id := range e.sessLabels {
			if c := e.sessClients[id]; c == nil || c.requests == 0 {
				ev.LabelledUnseen++
			}
		}
	} else {
		for _, c := range e.clients {
			clients = append(clients, c)
		}
	}
	for _, c := range clients {
		if c.label.Label == "unlabelled" {
			ev.Unlabelled++
			if c.flaggedAt != 0 {
				ev.UnlabelledFlagged++
			}
			continue
		}
		name := string(c.label.Kind)
		if c.label.Evasive {
			name += " (evasive)"
		}
		k := kinds[name]
		if k == nil {
			k = &acc{k: KindEval{Kind: name, Label: c.label.Label, Evasive: c.label.Evasive}}
			kinds[name] = k
		}
		k.k.Clients++
		k.k.Requests += c.requests
		k.k.Caught += c.caught
		isBot := c.label.Label == simulate.LabelBot
		if isBot {
			botAll++
		}
		if c.label.Label == simulate.LabelHuman {
			humans++
			humanReq += c.requests
			humanCaught += c.caught
		}
		if c.flaggedAt != 0 {
			k.k.Flagged++
			k.delay = append(k.delay, time.Duration(max(0, c.flaggedAt-c.first)))
			flaggedAll++
			switch c.label.Label {
			case simulate.LabelBot:
				botFlagged++
			case simulate.LabelHuman:
				humansFlagged++
			case simulate.LabelVerifiedCrawler:
				ev.CrawlersFlagged++
			}
		}
	}
	for _, k := range kinds {
		k.k.Rate = ratio(k.k.Flagged, k.k.Clients)
		if len(k.delay) > 0 {
			slices.Sort(k.delay)
			k.k.MedianTimeToFlag = k.delay[len(k.delay)/2]
		}
		ev.Kinds = append(ev.Kinds, k.k)
	}
	order := map[string]int{simulate.LabelBot: 0, simulate.LabelHuman: 1, simulate.LabelVerifiedCrawler: 2}
	slices.SortFunc(ev.Kinds, func(a, b KindEval) int {
		if c := cmp.Compare(order[a.Label], order[b.Label]); c != 0 {
			return c
		}
		return cmp.Compare(a.Kind, b.Kind)
	})
	ev.Precision = ratio(botFlagged, flaggedAll)
	ev.Recall = ratio(botFlagged, botAll)
	ev.HumanFPRate = ratio(humansFlagged, humans)
	if humanReq > 0 {
		ev.HumanRequestFPRate = float64(humanCaught) / float64(humanReq)
	}
	return ev
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Misses lists the bot kinds below the recall target (with at least
// MinRequests requests), and problems with humans and crawlers.
func (ev *Evaluation) Misses() []string {
	var out []string
	for _, k := range ev.Kinds {
		if k.Label == simulate.LabelBot && k.Requests >= MinRequests && k.Rate < TargetRecall {
			out = append(out, fmt.Sprintf("%s recall %.3f < %.2f", k.Kind, k.Rate, TargetRecall))
		}
	}
	if ev.HumanFPRate > TargetHumanFPRate {
		out = append(out, fmt.Sprintf("human false-positive rate %.4f%% > %.1f%%", 100*ev.HumanFPRate, 100*TargetHumanFPRate))
	}
	if ev.CrawlersFlagged > 0 {
		out = append(out, fmt.Sprintf("%d verified crawler addresses flagged", ev.CrawlersFlagged))
	}
	return out
}

// hasPeople reports whether labelled people were evaluated.
func (ev *Evaluation) hasPeople() bool {
	for _, k := range ev.Kinds {
		if k.Label == simulate.LabelHuman && k.Clients > 0 {
			return true
		}
	}
	return false
}

// WriteReport prints the evaluation as a Markdown table with a summary.
func (ev *Evaluation) WriteReport(w io.Writer) error {
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	if ev.Subjects == "session" {
		p("Clients are the log's sessions (labels of session ids): a session is flagged when a CHALLENGE or BLOCK verdict named it.\n\n")
	}
	p("| kind | label | clients | requests | flagged | recall / FP rate | requests caught | median time to flag |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, k := range ev.Kinds {
		rate := fmt.Sprintf("%.3f", k.Rate)
		if k.Label != simulate.LabelBot {
			rate = fmt.Sprintf("FP %.3f%%", 100*k.Rate)
		} else if k.Requests >= MinRequests && k.Rate < TargetRecall {
			rate += " (miss)"
		}
		ttf := "-"
		if k.Flagged > 0 {
			ttf = k.MedianTimeToFlag.Round(time.Second).String()
		}
		p("| %s | %s | %d | %d | %d | %s | %.1f%% | %s |\n", k.Kind, k.Label, k.Clients, k.Requests, k.Flagged,
			rate, 100*float64(k.Caught)/float64(max(k.Requests, 1)), ttf)
	}
	clients, unlabelled := "clients", "addresses"
	if ev.Subjects == "session" {
		clients, unlabelled = "sessions", "sessions"
	}
	p("\nprecision %.4f, recall %.4f (%s); humans flagged %.3f%% (requests caught %.4f%%); verified crawlers flagged %d",
		ev.Precision, ev.Recall, clients, 100*ev.HumanFPRate, 100*ev.HumanRequestFPRate, ev.CrawlersFlagged)
	if ev.Unlabelled > 0 {
		p("; %d %s not in the labels file (%d flagged)", ev.Unlabelled, unlabelled, ev.UnlabelledFlagged)
	}
	if ev.LabelledUnseen > 0 {
		p("; %d labelled sessions sent no request in the input (not counted)", ev.LabelledUnseen)
	}
	p("\n")
	if m := ev.Misses(); len(m) > 0 {
		p("targets missed: %s\n", strings.Join(m, "; "))
	} else {
		p("targets met: recall >= %.2f for every bot kind with >= %d requests, humans flagged <= %.1f%%, no verified crawler flagged\n",
			TargetRecall, MinRequests, 100*TargetHumanFPRate)
	}
	if !ev.hasPeople() {
		p("no labelled person sent a request in the input: the false-positive rate was not measured\n")
	}
	return err
}
