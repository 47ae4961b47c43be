"""ClickHouse: connection, migrations, message → row mapping and idempotent inserts.

One client API for both worlds: clickhouse-connect speaks HTTP to a server and,
with a ``chdb://`` DSN, drives the embedded chDB engine in-process. chDB allows
one engine per process and one process per data directory, so in the embedded
mode the worker's sink owns the data and other readers go through it (the
worker's ``/query`` endpoint) or wait until it stops.

Idempotence (a replayed batch must not double anything):
1. before inserting, the writer asks ClickHouse which natural keys of the batch
   it already has (bounded by the batch's time range and regions, so the
   primary key does the work) and drops those rows; sinks commit Kafka offsets
   only after the insert is acknowledged, so a crash in between replays a batch
   that is then filtered out;
2. each insert carries an ``insert_deduplication_token`` built from the rows'
   keys, so a retry of the same insert after a timeout is dropped by ClickHouse
   itself (``non_replicated_deduplication_window`` on single-node tables);
3. fact tables are ReplacingMergeTree over the natural key, so even a race
   between two writers collapses at merge time.
(1) keeps the materialized-view aggregates exact; (3) is the safety net.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from incidents.config.settings import ClickHouseSettings
from incidents.contracts.models import DeadLetter, Incident, IncidentEvent, Mention, Reply

MIGRATIONS_PACKAGE = "incidents.contracts.clickhouse"

# clickhouse-connect logs "Unexpected Http Driver Exception" before raising the error we
# report anyway: in a command-line process (no logging configured) that is a stray line
# above ours. Services configure logging, and there the record still reaches the logs.
logging.getLogger("clickhouse_connect").addHandler(logging.NullHandler())


class WarehouseError(RuntimeError):
    """ClickHouse refused or is unreachable; the caller retries with backoff."""


KEYS_PER_LOOKUP = 2_000  # keys per "already stored?" query (see Warehouse.existing_keys)


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str
    time_col: str | None  # equal for every copy of a row: bounds the "already there?" lookup
    region_col: str | None
    columns: tuple[str, ...]
    filter_existing: bool = True
    ttl_col: str = ""  # the table's TTL runs from this column (default: time_col)

    @property
    def retention_col(self) -> str:
        return self.ttl_col or self.time_col or ""


@dataclass(frozen=True)
class Inserted:
    """What one insert did: rows written, rows ClickHouse already had, and rows left out
    because they were older than the table's retention when they arrived."""

    written: int
    skipped: int
    expired: int = 0
    ttl_days: int = 0  # the retention they were older than
    oldest: datetime | None = None  # the oldest of them


def mention_row(m: Mention, partition: int, offset: int) -> tuple[Any, ...]:
    p = m.place
    e = m.metrics
    return (
        m.id,
        m.platform,
        m.source.id,
        m.source.name or "",
        m.source.kind or "",
        m.author.id if m.author else "",
        m.created_at,
        m.text,
        m.url or "",
        m.fingerprint,
        m.is_appeal,
        m.appeal_score,
        m.category or "",
        m.category_confidence,
        m.priority,
        list(m.priority_cues),
        p.region or "",
        p.municipality or "",
        p.oktmo or "",
        p.address or "",
        p.geo.lat if p.geo else None,
        p.geo.lon if p.geo else None,
        m.agency or "",
        m.status or "accepted",
        m.duplicate_of or "",
        m.incident_id or "",
        (e.likes or 0) if e else 0,
        (e.reposts or 0) if e else 0,
        (e.comments or 0) if e else 0,
        (e.views or 0) if e else 0,
        partition,
        offset,
    )


def incident_row(i: Incident, partition: int, offset: int) -> tuple[Any, ...]:
    s = i.sla
    return (
        i.id,
        i.region or "",
        i.municipality or "",
        i.category or "",
        i.agency or "",
        i.status,
        i.priority,
        i.opened_at,
        i.updated_at,
        i.closed_at,
        i.version,
        i.title,
        i.mentions_count,
        i.address or "",
        i.geo.lat if i.geo else None,
        i.geo.lon if i.geo else None,
        i.primary_mention_id or "",
        list(i.platforms),
        s.first_reaction_due,
        s.first_reaction_at,
        s.first_reaction_breached,
        s.final_answer_due,
        s.final_answer_at,
        s.final_answer_breached,
        i.reopened_from or "",
        i.merged_into or "",
    )


