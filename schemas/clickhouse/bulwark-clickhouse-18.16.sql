-- Bulwark ClickHouse schema for a server like 18.16.1 (LowCardinality: false, TTL: false).
-- Generated from libs/analytics/chschema/migrations by `go test ./libs/analytics/chschema -update`; do not edit.
-- `bulwark migrate` applies the same statements, versioned, on the server it finds.

CREATE DATABASE IF NOT EXISTS bulwark;

-- migration 001 raw_tables
CREATE TABLE IF NOT EXISTS bulwark.requests (
    time DateTime,
    time_unix_nano Int64,
    client_ip String,
    method String,
    host String,
    path String,
    query String,
    protocol String,
    status UInt16,
    response_bytes UInt64,
    request_time Nullable(Float64),
    user_agent String,
    referer String,
    accept_language String,
    session_id String,
    tls_version String,
    ja3 String,
    ja4 String,
    country String,
    asn UInt32,
    cdn_bot_score Nullable(UInt8),
    cdn_verified_bot UInt8,
    cdn_request_id String,
    cdn_security_action String,
    source String,
    source_offset Int64,
    format String,
    action String,
    kafka_partition Int32,
    kafka_offset UInt64,
    batch_start UInt64,
    batch_end UInt64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (toStartOfHour(time), client_ip, kafka_partition, kafka_offset);

CREATE TABLE IF NOT EXISTS bulwark.scores (
    time DateTime,
    time_unix_nano Int64,
    window_end DateTime,
    subject String,
    subject_kind String,
    score Float64,
    reasons Array(String),
    feature_names Array(String),
    feature_values Array(Float64),
    scorer String,
    client_ip String,
    method String,
    host String,
    path String,
    status UInt16,
    user_agent String,
    kafka_partition Int32,
    kafka_offset UInt64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (subject, time, kafka_partition, kafka_offset);

CREATE TABLE IF NOT EXISTS bulwark.verdicts (
    at DateTime,
    at_unix_nano Int64,
    subject String,
    subject_kind String,
    action String,
    would_be String,
    score Float64,
    reasons Array(String),
    rule String,
    origin String,
    expires_at DateTime,
    lifted UInt8,
    kafka_partition Int32,
    kafka_offset UInt64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(at)
ORDER BY (subject, at, kafka_partition, kafka_offset);

CREATE TABLE IF NOT EXISTS bulwark.dead_letters (
    time DateTime,
    reason String,
    detail String,
    source String,
    source_offset Int64,
    format String,
    raw String,
    kafka_partition Int32,
    kafka_offset UInt64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (time, kafka_partition, kafka_offset);

CREATE TABLE IF NOT EXISTS bulwark.pipeline_metrics (
    time DateTime,
    source String,
    name String,
    labels String,
    value Float64
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (name, source, labels, time);

-- migration 002 request_rollups
CREATE TABLE IF NOT EXISTS bulwark.requests_1m (
    minute DateTime,
    host String,
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

CREATE MATERIALIZED VIEW IF NOT EXISTS bulwark.requests_1m_mv TO bulwark.requests_1m AS
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
FROM bulwark.requests
GROUP BY minute, host, status_class, kafka_partition, batch_start;

CREATE TABLE IF NOT EXISTS bulwark.requests_geo_1m (
    minute DateTime,
    country String,
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

CREATE MATERIALIZED VIEW IF NOT EXISTS bulwark.requests_geo_1m_mv TO bulwark.requests_geo_1m AS
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
FROM bulwark.requests
GROUP BY minute, country, asn, kafka_partition, batch_start;

CREATE TABLE IF NOT EXISTS bulwark.requests_subjects_1m (
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

CREATE MATERIALIZED VIEW IF NOT EXISTS bulwark.requests_subjects_1m_mv TO bulwark.requests_subjects_1m AS
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
FROM bulwark.requests
GROUP BY minute, client_ip, kafka_partition, batch_start;

-- migration 003 bots
ALTER TABLE bulwark.requests ADD COLUMN bot String DEFAULT '';

ALTER TABLE bulwark.requests ADD COLUMN bot_category String DEFAULT '';

ALTER TABLE bulwark.requests ADD COLUMN robots_disallowed UInt8 DEFAULT 0;

-- migration 004 feedback
CREATE TABLE IF NOT EXISTS bulwark.feedback (
    time DateTime,
    subject String,
    kind String,
    challenge String,
    level UInt8,
    solve_ms Int64,
    checks_failed Array(String),
    rule String,
    reason String,
    source String,
    client_ip String,
    nonce String,
    kafka_partition Int32,
    kafka_offset UInt64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (time, kafka_partition, kafka_offset);

-- migration 005 requests_as_org
ALTER TABLE bulwark.requests ADD COLUMN as_org String AFTER asn;

-- migration 006 audit
CREATE TABLE IF NOT EXISTS bulwark.audit (
    time DateTime,
    actor String,
    role String,
    action String,
    subject String,
    reason String,
    ttl_seconds Int64,
    detail String,
    result String,
    remote_addr String,
    kafka_partition Int32,
    kafka_offset UInt64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, kafka_partition, kafka_offset);

-- migration 007 model_scores
ALTER TABLE bulwark.scores ADD COLUMN model_score Nullable(Float64) AFTER scorer, ADD COLUMN model String AFTER model_score;

-- migration 008 attacks
CREATE TABLE IF NOT EXISTS bulwark.attacks (
    time DateTime,
    id String,
    endpoint_class String,
    signal String,
    started DateTime,
    ended DateTime,
    until DateTime,
    strength Float64,
    observed Float64,
    expected Float64,
    fingerprints Array(String),
    enforcing UInt8,
    reason String,
    source String,
    requests UInt32,
    failures UInt32,
    new_clients UInt32,
    no_page_clients UInt32,
    kafka_partition Int32,
    kafka_offset UInt64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, kafka_partition, kafka_offset);

-- migration 009 requests_fetch_malformed
ALTER TABLE bulwark.requests ADD COLUMN malformed String DEFAULT '';

ALTER TABLE bulwark.requests ADD COLUMN sec_fetch_mode String DEFAULT '';

ALTER TABLE bulwark.requests ADD COLUMN sec_fetch_dest String DEFAULT '';

-- migration 010 fp_verdict_addresses
ALTER TABLE bulwark.verdicts ADD COLUMN addresses Array(String) AFTER reasons;

