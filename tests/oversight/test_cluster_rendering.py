"""The same migrations for one node and for a cluster.

A cluster needs ZooKeeper/Keeper and remote shards, which chDB has not, so the
cluster rendering is checked three ways: every statement goes through
ClickHouse's own parser (formatQuery in chDB); its structure is checked
(ON CLUSTER everywhere, Replicated* engines in <db>_local, a Distributed table
per local table sharded by region); and once the cluster-only parts are taken
out it is, statement for statement, the single-node rendering, which chDB
executes for real (here on an empty engine, and in every pipeline test).
"""

from __future__ import annotations

import re

import pytest

from incidents.warehouse.migrations import SHARDING_KEYS, Rendering, load_migrations
from tests.support.chdb import ChdbProcess

SINGLE = Rendering("incidents", 730)
CLUSTER = Rendering("incidents", 730, cluster="main")


def _statements(r: Rendering) -> list[str]:
    return [s for m in load_migrations() for s in m.statements(r)]


def test_oversight_migration_is_there() -> None:
    names = [f"{m.version:04d}_{m.name}" for m in load_migrations()]
    assert "0004_oversight" in names


def test_every_cluster_statement_parses_as_clickhouse() -> None:
    with ChdbProcess("memory") as ch:
        for stmt in _statements(CLUSTER):
            literal = stmt.replace("\\", "\\\\").replace("'", "\\'")
            _, rows = ch.query(f"SELECT formatQuery('{literal}')")
            assert rows and rows[0][0], stmt[:80]


def test_cluster_structure() -> None:
    stmts = _statements(CLUSTER)
    local = {}
    dist = {}
    for s in stmts:
        assert " ON CLUSTER 'main'" in s, s[:80]
        m = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)\.(\w+) ", s)
        if m and m.group(1) == "incidents_local":
            engine = re.search(r"ENGINE = (\w+)\(", s)
            assert engine and engine.group(1).startswith("Replicated"), s[:80]
            assert "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'" in s
            local[m.group(2)] = s
        elif m:
            assert m.group(1) == "incidents" and "ENGINE = Distributed('main'" in s, s[:80]
            dist[m.group(2)] = s
        elif s.startswith("CREATE MATERIALIZED VIEW"):
            # views live with the local tables and never read the Distributed ones
            assert s.startswith("CREATE MATERIALIZED VIEW IF NOT EXISTS incidents_local.")
            assert not re.search(r"\bincidents\.\w", s), s[:120]
    assert set(local) == set(dist) and len(local) >= 12
    for table, s in dist.items():
        key = "cityHash64(region)" if re.search(r"^\s+region\s", local[table], re.M) else None
        key = key or SHARDING_KEYS[table]
        assert s.endswith(f"Distributed('main', 'incidents_local', '{table}', {key})"), s
        assert f" AS incidents_local.{table} " in s


def _declustered(stmt: str) -> str | None:
    """A cluster statement with its cluster-only parts removed (None: cluster-only)."""
    if "ENGINE = Distributed(" in stmt or stmt.startswith("ALTER TABLE incidents."):
        return None  # the Distributed table, or a column change repeated on it
    s = stmt.replace(" ON CLUSTER 'main'", "").replace("incidents_local.", "incidents.")
    s = re.sub(
        r"Replicated(\w+)\('/clickhouse/tables/\{shard\}/\{database\}/\{table\}', '\{replica\}'"
        r"(?:, )?",
        r"\1(",
        s,
    )
    s = re.sub(
        r"(ReplacingMergeTree|SummingMergeTree|AggregatingMergeTree|MergeTree)\(\)", r"\1", s
    )
    return s.replace("replicated_deduplication_window", "non_replicated_deduplication_window")


def test_cluster_rendering_is_the_single_node_one_plus_cluster_parts() -> None:
    declustered = [d for d in map(_declustered, _statements(CLUSTER)) if d is not None]
    single = _statements(SINGLE)
    assert len(declustered) == len(single)
    for a, b in zip(declustered, single, strict=True):
        assert " ".join(a.split()) == " ".join(b.split())


def test_the_single_node_rendering_runs_on_chdb() -> None:
    """Every statement, twice (IF NOT EXISTS: a migration may be retried after a crash)."""
    with ChdbProcess("memory") as ch:
        ch.command("CREATE DATABASE IF NOT EXISTS incidents")
        for _ in range(2):
            for stmt in _statements(SINGLE):
                ch.command(stmt)
        _, rows = ch.query(
            "SELECT name, engine FROM system.tables WHERE database = 'incidents' ORDER BY name"
        )
    engines = dict(rows)
    assert engines["response_times_daily"] == "AggregatingMergeTree"
    assert engines["incidents_daily"] == "SummingMergeTree"
    assert engines["responses_mv"] == "MaterializedView"


def test_alter_column_is_repeated_on_the_distributed_table() -> None:
    alter = "ALTER TABLE incidents_local.mentions ON CLUSTER 'main' ADD COLUMN x UInt8"
    assert CLUSTER.distributed(alter) == (
        "ALTER TABLE incidents.mentions ON CLUSTER 'main' ADD COLUMN x UInt8"
    )
    assert CLUSTER.distributed("ALTER TABLE incidents_local.mentions ON CLUSTER 'main' "
                               "MODIFY TTL toDate(created_at)") is None  # fmt: skip
    assert SINGLE.distributed(alter) is None


def test_a_table_without_region_needs_a_sharding_key() -> None:
    stmt = "CREATE TABLE IF NOT EXISTS incidents_local.nowhere ON CLUSTER 'main' (a String)"
    with pytest.raises(KeyError, match="SHARDING_KEYS"):
        CLUSTER.distributed(stmt + " ENGINE = ReplicatedMergeTree ORDER BY a")
