-- Raw tables, one per topic. Every table is a ReplacingMergeTree whose
-- sorting key ends with (kafka_partition, kafka_offset): a record the sink
-- writes twice (a retried insert, a restart before the offset commit) has the
-- same key, so merges keep one copy and `FINAL` counts it once.
CREATE TABLE IF NOT EXISTS {{.DB}}.requests (
    time DateTime,
    time_unix_nano Int64,
    client_ip String,
    method {{lc}},
    host {{lc}},
    path String,
    query String,
    protocol {{lc}},
    status UInt16,
    response_bytes UInt64,
    request_time Nullable(Float64),
    user_agent String,
    referer String,
    accept_language String,
    session_id String,
    tls_version {{lc}},
    ja3 String,
    ja4 String,
    country {{lc}},
    asn UInt32,
    cdn_bot_score Nullable(UInt8),
    cdn_verified_bot UInt8,
    cdn_request_id String,
    cdn_security_action {{lc}},
    source String,
    source_offset Int64,
    format {{lc}},
    action {{lc}},
    kafka_partition Int32,
    kafka_offset UInt64,
    batch_start UInt64,
    batch_end UInt64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (toStartOfHour(time), client_ip, kafka_partition, kafka_offset);

CREATE TABLE IF NOT EXISTS {{.DB}}.scores (
    time DateTime,
    time_unix_nano Int64,
    window_end DateTime,
    subject String,
    subject_kind {{lc}},
    score Float64,
    reasons Array(String),
    feature_names Array(String),
    feature_values Array(Float64),
    scorer {{lc}},
    client_ip String,
    method {{lc}},
    host {{lc}},
    path String,
    status UInt16,
    user_agent String,
    kafka_partition Int32,
    kafka_offset UInt64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (subject, time, kafka_partition, kafka_offset);

-- A lifted verdict (a tombstone on the topic) is a row with action 'LIFTED'
-- and lifted = 1, timed by the Kafka record.
CREATE TABLE IF NOT EXISTS {{.DB}}.verdicts (
    at DateTime,
    at_unix_nano Int64,
    subject String,
    subject_kind {{lc}},
    action {{lc}},
    would_be {{lc}},
    score Float64,
    reasons Array(String),
    rule {{lc}},
    origin {{lc}},
    expires_at DateTime,
    lifted UInt8,
    kafka_partition Int32,
    kafka_offset UInt64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(at)
ORDER BY (subject, at, kafka_partition, kafka_offset);

CREATE TABLE IF NOT EXISTS {{.DB}}.dead_letters (
    time DateTime,
    reason {{lc}},
    detail String,
    source String,
    source_offset Int64,
    format {{lc}},
    raw String,
    kafka_partition Int32,
    kafka_offset UInt64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (time, kafka_partition, kafka_offset);

-- Samples the sink takes of the pipeline itself: consumer-group lag and the
-- bulwark_* counters of the services it scrapes. Sampled, not deduplicated.
CREATE TABLE IF NOT EXISTS {{.DB}}.pipeline_metrics (
    time DateTime,
    source {{lc}},
    name {{lc}},
    labels String,
    value Float64
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (name, source, labels, time);
