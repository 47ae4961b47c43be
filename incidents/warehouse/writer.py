"""ClickHouse: the connection, migrating, and idempotent inserts of fact rows.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from incidents.config.settings import ClickHouseSettings
from incidents.warehouse.migrations import Rendering, load_migrations
from incidents.warehouse.tables import OWN_TTL, TABLES, TableSpec

# clickhouse-connect logs "Unexpected Http Driver Exception" before raising the error we
# report anyway: in a command-line process (no logging configured) that is a stray line
# above ours. Services configure logging, and there the record still reaches the logs.
logging.getLogger("clickhouse_connect").addHandler(logging.NullHandler())


class WarehouseError(RuntimeError):
    """ClickHouse refused or is unreachable; the caller retries with backoff."""


KEYS_PER_LOOKUP = 2_000  # keys per "already stored?" query (see Warehouse.existing_keys)


@dataclass(frozen=True)
class Inserted:
    """What one insert did: rows written, rows ClickHouse already had, and rows left out
    because they were older than the table's retention when they arrived."""

    written: int
    skipped: int
    expired: int = 0
    ttl_days: int = 0  # the retention they were older than
    oldest: datetime | None = None  # the oldest of them


_TTL = re.compile(r" TTL (.+?)(?: SETTINGS |$)")
_TTL_DAYS = re.compile(r"toIntervalDay\((\d+)\)")


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
