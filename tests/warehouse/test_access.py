"""Access per region: roles and row policies rendered from config, enforced as far as chDB can.

What chDB (the embedded engine) can and cannot do, shown here rather than assumed:
- it cannot run CREATE ROLE / CREATE ROW POLICY / GRANT (no writable access storage):
  the SQL is checked with ClickHouse's own parser (formatQuery) instead, and its
  row conditions are run as WHERE clauses over the pipeline's data;
- it does enforce users.xml grants and row filters (the same row-policy machinery):
  an engine started with the regional users.xml sees only its region's rows in every
  table and aggregate, cannot read the dead letters or the insert audit, and cannot
  write. Enforcement of the SQL roles themselves needs a ClickHouse server.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incidents.oversight.dashboards import dashboards
from incidents.oversight.macros import TimeRange, all_values, expand
from incidents.oversight.macros import render_sql as panel_sql
from incidents.warehouse.access import (
    AccessConfig,
    AccessError,
    all_regions,
    region_predicate,
    render_sql,
    tables,
    users_xml,
)
from tests.support.chdb import ChdbProcess
from tests.support.oversight import PipelineData

ROOT = Path(__file__).resolve().parents[2]
REGIONAL, OTHER = tables()


def _cfg(cluster: str | None = None, **raw: object) -> AccessConfig:
    base: dict[str, object] = {
        "regions": ["RU-TVE", "RU-IVA", "RU-NVS"],
        "users": [
            {
                "name": "grafana_ru_tve",
                "roles": ["incidents_grafana", "incidents_region_ru_tve"],
                "password_sha256_hex": "ab" * 32,
            },
            {"name": "grafana_federal", "roles": ["incidents_grafana", "incidents_federal"]},
            {"name": "pipeline", "roles": ["incidents_writer"]},
        ],
    }
    base.update(raw)
    return AccessConfig.from_dict(base, "incidents", cluster)


def test_tables_are_split_by_region_column() -> None:
    assert {
        "mentions",
        "incidents",
        "incident_events",
        "replies",
        "mentions_hourly",
        "incident_opened",
        "responses",
        "incidents_daily",
        "response_times_daily",
        "appeals_daily",
        "sources_weekly",
    } == set(REGIONAL)
    assert set(OTHER) == {"dead_letters", "fact_inserts", "expired_on_arrival"}


@pytest.mark.parametrize("cluster", [None, "main"])
def test_every_statement_is_well_formed_clickhouse(cluster: str | None) -> None:
    statements = render_sql(_cfg(cluster))
    with ChdbProcess("memory") as ch:
        for stmt in statements:
            literal = stmt.replace("\\", "\\\\").replace("'", "\\'")
            ch.query(f"SELECT formatQuery('{literal}')")  # raises on a syntax error
    if cluster:
        assert all(" ON CLUSTER 'main'" in s for s in statements)


def test_roles_policies_and_grants_cover_every_regional_table() -> None:
    cfg = _cfg()
    sql = render_sql(cfg)
    joined = "\n".join(sql)
    for role in ["incidents_federal", "incidents_grafana", "incidents_writer"] + [
        f"incidents_region_{r.lower().replace('-', '_')}" for r in cfg.regions
    ]:
        assert f"CREATE ROLE IF NOT EXISTS {role}" in joined
    policies = [s for s in sql if s.startswith("CREATE ROW POLICY")]
    for stmt in policies:
        on = re.search(r" ON (.+?) AS PERMISSIVE", stmt).group(1)  # type: ignore[union-attr]
        assert set(on.split(", ")) == {f"incidents.{t}" for t in REGIONAL}, stmt[:60]
    by_name = {s.split()[5]: s for s in policies}
    assert by_name["incidents_deny"].endswith("USING 0 TO ALL EXCEPT default")
    assert by_name["incidents_all_rows"].endswith("USING 1 TO incidents_federal, incidents_writer")
    assert by_name["incidents_region_ru_tve"].endswith(
        "USING region = 'RU-TVE' TO incidents_region_ru_tve"
    )
    # A region may read its tables and nothing else: no dead letters, no insert audit.
    tve = [s for s in sql if s.startswith("GRANT") and s.endswith("TO incidents_region_ru_tve")]
    assert {s.split(" ON ")[1].split(" TO ")[0] for s in tve} == {
        f"incidents.{t}" for t in REGIONAL
    }
    assert "GRANT SELECT ON incidents.* TO incidents_federal" in sql
    assert "ALTER ROLE incidents_grafana SETTINGS PROFILE 'incidents_readonly'" in sql
    assert any(s.startswith("CREATE SETTINGS PROFILE") and "readonly = 2" in s for s in sql)
    assert (
        "ALTER USER grafana_ru_tve DEFAULT ROLE incidents_grafana, incidents_region_ru_tve" in sql
    )


def test_cluster_rendering_guards_the_local_tables_too() -> None:
    sql = render_sql(_cfg("main"))
    deny = next(s for s in sql if s.startswith("CREATE ROW POLICY OR REPLACE incidents_deny"))
    for t in REGIONAL:
        assert f"incidents.{t}" in deny and f"incidents_local.{t}" in deny
    assert "GRANT ON CLUSTER 'main' CLUSTER ON *.* TO incidents_writer" in sql
    reader_grants = [s for s in sql if s.startswith("GRANT") and "incidents_region_" in s]
    assert reader_grants and not any("incidents_local" in s for s in reader_grants)


def test_default_config_covers_every_region_and_bad_configs_fail_clearly() -> None:
    cfg = AccessConfig.load(None)
    assert cfg.regions == tuple(all_regions()) and len(cfg.regions) >= 85
    with pytest.raises(AccessError, match="regions"):
        AccessConfig.from_dict({"regions": ["Tver"]}, "incidents", None)
    with pytest.raises(AccessError, match="unknown role"):
        AccessConfig.from_dict(
            {"regions": ["RU-TVE"], "users": [{"name": "u", "roles": ["incidents_region_ru_iva"]}]},
            "incidents",
            None,
        )
    with pytest.raises(AccessError, match="unknown field"):
        AccessConfig.from_dict({"region": ["RU-TVE"]}, "incidents", None)


def test_chdb_has_no_sql_access_control() -> None:
    """If a chDB release gains writable access storage, this tells us to use it."""
    with ChdbProcess("memory") as ch, pytest.raises(RuntimeError, match=r"ACCESS|access storage"):
        ch.command("CREATE ROLE IF NOT EXISTS incidents_federal")


@pytest.mark.integration
def test_region_conditions_as_where_clauses_partition_every_table(
    pipeline_data: PipelineData,
) -> None:
    regions = [r[0] for r in pipeline_data.rows(
        "SELECT DISTINCT region FROM incidents.mentions WHERE region != '' ORDER BY region"
    )]  # fmt: skip
    assert len(regions) >= 5
    for t in REGIONAL:
        total = pipeline_data.scalar(f"SELECT count() FROM incidents.{t}")
        parts = [
            pipeline_data.scalar(f"SELECT count() FROM incidents.{t} WHERE {region_predicate(r)}")
            for r in regions
        ]
        unknown = pipeline_data.scalar(f"SELECT count() FROM incidents.{t} WHERE region = ''")
        assert sum(parts) + unknown == total, t
        assert total > 0, f"{t} is empty after the sample"


@pytest.fixture(scope="module")
def regional_engine(pipeline_data: PipelineData, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A copy of the pipeline's data, opened by chDB as the RU-TVE user of users.xml."""
    root = tmp_path_factory.mktemp("regional")
    users = root / "users.xml"
    users.write_text(users_xml(_cfg(), "default", "RU-TVE", networks=("::/0",)), encoding="utf-8")
    config = root / "config.xml"
    config.write_text(f"<clickhouse><users_config>{users}</users_config></clickhouse>")
    with ChdbProcess(pipeline_data.copy(), config_file=config) as ch:
        yield ch


