package chschema_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/bulwarkhq/bulwark/libs/chschema"
	"github.com/bulwarkhq/bulwark/libs/chschema/chtest"
)

var update = flag.Bool("update", false, "rewrite schemas/clickhouse/*.sql from the migrations")

var server *chtest.Server

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "chschema-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !testing.Short() {
		server, err = chtest.Start(dir)
		if err != nil && !errors.Is(err, chtest.ErrNoServer) {
			fmt.Fprintln(os.Stderr, "start clickhouse:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	if server != nil {
		server.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func connect(t *testing.T, db string) (driver.Conn, chschema.Config) {
	t.Helper()
	if server == nil {
		t.Skip("needs clickhouse-server (not installed, or -short)")
	}
	cfg := server.Config(db)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := chschema.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		t.Fatal(err)
	}
	return conn, cfg
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestApplyTwice(t *testing.T) {
	conn, cfg := connect(t, "apply_twice")
	ctx := context.Background()
	first, err := chschema.Apply(ctx, conn, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := chschema.Migrations(cfg.Database, first.Features)
	if len(first.Applied) != len(all) {
		t.Fatalf("first apply ran %v, want all %d migrations", first.Applied, len(all))
	}
	second, err := chschema.Apply(ctx, conn, cfg, quiet)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if len(second.Applied) != 0 {
		t.Fatalf("second apply ran %v, want nothing", second.Applied)
	}
	// A run cut short after the statements but before the bookkeeping is
	// safe too: every statement is idempotent.
	for _, m := range all {
		for _, s := range m.Statements {
			if err := chschema.ExecStatement(ctx, conn, s); err != nil {
				t.Fatalf("re-run of migration %d: %v\n%s", m.Version, err, s)
			}
		}
	}
	for _, table := range []string{"requests", "scores", "verdicts", "dead_letters", "pipeline_metrics", "requests_1m", "requests_geo_1m", "requests_subjects_1m"} {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = 'apply_twice' AND name = ?", table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: count %d, err %v", table, n, err)
		}
	}
}

func TestRenderedSchemaFilesAreCurrent(t *testing.T) {
	f := func(name string, features chschema.Features) {
		t.Helper()
		got, err := chschema.Render("bulwark", features, 30)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("..", "..", "schemas", "clickhouse", name)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./libs/chschema -run Rendered -update)", err)
		}
		if string(want) != got {
			t.Errorf("%s is stale: run go test ./libs/chschema -run Rendered -update", path)
		}
	}
	f("bulwark-clickhouse-18.16.sql", chschema.Legacy)
	f("bulwark-clickhouse-current.sql", chschema.Modern)
}

func TestRenderFeatures(t *testing.T) {
	f := func(features chschema.Features, want, notWant string) {
		t.Helper()
		s, err := chschema.Render("db1", features, 7)
		if err != nil {
			t.Fatal(err)
		}
		if want != "" && !contains(s, want) {
			t.Errorf("%s: schema lacks %q", features.Version, want)
		}
		if notWant != "" && contains(s, notWant) {
			t.Errorf("%s: schema has %q", features.Version, notWant)
		}
	}
	f(chschema.Legacy, "CREATE TABLE IF NOT EXISTS db1.requests", "LowCardinality(")
	f(chschema.Legacy, "", "MODIFY TTL")
	f(chschema.Modern, "LowCardinality(String)", "")
	f(chschema.Modern, "ALTER TABLE db1.requests MODIFY TTL time + INTERVAL 7 DAY", "")
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestProbeOnServer(t *testing.T) {
	conn, _ := connect(t, "probe")
	f, err := chschema.Probe(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version == "" {
		t.Fatal("no version")
	}
	t.Logf("server %s: %+v", f.Version, f)
}

func TestDropExpiredPartitions(t *testing.T) {
	conn, cfg := connect(t, "retention")
	ctx := context.Background()
	if _, err := chschema.Apply(ctx, conn, cfg, quiet); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, age := range []int{0, 1, 9, 10, 11, 40} {
		at := now.AddDate(0, 0, -age)
		b, err := conn.PrepareBatch(ctx, "INSERT INTO retention.dead_letters (time, reason, kafka_partition, kafka_offset)")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append(at, "bad_syntax", int32(0), uint64(age)); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	n, err := chschema.DropExpiredPartitions(ctx, conn, "retention", 10, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("dropped %d partitions, want 2 (11 and 40 days old)", n)
	}
	var left uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM retention.dead_letters").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 4 {
		t.Errorf("%d rows left, want 4", left)
	}
	if n, _ := chschema.DropExpiredPartitions(ctx, conn, "retention", 0, now); n != 0 {
		t.Errorf("retention 0 dropped %d", n)
	}
}

func TestConfigValidate(t *testing.T) {
	f := func(c chschema.Config, wantVar string) {
		t.Helper()
		err := c.Validate()
		if wantVar == "" {
			if err != nil {
				t.Errorf("%+v: %v", c, err)
			}
			return
		}
		if err == nil || !contains(err.Error(), wantVar) {
			t.Errorf("%+v: got %v, want an error naming %s", c, err, wantVar)
		}
	}
	ok := chschema.Config{Addr: "127.0.0.1:9000", Database: "bulwark", DialTimeout: time.Second, RetentionDays: 30}
	f(ok, "")
	bad := ok
	bad.Addr = ""
	f(bad, "BULWARK_CLICKHOUSE_ADDR")
	bad = ok
	bad.Addr = "nohost"
	f(bad, "BULWARK_CLICKHOUSE_ADDR")
	bad = ok
	bad.Database = "x; DROP"
	f(bad, "BULWARK_CLICKHOUSE_DATABASE")
	bad = ok
	bad.RetentionDays = -1
	f(bad, "BULWARK_CLICKHOUSE_RETENTION_DAYS")
}
