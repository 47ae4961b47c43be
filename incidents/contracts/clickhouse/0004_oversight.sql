-- The oversight model: what federal and regional staff look at (docs/oversight.md).
--
-- Facts added here are fed by materialized views from incident_events, which
-- the sink writes exactly once per event (it filters ids ClickHouse already
-- has), so the aggregates below are exact sums, not estimates:
--   incident_opened       one row per incident: when and where it opened
--   responses             one row per official answer, with the time it took
--   incidents_daily       opened / answered / closed / SLA breaches per day x region x agency x category
--   response_times_daily  answer-time quantile states (median, p90) per day x region x agency x category
--   appeals_daily         mentions and appeals per day x region x category x platform (federal views)
--   sources_weekly        mentions and appeals per week x region x platform x source (top sources)
-- mentions_hourly (0002) already holds appeals per hour x region x municipality x category x platform;
-- at national volume it has nearly as many rows as there are mentions, so the federal
-- panels read appeals_daily, and a region's panels read mentions_hourly by its primary key.
--
-- A view that reads its own source table sees only the inserted block, for every
-- occurrence of that table in the view's query (ClickHouse behaviour since the first
-- materialized views; ClickHouse issues #77327, #9587). responses_mv relies on it:
-- it looks up the opening time of just the incidents answered in the block, by
-- primary key, plus the incidents opened in that same block.

