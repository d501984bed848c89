package visitors_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/devtools/shop"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/devtools/visitors"
	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/enforce/gate"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

type feedback struct {
	mu    sync.Mutex
	kinds map[eventpb.FeedbackKind]int
}

func (f *feedback) Publish(_ context.Context, fb *eventpb.Feedback) {
	f.mu.Lock()
	f.kinds[fb.GetKind()]++
	f.mu.Unlock()
}

func (f *feedback) count(k eventpb.FeedbackKind) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.kinds[k]
}

type noEvents struct{}

func (noEvents) Publish(context.Context, *eventpb.RequestEvent) {}

// TestDriveThroughGate: simulated people, a headless browser and a scraper
// through a real gate in front of the shop, every client challenged from
// its first request on: the people solve the challenge and get the
// shop's pages, the headless browser fails it, the scraper gives up.
func TestDriveThroughGate(t *testing.T) {
	up := httptest.NewServer(shop.New())
	defer up.Close()
	table := verdicttable.New()
	fb := &feedback{kinds: map[eventpb.FeedbackKind]int{}}
	reg := prometheus.NewRegistry()
	g, err := gate.New(gate.Config{Upstream: up.URL, Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", ClientIPHeader: "X-Forwarded-For",
		TrustedProxies: "127.0.0.1/32", FailMode: "open", RetryAfter: 30 * time.Second, MaxIdleConnsPerHost: 16, ShutdownTimeout: time.Second},
		gate.Deps{Challenge: challenge.Config{ClearanceTTL: time.Hour, TokenTTL: time.Minute, Provider: "builtin", MinScore: 0.5,
			VerifyTimeout: time.Second, VerifyAttempts: 1, InsecureCookie: true},
			Keys: challenge.RandomKeys(), Registerer: reg, Table: table, Feedback: fb, Events: noEvents{}})
	if err != nil {
		t.Fatal(err)
	}
	// Every client is challenged from its first request: the verdict is
	// set before the gate looks.
	var seen sync.Map
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-For"), ",")[0])
		if ip, err := netip.ParseAddr(addr); err == nil {
			if _, loaded := seen.LoadOrStore(ip, true); !loaded {
				_ = table.Apply(subject.IP(ip), &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 72,
					ExpiresAtUnixNano: time.Now().Add(time.Hour).UnixNano()})
			}
		}
		g.ServeHTTP(w, r)
	}))
	defer front.Close()

	sim := simulate.DefaultConfig()
	sim.Seed, sim.Duration = 7, 0
	sim.HumansPerMinute, sim.BeaconHumansPerMinute, sim.Offices, sim.DropRushHumans = 60, 0, 0, 0
	sim.Bots = map[simulate.Kind]float64{simulate.Headless: 1, simulate.ScraperFast: 1}
	sim.FirstBotsWithin = 2 * time.Second
	sim.IPv6Share = 0
	d, err := visitors.New(visitors.Options{Target: front.URL, Sim: sim, SolveDelay: 50 * time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("drive: %v", err)
		}
	}()

	testkit.Eventually(t, 60*time.Second, "people pass, the headless browser fails, the scraper gives up", func() bool {
		return testkit.Metric(t, reg, "bulwark_dev_visitor_challenges_total", "label", "human", "result", "passed") >= 2 &&
			testkit.Metric(t, reg, "bulwark_dev_visitor_challenges_total", "label", "bot", "result", "failed") >= 1 &&
			testkit.Metric(t, reg, "bulwark_dev_visitor_challenges_total", "label", "bot", "result", "gave_up") >= 1
	})
	if n := testkit.Metric(t, reg, "bulwark_dev_visitor_requests_total", "label", "human", "outcome", "after_pass_2xx"); n < 2 {
		t.Errorf("%v people landed on the shop's page after passing", n)
	}
	if n := testkit.Metric(t, reg, "bulwark_dev_visitor_challenges_total", "label", "human", "result", "failed"); n != 0 {
		t.Errorf("%v people failed the challenge", n)
	}
	if fb.count(eventpb.FeedbackKind_CHALLENGE_PASSED) < 2 || fb.count(eventpb.FeedbackKind_CHALLENGE_FAILED) < 1 {
		t.Errorf("feedback %v", fb.kinds)
	}
}

func TestNewRefusesBadTarget(t *testing.T) {
	for _, target := range []string{"", "127.0.0.1:8080", "ftp://x/"} {
		if _, err := visitors.New(visitors.Options{Target: target, Sim: simulate.DefaultConfig()}); err == nil {
			t.Errorf("%q accepted", target)
		}
	}
}
