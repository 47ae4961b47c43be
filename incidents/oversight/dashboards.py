"""The oversight dashboards as data: one definition for Grafana, the terminal and HTML.

A small panel/query model (no grafanalib: four dashboards do not need a DSL).
``dashboards/build.py`` renders it to the committed Grafana JSON; ``incidents
report`` and ``incidents report --html`` run the same SQL after expanding it the
way Grafana and the ClickHouse data source plugin do (:func:`expand`), so the
terminal, the HTML page and Grafana show the same numbers.

Every ClickHouse query is written for grafana-clickhouse-datasource v4:
``${datasource}`` as the panel data source, the plugin's time macros
(``$__timeFilter(col)``, ``$__dateFilter(col)``, ``$__timeInterval(col)``) and
``$__conditionalAll(cond, $var)`` around every variable filter, so "All" costs
nothing. Macro arguments are plain column names: the plugin's backend matches
``$__name(...)`` up to the first closing parenthesis (grafana/sqlds macros.go).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from incidents.contracts.topology import OPEN_STATUSES, sql_list

CLICKHOUSE = "grafana-clickhouse-datasource"
PROMETHEUS = "prometheus"

OPEN = sql_list(OPEN_STATUSES)
CLOSED = "('answered_final', 'closed')"
BREACHED = "(first_reaction_breached OR final_answer_breached)"
NOT_MERGED = "status != 'merged_into'"


# ------------------------------------------------------------------ model
@dataclass(frozen=True)
class Query:
    """One query of a panel: SQL (ClickHouse) or PromQL (Prometheus)."""

    text: str
    columns: tuple[str, ...] = ()  # what a ClickHouse query returns, in order
    time_series: bool = False  # the plugin's "time series" format (long rows to wide)
    legend: str = ""  # Prometheus legendFormat
    ref: str = "A"


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # timeseries | table | barchart | bargauge
    queries: tuple[Query, ...]
    description: str = ""
    unit: str = ""
    width: int = 12
    height: int = 9
    datasource: str = "datasource"  # the dashboard variable naming the data source
    source: str = CLICKHOUSE
    links: Mapping[str, str] = field(default_factory=dict)  # column -> URL template
    empty_ok: bool = False  # may legitimately return nothing on small data


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    kind: str  # datasource | query | custom
    query: str = ""  # SQL / PromQL for query variables, plugin id for datasource ones
    datasource: str = "datasource"
    multi: bool = True
    include_all: bool = True
    options: tuple[str, ...] = ()  # custom variables
    default: str = ""
    all_value: str | None = None
    hidden: bool = False


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    variables: tuple[Variable, ...]
    rows: tuple[Row, ...]
    tags: tuple[str, ...] = ("incidents",)
    time_from: str = "now-30d"

    def panels(self) -> list[Panel]:
        return [p for row in self.rows for p in row.panels]


# ---------------------------------------------------------------- helpers
def any_of(column: str, var: str) -> str:
    """A filter on a multi-value variable that disappears when "All" is selected."""
    return f"$__conditionalAll({column} IN (${{{var}:singlequote}}), ${var})"


def _where(*conds: str) -> str:
    return "\n  AND ".join(c for c in conds if c)


def _ch_var(name: str, label: str, sql: str, multi: bool = True, all_: bool = True) -> Variable:
    return Variable(name, label, "query", sql, multi=multi, include_all=all_)


def _ds(name: str, label: str, plugin: str) -> Variable:
    return Variable(name, label, "datasource", plugin, multi=False, include_all=False)


DS_CH = _ds("datasource", "ClickHouse", CLICKHOUSE)
MIN_VOLUME = Variable(
    "min_volume",
    "Min. appeals to rank a region",
    "custom",
    options=("1", "10", "30", "100", "300", "1000"),
    default="30",
    multi=False,
    include_all=False,
)


def region_var(multi: bool = True) -> Variable:
    return _ch_var(
        "region",
        "Region",
        "SELECT DISTINCT region FROM {db}.appeals_daily WHERE region != '' ORDER BY region",
        multi=multi,
        all_=multi,
    )


MUNICIPALITY = _ch_var(
    "municipality",
    "Municipality",
    "SELECT DISTINCT municipality FROM {db}.mentions_hourly\n"
    f"WHERE municipality != '' AND {any_of('region', 'region')}\nORDER BY municipality",
)
CATEGORY = _ch_var(
    "category",
    "Category",
    "SELECT DISTINCT category FROM {db}.appeals_daily WHERE category != '' ORDER BY category",
)
PLATFORM = _ch_var(
    "platform",
    "Platform",
    "SELECT DISTINCT platform FROM {db}.appeals_daily ORDER BY platform",
)
AGENCY = _ch_var(
    "agency",
    "Agency",
    "SELECT DISTINCT agency FROM {db}.incidents_daily\n"
    f"WHERE agency != '' AND {any_of('region', 'region')}\nORDER BY agency",
)

# Filters shared by the panels (column names are the same in every table that has them).
F_REGION = any_of("region", "region")
F_MUNI = any_of("municipality", "municipality")
F_CATEGORY = any_of("category", "category")
F_PLATFORM = any_of("platform", "platform")
F_AGENCY = any_of("agency", "agency")

# Regions with at least ${min_volume} appeals in the time range: the federal rankings
# compare only regions with enough volume for a ratio or a quantile to mean something.
RANKED_REGIONS = (
    "region IN (SELECT region FROM {db}.appeals_daily WHERE $__dateFilter(day)"
    " GROUP BY region HAVING sum(appeals) >= ${min_volume})"
)

# The weeks (Mondays) that overlap the range: sources are aggregated per week.
WEEKS = "week >= toMonday($__fromTime) AND week <= toMonday($__toTime)"

# SLA compliance = closed on time / (closed + open overdue), from the latest state of
# each incident (incidents FINAL): "closed" = answered in full or closed by an operator;
# "on time" = no SLA clock breached; "open overdue" = still open with a breached clock.
SLA_COUNTS = f"""countIf(status IN {CLOSED}) AS closed,
    countIf(status IN {CLOSED} AND NOT first_reaction_breached AND NOT final_answer_breached)
        AS closed_on_time,
    countIf(status IN {OPEN} AND (first_reaction_breached OR final_answer_breached))
        AS open_overdue,
    round(100 * closed_on_time / nullIf(closed + open_overdue, 0), 1) AS compliance_pct"""

# Answer times (docs/oversight.md#answer-times): exact quantiles over `responses`, the
# per-answer facts, never a sampled state. quantilesExactInclusive interpolates as numpy
# does; it sorts every value, so the same rows give the same number on any run.
# The mean sums whole milliseconds as integers: the same total in any merge order.
ANSWERS = "{db}.responses"
ANSWERED = "response_s IS NOT NULL"
ANSWER_Q = "quantilesExactInclusive(0.5, 0.9)(response_s)"
ANSWER_MEAN_S = "sum(toInt64(round(response_s * 1000))) / count() / 1000"


def answer_median_if(cond: str) -> str:
    """The exact median answer time of the answers matching `cond`, hours (NULL if none)."""
    return (
        f"if(countIf({cond}) = 0, NULL,\n"
        f"       round(quantileExactInclusiveIf(0.5)(response_s, {cond}) / 3600, 1))"
    )


# ------------------------------------------------------------- dashboards
def federal() -> Dashboard:
    appeals_by_region = Panel(
        "Appeals by region",
        "timeseries",
        (
            Query(
                f"""SELECT $__timeInterval(day) AS time, region, sum(appeals) AS appeals
