-- Operator actions taken in the console (topic bulwark.audit.v1): who did
-- what to which subject, when, why, and whether it took effect. Written by
-- the sink like the other topics, deduplicated by Kafka position.
CREATE TABLE IF NOT EXISTS {{.DB}}.audit (
    time DateTime,
    actor String,
    role {{lc}},
    action {{lc}},
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
