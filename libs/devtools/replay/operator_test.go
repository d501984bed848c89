package replay_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// jsonLines writes records as `bulwark attack list --json` prints them and
// reads them back as `bulwark replay --attacks` does.
func jsonLines(t *testing.T, recs ...*eventpb.Attack) []*eventpb.Attack {
	t.Helper()
	var b bytes.Buffer
	for _, a := range recs {
		line, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteString("\n\n")
	}
	out, err := replay.ReadAttackRecords(&b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// naming returns the times of the verdict lines whose reasons name attack id.
func naming(t *testing.T, out []byte, id string) []int64 {
	t.Helper()
	var at []int64
	for line := range bytes.Lines(out) {
		if !bytes.Contains(line, []byte(`"attack=`+id+`"`)) {
			continue
		}
		_, v, err := verdict.Unmarshal(line)
		if err != nil {
			t.Fatal(err)
		}
		at = append(at, v.GetAtUnixNano())
	}
	return at
}

// TestReplayOperatorRecords: a replay in attack mode does what operators
// did live. Ending the detected stuffing attack stops attack mode's
// verdicts for it at that time; forcing attack mode on the login with the
// tool's fingerprint before the baseline notices makes verdicts name the
// operator's attack from its start; the operators' records are in the
// replay's list of attacks, once each.
func TestReplayOperatorRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates and replays 70 minutes of a shop three times")
	}
	const attackAt = 45 * time.Minute
	cfg := simulate.DefaultConfig()
	cfg.Seed = 41
	cfg.Duration = 70 * time.Minute
	cfg.Campaigns = []simulate.Campaign{{Kind: simulate.ResidentialStuffing, At: attackAt, For: 25 * time.Minute, Size: 600}}
	res, out, _, _ := attackRun(t, cfg, nil)
	var detected *eventpb.Attack
	for _, a := range res.Attacks {
		if strings.HasPrefix(a.GetId(), "login-failures-") && len(a.GetFingerprints()) > 0 && detected == nil {
			detected = a
		}
	}
	if detected == nil {
		t.Fatalf("no enforcing login-failures attack among %v", res.Attacks)
	}
	live := naming(t, out, detected.GetId())
	if len(live) == 0 {
		t.Fatal("no verdict names the detected attack")
	}

	t.Run("end", func(t *testing.T) {
		endAt := time.Unix(0, live[0]).Add(2 * time.Minute)
		end := attacks.Ended(detected, endAt, "an SSO outage, not stuffing")
		res, out, _, _ := attackRun(t, cfg, jsonLines(t, end))
		// Site-wide, an operator's action takes effect at the end of the
		// replay batch (512 events, seconds of this shop's traffic) its
		// time falls in, as a live one does at the aggregators' next poll.
		for _, at := range naming(t, out, detected.GetId()) {
			if at > endAt.Add(30*time.Second).UnixNano() {
				t.Errorf("a verdict names %s at %s, after an operator ended it at %s", detected.GetId(), time.Unix(0, at).UTC(), endAt.UTC())
			}
		}
		if n := len(naming(t, out, detected.GetId())); n >= len(live) {
			t.Errorf("%d verdicts name the attack with the operator's end, %d without", n, len(live))
		}
		found := false
		for _, a := range res.Attacks {
			if a.GetId() == detected.GetId() && a.GetSource() == attacks.SourceOperator && a.GetEndedUnixNano() == endAt.UnixNano() {
				found = true
			}
		}
		if !found {
			t.Errorf("the operator's end of %s is not among the replay's attacks %v", detected.GetId(), res.Attacks)
		}
	})

	t.Run("force", func(t *testing.T) {
		fp := detected.GetFingerprints()[0]
		start := simulate.DefaultStart.Add(attackAt - 5*time.Minute)
		forced := attacks.NewForced(attacks.ClassLogin, fp, start, time.Hour, "ticket 42: a proxy pool seen upstream")
		res, out, _, _ := attackRun(t, cfg, jsonLines(t, forced))
		at := naming(t, out, forced.GetId())
		if len(at) == 0 {
			t.Fatalf("no verdict names the operator's attack %s", forced.GetId())
		}
		if at[0] < start.UnixNano() {
			t.Errorf("a verdict names %s before it started", forced.GetId())
		}
		if at[0] > live[0] {
			t.Errorf("forced attack mode first acted at %s, after the detected one did (%s)", time.Unix(0, at[0]).UTC(), time.Unix(0, live[0]).UTC())
		}
		n := 0
		for _, a := range res.Attacks {
			if a.GetId() == forced.GetId() {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the forced attack is %d times among the replay's attacks, want once", n)
		}
	})
}

func TestReadAttackRecordsErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"not json", "hello\n", "line 1: not an attack record"},
		{"no id", "\n{\"signal\":\"operator\"}\n", "line 2: an attack record without an id"},
		{"a verdict", `{"subject":"ip:203.0.113.7","action":"BLOCK"}`, "line 1: not an attack record"},
	} {
		_, err := replay.ReadAttackRecords(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func FuzzReadAttackRecords(f *testing.F) {
	f.Add([]byte(`{"id":"login-operator-2026-12-03T10:20Z","endpoint_class":"login","signal":"operator","source":"operator"}` + "\n"))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := replay.ReadAttackRecords(bytes.NewReader(b))
		if err == nil {
			attacks.OperatorActions(recs) // never panics on what was read
		}
	})
}

// TestReadAttackTopic: every record of the attacks topic is read, up to a
// transaction's commit marker at its end (the aggregator writes its
// records in transactions).
func TestReadAttackTopic(t *testing.T) {
	b := kafkatest.Start(t)
	kc := kafkatest.Config(b)
	cl := kafkatest.Client(t, b, kgo.DefaultProduceTopic(kc.Topics.Attacks), kgo.TransactionalID("replay-attacks-test"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	forced := attacks.NewForced(attacks.ClassLogin, "", simulate.DefaultStart, time.Hour, "ticket 42")
	recs := []*eventpb.Attack{forced, attacks.Ended(forced, simulate.DefaultStart.Add(10*time.Minute), "contained")}
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, a := range recs {
		v, err := proto.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(a.GetId()), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got, err := replay.ReadAttackTopic(ctx, kc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("read %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		if !proto.Equal(got[i], recs[i]) {
			t.Errorf("record %d: %v, want %v", i, got[i], recs[i])
		}
	}
}