FROM {{db}}.appeals_daily
WHERE {_where("$__dateFilter(day)", "region != ''", F_REGION, F_CATEGORY, F_PLATFORM)}
  AND {RANKED_REGIONS}
GROUP BY time, region
ORDER BY time""",
                ("time", "region", "appeals"),
                time_series=True,
            ),
        ),
        "Accepted appeals (copies excluded) per region, regions above the minimum volume.",
    )
    incidents_by_region = Panel(
        "Incidents opened and SLA breaches by region",
        "timeseries",
        (
            Query(
                f"""SELECT $__timeInterval(day) AS time, region,
    sum(opened) AS opened, sum(breaches) AS sla_breaches
FROM {{db}}.incidents_daily
WHERE {_where("$__dateFilter(day)", "region != ''", F_REGION, F_CATEGORY, RANKED_REGIONS)}
GROUP BY time, region
ORDER BY time""",
                ("time", "region", "opened", "sla_breaches"),
                time_series=True,
            ),
        ),
        "Incidents opened per day, and SLA breaches fired net of those withdrawn.",
    )
    compliance = Panel(
        "SLA compliance by region",
        "table",
        (
            Query(
                f"""SELECT region, count() AS incidents,
    {SLA_COUNTS}
FROM {{db}}.incidents FINAL
WHERE {_where("$__timeFilter(opened_at)", "region != ''", NOT_MERGED, F_REGION, F_CATEGORY)}
GROUP BY region
HAVING closed + open_overdue >= ${{min_volume}}
ORDER BY compliance_pct ASC, open_overdue DESC""",
                (
                    "region",
                    "incidents",
                    "closed",
                    "closed_on_time",
                    "open_overdue",
                    "compliance_pct",
                ),
            ),
        ),
        "Closed on time / (closed + open overdue), for incidents opened in the range; "
        "worst first; regions with fewer decided incidents than the minimum are left out.",
        width=12,
    )
    answer_times = Panel(
        "Answer time by region, hours (median, p90, mean)",
        "table",
        (
            Query(
                f"""SELECT region, count() AS answers,
    round({ANSWER_Q}[1] / 3600, 1) AS median_h,
    round({ANSWER_Q}[2] / 3600, 1) AS p90_h,
    round({ANSWER_MEAN_S} / 3600, 1) AS mean_h,
    {answer_median_if("kind = 'interim'")} AS interim_median_h,
    {answer_median_if("kind = 'final'")} AS final_median_h
