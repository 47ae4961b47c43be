"""The committed Grafana dashboards: shape, data sources, and every query run for real.

Each ClickHouse query is taken from the committed JSON (what Grafana loads),
expanded the way Grafana and grafana-clickhouse-datasource v4 expand it
(incidents/oversight.expand: $__conditionalAll in the plugin's frontend, template
variables by Grafana's template service with the plugin's formatter, then the
backend macros as grafana/sqlds matches them), and run on chDB over the data the
real pipeline wrote for the bundled sample.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.build import OUT, render_all
from incidents.observability import metrics
from incidents.oversight.dashboards import dashboards
from incidents.oversight.macros import (
    TimeRange,
    apply_conditional_all,
    expand,
    expand_macros,
    replace_variables,
)
from incidents.oversight.panels import CLICKHOUSE, PROMETHEUS
from tests.support.oversight import PipelineData

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "infra" / "prometheus" / "rules.yaml"
PROVISIONING = ROOT / "dashboards" / "provisioning"
MODEL = {d.uid: d for d in dashboards()}


def _json_dashboards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(OUT.glob("*.json"))]


def _panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dash["panels"] if p["type"] != "row"]


def _ch_targets() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (d["uid"], p["title"], t)
        for d in _json_dashboards()
        for p in _panels(d)
        for t in p["targets"]
        if t["datasource"]["type"] == CLICKHOUSE
    ]


CH_TARGETS = _ch_targets()


# ------------------------------------------------------------------ files
def test_the_four_dashboards_are_committed_and_current() -> None:
    files = render_all()
    assert set(files) == {p.name for p in OUT.glob("*.json")}, "run `make dashboards`"
    for name, text in files.items():
        assert (OUT / name).read_text(encoding="utf-8") == text, f"{name} is stale: make dashboards"
    assert {d["uid"] for d in _json_dashboards()} == {
        "incidents-federal",
        "incidents-region",
        "incidents-agency-sla",
        "incidents-pipeline",
    }


def test_every_panel_and_query_uses_a_datasource_variable() -> None:
    for dash in _json_dashboards():
        ds_vars = {
            v["name"]: v["query"] for v in dash["templating"]["list"] if v["type"] == "datasource"
        }
        assert "datasource" in ds_vars, dash["uid"]
        for panel in _panels(dash):
            for ref in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
                m = re.fullmatch(r"\$\{(\w+)\}", ref["uid"])
                assert m, f"{dash['uid']} / {panel['title']}: data source {ref['uid']!r}"
                assert ds_vars[m.group(1)] == ref["type"], f"{panel['title']}: {ref}"
            assert panel["targets"], panel["title"]
        for var in dash["templating"]["list"]:
            if var["type"] == "query":
                assert re.fullmatch(r"\$\{\w+\}", var["datasource"]["uid"]), var["name"]
        # The ClickHouse dashboards are ClickHouse through ${datasource} only.
        if dash["uid"] != "incidents-pipeline":
            assert ds_vars == {"datasource": CLICKHOUSE}


@pytest.mark.parametrize("uid,title,target", CH_TARGETS, ids=[f"{u}:{t}" for u, t, _ in CH_TARGETS])
def test_clickhouse_queries_use_the_time_range_and_only_known_variables(
    uid: str, title: str, target: dict[str, Any]
) -> None:
    sql = target["rawSql"]
    assert re.search(r"\$__(timeFilter|dateFilter|timeFilter_ms|dateTimeFilter)\(", sql) or (
        "$__fromTime" in sql and "$__toTime" in sql
    ), title
    dash = next(d for d in _json_dashboards() if d["uid"] == uid)
    known = {v["name"] for v in dash["templating"]["list"]}
    used = set(re.findall(r"\$\{(\w+)(?::\w+)?\}|\$(?!__)(\w+)", sql))
    for name in {a or b for a, b in used}:
        assert name in known, f"{title}: ${name} is not a variable of {uid}"
    # sqlds matches $__macro( … ) up to the first ')': arguments must be plain names.
    for name, args in re.findall(r"\$__(?!conditionalAll)(\w+)\((.*?)\)", sql):
        assert "(" not in args, f"{title}: $__{name}({args}…) would be cut at the first ')'"
    assert target["format"] == (0 if target["queryType"] == "timeseries" else 1)


# ------------------------------------------------------------- expansion
FROM = datetime(2026, 11, 16, 3, 4, 5, 678000, tzinfo=UTC)
TO = datetime(2026, 11, 17, 10, 0, 0, tzinfo=UTC)


def test_backend_macros_expand_as_the_plugin_does() -> None:
    """Expected strings follow pkg/macros/macros.go of grafana/clickhouse-datasource."""
    tr = TimeRange(FROM, TO, interval_s=300)
    f, t = int(FROM.timestamp()), int(TO.timestamp())
    cases = {
        "$__timeFilter(hour)": f"hour >= toDateTime({f}) AND hour <= toDateTime({t})",
        "$__timeFilter_ms(at)": f"at >= fromUnixTimestamp64Milli({f}678) AND "
        f"at <= fromUnixTimestamp64Milli({t}000)",
        "$__dateFilter(day)": "day >= toDate('2026-11-16') AND day <= toDate('2026-11-17')",
        "$__dateTimeFilter(d, t)": "(d >= toDate('2026-11-16') AND d <= toDate('2026-11-17')) "
        f"AND (t >= toDateTime({f}) AND t <= toDateTime({t}))",
        "$__fromTime": f"toDateTime({f})",
        "$__toTime_ms": f"fromUnixTimestamp64Milli({t}000)",
        "$__timeInterval(hour)": "toStartOfInterval(toDateTime(hour), INTERVAL 300 second)",
        "$__timeInterval_ms(at)": "toStartOfInterval(toDateTime64(at, 3), "
        "INTERVAL 300000 millisecond)",
        "$__interval_s": "300",
    }
    for macro, expected in cases.items():
        assert expand_macros(macro, tr) == expected, macro
    # \b after the name: $__timeFilter does not eat $__timeFilter_ms
    both = expand_macros("$__timeFilter_ms(a) AND $__timeFilter(b)", tr)
    assert "fromUnixTimestamp64Milli" in both and f"b >= toDateTime({f})" in both
    # arguments end at the first ')' (sqlds): a nested call is cut, as in Grafana
    assert expand_macros("$__timeFilter(toDate(x))", tr).endswith(")")
    with pytest.raises(ValueError):
        expand_macros("$__timeFilter(a, b)", tr)


def test_conditional_all_and_variables_expand_as_grafana_does() -> None:
    sql = "WHERE $__conditionalAll(region IN (${region:singlequote}), $region) AND x = ${n}"
    assert apply_conditional_all(sql, {"region": ["$__all"]}) == ("WHERE 1=1 AND x = ${n}")
    assert apply_conditional_all(sql, {"region": ""}).startswith("WHERE 1=1")
    picked = replace_variables(
        apply_conditional_all(sql, {"region": ["RU-TVE", "RU-IVA"]}),
        {"region": ["RU-TVE", "RU-IVA"], "n": "30"},
    )
    assert picked == "WHERE region IN ('RU-TVE','RU-IVA') AND x = 30"
    # single quotes escaped the way Grafana's singlequote formatter does
    assert replace_variables("${v:singlequote}", {"v": "O'Hara"}) == "'O\\'Hara'"
    # the plugin's own formatter for multi-values without an explicit format
    assert replace_variables("$v", {"v": ["a", "b"]}) == "'a','b'"
    # unknown names and macros are left for the backend
    assert replace_variables("$__timeFilter(x) $nope", {}) == "$__timeFilter(x) $nope"
    # nested parentheses inside the condition survive (bracket counting)
    nested = "$__conditionalAll(lower(a) IN (lower(${v:singlequote})), $v)"
    assert apply_conditional_all(nested, {"v": ["x"]}) == "lower(a) IN (lower(${v:singlequote}))"


# ------------------------------------------------ queries on pipeline data
@pytest.fixture(scope="module")
def time_range(pipeline_data: PipelineData) -> TimeRange:
    lo, hi = pipeline_data.rows(
        "SELECT toUnixTimestamp(min(created_at)), toUnixTimestamp(max(created_at)) "
        "FROM incidents.mentions"
    )[0]
    start = datetime.fromtimestamp(int(lo), UTC) - timedelta(hours=1)
    end = max(datetime.fromtimestamp(int(hi), UTC), datetime.now(UTC)) + timedelta(hours=1)
    return TimeRange(start, end, interval_s=3600)


def _values(uid: str, **chosen: object) -> dict[str, object]:
    from incidents.oversight.macros import all_values

    return all_values(MODEL[uid], **{"min_volume": "1", **chosen})


def _panel_model(uid: str, title: str) -> Any:
    return next(p for p in MODEL[uid].panels() if p.title == title)


@pytest.mark.integration
@pytest.mark.parametrize("uid,title,target", CH_TARGETS, ids=[f"{u}:{t}" for u, t, _ in CH_TARGETS])
def test_every_clickhouse_panel_runs_on_pipeline_data_with_its_shape(
    pipeline_data: PipelineData,
    time_range: TimeRange,
    uid: str,
    title: str,
    target: dict[str, Any],
) -> None:
    sql = expand(target["rawSql"], time_range, _values(uid))
    assert "$" not in sql.replace("${__data", ""), f"unexpanded: {sql}"
    cols, rows = pipeline_data.query(sql)
    model = _panel_model(uid, title)
    assert cols == list(model.queries[0].columns), title
    if not model.empty_ok:
        assert rows, f"{title}: no rows over the sample"
    if target["queryType"] == "timeseries":
        assert cols[0] == "time" and all(str(r[0])[:2] == "20" for r in rows)


REGIONAL = [
    (uid, title, t)
    for uid, title, t in CH_TARGETS
    if any(v.name == "region" for v in MODEL[uid].variables)
]


@pytest.mark.integration
@pytest.mark.parametrize("uid,title,target", REGIONAL, ids=[f"{u}:{t}" for u, t, _ in REGIONAL])
def test_choosing_a_region_narrows_every_panel_to_it(
    pipeline_data: PipelineData,
    time_range: TimeRange,
    uid: str,
    title: str,
    target: dict[str, Any],
) -> None:
    region_var = next(v for v in MODEL[uid].variables if v.name == "region")
    chosen: object = ["RU-TVE"] if region_var.multi else "RU-TVE"
    sql = expand(target["rawSql"], time_range, _values(uid, region=chosen))
    assert "IN ('RU-TVE')" in sql
    cols, rows = pipeline_data.query(sql)
    assert rows, title
    if "region" in cols:
        assert {r[cols.index("region")] for r in rows} == {"RU-TVE"}
    if "incident" in cols:
        assert all(str(r[cols.index("incident")]).startswith("RU-TVE/") for r in rows)


@pytest.mark.integration
def test_variable_queries_list_values(pipeline_data: PipelineData, time_range: TimeRange) -> None:
    for dash in _json_dashboards():
        for var in dash["templating"]["list"]:
            if var["type"] != "query" or var["datasource"]["type"] != CLICKHOUSE:
                continue
            sql = expand(var["query"]["rawSql"], time_range, _values(dash["uid"]))
            cols, rows = pipeline_data.query(sql)
            assert len(cols) == 1 and rows, f"{dash['uid']}: ${var['name']}"
    regions = {r[0] for r in pipeline_data.rows(
        expand(MODEL["incidents-federal"].variables[1].query.replace("{db}", "incidents"),
               time_range, {})
    )}  # fmt: skip
    assert {"RU-TVE", "RU-IVA", "RU-NVS"} <= regions


@pytest.mark.integration
def test_aggregates_agree_with_the_facts(pipeline_data: PipelineData) -> None:
    """The views count each fact once: aggregates equal the same sums over the facts."""
    q = pipeline_data.scalar
    assert q("SELECT sum(appeals) FROM incidents.mentions_hourly") == q(
        "SELECT countIf(status = 'accepted' AND is_appeal) FROM incidents.mentions"
    )
    assert q("SELECT sum(mentions) FROM incidents.sources_weekly") == q(
        "SELECT count() FROM incidents.mentions"
    )
    assert pipeline_data.rows(
        "SELECT sum(appeals), sum(mentions), sum(duplicates) FROM incidents.appeals_daily"
    ) == pipeline_data.rows(
        "SELECT sum(appeals), sum(mentions), sum(duplicates) FROM incidents.mentions_hourly"
    )
    assert q("SELECT sum(opened) FROM incidents.incidents_daily") == q(
        "SELECT uniqExact(id) FROM incidents.incidents"
    )
    assert q("SELECT count() FROM incidents.responses") == q(
        "SELECT countIf(type = 'responded') FROM incidents.incident_events"
    )
    assert q("SELECT sum(breaches) FROM incidents.incidents_daily") == q(
        "SELECT countIf(first_reaction_breached) + countIf(final_answer_breached) "
        "FROM incidents.incidents FINAL"
    )
    # every answer found its incident's opening time, so its answer time is known
    assert q("SELECT countIf(response_s IS NULL) FROM incidents.responses") == 0
    assert q("SELECT sum(responses) FROM incidents.response_times_daily") == q(
        "SELECT count() FROM incidents.responses"
    )
    # routing moved every opened incident to its agency; unrouted ones stay on ''
    assert q("SELECT min(opened) FROM (SELECT agency, sum(opened) AS opened "
             "FROM incidents.incidents_daily GROUP BY agency)") >= 0  # fmt: skip


# ------------------------------------------------------------ Prometheus
def _prom_exprs() -> list[tuple[str, str]]:
    return [
        (p["title"], t["expr"])
        for d in _json_dashboards()
        for p in _panels(d)
        for t in p["targets"]
        if t["datasource"]["type"] == PROMETHEUS
    ]


def test_pipeline_panels_use_series_that_exist() -> None:
    names: set[str] = set()
    for family in metrics.REGISTRY.collect():
        names.add(family.name + ("_total" if family.type == "counter" else ""))
    recorded = {
        r["record"]
        for g in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
        for r in g["rules"]
        if "record" in r
    }
    exprs = _prom_exprs()
    assert exprs
    for title, expr in exprs:
        for name in re.findall(r"(?<![\w:])incidents:[a-z0-9_:]+", expr):
            assert name in recorded, f"{title}: {name} is not a recording rule"
        for name in re.findall(r"(?<![\w:])incidents_[a-z0-9_]+", expr):
            assert name in names, f"{title}: no metric {name}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not on PATH")
def test_pipeline_panel_promql_parses(tmp_path: Path) -> None:
    """promtool checks each panel expression, as a recording rule over the real rule file."""
    rules = [
        {"record": f"dashboard:panel_{i}:check", "expr": expr.replace("$namespace", ".*")}
        for i, (_, expr) in enumerate(_prom_exprs())
    ]
    (tmp_path / "panels.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "p", "rules": rules}]})
    )
    run = subprocess.run(
        ["promtool", "check", "rules", str(tmp_path / "panels.yaml"), str(RULES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


# ----------------------------------------------------------- provisioning
def test_provisioning_files_point_at_the_dashboards_and_data_sources() -> None:
    ds = yaml.safe_load((PROVISIONING / "datasources" / "incidents.yaml").read_text("utf-8"))
    types = {d["type"] for d in ds["datasources"]}
    assert types == {CLICKHOUSE, PROMETHEUS}
    for d in ds["datasources"]:
        if d["type"] == CLICKHOUSE:
            assert d["jsonData"]["defaultDatabase"] == "incidents"
            assert "password" in d["secureJsonData"] and "${" in d["secureJsonData"]["password"]
    prov = yaml.safe_load((PROVISIONING / "dashboards" / "incidents.yaml").read_text("utf-8"))
    assert prov["apiVersion"] == 1 and prov["providers"][0]["type"] == "file"
