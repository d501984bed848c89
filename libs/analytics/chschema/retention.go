package chschema

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DropExpiredPartitions keeps retention on servers without TTL: every table
// is partitioned by toYYYYMMDD of its time column, so a whole day older than
// the retention is one partition to drop. It returns how many it dropped.
// With days <= 0 it keeps everything.
func DropExpiredPartitions(ctx context.Context, conn driver.Conn, db string, days int, now time.Time) (int, error) {
	if days <= 0 {
		return 0, nil
	}
	cutoff, _ := strconv.ParseUint(now.UTC().AddDate(0, 0, -days).Format("20060102"), 10, 64)
	dropped := 0
	for _, t := range RetentionTables {
		rows, err := conn.Query(ctx, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active", db, t.Table)
		if err != nil {
			return dropped, fmt.Errorf("list partitions of %s.%s: %w", db, t.Table, err)
		}
		var old []uint64
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return dropped, fmt.Errorf("list partitions of %s.%s: %w", db, t.Table, err)
			}
			if day, err := strconv.ParseUint(p, 10, 64); err == nil && day < cutoff {
				old = append(old, day)
			}
		}
		rows.Close()
		for _, day := range old {
			if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION %d", db, t.Table, day)); err != nil {
				return dropped, fmt.Errorf("drop partition %d of %s.%s: %w", day, db, t.Table, err)
			}
			dropped++
		}
	}
	return dropped, nil
}
