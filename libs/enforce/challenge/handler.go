// Package challenge is Bulwark's answer to a CHALLENGE verdict: the pages
// under /.bulwark/ (GET /.bulwark/challenge?return=PATH, POST
// /.bulwark/verify), the built-in challenge (SHA-256 proof of work whose
// difficulty follows the score, browser-environment checks, and on the
// interactive level pointer and key timing scored here), third-party
// CAPTCHAs verified server-side (Turnstile, hCaptcha, reCAPTCHA v2/v3), and
// the signed clearance cookie a pass earns (bulwark_clearance), which the
// gate, the sidecar's /v1/authz and ext_authz, and botguard honour.
//
// Every challenge issued, passed, failed or abandoned is a feedback record
// (eventpb.Feedback) handed to a Sink; libs/decide/feedback publishes them on the
// feedback topic, which the decider reads.
package challenge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// Paths under the prefix that one nginx location or Envoy route sends to
// Bulwark (contract, ARCHITECTURE.md).
const (
	Prefix        = "/.bulwark/"
	PathChallenge = "/.bulwark/challenge"
	PathVerify    = "/.bulwark/verify"
	// HeaderReturn carries the return path when ?return= is absent.
	HeaderReturn = "X-Bulwark-Return"
)

// Sink receives feedback records. It must not block for long: a page is
// waiting.
type Sink interface {
	Publish(ctx context.Context, f *eventpb.Feedback)
}

// VerdictFunc says what the verdict table holds for a client: the action,
// its score and its rule (ALLOW, 0, "" when nothing).
type VerdictFunc func(ip netip.Addr, r *http.Request) (action eventpb.Action, score float64, rule string)

// Options build a Handler.
type Options struct {
	Config Config
	// Keys sign clearances and tokens (Config.Keys loads them).
	Keys *Keys
	// ClientIP finds the client's address (required).
	ClientIP func(*http.Request) netip.Addr
	// Verdict, when set, chooses the level from the client's verdict and
	// shows BLOCKed clients the block page instead of a challenge.
	Verdict VerdictFunc
	// Feedback receives the records; nil drops them.
	Feedback Sink
	// Source names the program in feedback records and metrics ("gate").
	Source     string
	Log        *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Handler serves /.bulwark/ and verifies clearances.
type Handler struct {
	cfg      Config
	keys     *Keys
	verifier *Verifier
	clientIP func(*http.Request) netip.Addr
	verdict  VerdictFunc
	sink     Sink
	source   string
	log      *slog.Logger
	now      func() time.Time
	langs    *Languages
	provider *provider
	nonces   *nonces
	pages    pageCache
	m        *metrics
}

// maxVerifyBody bounds a verify POST (the form is a few hundred bytes; the
// interaction report at most a few KiB).
const maxVerifyBody = 64 << 10

// New builds a handler.
func New(o Options) (*Handler, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	if o.Keys == nil || o.ClientIP == nil {
		return nil, errors.New("challenge: Options.Keys and Options.ClientIP are required")
	}
	langs, err := LoadLanguages(o.Config.StringsFile)
	if err != nil {
		return nil, fmt.Errorf("challenge: BULWARK_CHALLENGE_STRINGS_FILE: %w", err)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Source == "" {
		o.Source = "challenge"
	}
	h := &Handler{
		cfg: o.Config, keys: o.Keys, verifier: NewVerifier(o.Keys), clientIP: o.ClientIP,
		verdict: o.Verdict, sink: o.Feedback, source: o.Source, log: o.Log.With("component", "challenge"),
		now: o.Now, langs: langs, provider: newProvider(o.Config), nonces: newNonces(1 << 20),
	}
	h.m = newMetrics(o.Registerer, o.Source, h.nonces)
	return h, nil
}

// Verifier checks clearance cookies with the handler's keys.
func (h *Handler) Verifier() *Verifier { return h.verifier }

// kind is the challenge's name in feedback records.
func (h *Handler) kind() string {
	if h.provider != nil {
		return h.provider.name
	}
	return "pow"
}

// ServeHTTP serves the /.bulwark/ endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case PathChallenge:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeJSONError(w, http.StatusMethodNotAllowed, "GET "+PathChallenge+"?return=PATH")
			return
		}
		q := r.URL.Query()
		raw := q.Get("return")
		if !q.Has("return") {
			// From a proxy that cannot URL-encode a query parameter (nginx's
			// error_page to the sidecar); checked the same way.
			raw = r.Header.Get(HeaderReturn)
		}
		ret, ok := SafeReturn(raw)
		if !ok {
			h.m.refused.WithLabelValues("return").Inc()
			writeJSONError(w, http.StatusBadRequest, "return must be a path on this site, like /cart")
			return
		}
		ip := h.clientIP(r)
		level, rule := LevelLight, ""
		if h.verdict != nil {
			a, score, rl := h.verdict(ip, r)
			if a == eventpb.Action_BLOCK {
				h.ServeBlocked(w, r, "")
				return
			}
			if a == eventpb.Action_CHALLENGE {
				level, rule = LevelFor(score), rl
			}
		}
		h.ServeChallenge(w, r, http.StatusOK, level, rule, ret)
	case PathVerify:
		if r.Method != http.MethodPost {
			writeJSONError(w, http.StatusMethodNotAllowed, "POST "+PathVerify+" (the challenge page's form)")
			return
		}
		h.verify(w, r)
	default:
		writeJSONError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	}
}

