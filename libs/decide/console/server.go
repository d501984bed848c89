package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/decide/policy"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
)

//go:embed assets
var assets embed.FS

// csp allows nothing but this origin's own scripts, styles and images: no
// inline script or style, no frames, forms posting only here.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Server is the console.
type Server struct {
	cfg     Config
	kcfg    kafka.Config
	limits  overrides.Limits
	log     *slog.Logger
	auth    *auth
	oidc    *oidcLogin // nil without OIDC
	store   *store
	ch      *chReader // nil without ClickHouse
	audit   *auditLog
	tmpl    *template.Template
	over    *overviewCache
	live    *livePolicy
	policy  *policy.Follower
	metrics *metrics
	ln      net.Listener
	httpc   *http.Client
	// comparing holds a token while a replay comparison runs.
	comparing chan struct{}
	now       func() time.Time
	// started: the verdict topic holds only the latest record per
	// subject, so changes before this come from ClickHouse (history.go).
	started time.Time
}

// New builds the console: it listens on cfg.Addr at once (so Addr is known
// before Run) and reads Kafka from Run on. ch is nil without ClickHouse.
func New(cfg Config, kcfg kafka.Config, limits overrides.Limits, ch *chschema.Config, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "console")
	sign, err := newSigner(cfg.SessionKey)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New("").Funcs(funcs).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	s := &Server{
		cfg: cfg, kcfg: kcfg, limits: limits, log: log, tmpl: tmpl, now: time.Now, started: time.Now(),
		auth:      &auth{sign: sign, tokens: newTokens(cfg), ttl: cfg.SessionTTL, secure: cfg.TLS()},
		metrics:   newMetrics(reg),
		httpc:     &http.Client{Timeout: 2 * time.Second},
		comparing: make(chan struct{}, 1),
	}
	if cfg.OIDC() {
		s.oidc = newOIDCLogin(cfg)
	}
	if ch != nil {
		s.ch = newCHReader(*ch)
	}
	s.store = newStore(cfg, kcfg, ch == nil, log, reg)
	s.over = &overviewCache{store: s.store}
	s.live = &livePolicy{}
	s.policy = policy.NewFollower(kcfg, "console", s.live.set, log, reg)
	s.audit, err = newAuditLog(kcfg, log, reg)
	if err != nil {
		return nil, err
	}
	s.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.audit.close()
		return nil, fmt.Errorf("console: listen on %s (BULWARK_CONSOLE_ADDR): %w", cfg.Addr, err)
	}
	if ap, err := netip.ParseAddrPort(s.ln.Addr().String()); err == nil && !ap.Addr().IsLoopback() && !cfg.TLS() {
		// Allowed (a TLS-terminating proxy may sit in front), but said.
		log.Warn("the console listens beyond loopback without TLS: tokens and session cookies cross the network in clear unless a TLS proxy is in front",
			"addr", s.ln.Addr().String())
	}
	return s, nil
}

// Addr is the address the console listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the console's base URL.
func (s *Server) URL() string {
	scheme := "http"
	if s.cfg.TLS() {
		scheme = "https"
	}
	return scheme + "://" + s.Addr()
}

// Ready is closed once the console's verdict table has caught up.
func (s *Server) Ready() <-chan struct{} { return s.store.reader.Ready() }

// Run serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	defer s.audit.close()
	if s.ch != nil {
		defer s.ch.close()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.store.run(gctx) })
	g.Go(func() error { return s.policy.Run(gctx) })
	g.Go(func() error {
		if !s.cfg.TLS() {
			return service.ServeListener(gctx, s.ln, s.Handler(), s.log)
		}
		srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
		errc := make(chan error, 1)
		go func() { errc <- srv.ServeTLS(s.ln, s.cfg.TLSCertFile, s.cfg.TLSKeyFile) }()
		select {
		case err := <-errc:
			return fmt.Errorf("console: serve TLS: %w", err)
		case <-gctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Handler is the console's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets/static") // the embedded folder exists
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET "+oidcLoginPath, s.oidcStart)
	mux.HandleFunc("GET "+callbackPath, s.oidcCallback)
	mux.Handle("POST /logout", s.need(RoleViewer, s.logout))
	mux.Handle("GET /{$}", s.need(RoleViewer, s.overview))
	mux.Handle("GET /clients", s.need(RoleViewer, s.search))
	mux.Handle("GET /clients/{subject...}", s.need(RoleViewer, s.client))
	mux.Handle("POST /actions", s.need(RoleViewer, s.act))
	mux.Handle("GET /audit", s.need(RoleViewer, s.auditPage))
	mux.Handle("GET /policy", s.need(RoleViewer, s.policyPage))
	mux.Handle("POST /policy/preview", s.need(RoleAdmin, s.policyPreview))
	mux.Handle("POST /policy/apply", s.need(RoleAdmin, s.policyApply))
	mux.Handle("POST /policy/compare", s.need(RoleAdmin, s.policyCompare))
	return s.headers(mux)
}

// headers sets the security headers of every answer.
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if s.cfg.TLS() {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

type principalKey struct{}

func principalOf(r *http.Request) Principal {
	p, _ := r.Context().Value(principalKey{}).(Principal)
	return p
}

// need lets through requests of at least role: others go to the login
// page (a browser's GET) or get 401/403 with a JSON error. A cookie
// session's POST must carry its CSRF token.
func (s *Server) need(role Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := s.auth.principal(r, s.now())
		if p.Role == RoleNone {
			s.metrics.denied.WithLabelValues("unauthenticated").Inc()
			if r.Method == http.MethodGet && r.Header.Get("Authorization") == "" {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="bulwark-console"`)
			jsonError(w, http.StatusUnauthorized, "sign in: Authorization: Bearer TOKEN, or the login form at /login")
			return
		}
		if r.Method == http.MethodPost && !p.Bearer {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !s.auth.sign.checkCSRF(p.Nonce, r.PostFormValue(csrfField)) {
				s.metrics.denied.WithLabelValues("csrf").Inc()
				s.log.Warn("POST without a valid CSRF token refused", "actor", p.Actor, "path", r.URL.Path, "remote", r.RemoteAddr)
				jsonError(w, http.StatusForbidden, "missing or invalid CSRF token: reload the page and try again")
				return
			}
		}
		if p.Role < role {
			s.metrics.denied.WithLabelValues("role").Inc()
			jsonError(w, http.StatusForbidden, fmt.Sprintf("%s needs the %s role; you are %s", r.URL.Path, role, p.Role))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// wantsJSON: scripts (a bearer token, or Accept: application/json) get
// JSON; browsers get pages.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json") ||
		(principalOf(r).Bearer && !strings.Contains(r.Header.Get("Accept"), "text/html"))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// page is what every template gets.
type page struct {
	Title   string
	User    Principal
	CSRF    string
	Grafana string
	Flash   string
	Error   string
	Data    any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, pg page) {
	pg.User = principalOf(r)
	if pg.User.Nonce != "" {
		pg.CSRF = s.auth.sign.csrf(pg.User.Nonce)
	}
	pg.Grafana = strings.TrimRight(s.cfg.GrafanaURL, "/")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := s.tmpl.ExecuteTemplate(w, name, pg); err != nil {
		s.log.Error("render page", "page", name, "err", err)
	}
}

// ErrNotReady is the readiness answer until the verdict table caught up.
var ErrNotReady = errors.New("console: still reading the verdict topic")