@pytest.mark.integration
def test_the_regional_user_sees_only_its_region_everywhere(
    pipeline_data: PipelineData, regional_engine: ChdbProcess
) -> None:
    for t in REGIONAL:
        _, rows = regional_engine.query(
            f"SELECT count(), countIf(region != 'RU-TVE') FROM incidents.{t}"
        )
        seen, foreign = rows[0]
        expected = pipeline_data.scalar(
            f"SELECT count() FROM incidents.{t} WHERE region = 'RU-TVE'"
        )
        assert foreign == 0 and seen == expected > 0, t
    # aggregates read through the policy give the region's own totals
    _, rows = regional_engine.query("SELECT sum(appeals) FROM incidents.mentions_hourly")
    assert rows[0][0] == pipeline_data.scalar(
        "SELECT sum(appeals) FROM incidents.mentions_hourly WHERE region = 'RU-TVE'"
    )
    assert rows[0][0] < pipeline_data.scalar("SELECT sum(appeals) FROM incidents.mentions_hourly")


@pytest.mark.integration
def test_the_regional_user_cannot_read_pipeline_internals_or_write(
    regional_engine: ChdbProcess,
) -> None:
    for t in OTHER:
        with pytest.raises(RuntimeError, match=r"ACCESS_DENIED|Not enough privileges"):
            regional_engine.query(f"SELECT count() FROM incidents.{t}")
    with pytest.raises(RuntimeError, match=r"ACCESS_DENIED|Not enough privileges|readonly"):
        regional_engine.command(
            "INSERT INTO incidents.mentions_hourly (region, appeals) VALUES ('RU-IVA', 1000)"
        )
    _, rows = regional_engine.query("SELECT getSetting('readonly')")
    assert rows[0][0] == 2