FROM {ANSWERS}
WHERE {_where("$__timeFilter(responded_at)", ANSWERED, "region != ''", F_REGION, F_CATEGORY)}
  AND {RANKED_REGIONS}
GROUP BY region
ORDER BY median_h DESC""",
                (
                    "region",
                    "answers",
                    "median_h",
                    "p90_h",
                    "mean_h",
                    "interim_median_h",
                    "final_median_h",
                ),
            ),
        ),
        "Time from the incident's first post to each official answer. Medians and p90 "
        "are exact, over every answer in the range (responses).",
        unit="h",
    )
    categories = Panel(
        "Top categories",
        "barchart",
        (
            Query(
                f"""SELECT category, sum(appeals) AS appeals
FROM {{db}}.appeals_daily
WHERE {_where("$__dateFilter(day)", "category != ''", F_REGION, F_CATEGORY, F_PLATFORM)}
GROUP BY category
ORDER BY appeals DESC
LIMIT 15""",
                ("category", "appeals"),
            ),
        ),
        "Accepted appeals per category.",
        width=8,
    )
    ranking = Panel(
        "Regions ranked",
        "table",
        (
            Query(
                f"""SELECT a.region AS region, a.appeals AS appeals, a.mentions AS mentions,
    round(100 * a.duplicates / nullIf(a.mentions, 0), 1) AS duplicates_pct,
    i.opened AS incidents, i.breaches AS sla_breaches,
    round(r.q[1] / 3600, 1) AS median_answer_h, round(r.q[2] / 3600, 1) AS p90_answer_h
FROM
(
    SELECT region, sum(appeals) AS appeals, sum(mentions) AS mentions,
        sum(duplicates) AS duplicates
    FROM {{db}}.appeals_daily
    WHERE {_where("$__dateFilter(day)", "region != ''", F_REGION, F_CATEGORY, F_PLATFORM)}
    GROUP BY region
    HAVING appeals >= ${{min_volume}}
) AS a
LEFT JOIN
(
    SELECT region, sum(opened) AS opened, sum(breaches) AS breaches
    FROM {{db}}.incidents_daily
    WHERE {_where("$__dateFilter(day)", F_REGION, F_CATEGORY)}
    GROUP BY region
) AS i ON i.region = a.region
LEFT JOIN
(
    SELECT region, {ANSWER_Q} AS q
    FROM {ANSWERS}
    WHERE {_where("$__timeFilter(responded_at)", ANSWERED, F_REGION, F_CATEGORY)}
    GROUP BY region
) AS r ON r.region = a.region
ORDER BY appeals DESC""",
                (
                    "region",
                    "appeals",
                    "mentions",
                    "duplicates_pct",
                    "incidents",
                    "sla_breaches",
                    "median_answer_h",
                    "p90_answer_h",
                ),
            ),
        ),
        "Regions above the minimum volume by appeals, with incidents, breaches and answer times.",
        width=16,
    )
    sources = Panel(
        "Top sources",
        "table",
        (
            Query(
                f"""SELECT any(source_name) AS source, platform, region, sum(mentions) AS mentions,
    sum(appeals) AS appeals, sum(duplicates) AS duplicates
