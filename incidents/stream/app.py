"""The Faust application: its configuration, its tables, and the worker built on it.

Agents live in ``incidents/stream/agents/`` (one thin module per stage) and build on this
module; the worker registers them by role through :func:`create_app`'s
``register``, so nothing here imports them. Everything they share (settings,
topics, domain objects, outputs, guards, health) is in
:class:`~incidents.stream.runtime.WorkerRuntime`, passed explicitly.

Choices that make "nothing lost" hold on Faust (see docs/operations.md):
- every topic is subscribed as raw bytes and decoded inside a per-message
  try, so a bad message becomes a dead letter instead of an exception Faust
  acks and swallows;
- agents run with concurrency 1 (faust #606: concurrency > 1 can commit past a
  message still in flight);
- every agent works in batches and awaits the broker's acknowledgement of
  everything it produced before the batch is acked, so a committed offset
  always means its outputs are durable (the offset guards:
  incidents/stream/guards.py);
- an agent that crashes crashes the worker (exit code 1, /healthz 503)
  instead of leaving it alive but idle (incidents/stream/health.py).
"""

from __future__ import annotations

import contextvars
import ssl
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any, Protocol, TypeVar

import faust
import mode
from faust.web import View

from incidents.config.settings import ROLES, Settings
from incidents.kafka.topics import Topics
from incidents.observability import metrics
from incidents.observability.logs import get as get_logger
from incidents.stream.guards import base_name
from incidents.stream.health import register_lag, register_pages
from incidents.stream.runtime import WorkerRuntime
from incidents.stream.transport import broker_urls

log = get_logger("incidents.stream.app")

#: The partition of the event being processed, for table writes inside a batch.
ACTIVE_PARTITION: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "active_partition", default=None
)


class PartitionedTable(faust.Table):
    """A table whose writes go to the changelog partition of the event being processed.

    Faust attributes a table write to ``current_event()``, which inside a
    ``take_events`` batch is the *last* event of the batch, possibly of another
    partition. The agent sets ACTIVE_PARTITION per event instead.
    """

    def partition_for_key(self, key: Any) -> int | None:
        p = ACTIVE_PARTITION.get()
        if p is not None:
            return p
        return super().partition_for_key(key)


class TableStore(MutableMapping[str, bytes]):
    """A domain object's view of a Faust table: str keys, bytes values, raw on the wire."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def __getitem__(self, key: str) -> bytes:
        value = self.table.get(key.encode())
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self.table.get(key.encode())
        return default if value is None else value

    def __setitem__(self, key: str, value: bytes) -> None:
        self.table[key.encode()] = value

    def __delitem__(self, key: str) -> None:
        del self.table[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return (k.decode() if isinstance(k, bytes) else k for k in list(self.table.keys()))

    def __len__(self) -> int:
        return len(self.table)

    def items(self) -> Iterator[tuple[str, bytes]]:  # type: ignore[override]
        for k, v in list(self.table.items()):
            yield (k.decode() if isinstance(k, bytes) else k), v


def changelogged_table(app: faust.App, settings: Settings, name: str, help: str) -> Any:
    """A bytes → bytes table co-partitioned with its stage's input, on a compacted changelog."""
    changelog = app.topic(
        settings.topics.name(f"{name}.changelog"),
        partitions=settings.topics.partitions,
        compacting=True,
        deleting=False,
        key_serializer="raw",
        value_serializer="raw",
    )
    return app.tables.add(
        PartitionedTable(
            app,
            name=name,
            default=None,
            partitions=settings.topics.partitions,
            key_type=bytes,
            value_type=bytes,
            changelog_topic=changelog,
            beacon=app.tables.beacon,
            help=help,
        )
    )


class _Indexed(Protocol):
    def invalidate(self) -> None: ...


Indexed = TypeVar("Indexed", bound=_Indexed)


def table_backed(
    app: faust.App, settings: Settings, name: str, help: str, build: Callable[[TableStore], Indexed]
) -> Indexed:
    """A stateful stage's domain object (the dedup window, the desk) over its
    changelogged table, whose in-memory indexes are rebuilt after a recovery."""
    table = changelogged_table(app, settings, name, help=help)
    obj = build(TableStore(table))

    async def on_recovered() -> None:
        obj.invalidate()  # indexes are rebuilt from the recovered table on next use

    table.on_recover(on_recovered)
    return obj


def app_id_for(settings: Settings) -> str:
    """One consumer group per role set: Faust assumes all members run the same agents."""
    roles = sorted(set(settings.worker.roles))
    base = settings.worker.app_id
    if roles == sorted(ROLES):
        return base
    return base + "-" + "-".join(roles)


