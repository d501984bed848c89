package aggregator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestServiceOperatorAttack runs the service on the embedded broker (four
// partitions): an operator forces attack mode on the login with a
// fingerprint, and every new address with it that fails a login is blocked
// naming the attack, whichever partition it is in; once the operator ends
// it, the same clients are not.
func TestServiceOperatorAttack(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.WithPartitions(4))
	const stuffer = "python-requests/2.31.0"
	tr := newTraffic(3)
	stuff := func(from time.Duration, first, n int) {
		for i := range n {
			tr.add(from+time.Duration(i)*time.Second, fmt.Sprintf("10.9.%d.%d", first/250, first%250+i), "POST", "/login", "", 401, stuffer, "")
		}
	}
	fp := attacks.FPString(attacks.Fingerprint(tr.add(0, "10.9.9.9", "POST", "/login", "", 401, stuffer, "")))
	tr.evs = nil
	forced := attacks.NewForced(attacks.ClassLogin, fp, t0, time.Hour, "test")
	a, _, _ := startAggregator(t, b, "agg-operator", 0)
	writeAttack(t, b, forced)
	waitControl(t, a, 1)

	stuff(time.Minute, 0, 12)
	tr.human("192.0.2.1", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", 0, 3*time.Minute)
	produceEvents(t, b, tr.sorted())
	scores := scoresAfterCommit(t, b)
	blocked := map[string]bool{}
	for _, s := range scores {
		if slices.Contains(s.GetReasons(), "attack="+forced.GetId()) && slices.Contains(s.GetReasons(), "fp="+fp) && s.GetScore() >= attackBlock {
			blocked[s.GetSubject()] = true
		}
		if strings.Contains(s.GetSubject(), "192.0.2.1") && s.GetScore() >= attackChallenge {
			t.Errorf("the person browsing pages was raised: %v", s)
		}
	}
	if len(blocked) != 12 {
		t.Fatalf("%d of 12 stuffing addresses blocked by the forced attack (%d scores)", len(blocked), len(scores))
	}

	writeAttack(t, b, attacks.Ended(forced, time.Now(), "test over"))
	waitControl(t, a, 2)
	tr.evs = nil
	stuff(10*time.Minute, 100, 12)
	produceEvents(t, b, tr.sorted())
	after := 0
	for _, s := range scoresAfterCommit(t, b) {
		if s.GetTimeUnixNano() < t0.Add(10*time.Minute).UnixNano() {
			continue
		}
		after++
		if slices.Contains(s.GetReasons(), "attack="+forced.GetId()) || s.GetScore() >= attackBlock {
			t.Errorf("score after the operator ended the attack: %v", s)
		}
	}
	if after == 0 {
		t.Error("no score of the clients after the end: nothing shows the attack is off")
	}
}

func writeAttack(t *testing.T, b *embedkafka.Broker, at *eventpb.Attack) {
	t.Helper()
	v, err := proto.Marshal(at)
	if err != nil {
		t.Fatal(err)
	}
	cl := kafkatest.Client(t, b)
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "bulwark.attacks.v1", Key: []byte(at.GetId()), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// waitControl waits until the aggregator has taken n operator records.
func waitControl(t *testing.T, a *Aggregator, n uint64) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, "operator records taken", func() bool {
		a.ctl.mu.Lock()
		defer a.ctl.mu.Unlock()
		return a.ctl.version >= n
	})
}

// scoresAfterCommit waits until the aggregator's group has committed every
// request produced so far (the scores of a transaction are committed with
// its offsets), then returns every committed score.
func scoresAfterCommit(t *testing.T, b *embedkafka.Broker) []*eventpb.Score {
	t.Helper()
	cl := kafkatest.Client(t, b)
	end := kafkatest.EndOffsets(t, cl, "bulwark.requests.v1")
	testkit.Eventually(t, 60*time.Second, "requests committed", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		os, err := kadm.NewClient(cl).FetchOffsets(ctx, DefaultConfig().Group)
		if err != nil {
			return false
		}
		next := map[int32]int64{}
		os.Each(func(o kadm.OffsetResponse) {
			if o.Topic == "bulwark.requests.v1" {
				next[o.Partition] = o.At
			}
		})
		return kafkatest.Reached(next, end)
	})
	sc := kafkatest.Client(t, b, kgo.ConsumeTopics("bulwark.scores.v1"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	send := kafkatest.EndOffsets(t, sc, "bulwark.scores.v1")
	for p, e := range send {
		// Every transaction ends with its commit marker, the last offset
		// of the partition: the last record is the one before it.
		send[p] = max(e-1, 0)
	}
	next := map[int32]int64{}
	var out []*eventpb.Score
	testkit.Eventually(t, 30*time.Second, "scores read", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		sc.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			s := &eventpb.Score{}
			if err := proto.Unmarshal(r.Value, s); err == nil {
				out = append(out, s)
			}
		})
		return kafkatest.Reached(next, send)
	})
	return out
}
