"""Migrations render for a single node and for a cluster; rows map from messages."""

from __future__ import annotations

import re

from incidents.warehouse.migrations import Rendering, load_migrations
from incidents.warehouse.tables import TABLES


def test_migrations_are_numbered_and_render_without_placeholders() -> None:
    migs = load_migrations()
    assert [m.version for m in migs] == sorted({m.version for m in migs})
    for r in (Rendering("incidents", 730), Rendering("incidents", 730, cluster="main")):
        for m in migs:
            for stmt in m.statements(r):
                assert "{{" not in stmt and "}}" not in stmt


def test_cluster_rendering_uses_replicated_engines_and_on_cluster() -> None:
    r = Rendering("incidents", 730, cluster="main")
    creates = [
        s for m in load_migrations() for s in m.statements(r) if s.startswith("CREATE TABLE")
    ]
    assert creates
    local = {re.match(r"CREATE TABLE IF NOT EXISTS (\S+) ", s).group(1) for s in creates}
    for stmt in creates:
        assert "ON CLUSTER 'main'" in stmt
        engine = re.search(r"ENGINE = (\w+)", stmt)
        assert engine, stmt[:80]
        if stmt.startswith("CREATE TABLE IF NOT EXISTS incidents_local."):
            assert engine.group(1).startswith("Replicated"), stmt[:80]
            # every local table is read and written through a Distributed table
            assert stmt.split()[5].replace("incidents_local.", "incidents.") in local
        else:
            assert engine.group(1) == "Distributed", stmt[:80]


def test_every_sink_table_is_created_with_its_columns() -> None:
    sql = "\n".join(m.sql for m in load_migrations())
    for spec in TABLES.values():
        block = sql[sql.index(f"{{{{db}}}}.{spec.name} ") :]
        for col in spec.columns:
            assert re.search(rf"^\s+{col}\s", block, re.M), f"{spec.name}.{col}"
