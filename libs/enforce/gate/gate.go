// Package gate is bulwark-gate: a reverse proxy for sites without nginx
// or Envoy that answers from the verdict table in process (following the
// verdict topic as the sidecar does). BLOCK gets a 403 page; CHALLENGE gets
// the challenge page (HTML requests) or 429 with Retry-After (API
// requests) unless the client holds a clearance of the level asked for;
// ALLOW and MONITOR are proxied with X-Bulwark-Action. It serves
// /.bulwark/ itself, and publishes a request event per request so its
// traffic is scored without a shipper. Streaming responses, WebSocket
// upgrades and large uploads pass through (httputil.ReverseProxy).
package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/libs/decide/feedback"
	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

// HeaderAction is set on requests passed to the upstream (ALLOW or
// MONITOR; a cleared CHALLENGE passes as ALLOW with HeaderClearance).
const (
	HeaderAction    = "X-Bulwark-Action"
	HeaderClearance = "X-Bulwark-Clearance"
)

// Deps are what a gate is built from besides its configuration.
type Deps struct {
	Kafka      kafka.Config
	Challenge  challenge.Config
	Keys       *challenge.Keys
	Log        *slog.Logger
	Registerer prometheus.Registerer
	// Table, when set, is consulted as is and the gate follows no topic
	// (tests; a program that already follows one).
	Table *verdicttable.Table
	// Feedback and Events replace the Kafka publishers when set.
	Feedback challenge.Sink
	Events   EventSink
}

// Gate is the reverse proxy. New binds its listener; Run serves.
type Gate struct {
	cfg      Config
	log      *slog.Logger
	table    *verdicttable.Table
	follower *verdicttable.Follower
	ch       *challenge.Handler
	proxy    *httputil.ReverseProxy
	resolver *clientip.Resolver
	ipHeader string
	events   EventSink
	kEvents  *kafkaEvents
	fbPub    *feedback.Publisher
	ln       net.Listener
	srv      *http.Server
	m        *metrics
}

