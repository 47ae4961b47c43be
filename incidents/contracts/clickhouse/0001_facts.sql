-- Fact tables written by the sink. Every table is keyed so that a row written
-- twice (a redelivered batch) collapses: ReplacingMergeTree over the natural id
-- plus the sink's own "already there?" filter before each insert, so that the
-- materialized views below count each fact once. See docs/architecture.md.

CREATE TABLE IF NOT EXISTS {{db}}.mentions {{on_cluster}}
(
    id                  String,
    platform            LowCardinality(String),
    source_id           String,
    source_name         String,
    source_kind         LowCardinality(String),
    author_pseudonym    String,
    created_at          DateTime64(3, 'UTC'),
    text                String,
    url                 String,
    fingerprint         String,
    is_appeal           Bool,
    appeal_score        Float32,
    category            LowCardinality(String),
    category_confidence Float32,
    priority            LowCardinality(String),
    priority_cues       Array(LowCardinality(String)),
    region              LowCardinality(String),
    municipality        LowCardinality(String),
    oktmo               String,
    address             String,
    lat                 Nullable(Float64),
    lon                 Nullable(Float64),
    agency              LowCardinality(String),
    status              LowCardinality(String),
    duplicate_of        String,
    incident_id         String,
    likes               UInt32,
    reposts             UInt32,
    comments            UInt32,
    views               UInt64,
    _partition          UInt16,
    _offset             UInt64,
    _inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_id id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = {{replacing}}
PARTITION BY toYYYYMM(created_at)
ORDER BY (region, created_at, id)
TTL toDateTime(created_at) + INTERVAL {{ttl_days}} DAY
SETTINGS {{dedup_window}};

CREATE TABLE IF NOT EXISTS {{db}}.incidents {{on_cluster}}
(
    id                      String,
    region                  LowCardinality(String),
    municipality            LowCardinality(String),
    category                LowCardinality(String),
    agency                  LowCardinality(String),
    status                  LowCardinality(String),
    priority                LowCardinality(String),
    opened_at               DateTime64(3, 'UTC'),
    updated_at              DateTime64(3, 'UTC'),
    closed_at               Nullable(DateTime64(3, 'UTC')),
    version                 UInt32,
    title                   String,
    mentions_count          UInt32,
    address                 String,
    lat                     Nullable(Float64),
    lon                     Nullable(Float64),
    primary_mention_id      String,
    platforms               Array(LowCardinality(String)),
    first_reaction_due      Nullable(DateTime64(3, 'UTC')),
    first_reaction_at       Nullable(DateTime64(3, 'UTC')),
    first_reaction_breached Bool,
    final_answer_due        Nullable(DateTime64(3, 'UTC')),
    final_answer_at         Nullable(DateTime64(3, 'UTC')),
    final_answer_breached   Bool,
    reopened_from           String,
    merged_into             String,
    _inserted_at            DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {{replacing_version}}
PARTITION BY toYYYYMM(opened_at)
ORDER BY (region, id)
TTL toDateTime(opened_at) + INTERVAL {{ttl_days}} DAY
SETTINGS {{dedup_window}};

CREATE TABLE IF NOT EXISTS {{db}}.incident_events {{on_cluster}}
(
    event_id          String,
    incident_id       String,
    type              LowCardinality(String),
    at                DateTime64(3, 'UTC'),
    region            LowCardinality(String),
    incident_version  UInt32,
    category          LowCardinality(String),
    agency            LowCardinality(String),
    priority          LowCardinality(String),
    status            LowCardinality(String),
    mention_id        String,
    response_id       String,
    detail            Map(String, String),
    _inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = {{replacing}}
PARTITION BY toYYYYMM(at)
ORDER BY (region, at, event_id)
TTL toDateTime(at) + INTERVAL {{ttl_days}} DAY
SETTINGS {{dedup_window}};

CREATE TABLE IF NOT EXISTS {{db}}.replies {{on_cluster}}
(
    reply_id      String,
    response_id   String,
    incident_id   String,
    mention_id    String,
    platform      LowCardinality(String),
    source_id     String,
    kind          LowCardinality(String),
    agency        LowCardinality(String),
    responded_at  DateTime64(3, 'UTC'),
    region        LowCardinality(String),
    post_url      String,
    _inserted_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {{replacing}}
PARTITION BY toYYYYMM(responded_at)
ORDER BY (region, responded_at, reply_id)
TTL toDateTime(responded_at) + INTERVAL {{ttl_days}} DAY
SETTINGS {{dedup_window}};

CREATE TABLE IF NOT EXISTS {{db}}.dead_letters {{on_cluster}}
(
    dlq_id         String,
    stage          LowCardinality(String),
    topic          LowCardinality(String),
    partition      UInt16,
    offset         UInt64,
    error_kind     LowCardinality(String),
    reason         String,
    failed_at      DateTime64(3, 'UTC'),
    original_size  UInt32,
    mention_id     String,
    replayed       UInt16,
    _inserted_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {{replacing}}
ORDER BY (stage, dlq_id)
TTL toDateTime(failed_at) + INTERVAL {{ttl_days}} DAY
SETTINGS {{dedup_window}};
