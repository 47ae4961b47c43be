-- Hourly mention counts per region × municipality × category × platform,
-- maintained by a materialized view at insert time. The sink writes each
-- mention once (it filters ids ClickHouse already has), so plain sums are exact.

CREATE TABLE IF NOT EXISTS {{db}}.mentions_hourly {{on_cluster}}
(
    hour          DateTime('UTC'),
    region        LowCardinality(String),
    municipality  LowCardinality(String),
    category      LowCardinality(String),
    platform      LowCardinality(String),
    mentions      UInt64,
    accepted      UInt64,
    duplicates    UInt64,
    appeals       UInt64,
    critical      UInt64
)
ENGINE = {{summing}}
PARTITION BY toYYYYMM(hour)
ORDER BY (region, hour, municipality, category, platform)
TTL hour + INTERVAL {{ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mentions_hourly_mv {{on_cluster}}
TO {{db}}.mentions_hourly
AS SELECT
    toStartOfHour(toDateTime(created_at, 'UTC')) AS hour,
    region,
    municipality,
    category,
    platform,
    count() AS mentions,
    countIf(status = 'accepted') AS accepted,
    countIf(status = 'duplicate') AS duplicates,
    countIf(status = 'accepted' AND is_appeal) AS appeals,
    countIf(status = 'accepted' AND is_appeal AND priority = 'critical') AS critical
FROM {{db}}.mentions
GROUP BY hour, region, municipality, category, platform;
