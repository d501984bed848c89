package chschema

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Features is what the server supports among the features newer than
// ClickHouse 18.16 that the schema uses when it can.
type Features struct {
	Version        string // as version() reports it, e.g. "18.16.1"
	LowCardinality bool   // stable from 19.0 (18.x has it only as an experiment)
	TTL            bool   // table TTL, from 19.6
}

// Legacy is what Debian's clickhouse-server 18.16 supports; Modern is a
// current server. Both are used to render the schema files in schemas/.
var (
	Legacy = Features{Version: "18.16.1"}
	Modern = Features{Version: "24.8.1", LowCardinality: true, TTL: true}
)

// Probe asks the server what it supports. A feature needs both the version
// and, where the server lists them, the type in system.data_type_families:
// the version alone would trust builds that leave features out.
func Probe(ctx context.Context, conn driver.Conn) (Features, error) {
	var f Features
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&f.Version); err != nil {
		return f, fmt.Errorf("probe clickhouse version: %w", err)
	}
	major, minor, err := parseVersion(f.Version)
	if err != nil {
		return f, err
	}
	atLeast := func(ma, mi int) bool { return major > ma || (major == ma && minor >= mi) }
	var lc uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.data_type_families WHERE name = 'LowCardinality'").Scan(&lc); err != nil {
		return f, fmt.Errorf("probe clickhouse types: %w", err)
	}
	f.LowCardinality = lc > 0 && atLeast(19, 0)
	f.TTL = atLeast(19, 6)
	return f, nil
}

func parseVersion(v string) (major, minor int, err error) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("clickhouse version %q: want major.minor", v)
	}
	if major, err = strconv.Atoi(parts[0]); err != nil {
		return 0, 0, fmt.Errorf("clickhouse version %q: %w", v, err)
	}
	if minor, err = strconv.Atoi(parts[1]); err != nil {
		return 0, 0, fmt.Errorf("clickhouse version %q: %w", v, err)
	}
	return major, minor, nil
}
