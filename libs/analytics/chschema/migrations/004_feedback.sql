-- Challenge outcomes and operator labels (topic bulwark.feedback.v1), one
-- row per record: challenge rate, solve rate, time to solve and pass rate
-- per rule come from here. Deduplicated by Kafka position like the raw
-- tables.
CREATE TABLE IF NOT EXISTS {{.DB}}.feedback (
    time DateTime,
    subject String,
    kind {{lc}},
    challenge {{lc}},
    level UInt8,
    solve_ms Int64,
    checks_failed Array(String),
    rule {{lc}},
    reason String,
    source {{lc}},
    client_ip String,
    nonce String,
    kafka_partition Int32,
    kafka_offset UInt64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (time, kafka_partition, kafka_offset);
