-- Attack records (topic bulwark.attacks.v1): one row per record, so an
-- attack's history (start, refreshes with its strength, end) is kept; its
-- state is its last row (argMax by time). ended and until are 0 (1970-01-01)
-- when unset: while active, and for detected attacks. Written by the sink,
-- deduplicated by Kafka position.
CREATE TABLE IF NOT EXISTS {{.DB}}.attacks (
    time DateTime,
    id String,
    endpoint_class {{lc}},
    signal {{lc}},
    started DateTime,
    ended DateTime,
    until DateTime,
    strength Float64,
    observed Float64,
    expected Float64,
    fingerprints Array(String),
    enforcing UInt8,
    reason String,
    source {{lc}},
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
