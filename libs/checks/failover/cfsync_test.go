package failover

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"k8s.io/client-go/kubernetes"

	"github.com/bulwarkhq/bulwark/libs/enforce/cfsync"
	"github.com/bulwarkhq/bulwark/libs/enforce/cfsync/cffake"
	"github.com/bulwarkhq/bulwark/libs/enforce/leader"
	"github.com/bulwarkhq/bulwark/libs/enforce/leader/leadertest"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

const (
	cfToken   = "failover-token"
	cfAccount = "0123456789abcdef0123456789abcdef"
	leaseNS   = "bulwark"
)

// cloudflare is the fake Cloudflare API with a recording front per pod, so
// the test knows which pod wrote what, and when.
type cloudflare struct {
	fake *cffake.Server

	mu       sync.Mutex
	writes   []write
	inFlight map[string]int // pod -> writes in progress
	overlap  atomic.Int32   // writes of two pods in progress at once
}

type write struct {
	pod        string
	start, end time.Time
}

func newCloudflare(tb testing.TB) *cloudflare {
	fake := cffake.New(cffake.Config{Token: cfToken, AccountID: cfAccount, OpDelay: 20 * time.Millisecond, RateLimit: 1 << 20})
	tb.Cleanup(fake.Close)
	return &cloudflare{fake: fake, inFlight: map[string]int{}}
}

// front is pod's view of the API.
func (cf *cloudflare) front(tb testing.TB, pod string) string {
	u, _ := url.Parse(cf.fake.URL)
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			proxy.ServeHTTP(w, r)
			return
		}
		wr := write{pod: pod, start: time.Now()}
		cf.mu.Lock()
		for other, n := range cf.inFlight {
			if other != pod && n > 0 {
				cf.overlap.Add(1)
			}
		}
		cf.inFlight[pod]++
		cf.mu.Unlock()
		proxy.ServeHTTP(w, r)
		wr.end = time.Now()
		cf.mu.Lock()
		cf.inFlight[pod]--
		cf.writes = append(cf.writes, wr)
		cf.mu.Unlock()
	}))
	tb.Cleanup(srv.Close)
	return srv.URL + "/client/v4/"
}

// writers is the order in which pods wrote (runs of one pod collapsed).
func (cf *cloudflare) writers() []string {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	ws := slices.Clone(cf.writes)
	slices.SortFunc(ws, func(a, b write) int { return a.start.Compare(b.start) })
	var out []string
	for _, w := range ws {
		if len(out) == 0 || out[len(out)-1] != w.pod {
			out = append(out, w.pod)
		}
	}
	return out
}

func (cf *cloudflare) waitListed(tb testing.TB, ip string) time.Duration {
	tb.Helper()
	start := time.Now()
	testkit.Eventually(tb, 30*time.Second, "Cloudflare's list to hold "+ip, func() bool { return cf.fake.Contains("bulwark_block", ip) })
	return time.Since(start)
}

// cfsyncPod is one bulwark-cfsync replica: a syncer run under leader
// election, as services/cfsync wires it.
type cfsyncPod struct {
	name string
	reg  *prometheus.Registry
	stop context.CancelFunc
	done chan error
}

func electionConfig(pod string) leader.Config {
	return leader.Config{
		Enabled: true, LeaseName: "bulwark-cfsync", Namespace: leaseNS, Identity: pod,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
	}
}

func startCfsyncPod(tb testing.TB, c *cluster, cf *cloudflare, api kubernetes.Interface, pod string) *cfsyncPod {
	tb.Helper()
	reg := prometheus.NewRegistry()
	s, err := cfsync.New(cfsync.Config{
		APIToken: cfToken, AccountID: cfAccount, List: "bulwark_block", BaseURL: cf.front(tb, pod),
		SyncInterval: 50 * time.Millisecond, Capacity: 10000, RateLimit: 1 << 20, PollInterval: 10 * time.Millisecond,
		RetryBase: 10 * time.Millisecond, RetryMax: 200 * time.Millisecond, ResyncInterval: time.Hour, ExpirySlack: time.Hour,
	}, c.config("cfsync-"+pod), nil, reg)
	if err != nil {
		tb.Fatal(err)
	}
	el, err := leader.New(electionConfig(pod), api, nil, reg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &cfsyncPod{name: pod, reg: reg, stop: cancel, done: make(chan error, 1)}
	go func() { p.done <- el.Run(ctx, s.Run) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			tb.Errorf("cfsync %s did not stop", pod)
		}
	})
	return p
}

