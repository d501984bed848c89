package botguard_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/enforce/botguard"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

func serve(h http.Handler, remote, session string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = remote
	if session != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: session})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var app = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Action", botguard.ActionFrom(r.Context()).String())
	w.WriteHeader(http.StatusOK)
})

// TestRemoteSidecar runs the middleware against a real sidecar over HTTP.
func TestRemoteSidecar(t *testing.T) {
	b := kafkatest.Start(t)
	cfg := sidecar.DefaultConfig()
	cfg.Addr, cfg.GRPCAddr = "127.0.0.1:0", "off"
	sc, err := sidecar.New(cfg, kafkatest.Config(b), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	defer stop()
	select {
	case <-sc.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("sidecar not ready")
	}
	// The table is the sidecar's own; writing to it directly stands in for
	// the topic, which the sidecar tests cover.
	_ = sc.Table().Apply("ip:203.0.113.7", &eventpb.Verdict{Action: eventpb.Action_BLOCK})
	_ = sc.Table().Apply("ip:203.0.113.9", &eventpb.Verdict{Action: eventpb.Action_MONITOR})
	_ = sc.Table().Apply("session:s1", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE})

	reg := prometheus.NewRegistry()
	var challenged bool
	g, err := botguard.New(botguard.WithRemote("http://"+sc.Addr()), botguard.WithSessionCookie("session"),
		botguard.WithRegisterer(reg), botguard.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}),
		botguard.WithChallenge(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			challenged = true
			w.WriteHeader(http.StatusTeapot)
		})))
	if err != nil {
		t.Fatal(err)
	}
	h := g.Middleware(app)
	f := func(remote, session string, wantCode int, wantAction string) {
		t.Helper()
		rec := serve(h, remote, session)
		if rec.Code != wantCode || rec.Header().Get("X-Action") != wantAction {
			t.Fatalf("%s %q: %d %q, want %d %q", remote, session, rec.Code, rec.Header().Get("X-Action"), wantCode, wantAction)
		}
	}
	f("203.0.113.7:1234", "", 403, "")
	f("[::ffff:203.0.113.9]:1234", "", 200, "MONITOR")
	f("192.0.2.1:1234", "", 200, "ALLOW")
	f("192.0.2.1:1234", "s1", http.StatusTeapot, "")
	if !challenged {
		t.Fatal("challenge hook not called")
	}

	// The sidecar goes away: fail-open by default, 503 with WithFailClosed.
	stop()
	f("203.0.113.7:1234", "", 200, "ALLOW")
	closed, _ := botguard.New(botguard.WithRemote("http://"+sc.Addr()), botguard.WithFailClosed())
	if rec := serve(closed.Middleware(app), "192.0.2.1:1", ""); rec.Code != 503 {
		t.Fatalf("fail-closed with the sidecar down: %d", rec.Code)
	}
	if errorsSeen := testkit.Metric(t, reg, "bulwark_botguard_errors_total"); errorsSeen != 1 {
		t.Fatalf("errors counted: %v, want 1", errorsSeen)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := botguard.New(); !errors.Is(err, botguard.ErrNoSource) {
		t.Fatalf("New() = %v", err)
	}
	for _, bad := range []string{"", "ftp://x", "127.0.0.1:8480", "http://"} {
		if _, err := botguard.New(botguard.WithRemote(bad)); err == nil {
			t.Fatalf("WithRemote(%q) accepted", bad)
		}
	}
	if _, err := botguard.New(botguard.WithRemote("http://x"), botguard.WithTrustedProxies("X-Real-IP", "10.0.0.0/99")); err == nil {
		t.Fatal("bad proxy CIDR accepted")
	}
	_ = eventpb.Action_ALLOW
}