// SafeReturn accepts only a path on this site ("/cart?x=1"), never a URL
// of another ("https://evil.example/", "//evil.example", "/\\evil.example"):
// an open redirect would lend the site's name to phishing. Empty is "/".
func SafeReturn(s string) (string, bool) {
	if s == "" {
		return "/", true
	}
	if len(s) > 2048 || s[0] != '/' || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\x00\r\n\t") {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "", false
	}
	if strings.HasPrefix(u.Path, Prefix) {
		return "/", true
	}
	return s, true
}

func (h *Handler) securityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	if h.provider == nil {
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	} else {
		hd.Set("Content-Security-Policy", "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	}
}

// ServeChallenge writes the challenge page for the request's client with
// status (200 on /.bulwark/challenge; the gate serves it in place of a
// challenged page with 403), and records it as issued.
func (h *Handler) ServeChallenge(w http.ResponseWriter, r *http.Request, status int, level Level, rule, ret string) {
	now := h.now()
	ip := h.clientIP(r)
	tok := newToken(ip, r.UserAgent(), level, now)
	lang, s := h.langs.pick(r.Header.Get("Accept-Language"))
	pg, err := h.pages.get(pageKey{lang: lang, level: level}, func() pageData {
		d := pageData{Lang: lang, S: s, Interactive: level.Interactive() && h.provider == nil}
		if h.provider != nil {
			d.Widget = h.provider.widget()
		}
		d.Script = script(nonceSlot, level.Bits(), d.Interactive, h.provider != nil, s)
		return d
	})
	if err != nil {
		h.log.Error("render challenge page", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "could not render the challenge page")
		return
	}
	nonce := tok.nonceHex()
	vals := newPageValues(tok.encode(h.keys), ret, nonce)
	h.securityHeaders(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(pg.length(vals)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		// A visitor gone mid-page is no error of ours.
		_ = pg.writeTo(w, vals)
	}
	h.m.issued.WithLabelValues(level.String()).Inc()
	sub := subjectOf(ip)
	if !h.nonces.issue(tok.Nonce, issuedChallenge{subject: sub, level: level, rule: rule, ip: addrString(ip), nonce: nonce, at: now}) {
		h.m.untracked.Inc()
	}
	h.publish(r.Context(), &eventpb.Feedback{
		Subject: sub, Kind: eventpb.FeedbackKind_CHALLENGE_ISSUED, TimeUnixNano: now.UnixNano(),
		Challenge: h.kind(), Level: uint32(level), Rule: rule, Source: h.source,
		ClientIp: addrString(ip), Nonce: nonce,
	})
}

// ServeBlocked writes the 403 page for a BLOCKed client.
func (h *Handler) ServeBlocked(w http.ResponseWriter, r *http.Request, ref string) {
	lang, s := h.langs.pick(r.Header.Get("Accept-Language"))
	var buf bytes.Buffer
	_ = blockedTmpl.Execute(&buf, struct {
		Lang string
		S    Strings
		Ref  string
	}{lang, s, ref})
	h.securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// Cleared reports whether the request carries a clearance of at least
// level need for the client at ip.
func (h *Handler) Cleared(r *http.Request, ip netip.Addr, need Level) bool {
	// The header lines as they came (r.Cookie would parse every cookie of
	// the request into new strings); HTTP/2 may split cookies over lines.
	for _, line := range r.Header["Cookie"] {
		if v := CookieValue(line); v != "" {
			return h.verifier.Satisfies(v, ip, r.UserAgent(), need, h.now())
		}
	}
	return false
}

// verify checks an answer: token, binding, replay, then the challenge's
// own checks; a pass sets the clearance and redirects (303) to return.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	r.Body = http.MaxBytesReader(w, r.Body, maxVerifyBody)
	if err := r.ParseForm(); err != nil {
		h.m.refused.WithLabelValues("form").Inc()
		writeJSONError(w, http.StatusBadRequest, "unreadable form: "+err.Error())
		return
	}
	ret, ok := SafeReturn(r.PostForm.Get("return"))
	if !ok {
		h.m.refused.WithLabelValues("return").Inc()
		writeJSONError(w, http.StatusBadRequest, "return must be a path on this site, like /cart")
		return
	}
	ip, ua := h.clientIP(r), r.UserAgent()
	tok, err := parseToken(h.keys, r.PostForm.Get("token"))
	if err != nil {
		h.refuse(w, r, ret, "token", "This check was not issued by this site. Please start again.", nil)
		return
	}
	fb := &eventpb.Feedback{
		Subject: subjectOf(ip), Challenge: h.kind(), Level: uint32(tok.Level), Source: h.source,
		ClientIp: addrString(ip), Nonce: tok.nonceHex(), SolveMillis: start.Sub(tok.Issued).Milliseconds(),
	}
	switch {
	case start.Sub(tok.Issued) > h.cfg.TokenTTL:
		h.refuse(w, r, ret, "expired", "This check took too long and has expired. Please start again.", fb)
		return
	case !tok.Net.Contains(ip.Unmap()):
		h.refuse(w, r, ret, "other_network", "This check was issued to another network. Please start again.", fb)
		return
	case UAHash(ua) != tok.UAHash:
		h.refuse(w, r, ret, "other_agent", "This check was issued to another browser. Please start again.", fb)
		return
	}
	fresh, full := h.nonces.use(tok.Nonce, tok.Issued.Add(h.cfg.TokenTTL))
	if full {
		h.m.refused.WithLabelValues("busy").Inc()
		w.Header().Set("Retry-After", "10")
		writeJSONError(w, http.StatusServiceUnavailable, "too many checks in progress; try again in a few seconds")
		return
	}
	if !fresh {
		h.refuse(w, r, ret, "replay", "This answer was already used. Please start again.", fb)
		return
	}
	var checks []*eventpb.CheckOutcome
	if h.provider != nil {
		checks, err = h.provider.verify(r.Context(), r.PostForm.Get(h.provider.field), ip)
		if err != nil {
			h.log.Warn("challenge provider unavailable", "provider", h.provider.name, "err", err)
			h.m.refused.WithLabelValues("provider_unavailable").Inc()
			h.renderFailure(w, r, http.StatusServiceUnavailable, ret, "The check could not be completed right now. Please try again.")
			return
		}
	} else {
		nh := tok.nonceHex()
		pow := checkPoW(nh, r.PostForm.Get("counter"), tok.Level.Bits())
		checks = append(checks, check("pow", pow, fmt.Sprintf("%d bits", tok.Level.Bits())))
		checks = append(checks, envChecks(r.PostForm.Get("env"), ua)...)
		if tok.Level.Interactive() {
			checks = append(checks, interactionCheck(r.PostForm.Get("ix")))
		}
	}
	fb.Checks = checks
	var failed []string
	for _, c := range checks {
		if !c.Passed {
			failed = append(failed, c.Name)
		}
	}
	fb.TimeUnixNano = h.now().UnixNano()
	h.m.solve.Observe(start.Sub(tok.Issued).Seconds())
	if len(failed) > 0 {
		fb.Kind = eventpb.FeedbackKind_CHALLENGE_FAILED
		fb.Reason = strings.Join(failed, ",")
		h.m.answers.WithLabelValues("failed", failed[0]).Inc()
		h.publish(r.Context(), fb)
		h.log.Info("challenge failed", "client", fb.ClientIp, "level", tok.Level, "failed", fb.Reason)
		h.renderFailure(w, r, http.StatusForbidden, ret, "")
		return
	}
	c := NewClearance(ip, ua, tok.Level, tok.Nonce, start, h.cfg.ClearanceTTL)
	fb.Kind = eventpb.FeedbackKind_CHALLENGE_PASSED
	fb.ClearanceExpiresUnixNano = c.Expires.UnixNano()
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: c.Encode(h.keys), Path: "/", Expires: c.Expires,
		MaxAge: int(h.cfg.ClearanceTTL / time.Second), Secure: !h.cfg.InsecureCookie, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	h.m.answers.WithLabelValues("passed", "").Inc()
	h.publish(r.Context(), fb)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, ret, http.StatusSeeOther)
}

// refuse answers an answer that cannot be scored (bad, expired, replayed
// or misbound token): a page with the reason and a way to start again.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, ret, reason, msg string, fb *eventpb.Feedback) {
	h.m.refused.WithLabelValues(reason).Inc()
	if fb != nil {
		fb.Kind = eventpb.FeedbackKind_CHALLENGE_FAILED
		fb.TimeUnixNano = h.now().UnixNano()
		fb.Reason = reason
		fb.Checks = []*eventpb.CheckOutcome{check("token", false, reason)}
		h.publish(r.Context(), fb)
	}
	status := http.StatusBadRequest
	if reason == "replay" {
		status = http.StatusConflict
	}
	h.renderFailure(w, r, status, ret, msg)
}

