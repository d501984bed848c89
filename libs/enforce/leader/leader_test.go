package leader_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"

	"github.com/bulwarkhq/bulwark/libs/enforce/leader"
	"github.com/bulwarkhq/bulwark/libs/enforce/leader/leadertest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

const ns = "bulwark"

// fast election timings, still far above a noisy machine's scheduling delays.
func fastConfig(id string) leader.Config {
	return leader.Config{
		Enabled:       true,
		LeaseName:     "bulwark-cfsync",
		Namespace:     ns,
		Identity:      id,
		LeaseDuration: 3 * time.Second,
		RenewDeadline: 2 * time.Second,
		RetryPeriod:   200 * time.Millisecond,
	}
}

// guard is the shared resource: it fails the test if two candidates hold it.
type guard struct {
	mu      sync.Mutex
	holder  string
	overlap atomic.Int32
	turns   []string
}

func (g *guard) enter(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holder != "" {
		g.overlap.Add(1)
	}
	g.holder = id
	g.turns = append(g.turns, id)
}

func (g *guard) leave(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holder == id {
		g.holder = ""
	}
}

func (g *guard) turnsSoFar() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.turns...)
}

func (g *guard) current() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.holder
}

// work holds the guard until cancelled, then takes a while to stop, as a
// syncer finishing an in-flight write would.
func (g *guard) work(id string) func(context.Context) error {
	return func(ctx context.Context) error {
		g.enter(id)
		<-ctx.Done()
		time.Sleep(100 * time.Millisecond) // the stop takes time, as a real one does: not a wait
		g.leave(id)
		return nil
	}
}

type candidate struct {
	id     string
	el     *leader.Elector
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, client kubernetes.Interface, id string, fn func(context.Context) error) *candidate {
	t.Helper()
	reg := prometheus.NewRegistry()
	el, err := leader.New(fastConfig(id), client, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &candidate{id: id, el: el, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- el.Run(ctx, fn) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			t.Errorf("%s: Run did not return after cancel", id)
		}
	})
	return c
}

func waitHolder(t *testing.T, g *guard, not string, within time.Duration) (string, time.Duration) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("turns %v", g.turnsSoFar())
		}
	}()
	begin := time.Now()
	var h string
	testkit.Eventually(t, within, fmt.Sprintf("a candidate other than %q to take over", not), func() bool {
		h = g.current()
		return h != "" && h != not
	})
	return h, time.Since(begin)
}

func TestStandbyTakesOverOnCleanStop(t *testing.T) {
	if testing.Short() {
		t.Skip("leader election timing test")
	}
	api := leadertest.NewAPI()
	g := &guard{}
	cands := map[string]*candidate{}
	for _, id := range []string{"cfsync-a", "cfsync-b"} {
		cands[id] = start(t, api, id, g.work(id))
	}
	first, _ := waitHolder(t, g, "", 20*time.Second)
	if h := leadertest.Holder(api, ns, "bulwark-cfsync"); h != first {
		t.Fatalf("lease holder %q, guard holder %q", h, first)
	}
	c := cands[first]
	if got := value(t, c.reg, "bulwark_leader_leading", ""); got != 1 || !c.el.Leading() {
		t.Fatalf("leading gauge %v, Leading() %v, want 1, true", got, c.el.Leading())
	}
	for id, cand := range cands { // the standby too has read the lease: it takes over when a goes
		testkit.Eventually(t, 20*time.Second, id+" to campaign", func() bool {
			return value(t, cand.reg, "bulwark_leader_campaigning", "") == 1
		})
	}
	notSynced := errors.New("not synced")
	for id, cand := range cands {
		err := cand.el.Ready(func() error { return notSynced })()
		if id == first && err == nil || id != first && err != nil {
			t.Fatalf("%s (leader %s): Ready = %v; the leader reports its work's check, a standby is ready", id, first, err)
		}
	}
	c.cancel()
	if err := <-c.done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	c.done <- nil // for Cleanup
	// A released lease is taken within a retry period or two.
	second, took := waitHolder(t, g, first, 10*time.Second)
	t.Logf("%s took over from %s in %s", second, first, took)
	if g.overlap.Load() != 0 {
		t.Fatalf("two candidates ran at once: turns %v", g.turns)
	}
}

