-- Facts the sink did not store because they were already older than the retention
-- (INCIDENTS_CLICKHOUSE_TTL_DAYS) when they arrived: a backfill of old history. The
-- tables' TTL would drop such rows as they are inserted (after their materialized
-- views had counted them), without a word; the sink leaves them out instead, and
-- notes each one here, so that `incidents report` can say "N rows older than the
-- retention of D days were not stored" (docs/oversight.md#retention). One row per
-- fact key: a redelivered batch is noted once (ReplacingMergeTree; read with FINAL or
-- uniqExact). Kept 30 days from the day it was noted; no text, no author, no region
-- (a pipeline table, like dead_letters: regional roles do not read it).

CREATE TABLE IF NOT EXISTS {{db}}.expired_on_arrival {{on_cluster}}
(
    table      LowCardinality(String),
    key        String,
    event_at   DateTime64(3, 'UTC'),
    ttl_days   UInt32,
    noted_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {{replacing}}
PARTITION BY toYYYYMM(noted_at)
ORDER BY (table, key)
TTL toDateTime(noted_at) + INTERVAL 30 DAY;
