"""The oversight dashboards, declared: federal, region and agency SLA, and the list of all four.

The three dashboards officials read, over the ClickHouse oversight tables; the fourth,
pipeline health for platform engineers, is in :mod:`incidents.oversight.pipeline_health`.

Every ClickHouse query is written for grafana-clickhouse-datasource v4:
``${datasource}`` as the panel data source, the plugin's time macros
(``$__timeFilter(col)``, ``$__dateFilter(col)``, ``$__timeInterval(col)``) and
``$__conditionalAll(cond, $var)`` around every variable filter, so "All" costs
nothing. Macro arguments are plain column names: the plugin's backend matches
``$__name(...)`` up to the first closing parenthesis (grafana/sqlds macros.go).
"""

from __future__ import annotations

from incidents.oversight.fragments import (
    AGENCY,
    ANSWER_MEAN_S,
    ANSWER_Q,
    ANSWERED,
    ANSWERS,
    BREACHED,
    CATEGORY,
    CLOSED,
    DS_CH,
    F_AGENCY,
    F_CATEGORY,
    F_MUNI,
    F_PLATFORM,
    F_REGION,
    MIN_VOLUME,
    MUNICIPALITY,
    NOT_MERGED,
    OPEN,
    PLATFORM,
    RANKED_REGIONS,
    SLA_COUNTS,
    WEEKS,
    answer_median_if,
    region_var,
)
from incidents.oversight.panels import Dashboard, Panel, Query, Row
from incidents.oversight.pipeline_health import pipeline


def _where(*conds: str) -> str:
    return "\n  AND ".join(c for c in conds if c)


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


def dashboards() -> list[Dashboard]:
    return [federal(), region(), agency_sla(), pipeline()]