CREATE TABLE IF NOT EXISTS {{db}}.incident_opened {{on_cluster}}
(
    incident_id  String,
    region       LowCardinality(String),
    opened_at    DateTime64(3, 'UTC'),
    category     LowCardinality(String),
    priority     LowCardinality(String)
)
ENGINE = {{replacing}}
ORDER BY incident_id
TTL toDateTime(opened_at) + INTERVAL {{ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.incident_opened_mv {{on_cluster}}
TO {{db}}.incident_opened AS
SELECT incident_id, region, at AS opened_at, category, priority
FROM {{db}}.incident_events
WHERE type = 'created';

CREATE TABLE IF NOT EXISTS {{db}}.responses {{on_cluster}}
(
    event_id      String,
    response_id   String,
    incident_id   String,
    region        LowCardinality(String),
    agency        LowCardinality(String),
    responder     LowCardinality(String),
    category      LowCardinality(String),
    priority      LowCardinality(String),
    kind          LowCardinality(String),
    responded_at  DateTime64(3, 'UTC'),
    opened_at     Nullable(DateTime64(3, 'UTC')),
    response_s    Nullable(Float64)
)
ENGINE = {{replacing}}
PARTITION BY toYYYYMM(responded_at)
ORDER BY (region, responded_at, event_id)
TTL toDateTime(responded_at) + INTERVAL {{ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.responses_mv {{on_cluster}}
TO {{db}}.responses AS
SELECT
    e.event_id AS event_id,
    e.response_id AS response_id,
    e.incident_id AS incident_id,
    e.region AS region,
    e.agency AS agency,
    e.detail['responder'] AS responder,
    e.category AS category,
    e.priority AS priority,
    if(e.detail['kind'] = '', 'unknown', e.detail['kind']) AS kind,
    e.at AS responded_at,
    if(o.incident_id = '', NULL, o.opened_at) AS opened_at,
    if(o.incident_id = '', NULL,
       greatest(0, toFloat64(dateDiff('millisecond', o.opened_at, e.at)) / 1000)) AS response_s
FROM {{db}}.incident_events AS e
LEFT JOIN
(
    SELECT incident_id, min(opened_at) AS opened_at
    FROM
    (
        SELECT incident_id, opened_at
        FROM {{db}}.incident_opened
        WHERE incident_id IN (SELECT incident_id FROM {{db}}.incident_events WHERE type = 'responded')
        UNION ALL
        SELECT incident_id, at AS opened_at
        FROM {{db}}.incident_events
        WHERE type = 'created'
    )
    GROUP BY incident_id
) AS o ON o.incident_id = e.incident_id
WHERE e.type = 'responded';

-- Flows per day. "opened" is attributed to the agency routing chose: the created
-- event comes before the routing assignment, so the routing "assigned" event moves
-- the count from the empty agency to the chosen one (-1 / +1; sums stay exact).
-- "breaches" are SLA breaches fired minus those withdrawn by an answer that was in
-- time (sla_breach_retracted), dated by the breach deadline and the answer.
CREATE TABLE IF NOT EXISTS {{db}}.incidents_daily {{on_cluster}}
(
    day                      Date,
    region                   LowCardinality(String),
    agency                   LowCardinality(String),
    category                 LowCardinality(String),
    opened                   Int64,
    responses                Int64,
    final_answers            Int64,
    closed                   Int64,
    breaches                 Int64,
    first_reaction_breaches  Int64,
    final_answer_breaches    Int64
)
ENGINE = {{summing}}
PARTITION BY toYYYYMM(day)
ORDER BY (region, day, agency, category)
TTL day + INTERVAL {{ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.incidents_daily_mv {{on_cluster}}
TO {{db}}.incidents_daily AS
SELECT
    day,
    region,
    to_agency AS agency,
    category,
    sum(delta_opened) AS opened,
    sum(counted AND type = 'responded') AS responses,
    sum(counted AND type = 'responded' AND kind = 'final') AS final_answers,
    sum(counted AND type = 'closed') AS closed,
    sum(counted * breach) AS breaches,
    sum(counted * breach * (sla = 'first_reaction')) AS first_reaction_breaches,
    sum(counted * breach * (sla = 'final_answer')) AS final_answer_breaches
FROM
(
    SELECT
        toDate(e.at) AS day,
        e.region AS region,
        e.category AS category,
        e.type AS type,
        e.detail['kind'] AS kind,
        e.detail['sla'] AS sla,
        multiIf(e.type = 'sla_breached', 1, e.type = 'sla_breach_retracted', -1, 0) AS breach,
        tupleElement(move, 1) AS to_agency,
        tupleElement(move, 2) AS delta_opened,
        tupleElement(move, 3) AS counted
    FROM {{db}}.incident_events AS e
    ARRAY JOIN
        if(e.type = 'assigned' AND e.detail['by'] = 'routing',
           [(toString(''), toInt64(-1), toInt64(0)), (toString(e.agency), toInt64(1), toInt64(0))],
           [(toString(e.agency), toInt64(e.type = 'created'), toInt64(1))]) AS move
)
GROUP BY day, region, to_agency, category;

CREATE TABLE IF NOT EXISTS {{db}}.response_times_daily {{on_cluster}}
(
    day             Date,
    region          LowCardinality(String),
    agency          LowCardinality(String),
    category        LowCardinality(String),
    kind            LowCardinality(String),
    responses       SimpleAggregateFunction(sum, UInt64),
    response_s_sum  SimpleAggregateFunction(sum, Float64),
    response_s_q    AggregateFunction(quantiles(0.5, 0.9), Float64)
)
ENGINE = {{aggregating}}
PARTITION BY toYYYYMM(day)
ORDER BY (region, day, agency, category, kind)
TTL day + INTERVAL {{ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.response_times_daily_mv {{on_cluster}}
TO {{db}}.response_times_daily AS
SELECT
    toDate(responded_at) AS day,
    region,
    agency,
    category,
    kind,
    toUInt64(count()) AS responses,
    sum(assumeNotNull(response_s)) AS response_s_sum,
    quantilesState(0.5, 0.9)(assumeNotNull(response_s)) AS response_s_q
FROM {{db}}.responses
WHERE response_s IS NOT NULL
GROUP BY day, region, agency, category, kind;

CREATE TABLE IF NOT EXISTS {{db}}.appeals_daily {{on_cluster}}
(
    day         Date,
    region      LowCardinality(String),
    category    LowCardinality(String),
    platform    LowCardinality(String),
    mentions    UInt64,
    accepted    UInt64,
    duplicates  UInt64,
    appeals     UInt64,
    critical    UInt64
)
ENGINE = {{summing}}
PARTITION BY toYYYYMM(day)
ORDER BY (region, day, category, platform)
TTL day + INTERVAL {{ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.appeals_daily_mv {{on_cluster}}
TO {{db}}.appeals_daily AS
SELECT
    toDate(created_at) AS day,
    region,
    category,
    platform,
    count() AS mentions,
    countIf(status = 'accepted') AS accepted,
    countIf(status = 'duplicate') AS duplicates,
    countIf(status = 'accepted' AND is_appeal) AS appeals,
    countIf(status = 'accepted' AND is_appeal AND priority = 'critical') AS critical
FROM {{db}}.mentions
GROUP BY day, region, category, platform;

-- Weeks, not days: with tens of thousands of monitored sources a daily grain holds
-- about one row per source and day, as many as half the mentions. The top-sources
-- panel counts the weeks (Monday to Sunday) that overlap the chosen range.
CREATE TABLE IF NOT EXISTS {{db}}.sources_weekly {{on_cluster}}
(
    week         Date,
    region       LowCardinality(String),
    platform     LowCardinality(String),
    source_id    String,
    source_name  SimpleAggregateFunction(anyLast, String),
    source_kind  SimpleAggregateFunction(anyLast, String),
    mentions     UInt64,
    duplicates   UInt64,
    appeals      UInt64
)
ENGINE = {{summing}}
PARTITION BY toYYYYMM(week)
ORDER BY (region, week, platform, source_id)
TTL week + INTERVAL {{ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.sources_weekly_mv {{on_cluster}}
TO {{db}}.sources_weekly AS
SELECT
    toMonday(m.created_at) AS week,
    m.region AS region,
    m.platform AS platform,
    m.source_id AS source_id,
    anyLast(m.source_name) AS source_name,
    anyLast(toString(m.source_kind)) AS source_kind,
    count() AS mentions,
    countIf(m.status = 'duplicate') AS duplicates,
    countIf(m.status = 'accepted' AND m.is_appeal) AS appeals
FROM {{db}}.mentions AS m
GROUP BY week, region, platform, source_id;
