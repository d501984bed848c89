package console

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
)

// compareWindow is how much traffic a policy change is replayed on.
const compareWindow = time.Hour

// compareTimeout bounds one comparison: an operator waits for it.
const compareTimeout = 2 * time.Minute

// policyCompare replays the last hour of the requests topic under the
// policy in force and under the previewed one (the code of `bulwark replay
// --compare`) and shows who would be treated differently. One comparison
// runs at a time: it takes a core while it runs.
func (s *Server) policyCompare(w http.ResponseWriter, r *http.Request) {
	newDoc := []byte(r.PostFormValue("doc"))
	doc, at := s.live.get()
	d := policyData{Doc: string(doc), At: at, Shipped: rules.Default().Ladder, Preview: true, NewDoc: string(newDoc),
		Diff: diffLines(string(doc), string(newDoc)), Reason: r.PostFormValue("reason")}
	p, _ := rules.ParseLive(newDoc)
	d.Form = formOf(p)
	fail := func(status int, msg string) {
		if wantsJSON(r) {
			jsonError(w, status, msg)
			return
		}
		s.render(w, r, status, "policy.html", page{Title: "Live policy: preview", Error: msg, Data: d})
	}
	select {
	case s.comparing <- struct{}{}:
		defer func() { <-s.comparing }()
	default:
		fail(http.StatusTooManyRequests, "another comparison is running; try again when it is done")
		return
	}
	file, name, err := s.rulesFile()
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	before, err := rules.ParseWithLive(file, name, doc)
	if err != nil {
		fail(http.StatusConflict, "the policy in force does not apply to "+name+": "+err.Error())
		return
	}
	after, err := rules.ParseWithLive(file, name, newDoc)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), compareTimeout)
	defer cancel()
	now := s.now()
	res, err := replay.Run(ctx, replay.Config{Topic: true, Kafka: s.kcfg, Since: now.Add(-compareWindow), Until: now,
		Rules: "in force", Compare: "with the change", RuleSet: before, CompareSet: after, Log: s.log})
	if err != nil {
		fail(http.StatusBadGateway, "replay of the last hour: "+err.Error())
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "replayed %d requests of the last hour (%s) from the requests topic in %s\n",
		res.Events, compareWindow, res.Elapsed.Round(time.Millisecond))
	if res.Diff != nil {
		_ = res.Diff.WriteReport(&b)
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"events": res.Events, "diff": res.Diff})
		return
	}
	d.Compare = b.String()
	s.render(w, r, http.StatusOK, "policy.html", page{Title: "Live policy: preview", Data: d})
}
