package aggregator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestServiceAttackRecords runs the service on the embedded broker with 50
// minutes of a small shop whose last ten are credential stuffing from a new
// address per attempt, all with one user agent: the attack is recorded on
// the attacks topic, enforcing, with its fingerprint, and scores name it.
// stuffedShop is a small shop's traffic for minutes, credential stuffing
// from a new address per attempt, all with one user agent, from minute
// stuffFrom on.
func stuffedShop(minutes, stuffFrom int) *traffic {
	tr := newTraffic(20)
	ip := 0
	next := func() string { ip++; return fmt.Sprintf("10.%d.%d.%d", ip>>16&255, ip>>8&255, ip&255) }
	ua := func(i int) string {
		return fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/13%d.0.0.0 Safari/537.36", i%30)
	}
	const stuffer = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	for m := range minutes {
		base := time.Duration(m) * time.Minute
		for i := range 20 {
			status := uint32(302)
			if i%10 == 0 {
				status = 401
			}
			tr.add(base+time.Duration(i)*2*time.Second, next(), "POST", "/login", "", status, ua(i+m), "https://shop.example/login")
		}
		for i := range 100 {
			tr.add(base+time.Duration(i)*500*time.Millisecond, next(), "GET", fmt.Sprintf("/product/%d", 10000+(i*37+m*11)%6000), "", 200, ua(i), "")
		}
		if m >= stuffFrom {
			for i := range 40 {
				tr.add(base+time.Duration(i)*1400*time.Millisecond, next(), "POST", "/login", "", 401, stuffer, "https://shop.example/login")
			}
		}
	}
	return tr
}

func TestServiceAttackRecords(t *testing.T) {
	tr := stuffedShop(50, 40)
	b := kafkatest.Start(t)
	evs := tr.sorted()
	produceEvents(t, b, evs)
	startAggregator(t, b, "agg-attacks", 0)
	recs := kafkatest.ReadAll(t, b, "bulwark.attacks.v1", 1, 90*time.Second)
	var found *eventpb.Attack
	for _, r := range recs {
		a := &eventpb.Attack{}
		if err := proto.Unmarshal(r.Value, a); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != a.GetId() {
			t.Errorf("record keyed %q holds attack %q", r.Key, a.GetId())
		}
		if strings.HasPrefix(a.GetId(), "login-failures-") && a.GetEnforcing() {
			found = a
		}
	}
	if found == nil {
		for _, r := range kafkatest.ReadAll(t, b, "bulwark.attacks.v1", len(recs), 10*time.Second) {
			a := &eventpb.Attack{}
			_ = proto.Unmarshal(r.Value, a)
			if strings.HasPrefix(a.GetId(), "login-failures-") && a.GetEnforcing() {
				found = a
			}
		}
	}
	if found == nil {
		t.Fatalf("no enforcing login-failures attack among %d records", len(recs))
	}
	if !strings.Contains(found.GetId(), "T10:4") || len(found.GetFingerprints()) == 0 {
		t.Errorf("attack %s (fingerprints %v): want one starting in minute 40-49 with a fingerprint", found.GetId(), found.GetFingerprints())
	}
}

// TestServiceAttackSurvivesRestart: the aggregator stops (a rolling update)
// while a stuffing attack is active and a new one takes over from the state
// topic: it goes on recording the same attack, under the same id. A fresh
// detector could not: it would still be warming up.
func TestServiceAttackSurvivesRestart(t *testing.T) {
	evs := stuffedShop(60, 40).sorted()
	boundary := evs[0].GetTimeUnixNano() + int64(47*time.Minute)
	split := 0
	for split < len(evs) && evs[split].GetTimeUnixNano() < boundary {
		split++
	}
	b := kafkatest.Start(t)
	produceEvents(t, b, evs[:split])
	a1, stop1, done1 := startAggregator(t, b, "agg-attack-1", 0)
	testkit.Eventually(t, 60*time.Second, "first half processed", func() bool { return testutil.ToFloat64(a1.m.events) >= float64(split) })
	stop1()
	if err := <-done1; err != nil {
		t.Fatalf("first aggregator: %v", err)
	}
	before := map[string]bool{}
	for _, a := range attackRecords(t, b, 1) {
		if strings.HasPrefix(a.GetId(), "login-failures-") {
			before[a.GetId()] = true
		}
	}
	if len(before) == 0 {
		t.Fatal("no login-failures attack before the restart")
	}
	produceEvents(t, b, evs[split:])
	a2, _, _ := startAggregator(t, b, "agg-attack-2", 0)
	testkit.Eventually(t, 60*time.Second, "second half processed", func() bool { return testutil.ToFloat64(a2.m.events) >= float64(len(evs)-split) })
	if testutil.ToFloat64(a2.m.restores) == 0 {
		t.Fatal("the second aggregator restored no state")
	}
	var after int
	testkit.Eventually(t, 30*time.Second, "attack records after the restart", func() bool {
		after = 0
		for _, a := range attackRecords(t, b, 1) {
			if !strings.HasPrefix(a.GetId(), "login-failures-") || a.GetTimeUnixNano() <= boundary {
				continue
			}
			after++
			if !before[a.GetId()] {
				t.Fatalf("after the restart the attack is recorded as a new one, %s (before: %v)", a.GetId(), before)
			}
		}
		return after > 0
	})
}

// attackRecords reads the attacks topic.
func attackRecords(t *testing.T, b *embedkafka.Broker, least int) []*eventpb.Attack {
	t.Helper()
	var out []*eventpb.Attack
	for _, r := range kafkatest.ReadAll(t, b, "bulwark.attacks.v1", least, 10*time.Second) {
		a := &eventpb.Attack{}
		if err := proto.Unmarshal(r.Value, a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}