func TestCutOffLeaderIsReplaced(t *testing.T) {
	if testing.Short() {
		t.Skip("leader election timing test")
	}
	api := leadertest.NewAPI()
	g := &guard{}
	clientA, cutA := leadertest.Cuttable(api)
	a := start(t, clientA, "cfsync-a", g.work("cfsync-a"))
	if h, _ := waitHolder(t, g, "", 20*time.Second); h != "cfsync-a" {
		t.Fatalf("holder %q", h)
	}
	start(t, api, "cfsync-b", g.work("cfsync-b"))

	cutA.Store(true)
	// a stops renewing: after RenewDeadline it gives up and its work is
	// cancelled; b waits a full LeaseDuration before taking the lease.
	select {
	case err := <-a.done:
		if !errors.Is(err, leader.ErrLost) {
			t.Fatalf("a: Run = %v, want ErrLost", err)
		}
		a.done <- nil
	case <-time.After(20 * time.Second):
		t.Fatal("a kept leading while cut off from the API")
	}
	second, took := waitHolder(t, g, "cfsync-a", 20*time.Second)
	if second != "cfsync-b" {
		t.Fatalf("holder %q", second)
	}
	t.Logf("b took over %s after a lost the lease", took)
	if g.overlap.Load() != 0 {
		t.Fatalf("two candidates ran at once: turns %v", g.turns)
	}
	if got := value(t, a.reg, "bulwark_leader_transitions_total", "lost"); got != 1 {
		t.Fatalf("a's lost transitions %v, want 1", got)
	}
}

func TestWorkThatEndsReleasesTheLease(t *testing.T) {
	if testing.Short() {
		t.Skip("leader election timing test")
	}
	api := leadertest.NewAPI()
	boom := errors.New("boom")
	var ran atomic.Int32
	a := start(t, api, "cfsync-a", func(ctx context.Context) error { ran.Add(1); return boom })
	select {
	case err := <-a.done:
		if !errors.Is(err, boom) || errors.Is(err, leader.ErrLost) {
			t.Fatalf("Run = %v, want boom", err)
		}
		a.done <- nil
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return when the work ended")
	}
	if h := leadertest.Holder(api, ns, "bulwark-cfsync"); h != "" {
		t.Fatalf("lease still held by %q", h)
	}
	if ran.Load() != 1 {
		t.Fatalf("work ran %d times", ran.Load())
	}
}

func TestAlways(t *testing.T) {
	called := false
	err := leader.Always{}.Run(context.Background(), func(context.Context) error { called = true; return nil })
	if err != nil || !called {
		t.Fatalf("Always.Run: called=%v err=%v", called, err)
	}
}

func TestNewRunnerWithoutElection(t *testing.T) {
	r, err := leader.NewRunner(leader.DefaultConfig("bulwark-cfsync"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(leader.Always); !ok {
		t.Fatalf("runner %T, want Always", r)
	}
	boom := errors.New("boom")
	if err := r.Ready(func() error { return boom })(); err != boom {
		t.Fatalf("Always.Ready = %v, want the check's error", err)
	}
}

func TestConfigValidate(t *testing.T) {
	f := func(mod func(*leader.Config), wantVar string) {
		t.Helper()
		c := fastConfig("x")
		mod(&c)
		err := c.Validate()
		switch {
		case wantVar == "" && err != nil:
			t.Fatalf("unexpected error %v", err)
		case wantVar != "" && (err == nil || !strings.Contains(err.Error(), wantVar)):
			t.Fatalf("error %v, want one naming %s", err, wantVar)
		}
	}
	f(func(c *leader.Config) {}, "")
	f(func(c *leader.Config) { c.Enabled = false; c.LeaseName = "" }, "")
	f(func(c *leader.Config) { c.LeaseName = "" }, "BULWARK_LEADER_LEASE_NAME")
	f(func(c *leader.Config) { c.RetryPeriod = 0 }, "BULWARK_LEADER_RETRY_PERIOD")
	f(func(c *leader.Config) { c.RenewDeadline = c.RetryPeriod }, "BULWARK_LEADER_RENEW_DEADLINE")
	f(func(c *leader.Config) { c.LeaseDuration = c.RenewDeadline }, "BULWARK_LEADER_LEASE_DURATION")
}

// value reads a gauge or counter from reg; event, when given, is the
// "event" label's value.
func value(t *testing.T, reg *prometheus.Registry, name, event string) float64 {
	t.Helper()
	if event == "" {
		return testkit.Metric(t, reg, name)
	}
	return testkit.Metric(t, reg, name, "event", event)
}