def event_row(e: IncidentEvent, partition: int, offset: int) -> tuple[Any, ...]:
    return (
        e.event_id,
        e.incident_id,
        e.type,
        e.at,
        e.region or "",
        e.incident_version,
        e.category or "",
        e.agency or "",
        e.priority or "",
        e.status or "",
        e.mention_id or "",
        e.response_id or "",
        {k: "" if v is None else str(v) for k, v in e.detail.items()},
    )


def reply_row(r: Reply, partition: int, offset: int) -> tuple[Any, ...]:
    return (
        r.reply_id,
        r.response_id,
        r.incident_id,
        r.mention_id,
        r.platform,
        r.source_id,
        r.kind,
        r.agency,
        r.responded_at,
        r.region or "",
        r.post_url or "",
    )


def dead_letter_row(d: DeadLetter, partition: int, offset: int) -> tuple[Any, ...]:
    return (
        d.dlq_id,
        d.stage,
        d.topic,
        d.partition,
        d.offset,
        d.error_kind,
        d.reason,
        d.failed_at,
        d.original_size,
        d.mention_id or "",
        d.replayed,
    )


TABLES: dict[str, TableSpec] = {
    "mentions": TableSpec(
        "mentions",
        "id",
        "created_at",
        "region",
        (
            "id", "platform", "source_id", "source_name", "source_kind", "author_pseudonym",
            "created_at", "text", "url", "fingerprint", "is_appeal", "appeal_score", "category",
            "category_confidence", "priority", "priority_cues", "region", "municipality", "oktmo",
            "address", "lat", "lon", "agency", "status", "duplicate_of", "incident_id", "likes",
            "reposts", "comments", "views", "_partition", "_offset",
        ),
    ),
    "incidents": TableSpec(
        "incidents",
        "id",
        "opened_at",
        "region",
        (
            "id", "region", "municipality", "category", "agency", "status", "priority",
            "opened_at", "updated_at", "closed_at", "version", "title", "mentions_count",
            "address", "lat", "lon", "primary_mention_id", "platforms", "first_reaction_due",
            "first_reaction_at", "first_reaction_breached", "final_answer_due", "final_answer_at",
            "final_answer_breached", "reopened_from", "merged_into",
        ),
        # Latest state: every version is a row, ReplacingMergeTree(version) keeps the last.
        filter_existing=False,
    ),
    "incident_events": TableSpec(
        "incident_events",
        "event_id",
        "at",
        "region",
        (
            "event_id", "incident_id", "type", "at", "region", "incident_version", "category",
            "agency", "priority", "status", "mention_id", "response_id", "detail",
        ),
    ),
    "replies": TableSpec(
        "replies",
        "reply_id",
        "responded_at",
        "region",
        (
            "reply_id", "response_id", "incident_id", "mention_id", "platform", "source_id",
            "kind", "agency", "responded_at", "region", "post_url",
        ),
    ),
    "dead_letters": TableSpec(
        "dead_letters",
        "dlq_id",
        None,  # failed_at is the wall clock of each attempt: look up by id alone
        None,
        (
            "dlq_id", "stage", "topic", "partition", "offset", "error_kind", "reason",
            "failed_at", "original_size", "mention_id", "replayed",
        ),
        ttl_col="failed_at",
    ),
}  # fmt: skip


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

#: Tables whose TTL is their own, not INCIDENTS_CLICKHOUSE_TTL_DAYS.
OWN_TTL = frozenset({"fact_inserts", "expired_on_arrival"})
_TTL = re.compile(r" TTL (.+?)(?: SETTINGS |$)")
_TTL_DAYS = re.compile(r"toIntervalDay\((\d+)\)")

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


def held_by_another_process(path: Path) -> bool:
    """Whether another process's chDB engine owns this data directory.

    ClickHouse holds an exclusive flock(2) on ``<path>/status`` while it runs. Asking
    the engine itself fails only after it printed "Cannot lock file …" to stderr and
    raised an error that no longer names the lock, so we look at the lock first.
    """
    status = path / "status"
    try:
        m = re.search(r"PID: (\d+)", status.read_text(errors="replace"))
        if m and int(m.group(1)) == os.getpid():
            return False  # this process's own engine
        fd = os.open(status, os.O_RDONLY)
    except OSError:
        return False  # no status file: nobody ever ran an engine here
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the lock if we got it
    return False


