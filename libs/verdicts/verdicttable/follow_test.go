package verdicttable_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

func produce(t testing.TB, cl *kgo.Client, key string, v *eventpb.Verdict) {
	t.Helper()
	rec := &kgo.Record{Topic: "bulwark.verdicts.v1", Key: []byte(key)}
	if v != nil {
		var err error
		if rec.Value, err = proto.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", key, err)
	}
}

func TestFollowerCatchUpAndFollow(t *testing.T) {
	b := kafkatest.Start(t)
	cl := kafkatest.Client(t, b)
	for i := range 200 {
		a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		produce(t, cl, "ip:"+a.String(), &eventpb.Verdict{Action: block})
	}
	produce(t, cl, "ip:198.51.100.7", nil)
	produce(t, cl, "net:203.0.113.0/24", &eventpb.Verdict{Action: challenge})
	produce(t, cl, "not a subject", &eventpb.Verdict{Action: block})

	// A snapshot from before: one verdict the topic still has, one it lifted.
	tab := verdicttable.New()
	mustApply(t, tab, "ip:198.51.100.1", &eventpb.Verdict{Action: block})
	mustApply(t, tab, "ip:192.0.2.99", &eventpb.Verdict{Action: block})
	var snap = t.TempDir() + "/snap"
	if _, err := tab.SaveSnapshotFile(snap, time.Now()); err != nil {
		t.Fatal(err)
	}
	tab = verdicttable.New()
	if _, err := tab.LoadSnapshotFile(snap, time.Now()); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	f := verdicttable.NewFollower(tab, kafkatest.Config(b), verdicttable.FollowOptions{Registerer: reg, SweepEvery: 50 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	select {
	case <-f.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("follower never caught up")
	}
	now := time.Now()
	lookup := func(ip string) eventpb.Action { return tab.Lookup(netip.MustParseAddr(ip), "", now).Action }
	if got := lookup("198.51.100.199"); got != block {
		t.Fatalf("after catch-up 198.51.100.199 = %v", got)
	}
	if got := lookup("198.51.100.7"); got != allow {
		t.Fatalf("tombstoned before start: %v", got)
	}
	if got := lookup("203.0.113.50"); got != challenge {
		t.Fatalf("net verdict: %v", got)
	}
	testkit.Eventually(t, 20*time.Second, "stale snapshot verdict dropped", func() bool { _, ok := tab.Get("ip:192.0.2.99"); return !ok })
	if _, ok := tab.Get("ip:198.51.100.1"); !ok {
		t.Fatal("a verdict confirmed by the topic was dropped")
	}

	// Following: new verdicts, tombstones and expiry show up without restart.
	produce(t, cl, "ip:192.0.2.1", &eventpb.Verdict{Action: block, ExpiresAtUnixNano: time.Now().Add(2 * time.Second).UnixNano()})
	produce(t, cl, "ip:198.51.100.199", nil)
	testkit.Eventually(t, 20*time.Second, "tombstone applied", func() bool { return lookup("198.51.100.199") == allow })
	testkit.Eventually(t, 20*time.Second, "expiring verdict swept", func() bool { _, ok := tab.Get("ip:192.0.2.1"); return ok })
	testkit.Eventually(t, 20*time.Second, "expiring verdict swept", func() bool { _, ok := tab.Get("ip:192.0.2.1"); return !ok })
}
