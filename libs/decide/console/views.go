package console

import (
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

var funcs = template.FuncMap{
	"action": verdict.ActionString,
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"nanos": func(ns int64) string {
		if ns == 0 {
			return "never"
		}
		return time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05Z")
	},
	"pathEscape":  url.PathEscape,
	"queryEscape": url.QueryEscape,
	"atLeast": func(p Principal, role string) bool {
		want := map[string]Role{"viewer": RoleViewer, "operator": RoleOperator, "admin": RoleAdmin}[role]
		return p.Role >= want
	},
}

// safeNext keeps a login's return address on this site: a path, never
// "//host" or a scheme.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

type loginData struct {
	Next string
	OIDC bool
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	nonce := s.auth.preNonce(w, r)
	s.render(w, r, http.StatusOK, "login.html", page{Title: "Sign in", CSRF: s.auth.sign.csrf(nonce),
		Data: loginData{Next: safeNext(r.URL.Query().Get("next")), OIDC: s.oidc != nil}})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	next := safeNext(r.PostFormValue("next"))
	fail := func(status int, msg string) {
		s.metrics.logins.WithLabelValues("token", "refused").Inc()
		nonce := s.auth.preNonce(w, r)
		pg := page{Title: "Sign in", Error: msg, CSRF: s.auth.sign.csrf(nonce), Data: loginData{Next: next, OIDC: s.oidc != nil}}
		s.render(w, r, status, "login.html", pg)
	}
	if !s.auth.checkPre(r) {
		fail(http.StatusForbidden, "The form expired or was not sent from this page; try again.")
		return
	}
	role := s.auth.tokens.role(strings.TrimSpace(r.PostFormValue("token")))
	if role == RoleNone {
		s.log.Warn("console login refused", "remote", r.RemoteAddr)
		fail(http.StatusUnauthorized, "That token is not valid.")
		return
	}
	s.metrics.logins.WithLabelValues("token", "ok").Inc()
	s.log.Info("console login", "actor", "token:"+role.String(), "remote", r.RemoteAddr)
	s.auth.clearCookie(w, preCookie)
	s.auth.startSession(w, "token:"+role.String(), role, s.now())
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.auth.clearCookie(w, sessionCookie)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// parseQuery turns what an operator types into a subject: ip:/net:/session:
// subjects, bare addresses and CIDRs, and anything else as a session id.
func parseQuery(q string) (subject.Subject, error) {
	q = strings.TrimSpace(q)
	if sub, err := subject.Parse(q); err == nil {
		return sub, nil
	}
	if _, err := netip.ParseAddr(q); err == nil {
		return subject.Parse(q)
	}
	if !strings.Contains(q, ":") {
		return subject.Parse("session:" + q)
	}
	return subject.Parse(q)
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	sub, err := parseQuery(q)
	if err != nil {
		if wantsJSON(r) {
			jsonError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.render(w, r, http.StatusBadRequest, "overview.html", page{Title: "Overview", Error: err.Error(), Data: s.over.get(s.now())})
		return
	}
	http.Redirect(w, r, "/clients/"+sub.String(), http.StatusSeeOther)
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	evs := s.store.audits.get("")
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, evs)
		return
	}
	s.render(w, r, http.StatusOK, "audit.html", page{Title: "Audit log", Data: evs})
}

// verdictView is a verdict as a page shows it.
type verdictView struct {
	Subject   string
	Action    string
	Score     float64
	Rule      string
	Origin    string
	Reasons   []string
	At        time.Time
	ExpiresAt time.Time
	Lifted    bool
}

func viewOf(sub string, v *eventpb.Verdict) verdictView {
	if v == nil {
		return verdictView{Subject: sub, Action: "LIFTED", Lifted: true}
	}
	return verdictView{Subject: sub, Action: verdict.ActionString(v.GetAction()), Score: v.GetScore(),
		Rule: v.GetRule(), Origin: v.GetOrigin().String(), Reasons: v.GetReasons(),
		At: verdict.At(v), ExpiresAt: verdict.ExpiresAt(v)}
}
