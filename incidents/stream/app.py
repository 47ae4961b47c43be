"""The Faust application: configuration, shared runtime, web endpoints.

Agents live in ``incidents/stream/agents/`` (one thin module per stage) and build on this
module; the worker registers them by role through :func:`create_app`'s
``register``, so nothing here imports them. Everything they share (settings,
topics, domain objects, health) is in :class:`Runtime`, passed explicitly.

Choices that make "nothing lost" hold on Faust (see docs/operations.md):
- every topic is subscribed as raw bytes and decoded inside a per-message
  try, so a bad message becomes a dead letter instead of an exception Faust
  acks and swallows;
- agents run with concurrency 1 (faust #606: concurrency > 1 can commit past a
  message still in flight);
- every agent works in batches and awaits the broker's acknowledgement of
  everything it produced before the batch is acked, so a committed offset
  always means its outputs are durable;
- an agent that crashes crashes the worker (exit code 1, /healthz 503)
  instead of leaving it alive but idle.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
import mode
from faust.types import TP, EventT
from faust.web import View

from incidents.config.settings import ROLES, Settings
from incidents.contracts.models import DeadLetter, encode
from incidents.domain.desk.records import GivenUp
from incidents.kafka.dlq import DlqGuard, DlqLimitExceeded, dead_letter, dlq_headers
from incidents.kafka.producer import MentionProducer
from incidents.kafka.topics import Topics
from incidents.observability import metrics
from incidents.observability.logs import get as get_logger
from incidents.stream.transport import HoleProbe, broker_urls

log = get_logger("incidents.stream.app")
AgentFn = Callable[[Any], Awaitable[None]]

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


@dataclass
class Runtime:
    """What the agents of one worker share."""

    settings: Settings
    app: faust.App
    topics: Topics
    worker: Any = None
    crashed: dict[str, str] = field(default_factory=dict)
    on_crash: Callable[[], None] | None = None  # the worker's watchdog (incidents/stream/worker.py)
    started: set[str] = field(default_factory=set)
    inputs: set[str] = field(default_factory=set)  # topics the agents consume (full names)
    crash_file: Path | None = None  # where the crash counters outlive the process
    guards: dict[str, DlqGuard] = field(default_factory=dict)
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink")
    )
    handles: dict[str, Any] = field(default_factory=dict)
    desk: Any = None
    dedup: Any = None
    warehouse: Any = None
    _outbox: MentionProducer | None = None
    _positions: list[dict[tuple[str, int], int]] = field(default_factory=list)
    #: Every offset jump on a gapless topic is a hole (the embedded broker: it has
    #: skipped records, and nothing there writes transactions). False on Apache Kafka,
    #: where a jump can be a transaction marker: there the hole is checked (``hole``).
    strict_gaps: bool = True
    _probe: HoleProbe | None = None
    _probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _skipping: bool = False
    #: committed offset per partition whose expired records were already counted
    _expired_at: dict[tuple[str, int], int] = field(default_factory=dict)

    def topic(self, name: str) -> faust.TopicT:
        return self.app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=self.settings.topics.partitions,
        )

    def declare(self, stage: str, inputs: Iterable[str], outputs: Iterable[str]) -> None:
        """The topics a stage reads and writes (full names), at registration.

        Its counters start at 0 for each of them (incidents/observability/metrics.py), and consumer
        lag is reported for its inputs only: not for the desk's changelog, which
        the worker writes and reads only to recover, nor Faust's assignor topic.
        """
        inputs = list(inputs)
        self.inputs.update(inputs)
        metrics.declare_stage(
            stage,
            [self.base(t) for t in inputs],
            [self.base(t) for t in outputs],
            [self.base(t) for t in inputs if self.gapless(t)],
        )
        outside = self.topics.from_outside()
        metrics.declare_outside_inputs(stage, [self.base(t) for t in inputs if t in outside])

    def base(self, topic: str) -> str:
        """A topic's name without the deployment prefix: what metric labels carry."""
        return _base(topic, self.settings)

    def gapless(self, topic: str) -> bool:
        """Offsets cannot have holes: neither compacted nor transactional."""
        return topic not in self.topics.compacted()

    def batches(self, stream: Any, size: int, within: float) -> AsyncIterator[list[EventT]]:
        """`batches` with this worker's offset tracking (compacted topics may have holes)."""
        positions: dict[tuple[str, int], int] = {}
        self._positions.append(positions)
        return batches(
            stream,
            size,
            within,
            positions,
            self.gapless,
            start_of=self.start_of,
            base=self.base,
            hole=None if self.settings.faults.unguarded else self.hole,
        )

    async def hole(self, topic: str, partition: int, start: int, end: int) -> bool:
        """Whether the offsets ``[start, end)`` the consumer jumped over held records it
        should have read: a hole, which the worker must not commit across.

        On the embedded broker every jump is one (``strict_gaps``). On Apache Kafka a
        jump is normal where the offsets hold no record for a consumer: transaction
        markers (a transactional producer upstream: one offset per commit or abort),
        and records that retention deleted before anyone read them (counted as
        expired, as at the head of a partition). Anything else is read again by an
        independent consumer from ``start``: a record found below ``end`` is a hole.
        When the check itself fails, the jump counts as a hole (restarting is safe).
        """
        if self.strict_gaps:
            return True
        earliest = await self.log_start(topic, partition)
        if earliest is not None and earliest > start:
            self.expired(topic, partition, start, min(earliest, end))
            start = earliest
            if start >= end:
                return False
        async with self._probe_lock:
            probe = self.probe()
            try:
                first = await asyncio.to_thread(probe.first_offset, topic, partition, start, end)
            except Exception as exc:
                log.warning(
                    "offset_jump_unchecked",
                    topic=topic,
                    partition=partition,
                    expected=start,
                    got=end,
                    error=str(exc)[:300],
                )
                return True
        if first is not None:
            return True
        metrics.OFFSETS_WITHOUT_RECORDS.labels(self.base(topic)).inc(end - start)
        log.info(
            "offsets_without_records",
            topic=topic,
            partition=partition,
            expected=start,
            got=end,
            hint="transaction markers: nothing was skipped",
        )
        return False

    def probe(self) -> HoleProbe:
        if self._probe is None:
            self._probe = HoleProbe(self.settings.kafka.librdkafka())
        return self._probe

    async def log_start(self, topic: str, partition: int) -> int | None:
        """A partition's first offset, from the probe's own client (not Faust's consumer
        thread: see ``HoleProbe.log_start``); None when the broker did not answer."""
        async with self._probe_lock:
            try:
                return await asyncio.to_thread(self.probe().log_start, topic, partition)
            except Exception as exc:
                log.warning(
                    "earliest_offset_unknown",
                    topic=topic,
                    partition=partition,
                    error=str(exc)[:200],
                )
                return None

    async def start_of(self, topic: str, partition: int, offset: int) -> int | None:
        """Where reading a partition must start after an assignment: its committed offset.

        Faust sought there when the partition was assigned and keeps the figure;
        None when nothing was committed yet (or before the seek). When the first
        record read is past the committed offset, the records in between are
        either gone (retention deleted them before anyone read them: nothing to
        wait for, said in the log) or were skipped (an offset gap).
        """
        tp = TP(topic, partition)
        consumer: Any = self.app.consumer
        # Faust's own record of the committed offsets, filled by its seek on assignment.
        committed = consumer._committed_offset.get(tp)
        if committed is None or offset <= committed:
            # None: nothing committed yet, or Faust has not sought yet (records of
            # a new assignment can arrive before its seek fills the figure, and
            # aiokafka then reads from the committed offset it fetched itself).
            # Not checked: telling the two apart costs a round trip of the
            # consumer thread (~1.5 s a partition here) on every first read. A
            # partition with nothing committed is rewound to its log start by
            # the transport (incidents/stream/transport.py).
            return committed
        earliest = await self.log_start(topic, partition)
        if earliest is None:  # unknown: the committed offset stands
            return committed
        if earliest > committed:
            self.expired(topic, partition, committed, earliest)
            return earliest
        return committed

    def expired(self, topic: str, partition: int, committed: int, log_start: int) -> None:
        """Records retention deleted before this group read them: counted and logged once
        per partition and committed offset, whoever sees it first (the seek to the
        committed offsets, incidents/stream/transport.py, or the first record, ``start_of``)."""
        if self._expired_at.get((topic, partition)) == committed:
            return
        self._expired_at[(topic, partition)] = committed
        metrics.EXPIRED_UNREAD.labels(self.base(topic)).inc(log_start - committed)
        log.warning(
            "records_expired_unread",
            topic=topic,
            partition=partition,
            committed=committed,
            log_start=log_start,
            hint="retention deleted them before this group read them",
        )

    def forget_positions(self) -> None:
        """After a rebalance, each partition's next record is held to its committed
        offset again (``start_of``), not to where this process had read."""
        for positions in self._positions:
            positions.clear()

    def count_in(self, stage: str, event: EventT) -> None:
        metrics.MESSAGES_IN.labels(stage, _base(event.message.topic, self.settings)).inc()

    def guard(self, stage: str) -> DlqGuard:
        if stage not in self.guards:
            self.guards[stage] = DlqGuard(
                stage,
                self.settings.dlq,
                outside=self.topics.from_outside(),
                label=self.base,
            )
        return self.guards[stage]

    @property
    def outbox(self) -> MentionProducer:
        """librdkafka producer for every output (Faust's own send costs ~0.4 ms a message)."""
        if self._outbox is None:
            linger = 10_000 if self.settings.faults.lossy else 5
            self._outbox = MentionProducer(
                self.settings.kafka, client_id=f"{self.app.conf.id}-outbox", **{"linger.ms": linger}
            )
        return self._outbox

    def inject_faults(self, events: Iterable[EventT]) -> None:
        """Fault injection (off by default): a crash on a marked batch, a one-off offset gap."""
        marker = self.settings.faults.crash_marker
        if marker and any(marker.encode() in (ev.message.value or b"") for ev in events):
            raise RuntimeError(f"fault injection: crash marker {marker!r} in the batch")
        gap = self.settings.faults.gap_file
        if gap is not None and events and gap.exists():
            gap.unlink(missing_ok=True)
            msg = next(iter(events)).message
            raise OffsetGap(f"{msg.topic}[{msg.partition}]: fault injection: gap file {gap}")
        skip = self.settings.faults.skip_file
        if skip is not None and events and not self._skipping and skip.exists():
            msg = next(iter(events)).message
            only = _read_text(skip)
            if only and _base(msg.topic, self.settings) != only:
                return
            self._skipping = True
            self.handles["skip"] = asyncio.ensure_future(
                self._skip_ahead(TP(msg.topic, msg.partition), skip)
            )

    async def _skip_ahead(self, tp: TP, flag: Path, records: int = 3) -> None:
        """Fault injection: seek the consumer past records it has not fetched yet, so
        they are in the log but never reach the agent (a real hole, made by the client).
        Waits for a partition with more than ``records`` unfetched records."""
        try:
            consumer: Any = self.app.consumer
            position = await consumer.position(tp)
            high = consumer.highwater(tp)
            if position is None or high is None or position + records >= high:
                return
            flag.unlink(missing_ok=True)
            log.warning(
                "fault_injection_skip",
                topic=tp.topic,
                partition=tp.partition,
                skipped_from=position,
                to=position + records,
            )
            await consumer.seek(tp, position + records)
        finally:
            self._skipping = False

    def send(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        stage: str,
        headers: dict[str, bytes] | None = None,
    ) -> None:
        self.outbox.publish(topic, value, key=key, headers=headers)
        metrics.MESSAGES_OUT.labels(stage, _base(topic, self.settings)).inc()

    async def settle(self) -> None:
        """Wait until the broker acknowledged everything produced so far (before acking a batch)."""
        if self.settings.faults.lossy:
            return  # the negative control: ack first, deliver later (or never)
        if self._outbox is not None:
            await asyncio.to_thread(self._outbox.flush, 120.0)

    def dead_letter(
        self,
        stage: str,
        event: EventT,
        kind: str,
        reason: str,
        mention_id: str | None = None,
        value: bytes | None = None,
    ) -> None:
        """Dead-letter the event's bytes as they arrived (``value``: one mention's bytes
        out of a batch message, which is what a replay must send back)."""
        msg = event.message
        headers = dict(msg.headers or [])
        replayed = headers.get("dlq.replayed", b"0")
        self._dead_letter(
            dead_letter(
                stage=stage,
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                value=msg.value if value is None else value,
                key=msg.key,
                error_kind=kind,
                reason=reason,
                mention_id=mention_id,
                replayed=int(replayed) if replayed.isdigit() else 0,
            ),
            msg.key,
        )

    def given_up(self, stage: str, g: GivenUp) -> None:
        """Dead-letter an input a stage held and gave up on later (an answer whose post
        never came). It names the topic the bytes arrived on, so `incidents dlq replay`
        sends them back there; its position there is not known (partition and offset 0)."""
        topic = self.topics.named(g.source)
        self._dead_letter(
            dead_letter(
                stage=stage,
                topic=topic,
                partition=0,
                offset=0,
                value=g.original,
                key=g.key,
                error_kind=g.kind,
                reason=g.reason,
            ),
            g.key,
        )

    def _dead_letter(self, d: DeadLetter, key: bytes | None) -> None:
        self.send(self.topics.dlq, key or d.dlq_id.encode(), encode(d), d.stage, dlq_headers(d))
        metrics.DLQ.labels(d.stage, d.error_kind).inc()
        log.warning(
            "dead_letter",
            stage=d.stage,
            topic=d.topic,
            partition=d.partition,
            offset=d.offset,
            error_kind=d.error_kind,
            reason=d.reason[:300],
            mention_id=d.mention_id,
        )

    async def in_executor(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def supervised(self, stage: str) -> Callable[[AgentFn], AgentFn]:
        """Wrap an agent body: a crash marks the worker unhealthy and stops it (exit 1)."""

        def wrap(fn: AgentFn) -> AgentFn:
            @functools.wraps(fn)
            async def agent(stream: Any) -> None:
                try:
                    await fn(stream)
                except asyncio.CancelledError:
                    raise
                except BaseException as exc:
                    await self.on_agent_error(stage, exc)
                    raise

            return agent

        return wrap

    async def on_agent_error(self, stage: str, exc: BaseException) -> None:
        self.crashed[stage] = f"{type(exc).__name__}: {exc}"
        metrics.AGENT_UP.labels(stage).set(0)
        reason = _crash_reason(exc)
        metrics.crashed(stage, reason)
        log.error("agent_crashed", stage=stage, reason=reason, error=str(exc)[:500], exc_info=exc)
        if self.crash_file is not None:
            try:
                metrics.save(self.crash_file)
            except OSError as err:  # a read-only disk must not hide the crash itself
                log.warning("crash_counters_not_saved", path=str(self.crash_file), error=str(err))
        if self.on_crash is not None:
            self.on_crash()
        if self.worker is not None:
            # Crash-only: a worker with a dead agent must not look alive.
            await self.worker.crash(exc)


def _crash_reason(exc: BaseException) -> str:
    """The `reason` label of a crash (metrics.CRASH_REASONS)."""
    if isinstance(exc, DlqLimitExceeded):
        return "dlq_limit"
    if isinstance(exc, OffsetGap):
        return "offset_gap"
    return "error"


def _base(topic: str, s: Settings) -> str:
    return (
        topic[len(s.topics.prefix) :]
        if s.topics.prefix and topic.startswith(s.topics.prefix)
        else topic
    )


class OffsetGap(RuntimeError):
    """Records were skipped on a topic where offsets cannot have holes: restart, do not commit."""


async def _every_jump_is_a_hole(topic: str, partition: int, start: int, end: int) -> bool:
    return True


async def batches(
    stream: Any,
    size: int,
    within: float,
    positions: dict[tuple[str, int], int] | None = None,
    gapless: Callable[[str], bool] = lambda topic: True,
    start_of: Callable[[str, int, int], Awaitable[int | None]] | None = None,
    base: Callable[[str], str] = lambda topic: topic,
    hole: Callable[[str, int, int, int], Awaitable[bool]] | None = _every_jump_is_a_hole,
) -> AsyncIterator[list[EventT]]:
    """Batches of events, acked only after the agent's body finished with them.

    Two Faust behaviours can make "acked" differ from "processed", and both
    are handled here:
    - Faust's ``take``/``take_events`` (and plain ``async for``) ack in a
      ``finally``: when their generator is closed while the body is in the
      middle of a batch (the body raised, the stream stops), the events count as
      done. Here the ack runs after the ``yield``, which is reached only when
      the body completed.
    - Faust takes any jump in a partition's offsets for a compaction gap and
      later commits across it. On a topic that is neither compacted nor
      transactional a jump means records were dropped (we saw it around
      rebalances); the batch then raises OffsetGap *before* acking anything past
      the hole, the worker restarts and resumes from the committed offset. The
      first record of a partition after an assignment is held to ``start_of``
      (the committed offset): a hole at the head is a hole too.
    - ``hole`` decides whether a jump skipped records (``Runtime.hole``: on Apache
      Kafka, offsets of transaction markers hold no record); None turns the check
      off (the negative control, ``INCIDENTS_FAULTS_UNGUARDED``).
    """
    # Next expected offset per partition; the runtime clears it when partitions
    # are revoked or assigned, and the first record after that is held to where
    # reading had to start.
    expected = positions if positions is not None else {}
    async for events in stream.noack_take(size, within=within):
        for ev in events:
            msg = ev.message
            key = (msg.topic, msg.partition)
            want = expected.get(key)
            if want is None and start_of is not None and gapless(msg.topic):
                want = await start_of(msg.topic, msg.partition, msg.offset)
            if (
                hole is not None
                and want is not None
                and msg.offset > want
                and gapless(msg.topic)
                and await hole(msg.topic, msg.partition, want, msg.offset)
            ):
                metrics.OFFSET_GAPS.labels(base(msg.topic)).inc()
                raise OffsetGap(
                    f"{msg.topic}[{msg.partition}]: expected offset {want}, got {msg.offset}; "
                    "restarting from the committed offset instead of committing past the hole"
                )
            expected[key] = msg.offset + 1
        yield events
        for event in events:
            await stream.ack(event)


def observe_batch(stage: str, started: float, n: int) -> None:
    if n:
        per = (time.perf_counter() - started) / n
        hist = metrics.STAGE_LATENCY.labels(stage)
        for _ in range(n):
            hist.observe(per)


#: Registers the agents of the given roles (incidents/agents: ``register_roles``). Handed
#: in by the worker, so this module needs nothing of the agents, which build on it.
RegisterRoles = Callable[[faust.App, "Runtime", Iterable[str]], None]


def create_app(settings: Settings, register: RegisterRoles) -> tuple[faust.App, Runtime]:
    app = faust.App(app_id_for(settings), **faust_settings(settings))
    app.librdkafka_conf = settings.kafka.librdkafka()  # type: ignore[attr-defined]  # for the high-watermark probe
    rt = Runtime(settings=settings, app=app, topics=Topics.from_settings(settings))
    app.incidents_runtime = rt  # type: ignore[attr-defined]  # the transport counts expiries
    _register_web(app, rt)
    _register_lag(app, rt)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # stub wants *args handlers
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        rt.forget_positions()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        rt.forget_positions()
        for guard in rt.guards.values():
            guard.reset()  # the dead-letter limit counts per partition, from the assignment
        names = sorted(f"{_base(tp.topic, settings)}:{tp.partition}" for tp in assigned)
        log.info("partitions_assigned", count=len(names), partitions=" ".join(names[:60]))

    register(app, rt, settings.worker.roles)
    # After the stages declared their series: crashes of earlier processes add to them.
    rt.crash_file = settings.worker.data_dir / f"{app.conf.id}.crashes.json"
    metrics.restore(rt.crash_file)
    return app, rt


def _register_lag(app: faust.App, rt: Runtime) -> None:
    """Consumer lag per assigned partition of the topics the agents consume, from the
    high watermark of fetch responses.

    The embedded broker under-reports ListOffsets (docs/operations.md), but the
    watermark it returns with fetched records is right, and that is what
    aiokafka caches; partitions not fetched yet report nothing.
    """
    shown: set[tuple[str, str]] = set()

    @app.timer(15.0)
    async def consumer_lag() -> None:
        consumer = app.consumer
        now: set[tuple[str, str]] = set()
        for tp in consumer.assignment():
            if tp.topic not in rt.inputs:
                continue  # the desk's changelog, Faust's assignor topic
            try:
                high = consumer.highwater(tp)
                pos = await consumer.position(tp)
            except Exception:  # not fetched yet, or revoked meanwhile
                continue
            if high is None or pos is None:
                continue
            labels = (_base(tp.topic, rt.settings), str(tp.partition))
            metrics.CONSUMER_LAG.labels(*labels).set(max(0, high - pos))
            now.add(labels)
        for labels in shown - now:
            metrics.CONSUMER_LAG.remove(*labels)
        shown.clear()
        shown.update(now)


def liveness(rt: Runtime) -> tuple[int, dict[str, Any]]:
    if rt.crashed:
        return 503, {"status": "crashed", "agents": rt.crashed}
    return 200, {"status": "ok", "agents": sorted(rt.started)}


def _register_web(app: faust.App, rt: Runtime) -> None:
    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        """Liveness: fails when any agent crashed (Kubernetes restarts the pod)."""
        code, body = liveness(rt)
        return web.json(body, status=code)

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        ready = not rt.crashed and app.rebalancing is False and bool(rt.started)
        return web.json({"ready": ready}, status=200 if ready else 503)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(metrics.render(), content_type="text/plain; version=0.0.4")

    @app.page("/status")
    async def status(web: Any, request: Any) -> Any:
        return web.json(status_snapshot(rt))

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


def _counter_total(counter: Any, by: Iterable[str] = ()) -> dict[str, float]:
    out: dict[str, float] = {}
    for mf in counter.collect():
        for s in mf.samples:
            if not s.name.endswith("_total"):
                continue
            label = "/".join(s.labels.get(b, "") for b in by) or "all"
            out[label] = out.get(label, 0.0) + s.value
    return out


def _assignment(rt: Runtime) -> list[str]:
    try:
        tps = rt.app.consumer.assignment()
    except Exception:  # consumer not started yet
        return []
    return sorted(f"{_base(tp.topic, rt.settings)}:{tp.partition}" for tp in tps)


def status_snapshot(rt: Runtime) -> dict[str, Any]:
    return {
        "app_id": rt.app.conf.id,
        "roles": rt.settings.worker.roles,
        "agents": sorted(rt.started),
        "crashed": rt.crashed,
        "rebalancing": bool(rt.app.rebalancing),
        "assignment": _assignment(rt),
        "messages_in": _counter_total(metrics.MESSAGES_IN, ["stage", "topic"]),
        "messages_out": _counter_total(metrics.MESSAGES_OUT, ["stage", "topic"]),
        "mentions": _counter_total(metrics.MENTIONS, ["status"]),
        "dlq": _counter_total(metrics.DLQ, ["stage"]),
        "sink_rows": _counter_total(metrics.SINK_ROWS, ["table"]),
        "sink_skipped": _counter_total(metrics.SINK_SKIPPED, ["table"]),
        "sink_errors": _counter_total(metrics.SINK_ERRORS, ["table"]),
    }


def _read_text(path: Path) -> str:
    """A fault flag's content (a topic's base name, or nothing); "" once it is gone."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""
