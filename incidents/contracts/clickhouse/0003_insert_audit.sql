-- One row per fact the sink inserted, kept a week: the evidence that nothing was
-- written twice. ReplacingMergeTree collapses duplicate facts in the tables
-- themselves, so a double write would be invisible there after a merge; this
-- log is a plain MergeTree fed by materialized views and never deduplicates.
-- `incidents verify` (and the fault-injection tests) count keys seen twice.

CREATE TABLE IF NOT EXISTS {{db}}.fact_inserts {{on_cluster}}
(
    table        LowCardinality(String),
    key          String,
    inserted_at  DateTime64(3, 'UTC')
)
ENGINE = {{plain}}
PARTITION BY toYYYYMMDD(inserted_at)
ORDER BY (table, key)
TTL toDateTime(inserted_at) + INTERVAL 7 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.fact_inserts_mentions_mv {{on_cluster}}
TO {{db}}.fact_inserts AS
SELECT 'mentions' AS table, id AS key, _inserted_at AS inserted_at FROM {{db}}.mentions;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.fact_inserts_events_mv {{on_cluster}}
TO {{db}}.fact_inserts AS
SELECT 'incident_events' AS table, event_id AS key, _inserted_at AS inserted_at
FROM {{db}}.incident_events;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.fact_inserts_replies_mv {{on_cluster}}
TO {{db}}.fact_inserts AS
SELECT 'replies' AS table, reply_id AS key, _inserted_at AS inserted_at FROM {{db}}.replies;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.fact_inserts_dead_letters_mv {{on_cluster}}
TO {{db}}.fact_inserts AS
SELECT 'dead_letters' AS table, dlq_id AS key, _inserted_at AS inserted_at
FROM {{db}}.dead_letters;