def _connection_reason(exc: BaseException) -> str:
    """One short reason from a driver error: "[Errno 111] Connection refused" → the words."""
    text = str(exc)
    errnos = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errnos:
        return errnos[-1].strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def connect(s: ClickHouseSettings) -> Any:
    """A clickhouse-connect client for http(s):// or chdb:// (embedded)."""
    import clickhouse_connect  # lazy: clickhouse-connect, chDB

    url = s.resolved_url()
    held = (
        f"cannot open ClickHouse at {url}: the ClickHouse data in {s.data_path()} is held by "
        "another process (a running worker?): stop it, or query through its /query endpoint"
    )
    try:
        if url.startswith("chdb://"):
            path = s.data_path()
            if path is not None:
                if held_by_another_process(path):
                    raise WarehouseError(held)
                path.mkdir(parents=True, exist_ok=True)
            return clickhouse_connect.get_client(dsn=url)
        kwargs: dict[str, Any] = {"dsn": url}
        if s.user:
            kwargs["username"] = s.user
        if s.password:
            kwargs["password"] = s.password.get_secret_value()
        return clickhouse_connect.get_client(**kwargs)
    except WarehouseError:
        raise
    except Exception as exc:  # one clear line for a wrong URL, a locked directory, a down server
        if "Cannot lock file" in str(exc) or "already running" in str(exc):
            raise WarehouseError(held) from None
        raise WarehouseError(
            f"cannot open ClickHouse at {url}: {_connection_reason(exc)}"
        ) from None