FROM {{db}}.sources_weekly
WHERE {_where(WEEKS, F_REGION, F_PLATFORM)}
GROUP BY source_id, platform, region
ORDER BY appeals DESC, mentions DESC
LIMIT 20""",
                ("source", "platform", "region", "mentions", "appeals", "duplicates"),
            ),
        ),
        "Communities, channels and portals that bring the most appeals (whole weeks, Monday "
        "to Sunday, overlapping the range).",
        width=24,
    )
    return Dashboard(
        "incidents-federal",
        "Incidents — federal overview",
        "Appeals, incidents, SLA compliance and answer times across regions.",
        (DS_CH, region_var(), CATEGORY, PLATFORM, MIN_VOLUME),
        (
            Row("Appeals and incidents by region", (appeals_by_region, incidents_by_region)),
            Row("SLA and answer times by region", (compliance, answer_times)),
            Row("What residents write about", (categories, ranking)),
            Row("Where appeals come from", (sources,)),
        ),
    )


def region() -> Dashboard:
    by_category = Panel(
        "Appeals by category",
        "timeseries",
        (
            Query(
                f"""SELECT $__timeInterval(hour) AS time, category, sum(appeals) AS appeals
FROM {{db}}.mentions_hourly
WHERE {_where("$__timeFilter(hour)", "category != ''", F_REGION, F_MUNI, F_CATEGORY, F_PLATFORM)}
GROUP BY time, category
ORDER BY time""",
                ("time", "category", "appeals"),
                time_series=True,
            ),
        ),
        width=12,
    )
    by_municipality = Panel(
        "Municipalities",
        "table",
        (
            Query(
                f"""SELECT if(municipality = '', '(not found)', municipality) AS municipality,
    sum(appeals) AS appeals, sum(mentions) AS mentions, sum(critical) AS critical,
    round(100 * sum(duplicates) / nullIf(mentions, 0), 1) AS duplicates_pct
FROM {{db}}.mentions_hourly
WHERE {_where("$__timeFilter(hour)", F_REGION, F_MUNI, F_CATEGORY, F_PLATFORM)}
GROUP BY municipality
ORDER BY appeals DESC
LIMIT 50""",
                ("municipality", "appeals", "mentions", "critical", "duplicates_pct"),
            ),
        ),
        width=6,
    )
    by_platform = Panel(
        "Platforms",
        "barchart",
        (
            Query(
                f"""SELECT platform, sum(appeals) AS appeals, sum(mentions) AS mentions
FROM {{db}}.mentions_hourly
WHERE {_where("$__timeFilter(hour)", F_REGION, F_MUNI, F_CATEGORY, F_PLATFORM)}
GROUP BY platform
ORDER BY mentions DESC""",
                ("platform", "appeals", "mentions"),
            ),
        ),
        width=6,
    )
    agencies = Panel(
        "Agencies",
        "table",
        (
            Query(
                f"""SELECT f.agency AS agency, f.opened AS opened, f.answers AS answers,
    f.final_answers AS final_answers, c.closed AS closed, f.sla_breaches AS sla_breaches
FROM
(
    SELECT if(agency = '', '(unrouted)', agency) AS agency, sum(opened) AS opened,
        sum(responses) AS answers, sum(final_answers) AS final_answers,
        sum(breaches) AS sla_breaches
    FROM {{db}}.incidents_daily
    WHERE {_where("$__dateFilter(day)", F_REGION, F_CATEGORY, F_AGENCY)}
    GROUP BY agency
) AS f
LEFT JOIN
(
    SELECT if(agency = '', '(unrouted)', agency) AS agency, countIf(status IN {CLOSED}) AS closed
    FROM {{db}}.incidents FINAL
    WHERE {_where("$__timeFilter(opened_at)", NOT_MERGED, F_REGION, F_CATEGORY, F_AGENCY)}
    GROUP BY agency
) AS c ON c.agency = f.agency
ORDER BY opened DESC""",
                ("agency", "opened", "answers", "final_answers", "closed", "sla_breaches"),
            ),
        ),
        "Per agency in the range: incidents routed to it, its answers and breaches; closed = "
        "of the incidents opened in the range, those answered in full or closed (as in SLA "
        "compliance).",
        width=12,
    )
    answer_trend = Panel(
        "Answer time, hours (median, p90, mean)",
        "timeseries",
        (
            Query(
                f"""SELECT $__timeInterval(responded_at) AS time,
    round({ANSWER_Q}[1] / 3600, 2) AS median_h,
    round({ANSWER_Q}[2] / 3600, 2) AS p90_h,
    round({ANSWER_MEAN_S} / 3600, 2) AS mean_h
