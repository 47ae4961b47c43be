"""The pieces the dashboards' queries share: variables, filters and SQL expressions.

One definition of what "open", "closed", "on time" and an answer time mean in SQL, so
that every panel (and scripts/eval_response_timing.py, which checks the answer-time
expression against numpy) computes them the same way. Filters are written with the
plugin's ``$__conditionalAll`` (:func:`any_of`), so "All" costs nothing.
"""

from __future__ import annotations

from incidents.contracts.topology import OPEN_STATUSES, sql_list
from incidents.oversight.panels import CLICKHOUSE, Variable

OPEN = sql_list(OPEN_STATUSES)
CLOSED = "('answered_final', 'closed')"
BREACHED = "(first_reaction_breached OR final_answer_breached)"
NOT_MERGED = "status != 'merged_into'"


# ---------------------------------------------------------------- helpers
def any_of(column: str, var: str) -> str:
    """A filter on a multi-value variable that disappears when "All" is selected."""
    return f"$__conditionalAll({column} IN (${{{var}:singlequote}}), ${var})"


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
