"""The pipeline-health dashboard, declared: what platform engineers watch.

Throughput, lag, dead letters, duplicates and latency from Prometheus (the recording
rules in infra/prometheus/rules.yaml), and what reached ClickHouse from the insert audit
log; :func:`incidents.oversight.dashboards.dashboards` lists it with the other three.
"""

from __future__ import annotations

from incidents.oversight.fragments import _ds
from incidents.oversight.panels import (
    CLICKHOUSE,
    PROMETHEUS,
    Dashboard,
    Panel,
    Query,
    Row,
    Variable,
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