// New builds a gate and binds BULWARK_GATE_ADDR.
func New(cfg Config, d Deps) (*Gate, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	up, _ := url.Parse(cfg.Upstream) // checked by Validate
	proxies, _ := clientip.ParseCIDRs(cfg.TrustedProxies)
	g := &Gate{
		cfg: cfg, log: d.Log.With("component", "gate"), table: d.Table,
		resolver: clientip.New(proxies), ipHeader: http.CanonicalHeaderKey(cfg.ClientIPHeader),
		events: d.Events,
	}
	if g.table == nil {
		g.table = verdicttable.New()
		g.follower = verdicttable.NewFollower(g.table, d.Kafka, verdicttable.FollowOptions{Name: "gate", Log: d.Log, Registerer: d.Registerer})
	}
	var err error
	fb := d.Feedback
	if fb == nil {
		if g.fbPub, err = feedback.NewPublisher(d.Kafka, "gate", d.Log, d.Registerer); err != nil {
			return nil, fmt.Errorf("gate: %w", err)
		}
		fb = g.fbPub
	}
	if g.events == nil && cfg.PublishEvents {
		if g.kEvents, err = newKafkaEvents(d.Kafka, d.Registerer); err != nil {
			return nil, err
		}
		g.events = g.kEvents
	}
	g.ch, err = challenge.New(challenge.Options{
		Config: d.Challenge, Keys: d.Keys, ClientIP: g.clientIP, Feedback: fb, Source: "gate",
		Log: d.Log, Registerer: d.Registerer,
		Verdict: func(ip netip.Addr, r *http.Request) (eventpb.Action, float64, string) {
			res := g.lookup(ip, r)
			return res.Action, res.Score(), ruleOf(res)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	g.m = newMetrics(d.Registerer)
	g.proxy = newProxy(up, cfg, g)
	if g.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("gate: listen on BULWARK_GATE_ADDR %s: %w", cfg.Addr, err)
	}
	g.srv = &http.Server{
		Handler: g,
		// Headers within 10 s; no ReadTimeout or WriteTimeout, which would
		// cut off large uploads, long downloads and WebSockets.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(d.Log.Handler(), slog.LevelWarn),
	}
	return g, nil
}

// Addr is the address visitors connect to.
func (g *Gate) Addr() string { return g.ln.Addr().String() }

// Challenges is the gate's challenge handler.
func (g *Gate) Challenges() *challenge.Handler { return g.ch }

// Table is the verdict table the gate answers from.
func (g *Gate) Table() *verdicttable.Table { return g.table }

// Ready reports whether the table has caught up with the verdict topic.
func (g *Gate) Ready() bool { return g.follower == nil || g.follower.Reader().CaughtUp() }

// CheckReady is Ready as an error, for /readyz.
func (g *Gate) CheckReady() error {
	if !g.Ready() {
		return errors.New("verdict table has not caught up with the verdict topic")
	}
	return nil
}

// Run follows the verdict topic and serves until ctx is done, then drains
// the open requests (within ShutdownTimeout) and flushes the publishers.
func (g *Gate) Run(ctx context.Context) error {
	eg, gctx := errgroup.WithContext(ctx)
	if g.follower != nil {
		eg.Go(func() error { return g.follower.Run(gctx) })
	}
	eg.Go(func() error { return g.ch.Run(gctx) })
	eg.Go(func() error {
		g.log.Info("gate listening", "addr", g.Addr(), "upstream", g.cfg.Upstream)
		if err := g.srv.Serve(g.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve %s: %w", g.Addr(), err)
		}
		return nil
	})
	eg.Go(func() error {
		<-gctx.Done()
		start := time.Now()
		sctx, cancel := context.WithTimeout(context.Background(), g.cfg.ShutdownTimeout)
		defer cancel()
		if err := g.srv.Shutdown(sctx); err != nil {
			g.log.Warn("shutdown: closed requests still open", "err", err)
		}
		g.log.Info("stopped serving", "took", time.Since(start).Round(time.Millisecond))
		return nil
	})
	err := eg.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if g.kEvents != nil {
		if ferr := g.kEvents.close(fctx); ferr != nil {
			g.log.Warn("request events not all sent", "err", ferr)
		}
	}
	if g.fbPub != nil {
		if ferr := g.fbPub.Close(fctx); ferr != nil {
			g.log.Warn("feedback not all sent", "err", ferr)
		}
	}
	return err
}

// clientIP is the socket peer, or the first untrusted hop of the client
// address header when the peer is a trusted proxy.
func (g *Gate) clientIP(r *http.Request) netip.Addr {
	ap, _ := netip.ParseAddrPort(r.RemoteAddr)
	peer := ap.Addr().Unmap()
	if g.resolver.Len() == 0 {
		return peer
	}
	return g.resolver.FromXFFString(peer, strings.Join(r.Header[g.ipHeader], ","))
}

func (g *Gate) session(r *http.Request) string {
	if g.cfg.SessionCookie == "" {
		return ""
	}
	if c, err := r.Cookie(g.cfg.SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

func (g *Gate) lookup(ip netip.Addr, r *http.Request) verdicttable.Result {
	if !g.Ready() {
		return verdicttable.Result{Action: eventpb.Action_ALLOW}
	}
	return g.table.Lookup(ip, g.session(r), time.Now())
}

// ServeHTTP answers one visitor's request.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	ip := g.clientIP(r)
	outcome := g.serve(rec, r, ip)
	g.m.requests.WithLabelValues(outcome).Inc()
	if g.events != nil && ip.IsValid() {
		ap, _ := netip.ParseAddrPort(r.RemoteAddr)
		g.events.Publish(r.Context(), requestEvent(r, ip, ap.Addr().Unmap(), g.session(r), rec.status, rec.bytes, start, time.Since(start)))
	}
}

// serve decides and answers; it returns the outcome for the metrics.
func (g *Gate) serve(w http.ResponseWriter, r *http.Request, ip netip.Addr) string {
	if strings.HasPrefix(r.URL.Path, challenge.Prefix) {
		g.ch.ServeHTTP(w, r)
		return "challenge_endpoint"
	}
	if !g.Ready() && g.cfg.FailMode == "closed" {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "The site is starting; please try again in a few seconds.", http.StatusServiceUnavailable)
		return "not_ready"
	}
	res := g.lookup(ip, r)
	// Visitors cannot tell the upstream what Bulwark decided.
	r.Header.Del(HeaderAction)
	r.Header.Del(HeaderClearance)
	switch res.Action {
	case eventpb.Action_BLOCK:
		g.ch.ServeBlocked(w, r, "")
		return "blocked"
	case eventpb.Action_CHALLENGE:
		need := challenge.LevelFor(res.Score())
		if g.ch.Cleared(r, ip, need) {
			r.Header.Set(HeaderAction, "ALLOW")
			r.Header.Set(HeaderClearance, "passed")
			g.proxy.ServeHTTP(w, r)
			return "cleared"
		}
		if wantsHTML(r) {
			g.ch.ServeChallenge(w, r, http.StatusForbidden, need, ruleOf(res), returnPath(r))
			return "challenged"
		}
		secs := int(g.cfg.RetryAfter / time.Second)
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprintf(w, `{"error":"this client must pass a challenge first","challenge":%q,"retry_after":%d}`+"\n",
			challenge.PathChallenge+"?return="+url.QueryEscape(returnPath(r)), secs)
		return "challenged_api"
	}
	a := res.Action
	if a == eventpb.Action_ACTION_UNSPECIFIED {
		a = eventpb.Action_ALLOW
	}
	r.Header.Set(HeaderAction, verdict.ActionString(a))
	g.proxy.ServeHTTP(w, r)
	return strings.ToLower(verdict.ActionString(a))
}

func ruleOf(res verdicttable.Result) string {
	if v := res.Verdict(); v != nil {
		return v.GetRule()
	}
	return ""
}

// wantsHTML tells a page a person asked for (a browser's navigation, or a
// client like curl that accepts anything) from an API call (JSON, XHR),
// which gets 429 + Retry-After rather than a page it cannot show.
func wantsHTML(r *http.Request) bool {
	if r.Header.Get("X-Requested-With") != "" {
		return false
	}
	if m := r.Header.Get("Sec-Fetch-Mode"); m != "" && m != "navigate" {
		return false
	}
	accept := r.Header.Get("Accept")
	if accept == "" || strings.Contains(accept, "text/html") || strings.Contains(accept, "*/*") {
		return !strings.Contains(r.Header.Get("Content-Type"), "json")
	}
	return false
}

// returnPath is where a challenged visitor goes back to: the request's
// path and query, for a GET; the site's root otherwise (a form's POST
// cannot be replayed by a redirect).
func returnPath(r *http.Request) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host && ref.Path != "" {
			if p, ok := challenge.SafeReturn(ref.RequestURI()); ok {
				return p
			}
		}
		return "/"
	}
	if p, ok := challenge.SafeReturn(r.URL.RequestURI()); ok {
		return p
	}
	return "/"
}
