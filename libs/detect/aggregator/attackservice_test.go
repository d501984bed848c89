package aggregator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// TestServiceAttackRecords runs the service on the embedded broker with 50
// minutes of a small shop whose last ten are credential stuffing from a new
// address per attempt, all with one user agent: the attack is recorded on
// the attacks topic, enforcing, with its fingerprint, and scores name it.
func TestServiceAttackRecords(t *testing.T) {
	tr := newTraffic(20)
	ip := 0
	next := func() string { ip++; return fmt.Sprintf("10.%d.%d.%d", ip>>16&255, ip>>8&255, ip&255) }
	ua := func(i int) string {
		return fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/13%d.0.0.0 Safari/537.36", i%30)
	}
	const stuffer = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	for m := range 50 {
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
		if m >= 40 {
			for i := range 40 {
				tr.add(base+time.Duration(i)*1400*time.Millisecond, next(), "POST", "/login", "", 401, stuffer, "https://shop.example/login")
			}
		}
	}
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
