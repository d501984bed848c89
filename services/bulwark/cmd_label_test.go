package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

func TestLabelCommand(t *testing.T) {
	b := kafkatest.Start(t)
	brokers := "--brokers=" + b.Addr()
	out, err := runCLI(t, brokers, "label", "203.0.113.7", "human", "--reason", "customer called")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"subject":"ip:203.0.113.7"`) || !strings.Contains(out, `"kind":"LABEL_HUMAN"`) {
		t.Fatalf("label printed %s", out)
	}
	if _, err := runCLI(t, brokers, "label", "session:9f2c", "bot"); err != nil {
		t.Fatal(err)
	}
	recs := kafkatest.ReadAll(t, b, "bulwark.feedback.v1", 2, 30*time.Second)
	want := map[string]eventpb.FeedbackKind{"ip:203.0.113.7": eventpb.FeedbackKind_LABEL_HUMAN, "session:9f2c": eventpb.FeedbackKind_LABEL_BOT}
	for _, r := range recs {
		var f eventpb.Feedback
		if err := proto.Unmarshal(r.Value, &f); err != nil {
			t.Fatal(err)
		}
		if want[string(r.Key)] != f.GetKind() {
			t.Errorf("%s: %v", r.Key, f.GetKind())
		}
		delete(want, string(r.Key))
	}
	if len(want) != 0 {
		t.Fatalf("missing labels %v", want)
	}

	for _, args := range [][]string{{"label", "203.0.113.7", "maybe"}, {"label", "not-a-subject!", "bot"}, {"label", "203.0.113.7"}} {
		if _, err := runCLI(t, append([]string{brokers}, args...)...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
