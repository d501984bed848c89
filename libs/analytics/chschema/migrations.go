package chschema

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one versioned schema step, rendered for a server.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
	Checksum   string // of the rendered statements
}

// Migrations renders every migration, in version order, for a server with
// features f and the database db.
func Migrations(db string, f Features) ([]Migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Migration
	for _, n := range names {
		base := path.Base(n)
		num, rest, ok := strings.Cut(base, "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNN_what.sql", base)
		}
		src, err := migrationFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		text, err := render(base, string(src), db, f)
		if err != nil {
			return nil, err
		}
		stmts := splitStatements(text)
		sum := sha256.Sum256([]byte(strings.Join(stmts, ";\n")))
		out = append(out, Migration{
			Version:    uint32(v),
			Name:       strings.TrimSuffix(rest, ".sql"),
			Statements: stmts,
			Checksum:   hex.EncodeToString(sum[:8]),
		})
	}
	return out, nil
}

func render(name, src, db string, f Features) (string, error) {
	t, err := template.New(name).Funcs(template.FuncMap{
		// lc is the type of a low-cardinality string column.
		"lc": func() string {
			if f.LowCardinality {
				return "LowCardinality(String)"
			}
			return "String"
		},
	}).Parse(src)
	if err != nil {
		return "", fmt.Errorf("parse migration %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, struct{ DB string }{db}); err != nil {
		return "", fmt.Errorf("render migration %s: %w", name, err)
	}
	return b.String(), nil
}

// splitStatements cuts a file into statements at semicolons that end a line,
// dropping "--" comment lines (the migrations hold no string literals with
// either).
func splitStatements(text string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(strings.TrimRight(line, " \t"))
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			if s := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(cur.String()), ";")); s != "" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(cur.String()), ";")); s != "" {
		out = append(out, s)
	}
	return out
}

// RetentionTables are the tables retention applies to, with their time column.
var RetentionTables = []struct{ Table, TimeColumn string }{
	{"requests", "time"}, {"scores", "time"}, {"verdicts", "at"}, {"dead_letters", "time"},
	{"pipeline_metrics", "time"},
	{"requests_1m", "minute"}, {"requests_geo_1m", "minute"}, {"requests_subjects_1m", "minute"},
}

// Render returns the whole schema as one SQL script, as Apply would run it on
// a server with features f (without the bookkeeping of applied versions).
func Render(db string, f Features, retentionDays int) (string, error) {
	ms, err := Migrations(db, f)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- Bulwark ClickHouse schema for a server like %s (LowCardinality: %t, TTL: %t).\n", f.Version, f.LowCardinality, f.TTL)
	b.WriteString("-- Generated from libs/analytics/chschema/migrations by `go test ./libs/analytics/chschema -update`; do not edit.\n")
	b.WriteString("-- `bulwark migrate` applies the same statements, versioned, on the server it finds.\n\n")
	fmt.Fprintf(&b, "%s;\n\n", createDatabase(db))
	for _, m := range ms {
		fmt.Fprintf(&b, "-- migration %03d %s\n", m.Version, m.Name)
		for _, s := range m.Statements {
			fmt.Fprintf(&b, "%s;\n\n", s)
		}
	}
	if stmts := ttlStatements(db, f, retentionDays); len(stmts) > 0 {
		fmt.Fprintf(&b, "-- retention: %d days\n", retentionDays)
		for _, s := range stmts {
			fmt.Fprintf(&b, "%s;\n", s)
		}
	}
	return b.String(), nil
}

func createDatabase(db string) string { return "CREATE DATABASE IF NOT EXISTS " + db }

func ttlStatements(db string, f Features, days int) []string {
	if !f.TTL || days <= 0 {
		return nil
	}
	var out []string
	for _, t := range RetentionTables {
		out = append(out, fmt.Sprintf("ALTER TABLE %s.%s MODIFY TTL %s + INTERVAL %d DAY", db, t.Table, t.TimeColumn, days))
	}
	return out
}

// Result says what Apply did.
type Result struct {
	Features Features
	Applied  []uint32 // versions applied now; empty when the schema was current
}

