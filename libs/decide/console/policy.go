package console

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/policy"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// livePolicy is the policy in force as the console read it from the
// policy topic.
type livePolicy struct {
	mu  sync.Mutex
	doc []byte
	at  time.Time
}

func (l *livePolicy) set(doc []byte, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.doc, l.at = bytes.Clone(doc), at
}

func (l *livePolicy) get() ([]byte, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.doc, l.at
}

// policyData is the policy page.
type policyData struct {
	Doc     string
	At      time.Time
	Form    policyForm
	Shipped rules.Ladder
	// Preview: the document to apply and its diff with the one in force.
	Preview bool
	NewDoc  string
	Diff    []diffLine
	Reason  string
	// Compare is the report of the replay comparison.
	Compare string
	// Deciders: each decider's answer to the live policy (ok, refused).
	Deciders []deciderStatus
	// Digest names the policy in force, as the deciders report it.
	Digest string
}

// policyForm is the policy as form fields; "" means "the rule file's".
type policyForm struct {
	Learning                                string // "", "on", "off"
	Monitor, Challenge, Block               string
	TTLMonitor, TTLChallenge, TTLBlock      string
	AllowCIDRs, AllowSubjects, RuleLearning string
}

type diffLine struct {
	Op   string // "+", "-" or " "
	Text string
}

func formOf(p rules.LivePolicy) policyForm {
	var f policyForm
	if p.Learning != nil {
		f.Learning = map[bool]string{true: "on", false: "off"}[*p.Learning]
	}
	num := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	dur := func(v *time.Duration) string {
		if v == nil {
			return ""
		}
		return v.String()
	}
	f.Monitor, f.Challenge, f.Block = num(p.Ladder.Monitor), num(p.Ladder.Challenge), num(p.Ladder.Block)
	f.TTLMonitor, f.TTLChallenge, f.TTLBlock = dur(p.TTL.Monitor), dur(p.TTL.Challenge), dur(p.TTL.Block)
	f.AllowCIDRs, f.AllowSubjects = strings.Join(p.Allow.CIDRs, "\n"), strings.Join(p.Allow.Subjects, "\n")
	var rl []string
	for name, on := range p.RuleLearning {
		rl = append(rl, fmt.Sprintf("%s=%v", name, on))
	}
	f.RuleLearning = strings.Join(rl, "\n")
	return f
}

// policyFromForm reads the form into a policy, naming the field at fault.
func policyFromForm(r *http.Request) (rules.LivePolicy, policyForm, error) {
	f := policyForm{
		Learning: r.PostFormValue("learning"), Monitor: r.PostFormValue("monitor"), Challenge: r.PostFormValue("challenge"),
		Block: r.PostFormValue("block"), TTLMonitor: r.PostFormValue("ttl_monitor"), TTLChallenge: r.PostFormValue("ttl_challenge"),
		TTLBlock: r.PostFormValue("ttl_block"), AllowCIDRs: r.PostFormValue("allow_cidrs"),
		AllowSubjects: r.PostFormValue("allow_subjects"), RuleLearning: r.PostFormValue("rule_learning"),
	}
	var p rules.LivePolicy
	switch f.Learning {
	case "":
	case "on", "off":
		on := f.Learning == "on"
		p.Learning = &on
	default:
		return p, f, fmt.Errorf("learning: want on, off or empty, got %q", f.Learning)
	}
	num := func(name, s string) (*float64, error) {
		if s = strings.TrimSpace(s); s == "" {
			return nil, nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", name, s)
		}
		return &v, nil
	}
	dur := func(name, s string) (*time.Duration, error) {
		if s = strings.TrimSpace(s); s == "" {
			return nil, nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a duration such as 30m or 2h", name, s)
		}
		return &v, nil
	}
	var err error
	for _, x := range []struct {
		dst  **float64
		name string
		v    string
	}{{&p.Ladder.Monitor, "ladder.monitor", f.Monitor}, {&p.Ladder.Challenge, "ladder.challenge", f.Challenge}, {&p.Ladder.Block, "ladder.block", f.Block}} {
		if *x.dst, err = num(x.name, x.v); err != nil {
			return p, f, err
		}
	}
	for _, x := range []struct {
		dst  **time.Duration
		name string
		v    string
	}{{&p.TTL.Monitor, "ttl.monitor", f.TTLMonitor}, {&p.TTL.Challenge, "ttl.challenge", f.TTLChallenge}, {&p.TTL.Block, "ttl.block", f.TTLBlock}} {
		if *x.dst, err = dur(x.name, x.v); err != nil {
			return p, f, err
		}
	}
	p.Allow.CIDRs, p.Allow.Subjects = lines(f.AllowCIDRs), lines(f.AllowSubjects)
	for _, l := range lines(f.RuleLearning) {
		name, v, ok := strings.Cut(l, "=")
		on, err := strconv.ParseBool(strings.TrimSpace(v))
		if !ok || err != nil {
			return p, f, fmt.Errorf("rule learning: want NAME=true or NAME=false per line, got %q", l)
		}
		if p.RuleLearning == nil {
			p.RuleLearning = map[string]bool{}
		}
		p.RuleLearning[strings.TrimSpace(name)] = on
	}
	return p, f, nil
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// rulesFile reads the deciders' rule file (BULWARK_RULES_FILE) afresh on
// every check, so an edit of the file (a ConfigMap update) is seen as the
// deciders see it; without the variable, the shipped file, as they use.
func (s *Server) rulesFile() (data []byte, name string, err error) {
	if s.cfg.RulesFile == "" {
		return rules.DefaultYAML(), "the shipped rule file", nil
	}
	b, err := os.ReadFile(s.cfg.RulesFile)
	if err != nil {
		return nil, "", fmt.Errorf("read the deciders' rule file (BULWARK_RULES_FILE): %w", err)
	}
	return b, s.cfg.RulesFile, nil
}

// checkPolicy validates doc as the deciders will, over their rule file:
// every value, the ladder's order against the file's, the rules named. A
// decider that still refuses it (its file differs from the console's)
// reports so on the audit topic, shown on the policy page.
func (s *Server) checkPolicy(doc []byte) error {
	file, name, err := s.rulesFile()
	if err != nil {
		return err
	}
	_, err = rules.ParseWithLive(file, name, doc)
	return err
}

// diffLines is a line diff of two small documents (a longest common
// subsequence, quadratic: policies are a few dozen lines). Written here
// because no diff library is in the module and this one is a dozen lines.
func diffLines(a, b string) []diffLine {
	x, y := lines2(a), lines2(b)
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []diffLine
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out = append(out, diffLine{" ", x[i]})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, diffLine{"-", x[i]})
			i++
		default:
			out = append(out, diffLine{"+", y[j]})
			j++
		}
	}
	return out
}

