"""The oversight dashboards' model: dashboards, rows, panels, queries and variables as data.

A small panel/query model (no grafanalib: four dashboards do not need a DSL), declared
once in :mod:`incidents.oversight.dashboards` and read by three renderers:
``dashboards/build.py`` writes it to the committed Grafana JSON, ``incidents report``
and ``incidents report --html`` run its SQL after expanding it as Grafana does
(:mod:`incidents.oversight.macros`), so the terminal, the HTML page and Grafana show
the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

CLICKHOUSE = "grafana-clickhouse-datasource"
PROMETHEUS = "prometheus"


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
