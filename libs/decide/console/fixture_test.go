package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/decide/console"
	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	adminToken    = "admin-token-0123456789abcdef"
	operatorToken = "operator-token-0123456789abcdef"
	viewerToken   = "viewer-token-0123456789abcdef"
)

// fixture is a broker, a sidecar and a console on free loopback ports.
type fixture struct {
	b       *embedkafka.Broker
	kcfg    kafka.Config
	sidecar *sidecar.Sidecar
	console *console.Server
	reg     *prometheus.Registry
	url     string
}

// start builds the fixture; opts change the console's Config.
func start(t *testing.T, opts ...func(*console.Config)) *fixture {
	t.Helper()
	fx := &fixture{b: kafkatest.Start(t), reg: prometheus.NewRegistry()}
	fx.kcfg = kafkatest.Config(fx.b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	t.Cleanup(func() { cancel(); <-done; <-done })

	scfg := sidecar.DefaultConfig()
	scfg.Addr, scfg.GRPCAddr = "127.0.0.1:0", "off"
	sc, err := sidecar.New(scfg, fx.kcfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	fx.sidecar = sc
	go func() { _ = sc.Run(ctx); done <- struct{}{} }()

	cfg := console.Config{Addr: "127.0.0.1:0", Token: adminToken, OperatorToken: operatorToken, ViewerToken: viewerToken,
		SessionTTL: time.Hour, RecentRequests: 50, RecentClients: 1000, Sidecars: []string{"http://" + sc.Addr()},
		MetricsAddr: "127.0.0.1:0"}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := console.New(cfg, fx.kcfg, overrides.DefaultLimits(), nil, nil, fx.reg)
	if err != nil {
		t.Fatal(err)
	}
	fx.console, fx.url = srv, srv.URL()
	go func() { _ = srv.Run(ctx); done <- struct{}{} }()
	select {
	case <-srv.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("console did not catch up with the verdict topic")
	}
	return fx
}

// produce writes a record as the decider (or the shipper) would.
func (fx *fixture) produce(t *testing.T, topic, key string, m proto.Message) {
	t.Helper()
	cl := kafkatest.Client(t, fx.b)
	var val []byte
	if m != nil {
		var err error
		if val, err = proto.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: []byte(key), Value: val}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// botVerdict is what the decider writes for a simulated scraper.
func botVerdict(now time.Time) *eventpb.Verdict {
	return &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 96.5, Rule: "scraper",
		Reasons: []string{"rate_10s=48/s", "no_static_assets"}, AtUnixNano: now.UnixNano(),
		ExpiresAtUnixNano: now.Add(time.Hour).UnixNano(), Origin: eventpb.Origin_COMPUTED}
}

// call sends a request with a bearer token (none when token is "").
func (fx *fixture) call(t *testing.T, method, path, token string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, fx.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	return resp.StatusCode, string(b)
}

var noRedirect = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// effective returns the console's effective action for an address.
func (fx *fixture) effective(t *testing.T, sub string) string {
	t.Helper()
	code, body := fx.call(t, "GET", "/clients/"+sub, adminToken, nil)
	if code != http.StatusOK {
		t.Fatalf("GET /clients/%s: %d %s", sub, code, body)
	}
	var d struct{ Effective struct{ Action string } }
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return d.Effective.Action
}
