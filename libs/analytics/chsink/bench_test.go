package chsink_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// requestColumns are the columns both the sink and the baseline insert.
const requestColumns = "time, time_unix_nano, client_ip, method, host, path, query, protocol, status, response_bytes, " +
	"request_time, user_agent, referer, accept_language, session_id, tls_version, ja3, ja4, country, asn, cdn_bot_score, " +
	"cdn_verified_bot, cdn_request_id, cdn_security_action, source, source_offset, format, action, kafka_partition, " +
	"kafka_offset, batch_start, batch_end"

// benchRuns numbers the benchmark's runs (-count), each in its own database.
var benchRuns int

// BenchmarkSinkThroughput measures rows/s from the requests topic into
// ClickHouse (Kafka fetch, decode, batch, insert with the rollup views), and,
// in the same run, clickhouse-client inserting the same rows from a file
// into an identical table: the baseline. Rows: CHSINK_BENCH_ROWS (300000; the script uses 1000000).
func BenchmarkSinkThroughput(b *testing.B) {
	n := 300000
	if v, err := strconv.Atoi(os.Getenv("CHSINK_BENCH_ROWS")); err == nil && v > 0 {
		n = v
	}
	client, err := exec.LookPath("clickhouse-client")
	if err != nil {
		b.Skip("needs clickhouse-client for the baseline")
	}
	benchRuns++
	db := fmt.Sprintf("bench%d", benchRuns)
	e := newEnv(b, db)
	e.cfg.BatchRows = 16384
	e.cfg.InsertRows = 131072
	if v, err := strconv.Atoi(os.Getenv("CHSINK_BENCH_PARALLELISM")); err == nil && v > 0 {
		e.cfg.InsertParallelism = v
	}
	e.cfg.FlushInterval = 2 * time.Second
	e.cfg.StatsInterval = 0
	cl := kafkatest.Client(b, e.broker, kgo.DefaultProduceTopic(e.kcfg.Topics.Requests), kgo.ProducerLinger(5*time.Millisecond))
	ctx := context.Background()
	for from := 0; from < n; from += 20000 {
		var recs []*kgo.Record
		for i := from; i < min(from+20000, n); i++ {
			ev := request(i)
			v, _ := proto.Marshal(ev)
			recs = append(recs, &kgo.Record{Key: []byte(ev.ClientIp), Value: v})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	stop, _, _ := e.start(nil)
	testkit.Eventually(b, 5*time.Minute, fmt.Sprintf("the sink to write all %d rows", n), func() bool {
		return e.rollupCount("requests_1m") >= uint64(n)
	})
	sinkSecs := time.Since(start).Seconds()
	b.StopTimer()
	stop()

	// The baseline: the same rows, from a file, into a fresh identical table.
	port := strings.TrimPrefix(server.Addr, "127.0.0.1:")
	dir := b.TempDir()
	base := e.cfg.ClickHouse
	base.Database = "bench_base"
	if _, err := chschema.Apply(ctx, e.conn, base, quiet); err != nil {
		b.Fatal(err)
	}
	run := func(format string) float64 {
		file := filepath.Join(dir, "rows."+format)
		out, err := os.Create(file)
		if err != nil {
			b.Fatal(err)
		}
		exp := exec.Command(client, "--port", port, "--query",
			fmt.Sprintf("SELECT %s FROM %s.requests FINAL FORMAT %s", requestColumns, db, format))
		var stderr strings.Builder
		exp.Stdout, exp.Stderr = out, &stderr
		if err := exp.Run(); err != nil {
			b.Fatalf("export: %v %s", err, stderr.String())
		}
		out.Close()
		if err := e.conn.Exec(ctx, "TRUNCATE TABLE bench_base.requests"); err != nil {
			b.Fatal(err)
		}
		in, err := os.Open(file)
		if err != nil {
			b.Fatal(err)
		}
		defer in.Close()
		imp := exec.Command(client, "--port", port, "--query",
			fmt.Sprintf("INSERT INTO bench_base.requests (%s) FORMAT %s", requestColumns, format))
		imp.Stdin = in
		t0 := time.Now()
		if msg, err := imp.CombinedOutput(); err != nil {
			b.Fatalf("clickhouse-client insert: %v %s", err, msg)
		}
		secs := time.Since(t0).Seconds()
		if got := e.count("SELECT count() FROM bench_base.requests"); got != uint64(n) {
			b.Fatalf("baseline inserted %d rows, want %d", got, n)
		}
		return float64(n) / secs
	}
	tsv := run("TabSeparated")
	native := run("Native")
	sink := float64(n) / sinkSecs
	b.ReportMetric(sink, "rows/s")
	b.ReportMetric(tsv, "baseline_tsv_rows/s")
	b.ReportMetric(native, "baseline_native_rows/s")
	b.ReportMetric(sink/tsv, "ratio_tsv")
	b.ReportMetric(sink/native, "ratio_native")
}