def faust_settings(settings: Settings) -> dict[str, Any]:
    k = settings.kafka
    conf: dict[str, Any] = {
        # kafkasafe:// is Faust's aiokafka transport with trustworthy high
        # watermarks for table recovery (incidents/stream/transport.py).
        "broker": broker_urls(k.hosts()),
        "value_serializer": "raw",
        "key_serializer": "raw",
        "store": settings.worker.store,
        "datadir": str(settings.worker.data_dir),
        "topic_partitions": settings.topics.partitions,
        "topic_replication_factor": settings.topics.replication_factor,
        "broker_session_timeout": k.session_timeout_s,
        "broker_heartbeat_interval": k.heartbeat_interval_s,
        "broker_rebalance_timeout": k.rebalance_timeout_s,
        "broker_commit_interval": k.commit_interval_s,
        "consumer_auto_offset_reset": "earliest",
        # Small fetches keep partitions in step: with a backlog, 1 MB fetches let one
        # partition run a day of event time ahead of another (see docs/architecture.md).
        "consumer_max_fetch_size": 128 * 1024,
        "broker_max_poll_records": 500,
        "processing_guarantee": "at_least_once",
        # Crash-only: a crashed agent is not restarted inside the process. Faust's
        # default supervisor restarted it at once, and the new instance acked batches
        # behind the crashed one's unacked batch, which Faust then committed across.
        "agent_supervisor": mode.ForfeitOneForOneSupervisor,
        "producer_acks": -1,
        "web_enabled": True,
        "web_bind": settings.worker.web_host,
        "web_port": settings.worker.web_port,
        "web_host": settings.worker.web_host,
        "table_cleanup_interval": 3600.0,
        "stream_wait_empty": True,
        "worker_redirect_stdouts": False,
    }
    if settings.faults.skip_file is not None:
        # Fault injection only: fetches of a few record batches leave records in the log
        # that the consumer has not fetched yet, so the skip has something to skip. With
        # 128 KiB fetches Apache Kafka hands a whole backlog over in one fetch and the
        # skip never finds a partition to make its hole in.
        conf["consumer_max_fetch_size"] = 2048
    if k.security_protocol != "PLAINTEXT":
        if k.sasl_mechanism:
            context = ssl.create_default_context(cafile=str(k.ssl_cafile) if k.ssl_cafile else None)
            conf["broker_credentials"] = faust.SASLCredentials(
                username=k.sasl_username or "",
                password=k.sasl_password.get_secret_value() if k.sasl_password else "",
                ssl_context=context if k.security_protocol == "SASL_SSL" else None,
                mechanism=k.sasl_mechanism,
            )
        else:
            conf["broker_credentials"] = ssl.create_default_context(
                cafile=str(k.ssl_cafile) if k.ssl_cafile else None
            )
    return conf


#: Registers the agents of the given roles (incidents/agents: ``register_roles``). Handed
#: in by the worker, so this module needs nothing of the agents, which build on it.
RegisterRoles = Callable[[faust.App, WorkerRuntime, Iterable[str]], None]


def create_app(settings: Settings, register: RegisterRoles) -> tuple[faust.App, WorkerRuntime]:
    app = faust.App(app_id_for(settings), **faust_settings(settings))
    app.librdkafka_conf = settings.kafka.librdkafka()  # type: ignore[attr-defined]  # for the high-watermark probe
    rt = WorkerRuntime(settings=settings, app=app, topics=Topics.from_settings(settings))
    app.incidents_offsets = rt.offsets  # type: ignore[attr-defined]  # the transport counts expiries
    register_web(app, rt)
    register_lag(app, rt.inputs, settings)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # stub wants *args handlers
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        rt.offsets.forget_positions()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        rt.offsets.forget_positions()
        for guard in rt.guards.values():
            guard.reset()  # the dead-letter limit counts per partition, from the assignment
        names = sorted(f"{base_name(tp.topic, settings)}:{tp.partition}" for tp in assigned)
        log.info("partitions_assigned", count=len(names), partitions=" ".join(names[:60]))

    register(app, rt, settings.worker.roles)
    # After the stages declared their series: crashes of earlier processes add to them.
    rt.health.crash_file = settings.worker.data_dir / f"{app.conf.id}.crashes.json"
    metrics.restore(rt.health.crash_file)
    return app, rt


def register_web(app: faust.App, rt: WorkerRuntime) -> None:
    """The health pages (incidents/stream/health.py) and read-only SQL on the warehouse."""
    register_pages(app, rt.health, rt.settings)

    @app.page("/query")
    class Query(View):
        """Read-only SQL on the embedded ClickHouse this worker owns (loopback only)."""

        async def post(self, request: Any) -> Any:
            if rt.warehouse is None:
                return self.json({"error": "this worker does not run the sink"}, status=404)
            peer = request.remote or ""
            if peer not in ("127.0.0.1", "::1", "localhost"):
                return self.json({"error": "loopback only"}, status=403)
            body = await request.json()
            sql = str(body.get("sql", "")).strip().rstrip(";")
            if not sql.lower().startswith(("select", "with", "show", "describe", "exists")):
                return self.json({"error": "read-only: SELECT/WITH/SHOW/DESCRIBE only"}, status=400)
            try:
                cols, rows = await rt.in_executor(rt.warehouse.query, sql, body.get("parameters"))
            except Exception as exc:
                return self.json({"error": str(exc)}, status=400)
            return self.json({"columns": cols, "rows": [list(map(_jsonable, r)) for r in rows]})


def _jsonable(v: Any) -> Any:
    if isinstance(v, int | float | str | bool) or v is None:
        return v
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return str(v)
