package verdictlog_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdictlog"
)

type table struct {
	mu sync.Mutex
	m  map[string]*eventpb.Verdict
}

func (t *table) apply(s string, v *eventpb.Verdict) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v == nil {
		delete(t.m, s)
		return
	}
	t.m[s] = v
}

func (t *table) get(s string) *eventpb.Verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[s]
}

func TestCatchUpThenFollow(t *testing.T) {
	b := kafkatest.Start(t)
	cl := kafkatest.Client(t, b)
	ctx := context.Background()
	put := func(subject string, v *eventpb.Verdict) {
		t.Helper()
		rec := &kgo.Record{Topic: "bulwark.verdicts.v1", Key: []byte(subject)}
		if v != nil {
			rec.Value, _ = proto.Marshal(v)
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		put("ip:192.0.2."+string(rune('0'+i%10)), &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: float64(i)})
	}
	put("ip:192.0.2.1", nil) // lifted before the reader starts
	// Keys that are no subject are skipped and counted, never loaded.
	badKeys := []string{"ip:bad", "session:" + strings.Repeat("a", 100<<10), "session:a\nb", "session:with space", "host:x"}
	for _, k := range badKeys {
		put(k, &eventpb.Verdict{Action: eventpb.Action_BLOCK})
	}
	rec := &kgo.Record{Topic: "bulwark.verdicts.v1", Key: []byte("ip:192.0.2.9"), Value: []byte{0xff, 0xff}}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}

	tab := &table{m: map[string]*eventpb.Verdict{}}
	reg := prometheus.NewRegistry()
	r := verdictlog.New(kafkatest.Config(b), "test", tab.apply, nil, reg)
	hint := make(chan int64, 1)
	r.OnStart(func(n int64) { hint <- n })
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() { cancel(); <-done }()

	select {
	case <-r.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("reader never caught up")
	}
	if n := <-hint; n != int64(52+len(badKeys)) {
		t.Errorf("size hint %d, want the %d records on the topic", n, 52+len(badKeys))
	}
	if v := tab.get("ip:192.0.2.1"); v != nil {
		t.Fatalf("tombstoned subject still present: %v", v)
	}
	if v := tab.get("ip:192.0.2.9"); v == nil || v.Score != 49 {
		t.Fatalf("ip:192.0.2.9 = %v, want the last good verdict (score 49); undecodable records are skipped", v)
	}
	if v := tab.get("ip:192.0.2.0"); v == nil || v.Subject != "ip:192.0.2.0" {
		t.Fatalf("subject not filled from the key: %v", v)
	}
	for _, k := range badKeys {
		if v := tab.get(k); v != nil {
			t.Fatalf("malformed subject %.30q loaded", k)
		}
	}
	if n := testkit.Metric(t, reg, "bulwark_verdictlog_bad_subjects_total"); n != float64(len(badKeys)) {
		t.Fatalf("bad subjects counted %v, want %d", n, len(badKeys))
	}

	put("session:new", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE})
	testkit.Eventually(t, 10*time.Second, "the record produced after catch-up to be applied", func() bool { return tab.get("session:new") != nil })
}

func TestEmptyTopicIsReadyAtOnce(t *testing.T) {
	b := kafkatest.Start(t)
	r := verdictlog.New(kafkatest.Config(b), "test", func(string, *eventpb.Verdict) {}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-r.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("empty topic: never ready")
	}
}
