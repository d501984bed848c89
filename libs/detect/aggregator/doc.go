// Package aggregator turns request events into scores: Engine does windows,
// features and scoring in process (used by `bulwark replay` and `bulwark dev`),
// and Aggregator runs engines as the bulwark-aggregator service on Kafka.
//
// # Engine
//
// One Engine per partition (or per replay) keeps a flat state per ip:,
// session: and net: subject in event time (see libs/detect/features for the
// features, libs/detect/scoring for the score). Its watermark is the newest event
// time it has seen; an event older than the watermark minus the allowed
// lateness (default 30 s) is counted as late and dropped, never merged into
// windows that have closed. Once a minute of event time it re-scores idle
// subjects at MONITOR or above (so a lifted bot's decayed score is emitted)
// and drops subjects idle for longer than the idle timeout (1 h); a subject
// coming back after that starts fresh whether or not it was dropped yet, so
// the output depends only on the events. A Score is emitted on change: when
// its ladder band (ALLOW < 50 <= MONITOR < 70 <= CHALLENGE < 90 <= BLOCK)
// changes, when it moves 5 points at MONITOR or above (20 within ALLOW), and
// every minute while at MONITOR or above so that verdicts can be extended.
// A subject is scored at its first request of each second of event time and
// at every request that can move its score by itself (sensitive, login,
// checkout, POST, deep page, 4xx/5xx, a different kind of user agent); the
// other requests of that second (a page's assets) only update its windows.
// An idle-flush score carries the subject's last request as its trigger and
// the flush's event time (the watermark) as its time.
//
// # State, restarts and rebalances: exactly once with transactions
//
// The service consumes bulwark.requests.v1 in a consumer group with the
// cooperative-sticky balancer through franz-go's GroupTransactSession (Kafka
// transactions, KIP-447). Every snapshot interval (BULWARK_AGGREGATOR_SNAPSHOT_INTERVAL,
// default 200 ms) one transaction holds, atomically:
//
//   - the scores emitted since the last commit (to bulwark.scores.v1, keyed by subject);
//   - the state of every subject that changed, as one record per subject
//     (tombstones for expired ones) in the compacted topic
//     bulwark.aggregator-state.v1, which the aggregator creates with as many
//     partitions as the requests topic: state partition p is requests
//     partition p's state. Each partition's records end with an offset record
//     naming the next requests offset the state corresponds to;
//   - the consumer group's offset commit.
//
// So the offsets are committed only with the state they correspond to, and
// the scores of a transaction exist (for read_committed readers) if and only
// if its state and offsets do. When partitions are assigned (start, restart,
// rebalance), fetching them is paused at once, and their state is loaded in
// the background, all of them concurrently through one Kafka client
// (restore.go: read_committed, to the state partition's last stable offset
// listed with ListOffsets, transaction markers kept so the end is seen
// rather than waited for; records loaded on up to GOMAXPROCS goroutines).
// Each partition is resumed as soon as its own state is in, while the
// partitions the instance already had go on scoring; the state's offset
// record is checked against the group's committed offset (the first record
// fetched), and processing continues from that offset. A crash or a
// rebalance aborts the open transaction (a revoke aborts it by design of
// GroupTransactSession; with the cooperative-sticky balancer only a
// rebalance that takes partitions away from this instance does; a restarted
// instance with the same BULWARK_AGGREGATOR_TRANSACTIONAL_ID fences the dead
// one at once, others wait for the transaction timeout of 60 s); the
// consumer rewinds to the committed offsets, the engines that processed
// records in the aborted transaction are reloaded from the state that goes
// with them (the others are exactly at it and do not pause), and the Engine
// being deterministic, the replayed records give the same scores, byte for
// byte. Nothing is lost and nothing is emitted twice.
//
// A planned stop (SIGTERM: scale-down, rolling update) commits the open
// transaction and leaves the group at once, so the partitions move with
// their state complete; the time is in bulwark_aggregator_handover_seconds,
// and the new owner's pause is its rebalance plus its restore. Members
// heartbeat every 500 ms (Kafka's default is 3 s) and long-poll fetches for
// at most 500 ms, so a rebalance is noticed, and a resumed partition
// fetched, within half a second (libs/checks/failover, TestAggregatorScaleOut64,
// measures the longest gap per partition at 64 partitions).
//
// Readers of the scores topic must consume with read_committed isolation
// (franz-go: kgo.FetchIsolationLevel(kgo.ReadCommitted())), or they also see
// the scores of aborted transactions.
//
// Why this rather than a changelog per store or periodic full snapshots:
// state is written incrementally (only changed subjects, once per
// transaction, not once per event), compaction keeps the state topic at about
// the size of the live state, and one transaction ties state, offsets and
// output together without a second store. The price is latency: scores
// become visible when their transaction commits, so the snapshot interval
// (default 200 ms) adds to the pipeline's delay, and a restore reads the
// partition's whole compacted state (about 1 KiB per active client IP).
//
// State records are Protobuf SubjectState messages
// (schemas/proto/bulwark/v1/aggregator_state.proto) that hold every field of
// a state by name: a release reads the records of the releases before and
// after it (unknown fields are skipped, missing ones start at zero), so a
// rolling upgrade keeps every subject's windows, and old and new pods can
// take over each other's partitions. Records of format 1 (the raw memory of
// the structs, written before) are still read through frozen copies of those
// structs (state_v1.go). A record that cannot be read is counted in
// bulwark_aggregator_incompatible_state_records_total and its subject starts
// fresh.
package aggregator