func (h *Handler) renderFailure(w http.ResponseWriter, r *http.Request, status int, ret, msg string) {
	lang, s := h.langs.pick(r.Header.Get("Accept-Language"))
	if msg == "" {
		msg = s.Failed
	}
	var buf bytes.Buffer
	_ = pageTmpl.Execute(&buf, pageData{Lang: lang, S: s, Error: msg, RetryURL: PathChallenge + "?return=" + url.QueryEscape(ret)})
	h.securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (h *Handler) publish(ctx context.Context, f *eventpb.Feedback) {
	if h.sink != nil {
		h.sink.Publish(context.WithoutCancel(ctx), f)
	}
}

// Run reports challenges never answered within the token's lifetime as
// abandoned, and forgets expired nonces, until ctx is done.
func (h *Handler) Run(ctx context.Context) error {
	every := max(h.cfg.TokenTTL/4, time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			h.Sweep(ctx)
		}
	}
}

// Sweep is one pass of Run.
func (h *Handler) Sweep(ctx context.Context) {
	now := h.now()
	for _, c := range h.nonces.sweep(now, now.Add(-h.cfg.TokenTTL)) {
		h.m.abandoned.Inc()
		h.publish(ctx, &eventpb.Feedback{
			Subject: c.subject, Kind: eventpb.FeedbackKind_CHALLENGE_ABANDONED, TimeUnixNano: now.UnixNano(),
			Challenge: h.kind(), Level: uint32(c.level), Rule: c.rule, Source: h.source, ClientIp: c.ip, Nonce: c.nonce,
		})
	}
}

func subjectOf(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return subject.IP(ip)
}

func addrString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.Unmap().String()
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