FROM {ANSWERS}
WHERE {_where("$__timeFilter(responded_at)", ANSWERED, F_REGION, F_CATEGORY, F_AGENCY)}
GROUP BY time
ORDER BY time""",
                ("time", "median_h", "p90_h", "mean_h"),
                time_series=True,
            ),
        ),
        "Time from an incident's first post to each answer, per day of the answer.",
        unit="h",
        width=12,
    )
    overdue = Panel(
        "Overdue incidents",
        "table",
        (
            Query(
                f"""SELECT i.opened_at AS opened, i.id AS incident, i.municipality AS municipality,
    i.category AS category, if(i.agency = '', '(unrouted)', i.agency) AS agency,
    i.mentions_count AS posts, i.title AS title,
    if(i.first_reaction_breached AND i.first_reaction_at IS NULL,
       'first reaction', 'final answer') AS overdue,
    if(i.first_reaction_breached AND i.first_reaction_at IS NULL,
       i.first_reaction_due, i.final_answer_due) AS due,
    m.url AS post
FROM
(
    SELECT *
    FROM {{db}}.incidents FINAL
    WHERE {_where("$__timeFilter(opened_at)", f"status IN {OPEN}", BREACHED)}
      AND {_where(F_REGION, F_MUNI, F_CATEGORY, F_AGENCY)}
) AS i
LEFT JOIN
(
    SELECT id, url
    FROM {{db}}.mentions
    WHERE {_where("$__timeFilter(created_at)", F_REGION)}
) AS m ON m.id = i.primary_mention_id
ORDER BY due ASC
LIMIT 500""",
                (
                    "opened",
                    "incident",
                    "municipality",
                    "category",
                    "agency",
                    "posts",
                    "title",
                    "overdue",
                    "due",
                    "post",
                ),
            ),
        ),
        "Open incidents with a breached SLA clock, longest overdue first; the title opens the "
        "first post of the incident.",
        links={"title": "${__data.fields.post}", "post": "${__data.fields.post}"},
        width=24,
        height=12,
    )
    return Dashboard(
        "incidents-region",
        "Incidents — region",
        "One region: municipalities, agencies, categories, overdue incidents, answer times.",
        (DS_CH, region_var(multi=False), MUNICIPALITY, CATEGORY, AGENCY, PLATFORM),
        (
            Row("Appeals", (by_category, by_municipality, by_platform)),
            Row("Agencies and answer times", (agencies, answer_trend)),
            Row("Overdue incidents", (overdue,)),
        ),
    )


def agency_sla() -> Dashboard:
    table = Panel(
        "SLA compliance per agency and category",
        "table",
        (
            Query(
                f"""SELECT if(agency = '', '(unrouted)', agency) AS agency, category,
    count() AS incidents,
    {SLA_COUNTS},
    countIf(status IN {OPEN} AND NOT first_reaction_breached AND NOT final_answer_breached)
        AS open_in_time,
    round(quantileExactInclusiveIf(0.5)(dateDiff('second', opened_at, first_reaction_at),
        first_reaction_at IS NOT NULL) / 3600, 1) AS first_reaction_median_h,
    round(quantileExactInclusiveIf(0.9)(dateDiff('second', opened_at, first_reaction_at),
        first_reaction_at IS NOT NULL) / 3600, 1) AS first_reaction_p90_h
FROM {{db}}.incidents FINAL
WHERE {_where("$__timeFilter(opened_at)", NOT_MERGED, F_REGION, F_AGENCY, F_CATEGORY)}
GROUP BY agency, category
ORDER BY compliance_pct ASC, open_overdue DESC""",
                (
                    "agency",
                    "category",
                    "incidents",
                    "closed",
                    "closed_on_time",
                    "open_overdue",
                    "compliance_pct",
                    "open_in_time",
                    "first_reaction_median_h",
                    "first_reaction_p90_h",
                ),
            ),
        ),
        "Compliance = closed on time / (closed + open overdue), incidents opened in the range. "
        "First reaction: time from the first post to the earliest answer (exact, per incident).",
        width=24,
        height=11,
    )
    weekly = Panel(
        "Compliance by week of opening",
        "timeseries",
        (
            Query(
                f"""SELECT toDateTime(toStartOfWeek(opened_at, 1)) AS time,
    if(agency = '', '(unrouted)', agency) AS agency,
    round(100 * countIf(status IN {CLOSED} AND NOT first_reaction_breached
            AND NOT final_answer_breached)
        / nullIf(countIf(status IN {CLOSED})
            + countIf(status IN {OPEN} AND (first_reaction_breached OR final_answer_breached)),
            0), 1) AS compliance_pct
