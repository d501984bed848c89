package decider_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/decide/policy"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestLivePolicy: a policy written to the policy topic reaches every
// decider, survives a rule file reload and a restart, a policy a decider's
// file cannot take is refused there, and an empty one returns to the file.
func TestLivePolicy(t *testing.T) {
	b := kafkatest.Start(t)
	kcfg := kafkatest.Config(b)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte("version: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	one, two := startService(t, b, rulesFile), startService(t, b, rulesFile)
	fileChallenge := one.svc.Decider().Rules().Ladder.Challenge
	challenge := func(r running) float64 { return r.svc.Decider().Rules().Ladder.Challenge }

	start := time.Now()
	if err := policy.Write(context.Background(), kcfg, []byte("ladder: {challenge: 60}\n")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the policy in both deciders", func() bool { return challenge(one) == 60 && challenge(two) == 60 })
	t.Logf("policy in force in both deciders %v after it was written (target 2s)", time.Since(start).Round(time.Millisecond))

	// A rule file reload keeps the live policy.
	writeLater(t, rulesFile, "version: 1\nlearning: true\n")
	testkit.Eventually(t, 30*time.Second, "the reload", func() bool { return one.svc.Decider().Rules().Learning })
	if challenge(one) != 60 {
		t.Fatalf("the reload dropped the live policy: challenge %v", challenge(one))
	}

	// Refused where the file cannot take it; the rules in force stay.
	if err := policy.Write(context.Background(), kcfg, []byte("rule_learning: {no_such_rule: true}\n")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the bad policy refused", func() bool {
		return testkit.Metric(t, one.reg, "bulwark_decider_live_policy_total", "result", "refused") == 1
	})
	if challenge(one) != 60 {
		t.Fatal("a refused policy changed the rules")
	}

	// A restarted decider starts deciding under the policy in force.
	if err := policy.Write(context.Background(), kcfg, []byte("ladder: {challenge: 65}\n")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the new policy", func() bool { return challenge(two) == 65 })
	two.stop()
	three := startService(t, b, rulesFile)
	if got := challenge(three); got != 65 {
		t.Fatalf("after a restart the challenge threshold is %v, want the live policy's 65", got)
	}

	// An empty policy returns to the file.
	if err := policy.Write(context.Background(), kcfg, nil); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "back to the file", func() bool { return challenge(three) == fileChallenge && challenge(one) == fileChallenge })
}

// TestPolicyStatusReports: a decider writes what it did with each live
// policy on the audit topic, for the console: where it stands once caught
// up, then "ok" or "refused: why" per record, named by the policy's digest.
func TestPolicyStatusReports(t *testing.T) {
	b := kafkatest.Start(t)
	kcfg := kafkatest.Config(b)
	host, _ := os.Hostname()
	startService(t, b, "")
	good, bad := []byte("ladder: {challenge: 60}\n"), []byte("rule_learning: {no_such_rule: true}\n")
	for _, doc := range [][]byte{good, bad} {
		if err := policy.Write(context.Background(), kcfg, doc); err != nil {
			t.Fatal(err)
		}
	}
	recs := kafkatest.ReadAll(t, b, kcfg.Topics.Audit, 3, 10*time.Second)
	want := []struct{ digest, result string }{{"", "ok"}, {policy.Digest(good), "ok"}, {policy.Digest(bad), "refused: "}}
	for i, r := range recs {
		ev := &eventpb.AuditEvent{}
		if err := proto.Unmarshal(r.Value, ev); err != nil {
			t.Fatal(err)
		}
		if ev.GetActor() != "decider:"+host || string(r.Key) != ev.GetActor() || ev.GetRole() != policy.StatusRole || ev.GetAction() != policy.StatusAction {
			t.Errorf("record %d: %+v", i, ev)
		}
		if ev.GetDetail() != want[i].digest || !strings.HasPrefix(ev.GetResult(), want[i].result) {
			t.Errorf("record %d: digest %q result %q, want %q %q", i, ev.GetDetail(), ev.GetResult(), want[i].digest, want[i].result)
		}
	}
}
