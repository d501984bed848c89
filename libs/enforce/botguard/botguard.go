// Package botguard is net/http middleware that turns Bulwark verdicts into
// responses inside a Go application: 403 for BLOCK, a challenge handler for
// CHALLENGE, and the action in the request context for everything else.
//
// It consults either a verdicttable.Table embedded in the process (kept
// current with verdicttable.Follow: a lookup costs well under a
// microsecond) or a remote bulwark-sidecar over HTTP (GET /v1/verdict).
//
//	t := verdicttable.New()
//	verdicttable.Follow(ctx, t, kafkaCfg, verdicttable.FollowOptions{})
//	g, _ := botguard.New(botguard.WithTable(t))
//	http.ListenAndServe(":8080", g.Middleware(app))
//
// A remote sidecar that cannot be reached lets requests through (fail-open)
// unless WithFailClosed is given.
package botguard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

// ErrNoSource is returned by New without WithTable or WithRemote.
var ErrNoSource = errors.New("botguard: want WithTable or WithRemote")

// Guard decides per request. Build it with New; it is safe for concurrent use.
type Guard struct {
	table      *verdicttable.Table
	remote     *url.URL
	client     *http.Client
	clientIP   func(*http.Request) netip.Addr
	session    func(*http.Request) string
	challenge  http.Handler
	block      http.Handler
	failClosed bool
	// pages serves /.bulwark/ and clearances (WithChallenges).
	pages *challenge.Handler

	checks *prometheus.CounterVec
	errors prometheus.Counter
}

// Option configures a Guard.
type Option func(*Guard) error

// WithTable consults an embedded table.
func WithTable(t *verdicttable.Table) Option {
	return func(g *Guard) error {
		if t == nil {
			return errors.New("botguard: WithTable(nil)")
		}
		g.table = t
		return nil
	}
}

// WithRemote consults a bulwark-sidecar at baseURL (e.g.
// "http://127.0.0.1:8480") with GET /v1/verdict.
func WithRemote(baseURL string) Option {
	return func(g *Guard) error {
		u, err := url.Parse(strings.TrimRight(baseURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("botguard: remote sidecar URL %q: want http(s)://host:port", baseURL)
		}
		g.remote = u
		return nil
	}
}

// WithHTTPClient sets the client for WithRemote (default: a client with a
// 100 ms timeout, so a slow sidecar never holds a page up for long).
func WithHTTPClient(c *http.Client) Option {
	return func(g *Guard) error { g.client = c; return nil }
}

// WithClientIP sets how the client address is found (default: the socket
// peer, r.RemoteAddr).
func WithClientIP(f func(*http.Request) netip.Addr) Option {
	return func(g *Guard) error { g.clientIP = f; return nil }
}

// WithTrustedProxies takes the client address from header (X-Real-IP or
// X-Forwarded-For) when the peer is one of proxies (CIDRs or addresses,
// comma-separated), and from the socket otherwise; see libs/ingest/clientip.
func WithTrustedProxies(header, proxies string) Option {
	return func(g *Guard) error {
		ps, err := clientip.ParseCIDRs(proxies)
		if err != nil {
			return fmt.Errorf("botguard: %w", err)
		}
		res := clientip.New(ps)
		key := http.CanonicalHeaderKey(header)
		g.clientIP = func(r *http.Request) netip.Addr {
			return res.FromXFFString(peerAddr(r), strings.Join(r.Header[key], ","))
		}
		return nil
	}
}

// WithSession sets how the session id is found (default: none).
func WithSession(f func(*http.Request) string) Option {
	return func(g *Guard) error { g.session = f; return nil }
}

// WithSessionCookie takes the session id from a cookie.
func WithSessionCookie(name string) Option {
	return WithSession(func(r *http.Request) string {
		if c, err := r.Cookie(name); err == nil {
			return c.Value
		}
		return ""
	})
}

// WithChallenge sets the handler for CHALLENGE (default: 401 with a short
// text). It is the hook for a CAPTCHA or a JavaScript check.
func WithChallenge(h http.Handler) Option {
	return func(g *Guard) error { g.challenge = h; return nil }
}

// WithChallenges makes the middleware serve Bulwark's challenge pages
// (/.bulwark/challenge, /.bulwark/verify) and answer a CHALLENGE with the
// challenge page, unless the request carries a clearance of the level the
// verdict asks for; then it passes, as ALLOW. BLOCK is never cleared. Build
// h with challenge.New, with the same secret as the gate and sidecars so a
// clearance from one holds at all. It replaces WithChallenge.
func WithChallenges(h *challenge.Handler) Option {
	return func(g *Guard) error {
		if h == nil {
			return errors.New("botguard: WithChallenges(nil)")
		}
		g.pages = h
		return nil
	}
}

// WithBlock sets the handler for BLOCK (default: 403 with a short text).
func WithBlock(h http.Handler) Option {
	return func(g *Guard) error { g.block = h; return nil }
}

// WithFailClosed answers 503 when the remote sidecar cannot be asked
// (default: let the request through).
func WithFailClosed() Option {
	return func(g *Guard) error { g.failClosed = true; return nil }
}

// WithRegisterer counts checks by action and remote errors
// (bulwark_botguard_checks_total, bulwark_botguard_errors_total).
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(g *Guard) error {
		return errors.Join(reg.Register(g.checks), reg.Register(g.errors))
	}
}

