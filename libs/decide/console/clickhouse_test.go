package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/analytics/chschema/chtest"
	"github.com/bulwarkhq/bulwark/libs/decide/console"
	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// TestClientViewFromClickHouse: with ClickHouse configured, the client
// page shows the client's recent requests (a row the sink wrote twice
// once), its scores with their features, and its labels; another
// client's rows and rows older than the window are not shown.
func TestClientViewFromClickHouse(t *testing.T) {
	srv := chtest.StartT(t)
	chcfg := srv.Config("bulwark_console_test")
	ctx := context.Background()
	conn, err := chschema.Open(ctx, chcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := chschema.Apply(ctx, conn, chcfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	db := chcfg.Database
	// INSERT ... SELECT: 18.16 parses expressions in VALUES very slowly.
	req := func(ago int, ip, method, path string, status int, action string, off int) string {
		return fmt.Sprintf(`INSERT INTO %s.requests (time, client_ip, method, host, path, status, user_agent, action, kafka_partition, kafka_offset)
			SELECT now() - %d, '%s', '%s', 'shop.example', '%s', %d, 'curl/8', '%s', 0, %d`, db, ago, ip, method, path, status, action, off)
	}
	for _, q := range []string{
		req(60, "203.0.113.7", "GET", "/cart", 200, "BLOCK", 1),
		req(60, "203.0.113.7", "GET", "/cart", 200, "BLOCK", 1), // written twice by the sink
		req(30, "203.0.113.7", "POST", "/login", 401, "BLOCK", 2),
		req(30, "203.0.113.8", "GET", "/", 200, "ALLOW", 3),
		req(7200, "203.0.113.7", "GET", "/old", 200, "ALLOW", 4),
		`INSERT INTO ` + db + `.scores (time, window_end, subject, subject_kind, score, reasons, feature_names, feature_values, kafka_partition, kafka_offset)
			SELECT now() - 30, now(), 'ip:203.0.113.7', 'ip', 96.5, ['rate_10s=48/s'], ['rate_10s', 'no_static_assets'], [48, 1], 0, 1`,
		`INSERT INTO ` + db + `.feedback (time, subject, kind, rule, reason, source, client_ip, kafka_partition, kafka_offset)
			SELECT now() - 10, 'ip:203.0.113.7', 'CHALLENGE_FAILED', 'ladder', '', 'gate', '203.0.113.7', 0, 1`,
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// Verdict changes before the console started: the topic, compacted,
	// no longer has them.
	verdictRow := func(ago int, sub, action string, lifted, off int) string {
		ns := fmt.Sprintf("toInt64(toUInt32(now() - %d)) * 1000000000", ago)
		if lifted == 1 {
			ns = "0" // a tombstone has no verdict time; the sink stores the record's
		}
		return fmt.Sprintf(`INSERT INTO %s.verdicts (at, at_unix_nano, subject, subject_kind, action, would_be, score, reasons, rule, origin, expires_at, lifted, kafka_partition, kafka_offset)
			SELECT now() - %d, %s, '%s', 'ip', '%s', '%s', 97.5, ['rate_10s=48/s'], 'ladder', 'DECIDER', now() - %d + 3600, %d, 0, %d`,
			db, ago, ns, sub, action, action, ago, lifted, off)
	}
	for _, q := range []string{
		verdictRow(172800, "ip:203.0.113.7", "BLOCK", 0, 10),
		verdictRow(172800, "ip:203.0.113.7", "BLOCK", 0, 10), // written twice by the sink
		verdictRow(86400, "ip:203.0.113.7", "LIFTED", 1, 11),
		verdictRow(3600, "net:203.0.113.0/24", "CHALLENGE", 0, 12),
		verdictRow(3600, "ip:203.0.113.8", "BLOCK", 0, 13),
		verdictRow(-60, "ip:203.0.113.7", "MONITOR", 0, 14), // after the console's start: the topic's to show
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	b := kafkatest.Start(t)
	cfg := console.Config{Addr: "127.0.0.1:0", Token: adminToken, SessionTTL: time.Hour, RecentRequests: 50, RecentClients: 100, MetricsAddr: "127.0.0.1:0"}
	cs, err := console.New(cfg, kafkatest.Config(b), overrides.DefaultLimits(), &chcfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = cs.Run(cctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	fx := &fixture{url: cs.URL()}
	// A bare address is its ip: subject.
	code, body := fx.call(t, "GET", "/clients/203.0.113.7", adminToken, nil)
	if code != 200 || !strings.Contains(body, `"Subject":"ip:203.0.113.7"`) {
		t.Fatalf("bare address: %d %.200s", code, body)
	}
	code, body = fx.call(t, "GET", "/clients/ip:203.0.113.7", adminToken, nil)
	var d struct {
		Requests []struct{ Path, Action string }
		Scores   []struct {
			Score    float64
			Features []struct {
				Name  string
				Value float64
			}
		}
		Labels  []struct{ Kind string }
		History []struct {
			Subject, Action string
			Lifted          bool
			At              time.Time
		}
		Source   string
		Warnings []string
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil || code != 200 {
		t.Fatalf("%d %v: %s", code, err, body)
	}
	if len(d.Requests) != 2 || d.Requests[0].Path != "/login" || d.Requests[1].Path != "/cart" || d.Requests[0].Action != "BLOCK" {
		t.Fatalf("requests %+v (%s)", d.Requests, d.Warnings)
	}
	if len(d.Scores) != 1 || d.Scores[0].Score != 96.5 || len(d.Scores[0].Features) != 2 || d.Scores[0].Features[0].Value != 48 {
		t.Fatalf("scores %+v", d.Scores)
	}
	if len(d.Labels) != 1 || d.Labels[0].Kind != "CHALLENGE_FAILED" || d.Source != "ClickHouse" {
		t.Fatalf("labels %+v source %q", d.Labels, d.Source)
	}
	var hist []string
	for _, h := range d.History {
		hist = append(hist, h.Subject+" "+h.Action)
	}
	if got := strings.Join(hist, ", "); got != "net:203.0.113.0/24 CHALLENGE, ip:203.0.113.7 LIFTED, ip:203.0.113.7 BLOCK" {
		t.Fatalf("verdict history %q (%s)", got, d.Warnings)
	}
	if at := d.History[2].At; time.Since(at) < 47*time.Hour || time.Since(at) > 49*time.Hour {
		t.Fatalf("the block's time %v", at)
	}
	// The /24 shows both addresses' requests of the hour.
	_, body = fx.call(t, "GET", "/clients/net:203.0.113.0/24", adminToken, nil)
	if err := json.Unmarshal([]byte(body), &d); err != nil || len(d.Requests) != 3 {
		t.Fatalf("network requests %+v %v", d.Requests, err)
	}
}