FROM {{db}}.incidents FINAL
WHERE {_where("$__timeFilter(opened_at)", NOT_MERGED, F_REGION, F_AGENCY, F_CATEGORY)}
GROUP BY time, agency
ORDER BY time""",
                ("time", "agency", "compliance_pct"),
                time_series=True,
            ),
        ),
        unit="percent",
        width=12,
    )
    breaches = Panel(
        "SLA breaches per day by agency",
        "timeseries",
        (
            Query(
                f"""SELECT $__timeInterval(day) AS time,
    if(agency = '', '(unrouted)', agency) AS agency, sum(breaches) AS sla_breaches
FROM {{db}}.incidents_daily
WHERE {_where("$__dateFilter(day)", F_REGION, F_AGENCY, F_CATEGORY)}
GROUP BY time, agency
ORDER BY time""",
                ("time", "agency", "sla_breaches"),
                time_series=True,
            ),
        ),
        "Breaches fired net of those withdrawn by answers that were in time.",
        width=12,
    )
    answer_times = Panel(
        "Answer time per agency and category, hours",
        "table",
        (
            Query(
                f"""SELECT if(agency = '', '(unrouted)', agency) AS agency, category, kind,
    count() AS answers,
    round({ANSWER_Q}[1] / 3600, 1) AS median_h,
    round({ANSWER_Q}[2] / 3600, 1) AS p90_h,
    round({ANSWER_MEAN_S} / 3600, 1) AS mean_h
FROM {ANSWERS}
WHERE {_where("$__timeFilter(responded_at)", ANSWERED, F_REGION, F_AGENCY, F_CATEGORY)}
GROUP BY agency, category, kind
ORDER BY median_h DESC""",
                ("agency", "category", "kind", "answers", "median_h", "p90_h", "mean_h"),
            ),
        ),
        width=24,
    )
    return Dashboard(
        "incidents-agency-sla",
        "Incidents — agency SLA",
        "Per agency and category: compliance, breaches and answer times.",
        (DS_CH, region_var(), AGENCY, CATEGORY),
        (
            Row("Compliance", (table,)),
            Row("Breaches over time", (breaches, weekly)),
            Row("Answer times", (answer_times,)),
        ),
    )


def pipeline() -> Dashboard:
    ns = '{namespace=~"$namespace"}'

    def prom(title: str, *exprs: tuple[str, str], unit: str = "", desc: str = "") -> Panel:
        return Panel(
            title,
            "timeseries",
            tuple(
                Query(expr, legend=legend, ref="ABCDEFGH"[i])
                for i, (expr, legend) in enumerate(exprs)
            ),
            desc,
            unit=unit,
            width=8,
            height=8,
            source=PROMETHEUS,
        )

    throughput = prom(
        "Messages consumed per stage",
        (f"sum by (stage) (incidents:messages_in:rate5m{ns})", "{{stage}}"),
        unit="ops",
    )
    produced = prom(
        "Messages produced per topic",
        (f"sum by (topic) (incidents:messages_out:rate5m{ns})", "{{topic}}"),
        unit="ops",
    )
    lag = prom(
        "Consumer lag",
        (f"sum by (job, topic) (incidents:consumer_lag_messages:sum{ns})", "{{job}} {{topic}}"),
        unit="short",
        desc="The embedded broker under-reports high watermarks; on real Kafka this is exact.",
    )
    dlq = prom(
        "Dead-letter ratio per stage",
        (f"incidents:dlq_ratio:rate10m{ns}", "{{stage}}"),
        unit="percentunit",
    )
    duplicates = prom(
        "Duplicates share",
        (f"incidents:duplicate_ratio:rate5m{ns}", "duplicates"),
        unit="percentunit",
        desc="Copies and reposts among the mentions the desk decided.",
    )
    breaches = prom(
        "SLA breaches per hour",
        (
            f"sum by (sla, priority) (incidents:sla_breaches:rate1h{ns}) * 3600",
            "{{sla}} {{priority}}",
        ),
        unit="short",
    )
    latency = prom(
        "Processing time per message",
        (f"incidents:stage_latency_seconds:p50_5m{ns}", "p50 {{stage}}"),
        (f"incidents:stage_latency_seconds:p99_5m{ns}", "p99 {{stage}}"),
        unit="s",
    )
    insert = prom(
        "ClickHouse insert time (p99)",
        (f"incidents:sink_insert_seconds:p99_5m{ns}", "{{table}}"),
        unit="s",
    )
    rows = prom(
        "Rows written to ClickHouse",
        (f"sum by (table) (incidents:sink_rows:rate5m{ns})", "{{table}}"),
        unit="rowsps",
    )

    def ch(
        title: str,
        sql: str,
        columns: tuple[str, ...],
        kind: str = "table",
        description: str = "",
    ) -> Panel:
        return Panel(
            title,
            kind,
            (Query(sql, columns, time_series=kind == "timeseries"),),
            description,
            datasource="clickhouse",
            width=8,
            height=8,
        )

    inserted = ch(
        "Facts written per table (ClickHouse)",
        """SELECT $__timeInterval(inserted_at) AS time, table, count() AS rows
