// Package chschema holds Bulwark's ClickHouse schema and applies it: the
// connection settings every ClickHouse client of Bulwark shares, a probe of
// what the server supports, versioned idempotent migrations, and retention.
//
// The schema must apply on Debian's clickhouse-server 18.16 as well as on
// current ClickHouse. Migrations are text/template files; the features newer
// than 18.16 (LowCardinality columns, TTL) are switched on from the server's
// version, never assumed. Where the server has no TTL, retention is kept by
// dropping day partitions older than the configured number of days
// (DropExpiredPartitions), which the sink does periodically.
//
// How the tables give exactly-once counts although the sink may write a record
// twice is explained in migrations/001_raw_tables.sql and
// migrations/002_request_rollups.sql, and in package chsink.
package chschema
