package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
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

func TestAttackStartEnd(t *testing.T) {
	b := kafkatest.Start(t)
	brokers := "--brokers=" + b.Addr()
	for _, bad := range [][]string{
		{"attack", "start", "checkout", "--reason", "x"},
		{"attack", "start", "login", "--fingerprint", "fp:xyz", "--reason", "x"},
		{"attack", "start", "login"},
		{"attack", "start", "login", "--for", "10s", "--reason", "x"},
		{"attack", "end", "login-failures-2026-12-03T10:14Z", "--reason", "x"},
	} {
		if out, err := runCLI(t, append([]string{brokers}, bad...)...); err == nil {
			t.Errorf("%v accepted: %s", bad, out)
		}
	}
	out, err := runCLI(t, brokers, "attack", "start", "login", "--fingerprint", "fp:02f1bea35578836f", "--for", "30m", "--reason", "ticket 42")
	if err != nil || !strings.HasPrefix(out, "started login-operator-") {
		t.Fatalf("start: %q %v", out, err)
	}
	id := strings.Fields(out)[1]
	out, err = runCLI(t, brokers, "attack", "list")
	if err != nil || !strings.Contains(out, id+"  active until ") || !strings.Contains(out, "forced by an operator for 30m0s: ticket 42; fingerprint fp:02f1bea35578836f") {
		t.Fatalf("list after start: %q %v", out, err)
	}
	if out, err = runCLI(t, brokers, "attack", "end", id, "--reason", "contained"); err != nil || out != "ended "+id+"\n" {
		t.Fatalf("end: %q %v", out, err)
	}
	if out, err = runCLI(t, brokers, "attack", "list"); err != nil || out != "no attacks\n" {
		t.Fatalf("list after end: %q %v", out, err)
	}
	// The last records as JSON lines, which replay --attacks reads.
	out, err = runCLI(t, brokers, "attack", "list", "--all", "--json")
	if err != nil {
		t.Fatalf("list --json: %v", err)
	}
	recs, err := replay.ReadAttackRecords(strings.NewReader(out))
	if err != nil || len(recs) != 1 || recs[0].GetId() != id || recs[0].GetEndedUnixNano() == 0 || recs[0].GetSource() != "operator" {
		t.Fatalf("list --all --json: %q: %v %v", out, recs, err)
	}
	if acts := attacks.OperatorActions(recs); len(acts) != 2 || acts[0].Force == nil || acts[1].End != id {
		t.Errorf("the listed records replay as %+v, want the start and the end of %s", acts, id)
	}
	if out, err = runCLI(t, brokers, "attack", "list", "--json"); err != nil || out != "" {
		t.Errorf("list --json without active attacks: %q %v", out, err)
	}
	if out, err = runCLI(t, "replay", "--format", "nginx", "--attacks", "go.mod", "go.mod"); err == nil || !strings.Contains(err.Error(), "--attacks needs --attack-mode") {
		t.Errorf("replay --attacks without --attack-mode: %q %v", out, err)
	}
	if _, err = runCLI(t, brokers, "attack", "end", id, "--reason", "again"); err == nil {
		t.Error("an ended attack was ended again")
	}
	var actions []string
	for _, r := range kafkatest.ReadAll(t, b, "bulwark.audit.v1", 2, 30*time.Second) {
		a := &eventpb.AuditEvent{}
		if err := proto.Unmarshal(r.Value, a); err != nil {
			t.Fatal(err)
		}
		if a.GetSubject() != "attack:"+id || !strings.HasPrefix(a.GetActor(), "cli") || a.GetResult() != "ok" {
			t.Errorf("audit record %v", a)
		}
		actions = append(actions, a.GetAction()+" "+a.GetReason())
	}
	if strings.Join(actions, ",") != "attack_start ticket 42,attack_end contained" {
		t.Errorf("audit actions %v", actions)
	}
}
