package chsink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/analytics/chsink"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestFingerprintVerdictRows: an fp: verdict's row keeps the addresses it
// lists (migration 009), requests from those addresses are marked with its
// action, and its lift is a row without them.
func TestFingerprintVerdictRows(t *testing.T) {
	e := newEnv(t, "fps")
	cl := kafkatest.Client(t, e.broker)
	at := base.UnixNano()
	const fp = "fp:02f1bea35578836f"
	v, _ := proto.Marshal(&eventpb.Verdict{Subject: fp, Action: eventpb.Action_BLOCK, Score: 92, AtUnixNano: at,
		ExpiresAtUnixNano: at + int64(time.Hour), Reasons: []string{"score=92", "attack=login-failures-x"}, Rule: "ladder",
		Addresses: []string{"203.0.113.7", "2001:db8::1"}})
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: e.kcfg.Topics.Verdicts, Key: []byte(fp), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.start(nil)
	f := func(q string, want uint64) {
		t.Helper()
		testkit.Eventually(t, 60*time.Second, fmt.Sprintf("%s to give %d", q, want), func() bool { return e.count(q) == want })
	}
	f("SELECT count() FROM fps.verdicts FINAL WHERE subject = '"+fp+"' AND subject_kind = 'fp' AND action = 'BLOCK' AND addresses = ['203.0.113.7', '2001:db8::1']", 1)
	// A restarted sink loads it back from ClickHouse.
	got, err := chsink.LoadedActions(context.Background(), e.conn, "fps", time.Unix(0, at))
	if err != nil || got[fp] != "BLOCK" {
		t.Fatalf("loaded %v, %v", got, err)
	}
	// 203.0.113.7 is request i with i%50 == 7: 2 of the first 100.
	e.produce(0, 100)
	f("SELECT count() FROM fps.requests FINAL", 100)
	f("SELECT count() FROM fps.requests FINAL WHERE action = 'BLOCK'", 2)
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: e.kcfg.Topics.Verdicts, Key: []byte(fp)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	f("SELECT count() FROM fps.verdicts FINAL WHERE subject = '"+fp+"' AND lifted = 1 AND empty(addresses)", 1)
}
