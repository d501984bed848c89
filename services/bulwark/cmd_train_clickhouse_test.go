package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/analytics/chschema/chtest"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// TestTrainFromClickHouse trains from the requests table, with the labels
// file and then with the feedback table's labels.
func TestTrainFromClickHouse(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no clickhouse-server")
	}
	srv := chtest.StartT(t)
	dir := t.TempDir()
	logf, labels := filepath.Join(dir, "s.log"), filepath.Join(dir, "s.labels.json")
	if out, err := runCLI(t, "simulate", "--duration", "30m", "--seed", "1", "--evasion", "0.5", "--output", logf, "--labels", labels); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	t.Setenv("BULWARK_CLICKHOUSE_DATABASE", "traincli")
	if out, err := runCLI(t, "migrate", "--clickhouse", srv.Addr); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := chschema.Open(ctx, srv.Config("traincli"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The log's requests as the sink writes them (named columns; the rest
	// take their defaults).
	b, err := conn.PrepareBatch(ctx, "INSERT INTO traincli.requests (time, time_unix_nano, client_ip, method, host, path, query, protocol, status, response_bytes, user_agent, referer, kafka_partition, kafka_offset)")
	if err != nil {
		t.Fatal(err)
	}
	p, err := logparse.New(logparse.FormatNginx, logparse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(logf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var ev eventpb.RequestEvent
	var first, last time.Time
	n := 0
	for sc.Scan() {
		if err := p.Parse(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		at := time.Unix(0, ev.TimeUnixNano).UTC()
		if n == 0 {
			first = at
		}
		last = at
		if err := b.Append(at, ev.TimeUnixNano, ev.ClientIp, ev.Method, ev.Host, ev.Path, ev.Query, ev.Protocol,
			uint16(ev.Status), ev.ResponseBytes, ev.UserAgent, ev.Referer, int32(0), uint64(n)); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	// Feedback: an operator's bot label and a passed challenge of clients
	// the simulation has; an abandoned challenge (no evidence).
	var bot, human string
	for line := range strings.SplitSeq(string(must(os.ReadFile(labels))), "\n") {
		switch {
		case bot == "" && strings.Contains(line, `"label":"bot"`) && strings.Contains(line, `"kind":"tool"`):
			bot = strings.Trim(strings.SplitN(line, ":", 2)[0], ` "{`)
		case human == "" && strings.Contains(line, `"label":"human"`) && strings.Contains(line, `"kind":"human"`):
			human = strings.Trim(strings.SplitN(line, ":", 2)[0], ` "{`)
		}
	}
	if bot == "" || human == "" {
		t.Fatalf("no tool or human in the labels file")
	}
	fbb, err := conn.PrepareBatch(ctx, "INSERT INTO traincli.feedback (time, subject, kind, checks_failed, client_ip, kafka_partition, kafka_offset)")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []struct{ subj, kind string }{{"ip:" + bot, "LABEL_BOT"}, {"ip:" + human, "CHALLENGE_PASSED"}, {"ip:192.0.2.9", "CHALLENGE_ABANDONED"}} {
		if err := fbb.Append(first, r.subj, r.kind, []string{}, strings.TrimPrefix(r.subj, "ip:"), int32(0), uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := fbb.Send(); err != nil {
		t.Fatal(err)
	}

	mfile := filepath.Join(dir, "model.json")
	since, until := first.Add(time.Minute).Format(time.RFC3339), last.Format(time.RFC3339)
	out, err := runCLI(t, "train", "--clickhouse", "clickhouse://default@"+srv.Addr+"/traincli", "--since", since, "--until", until,
		"--labels", labels, "--trees", "20", "--output", mfile)
	if err != nil {
		t.Fatalf("train --clickhouse: %v\n%s", err, out)
	}
	t.Logf("train --clickhouse --labels:\n%s", out)
	for _, want := range []string{"trained gbdt-", "samples  rules shipped default", "wrote " + mfile} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	m, err := model.Load(mfile)
	if err != nil {
		t.Fatal(err)
	}
	if src := m.File().Data.Sources; len(src) != 1 || src[0] != "clickhouse://"+srv.Addr+"/traincli.requests" {
		t.Fatalf("sources %v", src)
	}
	// Labels from the feedback table alone: two clients.
	out, err = runCLI(t, "train", "--clickhouse", srv.Addr, "--feedback", "--test-share", "0", "--trees", "5", "--output", mfile)
	if err != nil {
		t.Fatalf("train --clickhouse --feedback: %v\n%s", err, out)
	}
	t.Logf("train --clickhouse --feedback:\n%s", out)
	if !strings.Contains(out, "feedback: 3 records (0 unreadable): 1 human and 1 bot labels; 1 records no evidence") || !strings.Contains(out, "samples of 2 subjects") {
		t.Fatalf("train --clickhouse --feedback:\n%s", out)
	}
	// A database the sink has not migrated to 009 yet: the later columns
	// read as empty.
	for _, c := range []string{"malformed", "sec_fetch_mode", "sec_fetch_dest"} {
		if err := conn.Exec(ctx, "ALTER TABLE traincli.requests DROP COLUMN "+c); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := runCLI(t, "train", "--clickhouse", srv.Addr, "--labels", labels, "--trees", "5", "--output", mfile); err != nil {
		t.Fatalf("train --clickhouse before migration 009: %v\n%s", err, out)
	}
	// Bad input: usage errors.
	for _, bad := range [][]string{
		{"--clickhouse", srv.Addr, "--topic"},
		{"--clickhouse", srv.Addr, logf},
		{"--clickhouse", "no-port"},
	} {
		args := append([]string{"train", "--labels", labels, "--output", mfile}, bad...)
		if out, err := runCLI(t, args...); err == nil {
			t.Errorf("%v accepted:\n%s", bad, out)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