func (p *cfsyncPod) exited(tb testing.TB, within time.Duration) error {
	tb.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(within):
		tb.Fatalf("cfsync %s still running after %s", p.name, within)
		return nil
	}
}

func blockVerdict(tb testing.TB, cl *kgo.Client, ip string) {
	tb.Helper()
	writeVerdict(tb, cl, ip, eventpb.Action_BLOCK)
}

// TestCfsyncSingleWriter: two cfsync replicas under leader election. Only
// the leader writes to Cloudflare; when it is cut off from the API server
// it stops, and the standby takes over after the lease expires; when the
// new leader is stopped cleanly (SIGTERM), a fresh standby takes over at
// once. No two replicas ever write at the same time, and no write of an
// old leader follows its successor's.
func TestCfsyncSingleWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test")
	}
	c := startCluster(t, 3)
	cf := newCloudflare(t)
	api := leadertest.NewAPI()
	prod := c.client(t, "failover-decider")
	blockVerdict(t, prod, "203.0.113.1")

	apiA, cutA := leadertest.Cuttable(api)
	a := startCfsyncPod(t, c, cf, apiA, "cfsync-a")
	cf.waitListed(t, "203.0.113.1")
	b := startCfsyncPod(t, c, cf, api, "cfsync-b")
	blockVerdict(t, prod, "203.0.113.2")
	cf.waitListed(t, "203.0.113.2")
	if got := leadertest.Holder(api, leaseNS, "bulwark-cfsync"); got != "cfsync-a" {
		t.Fatalf("lease held by %q, want cfsync-a", got)
	}

	// a is cut off from the API server: it must stop writing before b may start.
	cutA.Store(true)
	cutAt := time.Now()
	if err := a.exited(t, 20*time.Second); !errors.Is(err, leader.ErrLost) {
		t.Fatalf("cut-off leader: Run = %v, want ErrLost", err)
	}
	lostAfter := time.Since(cutAt)
	testkit.Eventually(t, 20*time.Second, "b to take the lease", func() bool { return leadertest.Holder(api, leaseNS, "bulwark-cfsync") == "cfsync-b" })
	leaseAfter := time.Since(cutAt)
	blockVerdict(t, prod, "203.0.113.3")
	cf.waitListed(t, "203.0.113.3")
	t.Logf("cut-off leader: stopped after %s, standby leading after %s, new verdict listed after %s",
		lostAfter.Round(time.Millisecond), leaseAfter.Round(time.Millisecond), time.Since(cutAt).Round(time.Millisecond))

	// b leads; a fresh standby joins; b gets SIGTERM and releases the lease.
	standby := startCfsyncPod(t, c, cf, api, "cfsync-c")
	testkit.Eventually(t, 20*time.Second, "c to campaign (it has read the lease)", func() bool {
		return testkit.Metric(t, standby.reg, "bulwark_leader_campaigning") == 1
	})
	b.stop()
	if err := b.exited(t, 30*time.Second); err != nil {
		t.Fatalf("leader after SIGTERM: %v", err)
	}
	stoppedAt := time.Now()
	testkit.Eventually(t, 20*time.Second, "c to take the lease", func() bool { return leadertest.Holder(api, leaseNS, "bulwark-cfsync") == "cfsync-c" })
	leaseAfter = time.Since(stoppedAt)
	blockVerdict(t, prod, "203.0.113.4")
	cf.waitListed(t, "203.0.113.4")
	t.Logf("clean stop: standby leading after %s, new verdict listed after %s",
		leaseAfter.Round(time.Millisecond), time.Since(stoppedAt).Round(time.Millisecond))

	if n := cf.overlap.Load(); n != 0 {
		t.Fatalf("%d writes overlapped with another replica's", n)
	}
	if got, want := cf.writers(), []string{"cfsync-a", "cfsync-b", "cfsync-c"}; !slices.Equal(got, want) {
		t.Fatalf("writers in order %v, want %v (an old leader wrote after its successor)", got, want)
	}
}