func lines2(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func (s *Server) policyPage(w http.ResponseWriter, r *http.Request) {
	doc, at := s.live.get()
	p, _ := rules.ParseLive(doc) // read back as written: the topic only holds what Write checked
	d := policyData{Doc: string(doc), At: at, Form: formOf(p), Shipped: rules.Default().Ladder,
		Deciders: s.store.deciders.statuses(doc), Digest: policy.Digest(doc)}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"policy": string(doc), "written": at, "digest": d.Digest, "deciders": d.Deciders})
		return
	}
	s.render(w, r, http.StatusOK, "policy.html", page{Title: "Live policy", Flash: r.URL.Query().Get("done"), Data: d})
}

// policyPreview shows what applying the form would change, without
// changing anything.
func (s *Server) policyPreview(w http.ResponseWriter, r *http.Request) {
	doc, at := s.live.get()
	d := policyData{Doc: string(doc), At: at, Shipped: rules.Default().Ladder}
	p, form, err := policyFromForm(r)
	d.Form = form
	if err == nil {
		err = s.checkPolicy(p.Marshal())
	}
	if err != nil {
		if wantsJSON(r) {
			jsonError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.render(w, r, http.StatusBadRequest, "policy.html", page{Title: "Live policy", Error: err.Error(), Data: d})
		return
	}
	d.Preview, d.NewDoc, d.Diff, d.Reason = true, string(p.Marshal()), diffLines(string(doc), string(p.Marshal())), r.PostFormValue("reason")
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"policy": d.NewDoc, "diff": d.Diff})
		return
	}
	s.render(w, r, http.StatusOK, "policy.html", page{Title: "Live policy: preview", Data: d})
}

// policyApply writes the previewed document (form field doc) to the policy
// topic, audited.
func (s *Server) policyApply(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	now := s.now()
	newDoc := []byte(r.PostFormValue("doc"))
	old, _ := s.live.get()
	var diff strings.Builder
	for _, l := range diffLines(string(old), string(newDoc)) {
		if l.Op != " " {
			diff.WriteString(l.Op + " " + l.Text + "\n")
		}
	}
	ev := &eventpb.AuditEvent{TimeUnixNano: now.UnixNano(), Actor: p.Actor, Role: p.Role.String(), Action: "policy",
		Reason: strings.TrimSpace(r.PostFormValue("reason")), Detail: diff.String(), RemoteAddr: r.RemoteAddr}
	status, result := http.StatusOK, "ok"
	err := s.checkPolicy(newDoc)
	switch {
	case err != nil:
		status, result = http.StatusBadRequest, "refused: "+err.Error()
	default:
		if err := policy.Write(r.Context(), s.kcfg, newDoc); err != nil {
			status, result = http.StatusBadGateway, "failed: "+err.Error()
		}
	}
	ev.Result = result
	s.metrics.actions.WithLabelValues("policy", strings.SplitN(result, ":", 2)[0]).Inc()
	s.log.Info("console action", "actor", p.Actor, "action", "policy", "diff", ev.Detail, "result", result)
	if aerr := s.audit.write(r.Context(), ev); aerr != nil {
		s.metrics.audit.WithLabelValues("failed").Inc()
		if status == http.StatusOK {
			status, result = http.StatusBadGateway, "ok, but the audit record was not written: "+aerr.Error()
		}
	} else {
		s.metrics.audit.WithLabelValues("ok").Inc()
		s.store.audits.add("", ev)
	}
	if status == http.StatusOK {
		// Shown at once; the topic brings the same document back.
		s.live.set(newDoc, now)
	}
	if wantsJSON(r) {
		writeJSON(w, status, map[string]string{"result": result})
		return
	}
	if status != http.StatusOK {
		doc, at := s.live.get()
		pol, _ := rules.ParseLive(doc)
		s.render(w, r, status, "policy.html", page{Title: "Live policy", Error: result,
			Data: policyData{Doc: string(doc), At: at, Form: formOf(pol), Shipped: rules.Default().Ladder}})
		return
	}
	http.Redirect(w, r, "/policy?done="+url.QueryEscape("policy: "+result+"; every decider applies it within seconds"), http.StatusSeeOther)
}