// New builds a Guard; exactly one of WithTable and WithRemote is required.
func New(opts ...Option) (*Guard, error) {
	g := &Guard{
		client:   &http.Client{Timeout: 100 * time.Millisecond},
		clientIP: peerAddr,
		session:  func(*http.Request) string { return "" },
		challenge: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "Please confirm you are human.", http.StatusUnauthorized)
		}),
		block: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "Access denied.", http.StatusForbidden)
		}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_botguard_checks_total", Help: "Requests checked, by resulting action.",
		}, []string{"action"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bulwark_botguard_errors_total", Help: "Remote sidecar lookups that failed (the fail mode answered).",
		}),
	}
	for _, o := range opts {
		if err := o(g); err != nil {
			return nil, err
		}
	}
	if (g.table == nil) == (g.remote == nil) {
		return nil, ErrNoSource
	}
	return g, nil
}

func peerAddr(r *http.Request) netip.Addr {
	ap, _ := netip.ParseAddrPort(r.RemoteAddr)
	return ap.Addr().Unmap()
}

type ctxKey struct{}

// ActionFrom is the action the middleware decided for the request (ALLOW
// or MONITOR reach the application), or ACTION_UNSPECIFIED outside it.
func ActionFrom(ctx context.Context) eventpb.Action {
	a, _ := ctx.Value(ctxKey{}).(eventpb.Action)
	return a
}

// Check returns the action for a request.
func (g *Guard) Check(r *http.Request) (eventpb.Action, error) {
	a, _, err := g.check(r)
	return a, err
}

// check is Check with the verdict's score (the challenge's level).
func (g *Guard) check(r *http.Request) (eventpb.Action, float64, error) {
	ip, session := g.clientIP(r), g.session(r)
	if g.table != nil {
		res := g.table.Lookup(ip, session, time.Now())
		return res.Action, res.Score(), nil
	}
	return g.remoteCheck(r.Context(), ip, session)
}

func (g *Guard) remoteCheck(ctx context.Context, ip netip.Addr, session string) (eventpb.Action, float64, error) {
	q := url.Values{}
	if ip.IsValid() {
		q.Set("ip", ip.String())
	}
	if session != "" {
		q.Set("session", session)
	}
	if len(q) == 0 {
		return eventpb.Action_ALLOW, 0, nil
	}
	u := *g.remote
	u.Path += "/v1/verdict"
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, 0, fmt.Errorf("botguard: ask sidecar: %w", err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("botguard: ask sidecar: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, 0, fmt.Errorf("botguard: read sidecar answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("botguard: sidecar answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var v struct {
		Action string  `json:"action"`
		Score  float64 `json:"score"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, 0, fmt.Errorf("botguard: sidecar answer: %w", err)
	}
	a, err := verdict.ParseAction(v.Action)
	if err != nil {
		return 0, 0, fmt.Errorf("botguard: sidecar answer: %w", err)
	}
	return a, v.Score, nil
}

// Middleware answers blocked and challenged clients itself and passes the
// others to next, with the action in the request context (ActionFrom).
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.pages != nil && strings.HasPrefix(r.URL.Path, challenge.Prefix) {
			g.pages.ServeHTTP(w, r)
			return
		}
		a, score, err := g.check(r)
		if err != nil {
			g.errors.Inc()
			if g.failClosed {
				http.Error(w, "Service unavailable.", http.StatusServiceUnavailable)
				return
			}
			a = eventpb.Action_ALLOW
		}
		g.checks.WithLabelValues(verdict.ActionString(a)).Inc()
		switch a {
		case eventpb.Action_BLOCK:
			g.block.ServeHTTP(w, r)
		case eventpb.Action_CHALLENGE:
			if g.pages == nil {
				g.challenge.ServeHTTP(w, r)
				return
			}
			need := challenge.LevelFor(score)
			if g.pages.Cleared(r, g.clientIP(r), need) {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, eventpb.Action_ALLOW)))
				return
			}
			ret, ok := challenge.SafeReturn(r.URL.RequestURI())
			if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
				ret = "/"
			}
			g.pages.ServeChallenge(w, r, http.StatusForbidden, need, "", ret)
		default:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, a)))
		}
	})
}
