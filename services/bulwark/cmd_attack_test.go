package main

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

func TestAttackList(t *testing.T) {
	b := kafkatest.Start(t)
	brokers := "--brokers=" + b.Addr()
	out, err := runCLI(t, brokers, "attack", "list")
	if err != nil || !strings.Contains(out, "no attacks") {
		t.Fatalf("empty topic: %q, %v", out, err)
	}
	cl := kafkatest.Client(t, b)
	for _, a := range []*eventpb.Attack{
		{Id: "login-failures-2026-12-03T10:14Z", Signal: "failures", StartedUnixNano: 1, Enforcing: true, Strength: 30, Reason: "login failure ratio 0.82 vs baseline 0.02"},
		{Id: "login-surge-2026-12-03T09:00Z", Signal: "surge", StartedUnixNano: 0, EndedUnixNano: 5, Reason: "a newsletter"},
		{Id: "login-failures-2026-12-03T10:14Z", Signal: "failures", StartedUnixNano: 1, Enforcing: true, Strength: 41.5, Reason: "login failure ratio 0.9 vs baseline 0.02"},
	} {
		v, err := proto.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "bulwark.attacks.v1", Key: []byte(a.Id), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	out, err = runCLI(t, brokers, "attack", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "login-failures-2026-12-03T10:14Z  active  attack mode  strength 41.5  login failure ratio 0.9") || strings.Contains(out, "surge") {
		t.Fatalf("active attacks: %s", out)
	}
	out, err = runCLI(t, brokers, "attack", "list", "--all")
	if err != nil || !strings.HasPrefix(out, "login-surge-2026-12-03T09:00Z  ended") || strings.Count(out, "\n") != 2 {
		t.Fatalf("--all: %q %v", out, err)
	}
	if _, err := runCLI(t, brokers, "attack", "list", "extra"); err == nil {
		t.Error("an argument was accepted")
	}
}