@pytest.mark.integration
def test_every_regional_dashboard_panel_shows_only_the_region(
    pipeline_data: PipelineData, regional_engine: ChdbProcess
) -> None:
    """A regional official's Grafana: the same JSON, "All" regions, and still one region."""
    lo = pipeline_data.scalar("SELECT toUnixTimestamp(min(created_at)) FROM incidents.mentions")
    tr = TimeRange(
        datetime.fromtimestamp(int(lo), UTC) - timedelta(hours=1),
        datetime.now(UTC) + timedelta(hours=1),
        3600,
    )
    checked = 0
    for dash in dashboards():
        if dash.uid == "incidents-pipeline":
            continue  # platform engineers' dashboard: reads the pipeline's own tables
        values = all_values(dash, min_volume="1")
        for panel in dash.panels():
            sql = expand(panel_sql(panel.queries[0].text, "incidents"), tr, values)
            cols, rows = regional_engine.query(sql)
            if "region" in cols:
                assert {r[cols.index("region")] for r in rows} <= {"RU-TVE"}, panel.title
            if "incident" in cols:
                assert all(str(r[cols.index("incident")]).startswith("RU-TVE/") for r in rows)
            checked += 1
    assert checked >= 14


def _access_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "incidents.warehouse.access", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=full,
    )


def test_access_command_renders_and_refuses_to_apply_to_chdb(tmp_path: Path) -> None:
    cfg = tmp_path / "access.yaml"
    cfg.write_text(
        "regions: [RU-TVE, RU-IVA]\nusers:\n  - {name: tver, roles: [incidents_region_ru_tve]}\n"
    )
    run = _access_cli("render", "--config", str(cfg))
    assert run.returncode == 0, run.stderr
    assert "CREATE ROLE IF NOT EXISTS incidents_region_ru_iva;" in run.stdout
    assert "USING region = 'RU-TVE' TO incidents_region_ru_tve;" in run.stdout
    xml = _access_cli("render", "--config", str(cfg), "--format", "users-xml", "--region", "RU-TVE")
    assert xml.returncode == 0, xml.stderr
    assert "<filter>region = 'RU-TVE'</filter>" in xml.stdout
    bad = _access_cli("render", "--config", str(tmp_path / "missing.yaml"))
    assert bad.returncode == 2 and "no such access config" in bad.stderr
    apply = _access_cli(
        "apply", "--config", str(cfg), INCIDENTS_CLICKHOUSE_URL=f"chdb://{tmp_path}/ch"
    )
    assert apply.returncode == 1 and "no SQL access storage" in apply.stderr