class Warehouse:
    """A thread-safe wrapper: one client, one lock (chDB is one engine per process)."""

    def __init__(
        self,
        settings: ClickHouseSettings,
        client: Any | None = None,
        down_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.db = settings.database
        self._client = client
        self._lock = threading.Lock()
        self.down_file = down_file  # fault injection: an outage while the file exists
        self._retention: dict[str, int] = {}

    @property
    def client(self) -> Any:
        if self.down_file is not None and self.down_file.exists():
            raise WarehouseError(
                f"ClickHouse unavailable (fault injection: {self.down_file} exists)"
            )
        if self._client is None:
            self._client = connect(self.settings)
        return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close()
                finally:
                    self._client = None

    # ------------------------------------------------------------ migrations
    def rendering(self) -> Rendering:
        return Rendering(self.db, self.settings.ttl_days, self.settings.cluster)

    def migrate(self, progress: Callable[[str], None] | None = None) -> list[str]:
        """Apply pending migrations in order; return the names applied now."""
        r = self.rendering()
        on_cluster = r.values()["on_cluster"]
        with self._lock:
            c = self.client
            c.command(f"CREATE DATABASE IF NOT EXISTS {self.db} {on_cluster}")
            if r.local_database != self.db:
                c.command(f"CREATE DATABASE IF NOT EXISTS {r.local_database} {on_cluster}")
            c.command(
                f"CREATE TABLE IF NOT EXISTS {self.db}.schema_migrations {on_cluster} "
                "(version UInt32, name String, checksum String, applied_at DateTime DEFAULT now()) "
                "ENGINE = ReplacingMergeTree ORDER BY version"
            )
            done = {
                row[0]: row[1]
                for row in c.query(
                    f"SELECT version, checksum FROM {self.db}.schema_migrations FINAL"
                ).result_rows
            }
            applied: list[str] = []
            for mig in load_migrations():
                if mig.version in done:
                    if done[mig.version] != mig.checksum:
                        raise WarehouseError(
                            f"migration {mig.version:04d}_{mig.name} changed after it was applied "
                            "(add a new migration instead of editing an old one)"
                        )
                    continue
                for stmt in mig.statements(r):
                    c.command(stmt)
                c.insert(
                    f"{self.db}.schema_migrations",
                    [[mig.version, mig.name, mig.checksum]],
                    column_names=["version", "name", "checksum"],
                )
                applied.append(f"{mig.version:04d}_{mig.name}")
                if progress:
                    progress(applied[-1])
            for note in self._raise_ttl(c, r):
                applied.append(note)
                if progress:
                    progress(note)
            self._retention = self._read_retention(c, r)
            return applied

    def _table_ttls(self, c: Any, r: Rendering) -> dict[str, tuple[str, int]]:
        """Every table with a TTL in days: its TTL expression and its days."""
        rows = c.query(
            "SELECT name, engine_full FROM system.tables "
            "WHERE database = %(db)s AND engine LIKE '%%MergeTree%%'",
            parameters={"db": r.local_database},
        ).result_rows
        out: dict[str, tuple[str, int]] = {}
        for name, engine_full in rows:
            ttl = _TTL.search(engine_full)
            days = _TTL_DAYS.search(ttl.group(1)) if ttl else None
            if ttl and days:
                out[name] = (ttl.group(1), int(days.group(1)))
        return out

    def _raise_ttl(self, c: Any, r: Rendering) -> list[str]:
        """Raise every table's TTL to INCIDENTS_CLICKHOUSE_TTL_DAYS where it is shorter.

        The TTL is written into a table when it is created, so raising the setting to
        backfill old history changes nothing by itself. Raising retention deletes
        nothing, so it is applied; a shorter setting deletes history and is left to an
        operator (docs/oversight.md#retention).
        """
        want = self.settings.ttl_days
        on_cluster = r.values()["on_cluster"]
        notes = []
        for name, (expr, days) in sorted(self._table_ttls(c, r).items()):
            if name in OWN_TTL or days >= want:
                continue
            new_expr = _TTL_DAYS.sub(f"toIntervalDay({want})", expr)
            c.command(f"ALTER TABLE {r.local_database}.{name} {on_cluster} MODIFY TTL {new_expr}")
            notes.append(f"retention of {name} raised from {days} to {want} days")
        return notes

    def _read_retention(self, c: Any, r: Rendering) -> dict[str, int]:
        ttls = self._table_ttls(c, r)
        return {t: ttls[t][1] for t in TABLES if t in ttls}

    def retention_days(self, table: str) -> int:
        """The retention a fact table really has (its TTL), in days; the setting until
        the tables were read (migrate reads them)."""
        return self._retention.get(table, self.settings.ttl_days)

    # --------------------------------------------------------------- writes
    def existing_keys(self, spec: TableSpec, rows: Sequence[tuple[Any, ...]]) -> set[str]:
        if not rows:
            return set()
        ki = spec.columns.index(spec.key)
        keys = sorted({r[ki] for r in rows})
        params: dict[str, Any] = {}
        where = [f"{spec.key} IN %(keys)s"]
        if spec.time_col:
            ti = spec.columns.index(spec.time_col)
            times = [r[ti] for r in rows]
            where.append(f"{spec.time_col} BETWEEN %(t0)s AND %(t1)s")
            # Parameters bind at whole seconds: widen by a second each side.
            params["t0"] = min(times) - timedelta(seconds=1)
            params["t1"] = max(times) + timedelta(seconds=1)
        if spec.region_col:
            ri = spec.columns.index(spec.region_col)
            params["regions"] = sorted({r[ri] for r in rows})
            where.insert(0, f"{spec.region_col} IN %(regions)s")
        sql = f"SELECT {spec.key} FROM {self.db}.{spec.name} WHERE {' AND '.join(where)}"
        found: set[str] = set()
        # A few thousand keys per query: ClickHouse refuses a query text over
        # max_query_size (256 KiB), which 10,000 mention or reply ids exceed.
        for i in range(0, len(keys), KEYS_PER_LOOKUP):
            params["keys"] = keys[i : i + KEYS_PER_LOOKUP]
            found.update(row[0] for row in self.client.query(sql, parameters=params).result_rows)
        return found

    def insert(
        self, table: str, rows: Sequence[tuple[Any, ...]], now: datetime | None = None
    ) -> Inserted:
        """Insert rows not already present and not older than the table's retention.

        Rows older than the retention would be dropped by the table's TTL as they are
        inserted, after the materialized views had counted them; they are left out and
        noted in `expired_on_arrival` instead (a backfill of old history, see
        docs/oversight.md#retention).
        """
        spec = TABLES[table]
        if not rows:
            return Inserted(0, 0)
        ki = spec.columns.index(spec.key)
        # Within a batch, keep the first row of each key (redelivery inside one batch).
        if spec.filter_existing:
            seen: set[str] = set()
            unique = []
            for r in rows:
                if r[ki] not in seen:
                    seen.add(r[ki])
                    unique.append(r)
        else:
            unique = list(rows)
        days = self.retention_days(table)
        ti = spec.columns.index(spec.retention_col)
        cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
        expired = [r for r in unique if r[ti] < cutoff]
        if expired:
            unique = [r for r in unique if not r[ti] < cutoff]
        try:
            with self._lock:
                present = self.existing_keys(spec, unique) if spec.filter_existing else set()
                fresh = [r for r in unique if r[ki] not in present]
                if fresh:
                    token = hashlib.sha256(repr(fresh).encode()).hexdigest()
                    settings: dict[str, Any] = {"insert_deduplication_token": token}
                    if self.settings.cluster:
                        # Through a Distributed table: acknowledged once the shards have
                        # the rows, so committing offsets afterwards stays safe.
                        settings["distributed_foreground_insert"] = 1
                    self.client.insert(
                        f"{self.db}.{spec.name}",
                        fresh,
                        column_names=list(spec.columns),
                        settings=settings,
                    )
                noted = self._note_expired(spec, expired, days) if expired else 0
        except WarehouseError:
            raise
        except Exception as exc:
            raise WarehouseError(f"insert into {table} failed: {str(exc).splitlines()[0]}") from exc
        return Inserted(
            len(fresh),
            len(rows) - len(fresh) - len(expired),
            noted,
            days,
            min((r[ti] for r in expired), default=None),
        )

    def _note_expired(self, spec: TableSpec, rows: Sequence[tuple[Any, ...]], days: int) -> int:
        """Note rows left out for their age in `expired_on_arrival`; return how many were
        not noted before (a redelivered batch is counted once)."""
        ki, ti = spec.columns.index(spec.key), spec.columns.index(spec.retention_col)
        keys = sorted({r[ki] for r in rows})
        known: set[str] = set()
        sql = (
            f"SELECT key FROM {self.db}.expired_on_arrival "
            "WHERE table = %(table)s AND key IN %(keys)s"
        )
        for i in range(0, len(keys), KEYS_PER_LOOKUP):
            params = {"table": spec.name, "keys": keys[i : i + KEYS_PER_LOOKUP]}
            known.update(r[0] for r in self.client.query(sql, parameters=params).result_rows)
        notes = []
        for r in rows:
            if r[ki] not in known:
                known.add(r[ki])
                notes.append((spec.name, r[ki], r[ti], days))
        if notes:
            token = hashlib.sha256(repr(notes).encode()).hexdigest()
            settings: dict[str, Any] = {"insert_deduplication_token": token}
            if self.settings.cluster:
                settings["distributed_foreground_insert"] = 1
            self.client.insert(
                f"{self.db}.expired_on_arrival",
                notes,
                column_names=["table", "key", "event_at", "ttl_days"],
                settings=settings,
            )
        return len(notes)

    # ---------------------------------------------------------------- reads
    def query(
        self, sql: str, parameters: dict[str, Any] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            with self._lock:
                res = self.client.query(sql, parameters=parameters or {})
        except Exception as exc:
            raise WarehouseError(str(exc).splitlines()[0]) from exc
        return list(res.column_names), [tuple(r) for r in res.result_rows]

    def scalar(self, sql: str) -> Any:
        _, rows = self.query(sql)
        return rows[0][0] if rows else None


def rows_for(table: str, items: Iterable[tuple[Any, int, int]]) -> list[tuple[Any, ...]]:
    """Map (message, partition, offset) triples to rows of a table."""
    mappers: dict[str, Callable[[Any, int, int], tuple[Any, ...]]] = {
        "mentions": mention_row,
        "incidents": incident_row,
        "incident_events": event_row,
        "replies": reply_row,
        "dead_letters": dead_letter_row,
    }
    mapper = mappers[table]
    return [mapper(obj, part, off) for obj, part, off in items]
