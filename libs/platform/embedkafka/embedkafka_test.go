package embedkafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

func TestTopicsCreatedWithPolicies(t *testing.T) {
	b := kafkatest.Start(t)
	adm := kadm.NewClient(kafkatest.Client(t, b))
	ctx := context.Background()
	cfgs, err := adm.DescribeTopicConfigs(ctx, "bulwark.verdicts.v1", "bulwark.requests.v1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"bulwark.verdicts.v1": "compact", "bulwark.requests.v1": "delete"}
	for _, rc := range cfgs {
		var got string
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.Value != nil {
				got = *c.Value
			}
		}
		if got != want[rc.Name] {
			t.Errorf("%s cleanup.policy = %q, want %q", rc.Name, got, want[rc.Name])
		}
	}
	// Idempotent: a second run changes nothing and does not fail.
	if err := kafka.EnsureTopics(ctx, adm, kafka.DefaultTopics().Specs(4, 1)); err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b, err := embedkafka.Start(ctx, embedkafka.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	cl, err := kafka.NewClient(kafkatest.Config(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "bulwark.scores.v1", Key: []byte("ip:1.2.3.4"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	b.Close()

	b2, err := embedkafka.Start(ctx, embedkafka.Config{DataDir: dir, Listen: addr})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer b2.Close()
	recs := kafkatest.ReadAll(t, b2, "bulwark.scores.v1", 1, 10*time.Second)
	if len(recs) != 1 || string(recs[0].Key) != "ip:1.2.3.4" {
		t.Fatalf("after restart read %d records, want the 1 produced before", len(recs))
	}
}

func TestRejectsNonLoopback(t *testing.T) {
	if _, err := embedkafka.Start(context.Background(), embedkafka.Config{Listen: "0.0.0.0:0"}); err == nil {
		t.Fatal("listening on all interfaces must be refused")
	}
}