// Apply brings the schema in cfg.Database up to date: it creates the
// database and the bookkeeping table, runs the migrations not yet recorded
// (every statement is IF NOT EXISTS, so a run cut short is safely run again),
// and sets the TTLs where the server has them. Running it twice changes
// nothing the second time.
func Apply(ctx context.Context, conn driver.Conn, cfg Config, log *slog.Logger) (Result, error) {
	f, err := Probe(ctx, conn)
	if err != nil {
		return Result{}, err
	}
	res := Result{Features: f}
	db := cfg.Database
	boot := []string{
		createDatabase(db),
		"CREATE TABLE IF NOT EXISTS " + db + ".schema_migrations (version UInt32, name String, checksum String, applied_at DateTime DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version",
	}
	for _, s := range boot {
		if err := conn.Exec(ctx, s); err != nil {
			return res, fmt.Errorf("create %s bookkeeping: %w", db, err)
		}
	}
	done := map[uint32]bool{}
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM "+db+".schema_migrations")
	if err != nil {
		return res, fmt.Errorf("read applied migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return res, fmt.Errorf("read applied migrations: %w", err)
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("read applied migrations: %w", err)
	}
	ms, err := Migrations(db, f)
	if err != nil {
		return res, err
	}
	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		for i, s := range m.Statements {
			if exists, err := columnExists(ctx, conn, s); err != nil {
				return res, fmt.Errorf("migration %03d_%s statement %d: %w", m.Version, m.Name, i+1, err)
			} else if exists {
				continue
			}
			if err := conn.Exec(ctx, s); err != nil {
				return res, fmt.Errorf("migration %03d_%s statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if err := record(ctx, conn, db, m); err != nil {
			return res, fmt.Errorf("record migration %03d: %w", m.Version, err)
		}
		res.Applied = append(res.Applied, m.Version)
		log.Info("clickhouse migration applied", "version", m.Version, "name", m.Name, "server", f.Version)
	}
	for _, s := range ttlStatements(db, f, cfg.RetentionDays) {
		if err := conn.Exec(ctx, s); err != nil {
			return res, fmt.Errorf("set retention: %w", err)
		}
	}
	return res, nil
}

// addColumn matches the one ALTER the migrations use, written without IF
// NOT EXISTS because ClickHouse 18.16 does not parse it.
var addColumn = regexp.MustCompile(`^ALTER TABLE (\w+)\.(\w+) ADD COLUMN (\w+) `)

// columnExists reports whether stmt adds a column that is already there (a
// migration cut short after it ran), so that every statement can run again.
func columnExists(ctx context.Context, conn driver.Conn, stmt string) (bool, error) {
	m := addColumn.FindStringSubmatch(stmt)
	if m == nil {
		return false, nil
	}
	var n uint64
	err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?", m[1], m[2], m[3]).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look for column %s.%s: %w", m[2], m[3], err)
	}
	return n > 0, nil
}

// ExecStatement runs one migration statement. An ADD COLUMN whose column
// is already there (a migration interrupted before it was recorded) is
// done, as IF NOT EXISTS would say, which 18.16 does not parse for ALTER:
// so every statement can be run again.
func ExecStatement(ctx context.Context, conn driver.Conn, stmt string) error {
	err := conn.Exec(ctx, stmt)
	var ex *clickhouse.Exception
	if err != nil && strings.Contains(stmt, " ADD COLUMN ") && errors.As(err, &ex) &&
		(ex.Code == 44 || ex.Code == 15) && strings.Contains(ex.Message, "already exists") {
		return nil
	}
	return err
}

// record notes m as applied. A batch rather than INSERT ... VALUES through
// Exec: over the native protocol, 18.16 waits for a data block after an
// INSERT and the driver sends one only for a batch.
func record(ctx context.Context, conn driver.Conn, db string, m Migration) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".schema_migrations (version, name, checksum)")
	if err != nil {
		return err
	}
	if err := b.Append(m.Version, m.Name, m.Checksum); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}
