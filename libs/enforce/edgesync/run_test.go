package edgesync

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// TestRunFollowsTheVerdictTopic runs New's syncer on an embedded broker: the
// first sync comes after catch-up (it holds what was written before the
// start), later verdicts and tombstones follow, and a cancel ends Run
// without an error.
func TestRunFollowsTheVerdictTopic(t *testing.T) {
	b := kafkatest.Start(t)
	cl := kafkatest.Client(t, b)
	put := func(subject string, action eventpb.Action) {
		t.Helper()
		rec := &kgo.Record{Topic: kafka.DefaultTopics().Verdicts, Key: []byte(subject)}
		if action != eventpb.Action_ACTION_UNSPECIFIED {
			rec.Value, _ = proto.Marshal(&eventpb.Verdict{Subject: subject, Action: action, Score: 90})
		}
		if err := cl.ProduceSync(t.Context(), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	put("ip:203.0.113.1", eventpb.Action_BLOCK)
	put("ip:203.0.113.2", eventpb.Action_MONITOR) // not enforced at the edge

	target := &fakeTarget{seen: make(chan applied, 64)}
	cfg := testConfig()
	cfg.SyncInterval = 10 * time.Millisecond
	s, err := New(cfg, kafkatest.Config(b), target, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	}()

	// waitFor returns the first apply holding exactly want.
	waitFor := func(want ...string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case a := <-target.seen:
				if slices.Equal(a.subjects, want) {
					return
				}
			case err := <-done:
				t.Fatalf("Run returned %v", err)
			case <-deadline:
				t.Fatalf("no sync of %v; syncs so far: %+v", want, target.calls())
			}
		}
	}
	waitFor("ip:203.0.113.1")
	if c := target.calls(); len(c) != 1 || !c[0].whole {
		t.Fatalf("the first sync came before catch-up or was not whole: %+v", c)
	}
	<-s.Synced()
	put("ip:198.51.100.7", eventpb.Action_BLOCK)
	waitFor("ip:198.51.100.7", "ip:203.0.113.1")
	put("ip:203.0.113.1", eventpb.Action_ACTION_UNSPECIFIED) // tombstone: lifted
	waitFor("ip:198.51.100.7")
}

func TestRunReturnsAPermanentError(t *testing.T) {
	b := kafkatest.Start(t)
	errDenied := errors.New("operation not permitted")
	target := &fakeTarget{}
	target.failNext(Permanent(errDenied))
	s, err := New(testConfig(), kafkatest.Config(b), target, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Run(ctx); !errors.Is(err, errDenied) {
		t.Fatalf("Run = %v, want %v", err, errDenied)
	}
}

func TestNewRefusesABadConfig(t *testing.T) {
	cfg := testConfig()
	cfg.SyncInterval = 0
	if _, err := New(cfg, kafka.Config{}, &fakeTarget{}, nil, nil); err == nil {
		t.Fatal("New accepted a zero SyncInterval")
	}
}
