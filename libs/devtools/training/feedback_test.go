package training

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

func fb(subj string, kind eventpb.FeedbackKind, at time.Duration, failedChecks ...string) *eventpb.Feedback {
	f := &eventpb.Feedback{Subject: subj, Kind: kind, TimeUnixNano: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC).Add(at).UnixNano()}
	for _, c := range failedChecks {
		f.Checks = append(f.Checks, &eventpb.CheckOutcome{Name: c, Passed: false})
	}
	return f
}

func TestFeedbackLabels(t *testing.T) {
	f := func(name string, fbs []*eventpb.Feedback, lim FeedbackLimits, want map[string]string, wantStats FeedbackStats) {
		t.Helper()
		labels, st := FeedbackLabels(fbs, lim)
		got := map[string]string{}
		for k, v := range labels {
			got[k] = v.Label
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: labels %v, want %v", name, got, want)
		}
		wantStats.Records = len(fbs)
		if st != wantStats {
			t.Errorf("%s: stats %+v, want %+v", name, st, wantStats)
		}
	}
	lim := DefaultFeedbackLimits()
	f("pass, failure with a failed check, operator labels",
		[]*eventpb.Feedback{
			fb("ip:198.51.100.1", eventpb.FeedbackKind_CHALLENGE_PASSED, 0),
			fb("ip:203.0.113.9", eventpb.FeedbackKind_CHALLENGE_FAILED, 0, "webdriver"),
			fb("session:abc", eventpb.FeedbackKind_LABEL_BOT, 0),
			fb("ip:198.51.100.2", eventpb.FeedbackKind_LABEL_HUMAN, 0),
		}, lim,
		map[string]string{"198.51.100.1": "human", "203.0.113.9": "bot", "session:abc": "bot", "198.51.100.2": "human"},
		FeedbackStats{Human: 2, Bot: 2})
	f("no evidence: issued, abandoned, failure without a failed check, net subjects",
		[]*eventpb.Feedback{
			fb("ip:198.51.100.1", eventpb.FeedbackKind_CHALLENGE_ISSUED, 0),
			fb("ip:198.51.100.1", eventpb.FeedbackKind_CHALLENGE_ABANDONED, 0),
			fb("ip:198.51.100.3", eventpb.FeedbackKind_CHALLENGE_FAILED, 0),
			fb("net:198.51.100.0/24", eventpb.FeedbackKind_LABEL_BOT, 0),
		}, lim, map[string]string{}, FeedbackStats{Unverified: 3, Unusable: 1})
	f("conflict left out unless an operator decides",
		[]*eventpb.Feedback{
			fb("ip:198.51.100.1", eventpb.FeedbackKind_CHALLENGE_PASSED, 0),
			fb("ip:198.51.100.1", eventpb.FeedbackKind_CHALLENGE_FAILED, time.Minute, "pow"),
			fb("ip:198.51.100.2", eventpb.FeedbackKind_CHALLENGE_PASSED, 0),
			fb("ip:198.51.100.2", eventpb.FeedbackKind_CHALLENGE_FAILED, time.Minute, "pow"),
			fb("ip:198.51.100.2", eventpb.FeedbackKind_LABEL_BOT, 2*time.Minute),
		}, lim, map[string]string{"198.51.100.2": "bot"}, FeedbackStats{Bot: 1, Conflicts: 1})
	var many []*eventpb.Feedback
	for i := range 30 { // one network passing challenges on purpose
		many = append(many, fb(fmt.Sprintf("ip:203.0.113.%d", i+1), eventpb.FeedbackKind_CHALLENGE_PASSED, time.Duration(i)*time.Second))
	}
	want := map[string]string{}
	for i := range 20 {
		want[fmt.Sprintf("203.0.113.%d", i+1)] = "human"
	}
	f("capped per network", many, lim, want, FeedbackStats{Human: 20, Capped: 10})
	want = map[string]string{}
	for i := range 5 {
		want[fmt.Sprintf("203.0.113.%d", i+1)] = "human"
	}
	f("capped per hour", many, FeedbackLimits{PerNetwork: 100, PerHour: 5}, want, FeedbackStats{Human: 5, Capped: 25})
}

func TestReadFeedback(t *testing.T) {
	b := kafkatest.Start(t)
	kc := kafkatest.Config(b)
	cl := kafkatest.Client(t, b, kgo.DefaultProduceTopic(kc.Topics.Feedback))
	for i := range 10 {
		v, _ := proto.Marshal(fb(fmt.Sprintf("ip:198.51.100.%d", i+1), eventpb.FeedbackKind_CHALLENGE_PASSED, 0))
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("k"), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("k"), Value: []byte{0xff, 0xff}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fbs, bad, err := ReadFeedback(context.Background(), kc)
	if err != nil {
		t.Fatal(err)
	}
	if len(fbs) != 10 || bad != 1 {
		t.Fatalf("read %d records and %d bad, want 10 and 1", len(fbs), bad)
	}
}
