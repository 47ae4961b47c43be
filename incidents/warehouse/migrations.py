"""Migrations: the SQL files in incidents.contracts.clickhouse, rendered for a node or a cluster.

The files are package data (:data:`MIGRATIONS_PACKAGE`) with placeholders for the
database and the engines; :class:`Rendering` fills them for a single node or, on a
cluster, for Replicated* tables in ``<database>_local`` with a Distributed table over
each (sharded by :data:`SHARDING_KEYS`). The writer applies them in order
(:meth:`incidents.warehouse.writer.Warehouse.migrate`); the access rules read them too.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

MIGRATIONS_PACKAGE = "incidents.contracts.clickhouse"


#: How a cluster shards each table's rows (Distributed tables). By region wherever a
#: table has one, so that every version of an incident, its events, its answers and
#: its region's aggregates meet on one shard: FINAL, the sink's "already there?"
#: lookups and the views' incident lookups stay shard-local, and a region's rows
#: never straddle shards. Tables without a region column are listed here.
SHARDING_KEYS: dict[str, str] = {
    "dead_letters": "cityHash64(dlq_id)",
    "fact_inserts": "cityHash64(key)",
    "expired_on_arrival": "cityHash64(key)",
}

_CREATE_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)\s", re.S)
_ALTER_COLUMNS = re.compile(
    r"^ALTER TABLE (\w+)\.(\w+)\s+(ON CLUSTER '[^']+'\s+)?"
    r"(ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b",
    re.S,
)


@dataclass(frozen=True)
class Rendering:
    """How migrations render: single node (default) or a cluster.

    In a cluster (``INCIDENTS_CLICKHOUSE_CLUSTER``) the MergeTree tables and the
    materialized views live in ``<database>_local`` (Replicated* engines, ``ON
    CLUSTER``), and ``<database>`` holds a Distributed table of the same name over
    each of them. Everything that reads or writes (the sink, reports, Grafana) uses
    ``<database>.<table>`` in both layouts; on a cluster that is the Distributed table,
    which shards inserts by :data:`SHARDING_KEYS` and fans reads out.
    """

    database: str
    ttl_days: int
    cluster: str | None = None

    @property
    def local_database(self) -> str:
        return f"{self.database}_local" if self.cluster else self.database

    def values(self) -> dict[str, str]:
        if self.cluster:
            zk = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
            return {
                "db": self.local_database,
                "on_cluster": f"ON CLUSTER '{self.cluster}'",
                "replacing": f"ReplicatedReplacingMergeTree({zk})",
                "replacing_version": f"ReplicatedReplacingMergeTree({zk}, version)",
                "summing": f"ReplicatedSummingMergeTree({zk})",
                "plain": f"ReplicatedMergeTree({zk})",
                "aggregating": f"ReplicatedAggregatingMergeTree({zk})",
                "dedup_window": "replicated_deduplication_window = 1000",
                "ttl_days": str(self.ttl_days),
            }
        return {
            "db": self.database,
            "on_cluster": "",
            "replacing": "ReplacingMergeTree",
            "replacing_version": "ReplacingMergeTree(version)",
            "summing": "SummingMergeTree",
            "plain": "MergeTree",
            "aggregating": "AggregatingMergeTree",
            "dedup_window": "non_replicated_deduplication_window = 1000",
            "ttl_days": str(self.ttl_days),
        }

    def render(self, sql: str) -> str:
        vals = self.values()

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in vals:
                raise KeyError(f"unknown migration placeholder {{{{{name}}}}}")
            return vals[name]

        return re.sub(r"\{\{(\w+)\}\}", sub, sql)

    def distributed(self, statement: str) -> str | None:
        """The statement a cluster needs on the Distributed side of a rendered one, if any.

        A CREATE TABLE gets a Distributed table over it; an ALTER TABLE … COLUMN is
        repeated on the Distributed table (its columns do not follow the local one's).
        """
        if not self.cluster:
            return None
        local = self.local_database
        m = _CREATE_TABLE.match(statement)
        if m and m.group(1) == local:
            table = m.group(2)
            if re.search(r"^\s+region\s", statement, re.M):
                key = "cityHash64(region)"
            elif table in SHARDING_KEYS:
                key = SHARDING_KEYS[table]
            else:
                raise KeyError(f"table {table} has no region column: add it to SHARDING_KEYS")
            return (
                f"CREATE TABLE IF NOT EXISTS {self.database}.{table} ON CLUSTER '{self.cluster}' "
                f"AS {local}.{table} "
                f"ENGINE = Distributed('{self.cluster}', '{local}', '{table}', {key})"
            )
        m = _ALTER_COLUMNS.match(statement)
        if m and m.group(1) == local:
            return f"ALTER TABLE {self.database}." + statement[len(f"ALTER TABLE {local}.") :]
        return None


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self, rendering: Rendering) -> list[str]:
        text = rendering.render(self.sql)
        text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
        out: list[str] = []
        for stmt in (s.strip() for s in text.split(";")):
            if not stmt:
                continue
            out.append(stmt)
            extra = rendering.distributed(stmt)
            if extra:
                out.append(extra)
        return out


def load_migrations() -> list[Migration]:
    out = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        m = re.match(r"^(\d{4})_(\w+)\.sql$", entry.name)
        if m:
            out.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    return sorted(out, key=lambda m: m.version)
