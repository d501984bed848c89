package sidecar

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"google.golang.org/grpc/codes"

	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

// HeaderClearance is set ("passed") on an authz answer that allowed a
// CHALLENGEd client because of its clearance cookie.
const HeaderClearance = "X-Bulwark-Clearance"

var clearedValue = []string{"passed"}

// challenges is the sidecar's part of the challenge loop: the /.bulwark/
// pages (nginx routes them here, and sends auth_request's 401 to them) and
// the clearance check of /v1/authz and ext_authz.
type challenges struct {
	h        *challenge.Handler
	verifier *challenge.Verifier
	// passed and refused count clearance checks (resolved once: authz is
	// the hot path).
	passed, refused prometheus.Counter
}

// EnableChallenges serves GET /.bulwark/challenge and POST
// /.bulwark/verify and lets a CHALLENGEd client with a valid clearance
// through /v1/authz and ext_authz. Call it before Run. sink receives the
// feedback records (libs/decide/feedback publishes them); reg the metrics.
func (s *Sidecar) EnableChallenges(cfg challenge.Config, keys *challenge.Keys, sink challenge.Sink, reg prometheus.Registerer) (*challenge.Handler, error) {
	h, err := challenge.New(challenge.Options{
		Config: cfg, Keys: keys, Feedback: sink, Source: "sidecar", Log: s.log, Registerer: reg,
		ClientIP: s.clientOf,
		Verdict: func(ip netip.Addr, r *http.Request) (eventpb.Action, float64, string) {
			if !s.serving() {
				return eventpb.Action_ALLOW, 0, ""
			}
			res := s.table.Lookup(ip, s.sessionOf(r), time.Now())
			return res.Action, res.Score(), ruleOf(res)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("sidecar: %w", err)
	}
	checks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulwark_sidecar_clearances_total",
		Help: "CHALLENGE answers that checked a clearance cookie, by result (passed: let through; refused: invalid, expired, misbound or too low a level).",
	}, []string{"result"})
	if reg != nil {
		reg.MustRegister(checks)
	}
	ch := &challenges{h: h, verifier: h.Verifier(), passed: checks.WithLabelValues("passed"), refused: checks.WithLabelValues("refused")}
	s.ch = ch
	s.chFast = fasthttpadaptor.NewFastHTTPHandlerFunc(s.serveChallenge)
	return h, nil
}

// cleared reports whether the clearance in creds clears a CHALLENGE
// verdict res for ip. Safe on a nil receiver (challenges off).
func (ch *challenges) cleared(res verdicttable.Result, ip netip.Addr, creds credentials, now time.Time) bool {
	if ch == nil {
		return false
	}
	cookie, ua := creds.clearance()
	if cookie == "" {
		return false
	}
	if ch.verifier.Satisfies(cookie, ip, ua, challenge.LevelFor(res.Score()), now) {
		ch.passed.Inc()
		return true
	}
	ch.refused.Inc()
	return false
}

func (s *Sidecar) serveChallenge(w http.ResponseWriter, r *http.Request) {
	if s.ch == nil {
		writeError(w, http.StatusNotFound, "challenges are not enabled on this sidecar (set BULWARK_CHALLENGE_SECRET)")
		return
	}
	s.ch.h.ServeHTTP(w, r)
}

// clientOf is the client of a request nginx proxied to /.bulwark/: the
// client address header when the peer is a trusted proxy, else the peer.
func (s *Sidecar) clientOf(r *http.Request) netip.Addr {
	peer, _ := netip.ParseAddrPort(r.RemoteAddr)
	ip, err := clientAddr(s.resolver, peer.Addr(), strings.Join(r.Header[s.ipHeader], ","))
	if err != nil {
		return peer.Addr().Unmap()
	}
	return ip
}

func (s *Sidecar) sessionOf(r *http.Request) string {
	if s.sessHeader == "" {
		return ""
	}
	return r.Header.Get(s.sessHeader)
}

func ruleOf(res verdicttable.Result) string {
	if v := res.Verdict(); v != nil {
		return v.GetRule()
	}
	return ""
}

// challengeRedirect is ext_authz's denied response for a CHALLENGEd page
// view: a 302 to the challenge page, which returns the visitor to the page
// once passed (Envoy sends the denied response to the client as it is).
// API calls (no text/html or */* in Accept) get nil: the plain 401.
func challengeRedirect(req *authv3.AttributeContext_HttpRequest) *authv3.CheckResponse {
	accept := req.GetHeaders()["accept"]
	if m := req.GetMethod(); (m != http.MethodGet && m != http.MethodHead) ||
		!(accept == "" || strings.Contains(accept, "text/html") || strings.Contains(accept, "*/*")) {
		return nil
	}
	ret, ok := challenge.SafeReturn(req.GetPath())
	if !ok {
		ret = "/"
	}
	resp := denied(codes.Unauthenticated, typev3.StatusCode_Found, eventpb.Action_CHALLENGE, "challenge required")
	d := resp.GetDeniedResponse()
	d.Headers = append(d.Headers,
		&corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "location", Value: challenge.PathChallenge + "?return=" + url.QueryEscape(ret)}},
		&corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "cache-control", Value: "no-store"}})
	return resp
}

// writeError is writeFastError for the net/http challenge handlers.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(appendErrorJSON(nil, msg))
}
