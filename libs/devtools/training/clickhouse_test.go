package training

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/analytics/chschema/chtest"
	"github.com/bulwarkhq/bulwark/libs/analytics/chsink"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestClickHouseInput puts simulated traffic and feedback on the topics,
// lets the real sink write them to a real ClickHouse, and trains from the
// tables: the samples (their digest) and the feedback labels must be those
// of the topics.
func TestClickHouseInput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clickhouse-server")
	}
	srv := chtest.StartT(t)
	b := kafkatest.Start(t)
	kc := kafkatest.Config(b)
	path, labels := simulated(t, 5, 20*time.Minute)

	// The simulated log as request events on the requests topic.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := logparse.New(logparse.FormatNginx, logparse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	var ev eventpb.RequestEvent
	i := 0
	for line := range bytes.Lines(data) {
		if err := p.Parse(bytes.TrimSuffix(line, []byte("\n")), &ev); err != nil {
			t.Fatal(err)
		}
		// Fields the nginx format does not log but features read (the
		// table has them since migration 009): they must come back.
		i++
		if i%5 == 0 {
			ev.SecFetchMode, ev.SecFetchDest = "no-cors", "image"
		}
		if i%97 == 0 {
			ev.Malformed = "bad_bytes"
		}
		v, err := proto.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: kc.Topics.Requests, Key: []byte(ev.ClientIp), Value: v})
	}
	// Feedback: evidence, no evidence, a conflict, and more bot labels in one
	// /24 than the per-network cap lets through.
	at := time.Date(2026, 11, 21, 0, 10, 0, 0, time.UTC)
	fbs := []*eventpb.Feedback{
		fb("ip:198.51.100.1", eventpb.FeedbackKind_CHALLENGE_PASSED, 0),
		fb("ip:198.51.100.2", eventpb.FeedbackKind_CHALLENGE_FAILED, 0, "webdriver"),
		fb("ip:198.51.100.3", eventpb.FeedbackKind_CHALLENGE_FAILED, 0),
		fb("ip:198.51.100.4", eventpb.FeedbackKind_CHALLENGE_ABANDONED, 0),
		fb("ip:198.51.100.5", eventpb.FeedbackKind_CHALLENGE_PASSED, 0),
		fb("ip:198.51.100.5", eventpb.FeedbackKind_CHALLENGE_FAILED, time.Minute, "pow"),
		fb("session:abc", eventpb.FeedbackKind_LABEL_BOT, 0),
	}
	for i := range 25 {
		fbs = append(fbs, fb(fmt.Sprintf("ip:203.0.113.%d", i+1), eventpb.FeedbackKind_LABEL_BOT, time.Duration(i)*time.Second))
	}
	for _, f := range fbs {
		f.TimeUnixNano = at.Add(time.Duration(f.TimeUnixNano - fbs[0].TimeUnixNano)).UnixNano()
		v, err := proto.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: kc.Topics.Feedback, Key: []byte(f.Subject), Value: v})
	}
	cl := kafkatest.Client(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// The sink writes both topics to ClickHouse.
	const db = "train_ch"
	cfg := chsink.Config{ClickHouse: srv.Config(db), Group: "chsink-train", BatchRows: 4096, InsertRows: 16384,
		InsertParallelism: 1, FlushInterval: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, Migrate: true}
	cfg.ClickHouse.RetentionDays = 0
	sink, err := chsink.New(cfg, kc, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sink.Run(sctx) }()
	t.Cleanup(func() { stop(); <-done })
	conn, err := chschema.Open(ctx, cfg.ClickHouse)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	count := func(table string) uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+table+" FINAL").Scan(&n); err != nil {
			return 0 // the sink has not created the table yet
		}
		return n
	}
	nreq := uint64(len(recs) - len(fbs))
	testkit.Eventually(t, 2*time.Minute, "the sink wrote every request and feedback record", func() bool {
		return count("requests") == nreq && count("feedback") == uint64(len(fbs))
	})

	// Samples: the same from the table as from the topic, also for a range.
	since, until := time.Date(2026, 11, 21, 0, 2, 0, 0, time.UTC), time.Date(2026, 11, 21, 0, 17, 30, 0, time.UTC)
	train := func(rc replay.Config) *Result {
		t.Helper()
		c := config("", labels)
		c.Replay = rc
		c.Replay.Since, c.Replay.Until = since, until
		res, err := Run(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	fromTopic := train(replay.Config{Topic: true, Kafka: kc})
	src := NewCHRequests(conn, db, since, until)
	defer src.Close()
	fromCH := train(replay.Config{Events: src})
	if fromCH.Replay.Events != fromTopic.Replay.Events || fromCH.File.Data.Digest != fromTopic.File.Data.Digest || fromCH.File.ID != fromTopic.File.ID {
		t.Fatalf("ClickHouse: %d events, samples %s, model %s; topic: %d events, samples %s, model %s",
			fromCH.Replay.Events, fromCH.File.Data.Digest, fromCH.File.ID, fromTopic.Replay.Events, fromTopic.File.Data.Digest, fromTopic.File.ID)
	}
	if fromCH.Replay.First.Before(since) || !fromCH.Replay.Last.Before(until) || fromCH.Replay.Events == 0 {
		t.Fatalf("events %d from %s to %s: outside [%s, %s)", fromCH.Replay.Events, fromCH.Replay.First, fromCH.Replay.Last, since, until)
	}

	// Feedback labels: the same verified-only rules and caps as the topic's.
	topicFB, _, err := ReadFeedback(ctx, kc)
	if err != nil {
		t.Fatal(err)
	}
	chFB, bad, err := ReadCHFeedback(ctx, conn, db)
	if err != nil || bad != 0 {
		t.Fatalf("feedback table: %v (%d unreadable)", err, bad)
	}
	wantLabels, wantStats := FeedbackLabels(topicFB, DefaultFeedbackLimits())
	gotLabels, gotStats := FeedbackLabels(chFB, DefaultFeedbackLimits())
	if fmt.Sprint(gotLabels) != fmt.Sprint(wantLabels) || gotStats != wantStats {
		t.Fatalf("labels from ClickHouse %v %+v; from the topic %v %+v", gotLabels, gotStats, wantLabels, wantStats)
	}
	if gotStats.Bot != 22 || gotStats.Human != 1 || gotStats.Capped != 5 || gotStats.Conflicts != 1 || gotStats.Unverified != 2 {
		t.Fatalf("feedback stats %+v", gotStats)
	}
}

func TestParseClickHouse(t *testing.T) {
	base := chschema.Config{User: "default", Database: "bulwark"}
	f := func(in string, want chschema.Config, wantErr string) {
		t.Helper()
		got, err := ParseClickHouse(in, base)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%q: err = %v, want %q", in, err, wantErr)
			}
			if strings.Contains(fmt.Sprint(err), "s3cret") {
				t.Errorf("%q: the error shows the password: %v", in, err)
			}
			return
		}
		if err != nil {
			t.Errorf("%q: %v", in, err)
			return
		}
		got.DialTimeout = 0
		if got != want {
			t.Errorf("%q: %+v, want %+v", in, got, want)
		}
	}
	f("127.0.0.1:9000", chschema.Config{Addr: "127.0.0.1:9000", Database: "bulwark", User: "default"}, "")
	f("clickhouse://trainer:s3cret@ch.internal:9440/analytics?secure=true",
		chschema.Config{Addr: "ch.internal:9440", Database: "analytics", User: "trainer", Password: "s3cret", TLS: true}, "")
	f("clickhouse://ch.internal:9000", chschema.Config{Addr: "ch.internal:9000", Database: "bulwark", User: "default"}, "")
	f("localhost", chschema.Config{}, "CLICKHOUSE_ADDR")
	f("http://u:s3cret@ch:8123/db", chschema.Config{}, "want host:port or clickhouse://")
	f("clickhouse://u:s3cret@ch:9000/bad-name", chschema.Config{}, "CLICKHOUSE_DATABASE")
}

func FuzzParseClickHouse(f *testing.F) {
	for _, s := range []string{"127.0.0.1:9000", "clickhouse://u:s3cret@h:9000/db?secure=true", "clickhouse://h", "http://x", "clickhouse://u:s3cret@[::1:9000/db"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseClickHouse(s, chschema.Config{User: "default"})
		if err != nil {
			if strings.Contains(s, "://") && strings.Contains(s, ":s3cret@") && strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("%q: error shows the password: %v", s, err)
			}
			return
		}
		if c.Validate() != nil {
			t.Fatalf("%q: accepted an invalid config %+v", s, c)
		}
	})
}
