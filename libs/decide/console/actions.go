package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/feedback"
	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// errRefused marks an action refused by a guard or a role (4xx), as
// opposed to one that failed on Kafka (5xx).
var errRefused = errors.New("refused")

var overrideActions = map[string]eventpb.Action{
	"block": eventpb.Action_BLOCK, "challenge": eventpb.Action_CHALLENGE, "allow": eventpb.Action_ALLOW,
}

// actionResult is the JSON answer to an action.
type actionResult struct {
	Subject string          `json:"subject"`
	Action  string          `json:"action"`
	Result  string          `json:"result"`
	Verdict json.RawMessage `json:"verdict,omitempty"`
}

// act takes one operator action (form fields: subject, action, ttl,
// reason, force, label) through the same paths as the CLI: overrides for
// block/challenge/allow/unblock, feedback for labels. Every attempt,
// refused ones included, is audited.
func (s *Server) act(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	now := s.now()
	action := r.PostFormValue("action")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	ev := &eventpb.AuditEvent{TimeUnixNano: now.UnixNano(), Actor: p.Actor, Role: p.Role.String(),
		Action: action, Reason: reason, RemoteAddr: r.RemoteAddr}
	key, detail, err := s.apply(r, p, action, reason, now, ev)
	ev.Subject, ev.Detail = key, detail
	result, status := "ok", http.StatusOK
	switch {
	case errors.Is(err, errRefused):
		result, status = "refused: "+strings.TrimPrefix(err.Error(), "refused: "), http.StatusBadRequest
		if p.Role < RoleOperator {
			status = http.StatusForbidden
		}
	case err != nil:
		result, status = "failed: "+err.Error(), http.StatusBadGateway
	}
	ev.Result = result
	s.metrics.actions.WithLabelValues(metricAction(action), strings.SplitN(result, ":", 2)[0]).Inc()
	s.log.Info("console action", "actor", p.Actor, "role", p.Role.String(), "action", action, "subject", key,
		"reason", reason, "result", result)
	if aerr := s.audit.write(r.Context(), ev); aerr != nil {
		s.metrics.audit.WithLabelValues("failed").Inc()
		if err == nil {
			result, status = "ok, but the audit record was not written: "+aerr.Error(), http.StatusBadGateway
		}
	} else {
		s.metrics.audit.WithLabelValues("ok").Inc()
		// Shown at once on the pages, before it comes back from the topic.
		s.store.audits.add("", ev)
		if key != "" {
			s.store.audits.add(key, ev)
		}
	}
	if wantsJSON(r) {
		res := actionResult{Subject: key, Action: action, Result: result}
		if strings.HasPrefix(detail, "{") {
			res.Verdict = json.RawMessage(detail)
		}
		writeJSON(w, status, res)
		return
	}
	if key == "" || status != http.StatusOK {
		if key == "" {
			jsonError(w, status, result)
			return
		}
		sub, _ := subject.Parse(key)
		d := s.clientData(r.Context(), sub)
		s.render(w, r, status, "client.html", page{Title: key, Error: result, Data: d})
		return
	}
	http.Redirect(w, r, "/clients/"+key+"?done="+url.QueryEscape(action+": "+result), http.StatusSeeOther)
}

func metricAction(a string) string {
	switch a {
	case "block", "challenge", "allow", "unblock", "label":
		return a
	}
	return "unknown"
}

// apply does the action and returns the canonical subject and the record
// written.
func (s *Server) apply(r *http.Request, p Principal, action, reason string, now time.Time, ev *eventpb.AuditEvent) (string, string, error) {
	key, err := subject.Canonical(strings.TrimSpace(r.PostFormValue("subject")))
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", errRefused, err)
	}
	if p.Role < RoleOperator {
		return key, "", fmt.Errorf("%w: %s needs the operator role; you are %s", errRefused, action, p.Role)
	}
	switch action {
	case "block", "challenge", "allow":
		ttl, err := time.ParseDuration(strings.TrimSpace(r.PostFormValue("ttl")))
		if err != nil {
			return key, "", fmt.Errorf("%w: ttl %q: want a duration such as 2h or 30m", errRefused, r.PostFormValue("ttl"))
		}
		ev.TtlSeconds = int64(ttl / time.Second)
		force := r.PostFormValue("force") != ""
		if force && p.Role < RoleAdmin {
			return key, "", fmt.Errorf("%w: force (a network wider than the override limit) needs the admin role", errRefused)
		}
		req := overrides.Request{Action: overrideActions[action], Subject: key, TTL: ttl, Reason: reason + " (by " + p.Actor + ")", Force: force}
		if reason == "" {
			req.Reason = "by " + p.Actor
		}
		k, v, err := s.limits.Verdict(req, now)
		if err != nil {
			return key, "", fmt.Errorf("%w: %v", errRefused, err)
		}
		if err := overrides.Write(r.Context(), s.kcfg, k, v); err != nil {
			return k, "", err
		}
		return k, string(verdict.Marshal(k, v)), nil
	case "unblock":
		if err := overrides.Write(r.Context(), s.kcfg, key, nil); err != nil {
			return key, "", err
		}
		return key, fmt.Sprintf(`{"subject":%q,"action":"LIFTED"}`, key), nil
	case "label":
		f, err := feedback.Label(key, r.PostFormValue("label"), reason, now)
		if err != nil {
			return key, "", fmt.Errorf("%w: %v", errRefused, err)
		}
		f.Source = "console:" + p.Actor
		ev.Action = "label_" + r.PostFormValue("label")
		if err := feedback.Write(r.Context(), s.kcfg, f); err != nil {
			return key, "", err
		}
		return key, f.GetKind().String(), nil
	}
	return key, "", fmt.Errorf("%w: unknown action %q (want block, challenge, allow, unblock or label)", errRefused, action)
}
