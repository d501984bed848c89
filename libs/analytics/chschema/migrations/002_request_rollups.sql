-- Per-minute rollups of requests, kept by materialized views.
--
-- A plain SummingMergeTree would count a re-inserted batch twice. Instead each
-- rollup row also carries the batch it came from, (kafka_partition,
-- batch_start), and the batch's end offset as the ReplacingMergeTree version.
-- The sink re-sends a batch only as a superset of what it sent before (the
-- same first offset, as far or further), so for every rollup key the row with
-- the highest batch_end holds the right counts, and `FINAL` picks it. Queries
-- read these tables with FINAL and sum over batches.
CREATE TABLE IF NOT EXISTS {{.DB}}.requests_1m (
    minute DateTime,
    host {{lc}},
    status_class UInt8,
    kafka_partition Int32,
    batch_start UInt64,
    batch_end UInt64,
    requests UInt64,
    bytes UInt64,
    bot_requests UInt64,
    challenged_requests UInt64,
    blocked_requests UInt64,
    blocked_bytes UInt64
) ENGINE = ReplacingMergeTree(batch_end)
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, host, status_class, kafka_partition, batch_start);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.requests_1m_mv TO {{.DB}}.requests_1m AS
SELECT
    toStartOfMinute(time) AS minute,
    host,
    toUInt8(intDiv(status, 100)) AS status_class,
    kafka_partition,
    batch_start,
    max(batch_end) AS batch_end,
    count() AS requests,
    sum(response_bytes) AS bytes,
    countIf(action IN ('MONITOR', 'CHALLENGE', 'BLOCK')) AS bot_requests,
    countIf(action = 'CHALLENGE') AS challenged_requests,
    countIf(action = 'BLOCK') AS blocked_requests,
    sumIf(response_bytes, action = 'BLOCK') AS blocked_bytes
FROM {{.DB}}.requests
GROUP BY minute, host, status_class, kafka_partition, batch_start;

CREATE TABLE IF NOT EXISTS {{.DB}}.requests_geo_1m (
    minute DateTime,
    country {{lc}},
    asn UInt32,
    kafka_partition Int32,
    batch_start UInt64,
    batch_end UInt64,
    requests UInt64,
    bytes UInt64,
    bot_requests UInt64,
    blocked_requests UInt64
) ENGINE = ReplacingMergeTree(batch_end)
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, country, asn, kafka_partition, batch_start);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.requests_geo_1m_mv TO {{.DB}}.requests_geo_1m AS
SELECT
    toStartOfMinute(time) AS minute,
    country,
    asn,
    kafka_partition,
    batch_start,
    max(batch_end) AS batch_end,
    count() AS requests,
    sum(response_bytes) AS bytes,
    countIf(action IN ('MONITOR', 'CHALLENGE', 'BLOCK')) AS bot_requests,
    countIf(action = 'BLOCK') AS blocked_requests
FROM {{.DB}}.requests
GROUP BY minute, country, asn, kafka_partition, batch_start;

CREATE TABLE IF NOT EXISTS {{.DB}}.requests_subjects_1m (
    minute DateTime,
    client_ip String,
    kafka_partition Int32,
    batch_start UInt64,
    batch_end UInt64,
    requests UInt64,
    bytes UInt64,
    errors UInt64,
    bot_requests UInt64,
    blocked_requests UInt64
) ENGINE = ReplacingMergeTree(batch_end)
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, client_ip, kafka_partition, batch_start);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.requests_subjects_1m_mv TO {{.DB}}.requests_subjects_1m AS
SELECT
    toStartOfMinute(time) AS minute,
    client_ip,
    kafka_partition,
    batch_start,
    max(batch_end) AS batch_end,
    count() AS requests,
    sum(response_bytes) AS bytes,
    countIf(status >= 400) AS errors,
    countIf(action IN ('MONITOR', 'CHALLENGE', 'BLOCK')) AS bot_requests,
    countIf(action = 'BLOCK') AS blocked_requests
FROM {{.DB}}.requests
GROUP BY minute, client_ip, kafka_partition, batch_start;
