package sidecar_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestFingerprintVerdictEndToEnd is a credential-stuffing campaign's
// fingerprint on the embedded broker, from the aggregator's fp: scores to
// the sidecar's answers: the decider writes one fp: verdict, and the
// sidecar answers 403 to the addresses it lists (and to no other) within
// seconds; a human label takes one address out; an operator's ALLOW on the
// fingerprint lets the others through, but not an address also blocked on
// its own.
func TestFingerprintVerdictEndToEnd(t *testing.T) {
	br := kafkatest.Start(t)
	kcfg := kafkatest.Config(br)
	reg := prometheus.NewRegistry()
	dcfg := decider.DefaultConfig()
	dcfg.MetricsAddr, dcfg.Group, dcfg.ExpiryTick = "", "fp-test", 50*time.Millisecond
	dsvc, err := decider.NewService(dcfg, kcfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dsvc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := waitRun(t, done); err != nil {
			t.Errorf("decider: %v", err)
		}
	})
	s := start(t, kcfg, nil)
	waitReady(t, s)
	<-dsvc.Ready()
	base := "http://" + s.Addr()
	authz := func(ip string) int { return get(t, base+"/v1/authz", map[string]string{"X-Real-IP": ip}).status }

	const fp = "fp:02f1bea35578836f"
	const ownToo, labelled, other, bystander = "198.51.100.4", "198.51.100.5", "203.0.113.60", "203.0.113.99"
	produce(t, br, "ip:"+ownToo, &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 99, Origin: eventpb.Origin_COMPUTED,
		ExpiresAtUnixNano: time.Now().Add(time.Hour).UnixNano()})
	cl := kafkatest.Client(t, br)
	now := time.Now()
	score := func(at time.Time, addrs ...string) *kgo.Record {
		b, _ := proto.Marshal(&eventpb.Score{Subject: fp, TimeUnixNano: at.UnixNano(), WindowEndUnixNano: at.UnixNano(), Score: 92,
			Reasons:   []string{"attack=login-failures-2026-12-03T10:14Z", "fp_failing_addresses=3", "fp=02f1bea35578836f"},
			Trigger:   &eventpb.RequestEvent{ClientIp: addrs[0], Method: "POST", Path: "/login", Status: 401, UserAgent: "Mozilla/5.0"},
			Addresses: addrs})
		return &kgo.Record{Topic: kcfg.Topics.Scores, Key: []byte(fp), Value: b}
	}
	// A fingerprint's score without an attack: refused, nothing blocked.
	lone, _ := proto.Marshal(&eventpb.Score{Subject: fp, TimeUnixNano: now.UnixNano(), Score: 92, Reasons: []string{"fp_failing_addresses=900"},
		Trigger: &eventpb.RequestEvent{ClientIp: bystander}, Addresses: []string{bystander}})
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: kcfg.Topics.Scores, Key: []byte(fp), Value: lone},
		score(now, ownToo, labelled, other)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	testkit.Eventually(t, 10*time.Second, "403 for the fingerprint's addresses", func() bool {
		return authz(labelled) == http.StatusForbidden && authz(other) == http.StatusForbidden
	})
	t.Logf("fp: score to 403 in the sidecar: %s", time.Since(began).Round(time.Millisecond))
	if got := authz(bystander); got != http.StatusNoContent {
		t.Fatalf("an address the fingerprint's verdict does not list: %d", got)
	}
	r := get(t, base+"/v1/verdict?ip="+other, nil)
	var j struct{ Subject, Action string }
	if err := json.Unmarshal([]byte(r.body), &j); err != nil || j.Subject != fp || j.Action != "BLOCK" {
		t.Fatalf("verdict for %s: %s", other, r.body)
	}

	// More of the campaign: a new address joins the verdict.
	if err := cl.ProduceSync(context.Background(), score(time.Now(), "203.0.113.61")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "403 for the new address", func() bool { return authz("203.0.113.61") == http.StatusForbidden })

	// A person labelled human is taken out of the fingerprint's verdict.
	fb, _ := proto.Marshal(&eventpb.Feedback{Subject: "ip:" + labelled, Kind: eventpb.FeedbackKind_LABEL_HUMAN, TimeUnixNano: time.Now().UnixNano()})
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: kcfg.Topics.Feedback, Key: []byte("ip:" + labelled), Value: fb}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the labelled person let through", func() bool { return authz(labelled) == http.StatusNoContent })
	if authz(other) != http.StatusForbidden {
		t.Fatal("a human label on one address lifted the others")
	}

	// `bulwark allow fp:HEX`: what the fingerprint added is lifted, an
	// address's own BLOCK is not.
	key, v, err := overrides.Verdict(eventpb.Action_ALLOW, fp, time.Hour, "our own app's build", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := overrides.Write(context.Background(), kcfg, key, v); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	testkit.Eventually(t, 10*time.Second, "the fingerprint's addresses let through", func() bool {
		return authz(other) == http.StatusNoContent && authz("203.0.113.61") == http.StatusNoContent
	})
	t.Logf("operator's ALLOW to 204 in the sidecar: %s", time.Since(began).Round(time.Millisecond))
	if got := authz(ownToo); got != http.StatusForbidden {
		t.Fatalf("an address blocked on its own: %d after the fingerprint's ALLOW", got)
	}
	if got := testkit.Metric(t, reg, "bulwark_decider_bad_scores_total", "reason", "fp_without_attack"); got != 1 {
		t.Errorf("fp scores refused without an attack: %v, want 1", got)
	}
}
