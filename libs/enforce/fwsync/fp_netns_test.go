package fwsync_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/enforce/fwsync"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestFingerprintVerdictInNetNS: an fp: verdict drops the addresses it
// lists at the firewall, and no other; lifting it lets them through, but
// not one also blocked on its own.
func TestFingerprintVerdictInNetNS(t *testing.T) {
	lab := newLab(t)
	dst := lab.listen(t)
	listed, ownToo, bystander := lab.clientAddrs[0], lab.clientAddrs[1], lab.clientAddrs[2]
	b := kafkatest.Start(t)
	cl := kafkatest.Client(t, b)
	put := func(subject string, v *eventpb.Verdict) {
		t.Helper()
		rec := &kgo.Record{Topic: "bulwark.verdicts.v1", Key: []byte(subject)}
		if v != nil {
			v.Subject = subject
			rec.Value, _ = proto.Marshal(v)
		}
		if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	const fp = "fp:02f1bea35578836f"
	exp := time.Now().Add(time.Hour).UnixNano()
	put("ip:"+ownToo.String(), &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 99, ExpiresAtUnixNano: exp})
	put(fp, &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 92, ExpiresAtUnixNano: exp,
		Reasons: []string{"attack=login-failures-2026-12-03T10:14Z"}, Addresses: []string{listed.String(), ownToo.String()}})

	cfg := fwsync.Config{Table: "bulwark_fp", Actions: "BLOCK", InstallChain: true, SyncInterval: 20 * time.Millisecond,
		ResyncInterval: time.Hour, NetNS: nsPath(lab.host)}
	startSyncer(t, cfg, kafkatest.Config(b))
	if lab.connects(listed, dst) || lab.connects(ownToo, dst) {
		t.Fatal("an address the fp: verdict lists could connect")
	}
	if !lab.connects(bystander, dst) {
		t.Fatal("an address the fp: verdict does not list could not connect")
	}
	put(fp, nil)
	testkit.Eventually(t, 20*time.Second, "the fingerprint's address connects once it is lifted", func() bool { return lab.connects(listed, dst) })
	if lab.connects(ownToo, dst) {
		t.Error("lifting the fingerprint let through an address blocked on its own")
	}
}