FROM {db}.fact_inserts
WHERE $__timeFilter(inserted_at)
GROUP BY time, table
ORDER BY time""",
        ("time", "table", "rows"),
        kind="timeseries",
        description="From the insert audit log (kept 7 days): what reached ClickHouse, by table.",
    )
    dead = ch(
        "Dead letters by kind (ClickHouse)",
        """SELECT error_kind, stage, count() AS messages, any(reason) AS example
FROM {db}.dead_letters FINAL
WHERE $__timeFilter(failed_at)
GROUP BY error_kind, stage
ORDER BY messages DESC""",
        ("error_kind", "stage", "messages", "example"),
    )
    dups = ch(
        "Duplicates by platform (ClickHouse)",
        """SELECT platform, sum(mentions) AS mentions, sum(duplicates) AS duplicates,
    round(100 * duplicates / nullIf(mentions, 0), 1) AS duplicates_pct
FROM {db}.appeals_daily
WHERE $__dateFilter(day)
GROUP BY platform
ORDER BY mentions DESC""",
        ("platform", "mentions", "duplicates", "duplicates_pct"),
    )
    namespace = Variable(
        "namespace",
        "Namespace",
        "query",
        "label_values(incidents_agent_up, namespace)",
        all_value=".*",
    )
    return Dashboard(
        "incidents-pipeline",
        "Incidents — pipeline health",
        "For platform engineers: throughput, lag, dead letters, duplicates, latency.",
        (
            _ds("datasource", "Prometheus", PROMETHEUS),
            _ds("clickhouse", "ClickHouse", CLICKHOUSE),
            namespace,
        ),
        (
            Row("Throughput and lag", (throughput, produced, lag)),
            Row("Dead letters and duplicates", (dlq, duplicates, breaches)),
            Row("Latency", (latency, insert, rows)),
            Row("What reached ClickHouse", (inserted, dead, dups)),
        ),
        time_from="now-6h",
    )


def dashboards() -> list[Dashboard]:
    return [federal(), region(), agency_sla(), pipeline()]


# ------------------------------------------------- expansion, as Grafana does
@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    interval_s: int = 3600

    @classmethod
    def covering(cls, start: datetime, end: datetime, points: int = 60) -> TimeRange:
        """A range over [start, end] whose $__timeInterval gives about `points` buckets."""
        span = max((end - start).total_seconds(), 3600)
        hours = span / 3600
        step = 3600 if hours <= points * 2 else 86400 if hours / 24 <= points * 2 else 604800
        return cls(start, end, step)


def apply_conditional_all(sql: str, values: Mapping[str, object]) -> str:
    """$__conditionalAll(cond, $var): the plugin's frontend (CHDatasource.applyConditionalAll).

    The last occurrence first; arguments split at top-level commas; the condition is
    replaced by ``1=1`` when the variable's current value is empty or "All" (``$__all``).
    """
    macro = "$__conditionalAll("
    idx = sql.rfind(macro)
    while idx != -1:
        args = _macro_args(sql, idx + len(macro) - 1)
        if len(args) != 2:
            return sql
        name = re.search(r"(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+", args[1].strip())
        phrase = args[0]
        if name:
            value = values.get(name.group(0))
            if isinstance(value, list | tuple):
                shown = ",".join(str(v) for v in value)
            else:
                shown = str(value or "")
            if shown in ("", "$__all"):
                phrase = "1=1"
        sql = sql.replace(f"{macro}{args[0]},{args[1]})", phrase, 1)
        idx = sql.rfind(macro)
    return sql


def _macro_args(sql: str, start: int) -> list[str]:
    args: list[str] = []
    depth = 0
    last = 1
    sub = sql[start:]
    for m in re.finditer(r"\(|\)|,", sub):
        tok = m.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        if tok == "," and depth == 1:
            args.append(sub[last : m.end() - 1])
            last = m.end()
        if depth == 0:
            args.append(sub[last : m.end() - 1])
            return args
    return []


def _format(value: object, fmt: str | None) -> str:
    values = list(value) if isinstance(value, list | tuple) else None
    if fmt == "singlequote":
        items = values if values is not None else [value]
        return ",".join("'" + str(v).replace("'", "\\'") + "'" for v in items)
    if fmt == "csv":
        return ",".join(map(str, values if values is not None else [value]))
    if values is not None:  # the plugin's own formatter for multi-values: 'a','b'
        return "'" + "','".join(map(str, values)) + "'"
    return str(value)


def replace_variables(sql: str, values: Mapping[str, object]) -> str:
    """Grafana's template service: $var, ${var}, ${var:format}, [[var]]; unknown names stay."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        fmt = m.group(3)
        if name not in values:
            return m.group(0)
        return _format(values[name], fmt)

    return re.sub(r"\$(\w+)|\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]", sub, sql)


