package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

type zone struct {
	name string
	s    *sidecar.Sidecar
	stop context.CancelFunc
	done chan error
}

// startZone runs one zone's sidecar: its own registry, its own ports.
func startZone(tb testing.TB, c *cluster, name string) *zone {
	tb.Helper()
	cfg := sidecar.DefaultConfig()
	cfg.Addr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	s, err := sidecar.New(cfg, c.config("sidecar-"+name), nil, prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	z := &zone{name: name, s: s, stop: cancel, done: make(chan error, 1)}
	go func() { z.done <- s.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-z.done:
		case <-time.After(30 * time.Second):
			tb.Errorf("sidecar %s did not stop", name)
		}
	})
	select {
	case <-s.Ready():
	case <-time.After(30 * time.Second):
		tb.Fatalf("sidecar %s never caught up", name)
	}
	return z
}

// kill stops the zone's sidecar and checks that it no longer answers.
func (z *zone) kill(tb testing.TB) {
	tb.Helper()
	z.stop()
	select {
	case err := <-z.done:
		if err != nil {
			tb.Fatalf("sidecar %s: %v", z.name, err)
		}
		z.done <- nil
	case <-time.After(30 * time.Second):
		tb.Fatalf("sidecar %s did not stop", z.name)
	}
	if _, err := askClient.Get("http://" + z.s.Addr() + "/healthz"); err == nil {
		tb.Fatalf("sidecar %s still answers after being stopped", z.name)
	}
}

// askClient bounds each question to a sidecar: one that stops answering
// counts as unable to answer rather than hanging the test.
var askClient = &http.Client{Timeout: 5 * time.Second}

// action asks the zone's sidecar for ip's verdict ("" when it cannot answer).
func (z *zone) action(ip string) string {
	resp, err := askClient.Get("http://" + z.s.Addr() + "/v1/verdict?ip=" + ip)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var v struct {
		Action string `json:"action"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil {
		return ""
	}
	return v.Action
}

func (z *zone) waitAction(tb testing.TB, ip, want string) {
	tb.Helper()
	testkit.Eventually(tb, 30*time.Second, fmt.Sprintf("sidecar %s to answer %s for %s", z.name, want, ip), func() bool { return z.action(ip) == want })
}

func writeVerdict(tb testing.TB, cl *kgo.Client, ip string, a eventpb.Action) {
	tb.Helper()
	now := time.Now()
	v, err := proto.Marshal(&eventpb.Verdict{Action: a, Score: 90, Reasons: []string{"failover_test"},
		AtUnixNano: now.UnixNano(), ExpiresAtUnixNano: now.Add(time.Hour).UnixNano(), Origin: eventpb.Origin_COMPUTED})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "bulwark.verdicts.v1", Key: []byte("ip:" + ip), Value: v}).FirstErr(); err != nil {
		tb.Fatalf("write verdict for %s: %v", ip, err)
	}
}

// TestTwoZonesServeTheSameVerdicts: each zone's sidecar holds the whole
// verdict table; when one zone's sidecar dies (and a broker with it), the
// other keeps answering, including verdicts written after the loss.
func TestTwoZonesServeTheSameVerdicts(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test")
	}
	c := startCluster(t, 3)
	prod := c.client(t, "failover-decider")
	for i := 1; i <= 20; i++ {
		writeVerdict(t, prod, fmt.Sprintf("203.0.113.%d", i), eventpb.Action_BLOCK)
	}
	a := startZone(t, c, "zone-a")
	b := startZone(t, c, "zone-b")
	for i := 1; i <= 20; i++ {
		ip := fmt.Sprintf("203.0.113.%d", i)
		a.waitAction(t, ip, "BLOCK")
		b.waitAction(t, ip, "BLOCK")
	}
	writeVerdict(t, prod, "198.51.100.50", eventpb.Action_CHALLENGE)
	a.waitAction(t, "198.51.100.50", "CHALLENGE")
	b.waitAction(t, "198.51.100.50", "CHALLENGE")

	// Zone A goes away: its sidecar and the broker leading most verdict partitions.
	a.kill(t)
	c.kill(t, c.leaderOfMost(t, "bulwark.verdicts.v1"))
	for i := 1; i <= 20; i++ {
		if got := b.action(fmt.Sprintf("203.0.113.%d", i)); got != "BLOCK" {
			t.Fatalf("zone B answers %q for 203.0.113.%d after zone A's loss", got, i)
		}
	}
	writeVerdict(t, prod, "198.51.100.51", eventpb.Action_BLOCK)
	b.waitAction(t, "198.51.100.51", "BLOCK")
	if got := b.action("192.0.2.1"); got != "ALLOW" {
		t.Fatalf("unknown client: %q, want ALLOW", got)
	}
}
