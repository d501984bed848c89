// Package chsink writes Bulwark's topics (requests, scores, verdicts, dead
// letters) into ClickHouse, for the Grafana dashboards.
//
// # Exactly-once counts from at-least-once delivery
//
// The sink reads in a consumer group with auto-commit off and commits a
// partition's offset only after ClickHouse acknowledged the rows before it.
// A crash between the insert and the commit, or a retried insert whose first
// attempt did land, writes some records twice. Two things make that harmless:
//
//  1. Raw tables are ReplacingMergeTree with (kafka_partition, kafka_offset)
//     at the end of the sorting key. A record written twice is two identical
//     rows with one key: merges keep one, and queries that must be exact read
//     with FINAL, which applies the same rule before merges happen.
//
//  2. Rollups are fed by materialized views, which see every insert, so a
//     duplicate would be added twice by a SummingMergeTree. Instead the sink
//     cuts each requests partition into blocks of BatchRows records that
//     start at a fixed offset (the first record after the last commit) and
//     always re-sends a block whole, from its first record, each time it grew
//     (the commit offset stays at the block's start until the block is full
//     and acknowledged). Every rollup row carries its block (kafka_partition,
//     batch_start) in the key and the block's end offset as the
//     ReplacingMergeTree version. A later send of a block is a superset of any
//     earlier one, so for every rollup key the row with the highest version
//     counts each record of the block exactly once; FINAL picks it, and sums
//     over blocks give exact totals. A crash only makes the next run re-read
//     the block from its start, which is again a superset.
//
// A block also closes at the first record whose Kafka timestamp falls in a
// later 10 s window, which bounds how often a slow partition's block is
// re-sent; both rules depend only on the records, so a re-read cuts the same
// blocks. An insert streams its rows as data blocks of about BatchRows, and
// never splits a sink block across two of them, because the views aggregate
// one data block at a time.
//
// Scores, verdicts and dead letters have no rollups, so for them the sink
// sends each record once and relies on (1) alone.
//
// # Flow
//
// One goroutine polls and decodes, an insert's worth of polls ahead; the
// other adds records to blocks and inserts when InsertRows of full blocks
// wait, when FlushInterval passes, or when a caught-up partition goes quiet
// (the end of a burst reaches the dashboards at once).
//
// When ClickHouse is down the sink stops polling, pauses fetching, and
// retries with backoff; a partition holds at most about two blocks in memory,
// nothing is committed, and so nothing is lost.
package chsink