def _dt(t: datetime) -> str:
    return f"toDateTime({int(t.timestamp())})"


def _dt64(t: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(t.timestamp() * 1000)})"


def _date(t: datetime) -> str:
    return f"toDate('{t.astimezone(UTC):%Y-%m-%d}')"


_MACRO_ARITY = {
    "fromTime": 0,
    "toTime": 0,
    "fromTime_ms": 0,
    "toTime_ms": 0,
    "timeFilter": 1,
    "timeFilter_ms": 1,
    "dateFilter": 1,
    "dateTimeFilter": 2,
    "dt": 2,
    "timeInterval": 1,
    "timeInterval_ms": 1,
    "interval_s": 0,
}


def _macro(name: str, a: Sequence[str], tr: TimeRange) -> str:
    f, t, n = tr.start, tr.end, max(int(tr.interval_s), 1)
    if _MACRO_ARITY[name] and len(a) != _MACRO_ARITY[name]:
        raise ValueError(f"$__{name}: expected {_MACRO_ARITY[name]} argument(s), got {len(a)}")
    if name in ("fromTime", "toTime"):
        return _dt(f if name == "fromTime" else t)
    if name in ("fromTime_ms", "toTime_ms"):
        return _dt64(f if name == "fromTime_ms" else t)
    if name == "timeFilter":
        return f"{a[0]} >= {_dt(f)} AND {a[0]} <= {_dt(t)}"
    if name == "timeFilter_ms":
        return f"{a[0]} >= {_dt64(f)} AND {a[0]} <= {_dt64(t)}"
    if name == "dateFilter":
        return f"{a[0]} >= {_date(f)} AND {a[0]} <= {_date(t)}"
    if name in ("dateTimeFilter", "dt"):
        return (
            f"({a[0]} >= {_date(f)} AND {a[0]} <= {_date(t)}) AND "
            f"({a[1]} >= {_dt(f)} AND {a[1]} <= {_dt(t)})"
        )
    if name == "timeInterval":
        return f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {n} second)"
    if name == "timeInterval_ms":
        return f"toStartOfInterval(toDateTime64({a[0]}, 3), INTERVAL {n * 1000} millisecond)"
    return str(n)  # interval_s


def expand_macros(sql: str, tr: TimeRange) -> str:
    """The plugin's backend macros (pkg/macros/macros.go), matched as grafana/sqlds does.

    Each name is found with ``\\$__name\\b(?:\\((.*?)\\))?``: the arguments end at
    the first ``)`` and split at every comma; times are UTC seconds
    (``toDateTime(unix)``), milliseconds (``fromUnixTimestamp64Milli``) or dates.
    """
    for name in _MACRO_ARITY:
        for m in re.finditer(r"\$__" + name + r"\b(?:\((.*?)\))?", sql):
            args = [x.strip() for x in m.group(1).split(",")] if m.group(1) is not None else []
            sql = sql.replace(m.group(0), _macro(name, args, tr))
    return sql


def expand(sql: str, tr: TimeRange, values: Mapping[str, object]) -> str:
    """Panel SQL as ClickHouse receives it from Grafana: frontend, then backend."""
    sql = apply_conditional_all(sql, values)
    sql = replace_variables(sql, values)
    return expand_macros(sql, tr)


def all_values(dashboard: Dashboard, **chosen: object) -> dict[str, object]:
    """Variable values with "All" for every multi-value variable not chosen."""
    out: dict[str, object] = {}
    for v in dashboard.variables:
        if v.kind == "datasource":
            continue
        if v.name in chosen:
            out[v.name] = chosen[v.name]
        elif v.kind == "custom":
            out[v.name] = v.default
        elif v.include_all:
            out[v.name] = ["$__all"] if v.all_value is None else v.all_value
        else:
            out[v.name] = ""
    out.update({k: val for k, val in chosen.items() if k not in out})
    return out


def render_sql(text: str, db: str) -> str:
    return text.replace("{db}", db)
