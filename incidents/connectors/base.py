"""What every connector shares: the source interface, retries, publishing, the run loop.

A polling connector is a list of :class:`Source` objects. ``poll(cursor)``
returns a :class:`Page`: the items read since the cursor, in publish order,
each carrying the cursor that resumes *right after it*, and the cursor after
the whole page. The run loop publishes items in batches, waits until the
broker has acknowledged every one (``flush``), and only then saves the cursor
of the batch's last item. So:

- nothing is lost: a cursor never moves past an item the broker does not have;
- a restart resumes after the last flushed batch, also in the middle of a
  platform page, so already-published items are not fetched again;
- the one window left is a crash after the flush and before the cursor file
  is replaced (a few milliseconds): that batch is published again on restart.
  Mention ids are deterministic (``platform:native-id``) and the pipeline
  recognises a redelivered id, so the repeat changes nothing downstream.
  That is at-least-once into Kafka, publish-once everywhere else.

Items a platform sends that cannot be mapped (missing fields, wrong types)
become dead letters on ``mentions.dlq`` (stage ``connector:<name>``) with the
item's JSON and the reason; the cursor moves past them like past any item.

Retries are bounded (tenacity: exponential backoff with full jitter, Retry-After
and the platforms' own flood signals honoured); a bad token or configuration is
a :class:`FatalError` that ends the process with one line and exit code 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import aiohttp
import msgspec
from aiohttp import web
from multidict import CIMultiDict
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base, wait_random_exponential

from incidents.config.connectors import ConnectorSettings
from incidents.config.settings import Settings
from incidents.connectors.cursor import Cursor, CursorStore
from incidents.connectors.registry import Registry, SourceEntry
from incidents.contracts.models import RawMention, encode
from incidents.kafka.dlq import dead_letter, dlq_headers
from incidents.kafka.topics import Topics
from incidents.observability import connectors as metrics
from incidents.observability import logs

T = TypeVar("T")
_MENTION_ID = re.compile(r"^[a-z]+:\S+$")


# ------------------------------------------------------------------ errors
class ConnectorError(Exception):
    """A failure with a bounded reason word for metrics."""

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason


class TransientError(ConnectorError):
    """Worth retrying: rate limits, flood control, 5xx, network, timeouts."""

    def __init__(self, message: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(message, reason)
        self.retry_after = retry_after


class MalformedResponse(TransientError):
    """A whole response that is not what the API documents (not JSON, wrong shape)."""

    def __init__(self, message: str, body: bytes) -> None:
        super().__init__(message, "malformed")
        self.body = body


class SourceUnavailable(ConnectorError):
    """This source cannot be read now (access denied, deleted, quota): skip it this round."""


class FatalError(ConnectorError):
    """Bad token or configuration: stop the connector (exit code 2) with this one line."""


# ------------------------------------------------------------------ items
@dataclass
class Fetched:
    """One platform item and the cursor that resumes right after it."""

    cursor: Cursor
    ref: str = ""
    mention: RawMention | None = None
    raw: bytes = b""
    error_kind: str | None = None
    reason: str | None = None
    skip: str | None = None

    @classmethod
    def skipped(cls, reason: str, cursor: Cursor, ref: str = "") -> Fetched:
        return cls(cursor=cursor, ref=ref, skip=reason)


@dataclass
class Page:
    items: list[Fetched]
    cursor: Cursor
    more: bool = False  # another page can be fetched right away


MapResult = RawMention | str  # a mention, or the reason to skip the item


def map_item(
    obj: Any, mapper: Callable[[Any], MapResult], cursor: Cursor, ref: str = ""
) -> Fetched:
    """Apply a platform mapper; anything it cannot read becomes a dead letter with the reason."""
    try:
        out = mapper(obj)
    except msgspec.ValidationError as exc:
        return Fetched(cursor, ref, raw=_raw(obj), error_kind="schema", reason=f"RawMention: {exc}")
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        return Fetched(cursor, ref, raw=_raw(obj), error_kind="schema", reason=detail[:500])
    if isinstance(out, str):
        return Fetched.skipped(out, cursor, ref)
    return Fetched(cursor, ref or out.id, mention=out)


def _raw(obj: Any) -> bytes:
    try:
        return msgspec.json.encode(obj)
    except Exception:
        return repr(obj).encode("utf-8", "replace")


def mention(**fields: Any) -> RawMention:
    """A validated RawMention (lengths, patterns, time zone) from plain values."""
    clean = {k: v for k, v in fields.items() if v is not None}
    return msgspec.convert(clean, RawMention, from_attributes=False)


def from_unix(ts: Any) -> datetime:
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise ValueError(f"date is not a unix time: {ts!r}")
    return datetime.fromtimestamp(ts, UTC)


def source_fields(
    entry: SourceEntry | None, native_id: str, name: str | None = None, url: str | None = None
) -> dict[str, Any]:
    """`source` and `region_hint` of a mention: from the registry when the source is known."""
    if entry is None:
        return {"source": {"id": native_id, "name": name, "url": url}}
    return {
        "source": {
            "id": native_id,
            "name": entry.name or name,
            "kind": entry.kind,
            "url": entry.url or url,
        },
        "region_hint": entry.region,
    }


class Source(Protocol):
    key: str  # stable cursor key, e.g. "vk:wall:-41237765"

    async def poll(self, cursor: Cursor | None) -> Page: ...


# ------------------------------------------------------------------ retries
class _WaitRetryAfter(wait_base):
    """Retry-After (or a platform's flood hint) when given, else jittered exponential backoff."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.maximum = maximum
        self.fallback = wait_random_exponential(multiplier=initial, max=maximum)

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        after = getattr(exc, "retry_after", None)
        if after is not None:
            return float(min(self.maximum, after) + random.uniform(0, min(1.0, after * 0.1)))
        return float(self.fallback(retry_state))


async def retrying(
    conf: ConnectorSettings,
    connector: str,
    fn: Callable[[], Awaitable[T]],
    log: Any = None,
    what: str = "",
) -> T:
    """Call fn with bounded retries on TransientError; the last error is re-raised."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        reason = getattr(exc, "reason", "error")
        metrics.ERRORS.labels(connector, reason).inc()
        if log is not None:
            log.warning(
                "retrying",
                what=what,
                attempt=state.attempt_number,
                reason=reason,
                error=str(exc)[:300],
                sleep_s=round(state.upcoming_sleep, 2),
            )

    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(conf.retry_attempts),
        wait=_WaitRetryAfter(conf.retry_initial_s, conf.retry_max_s),
        retry=retry_if_exception_type(TransientError),
        before_sleep=before_sleep,
        reraise=True,
    ):
        with attempt:
            return await fn()
    raise AssertionError("unreachable")  # pragma: no cover


class RateLimiter:
    """At most `per_s` requests a second from this process (spaced evenly)."""

    def __init__(self, per_s: float) -> None:
        self.interval = 1.0 / per_s
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
                now = time.monotonic()
            self._next = max(now, self._next) + self.interval


@dataclass
class HttpResponse:
    status: int
    headers: CIMultiDict[str]  # case-insensitive, as HTTP headers are
    body: bytes

    def json(self) -> Any:
        try:
            return msgspec.json.decode(self.body)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise MalformedResponse(
                f"HTTP {self.status}: body is not JSON ({exc})", self.body
            ) from None

    def body_retry_after(self) -> float | None:
        """The Bot API's `parameters.retry_after` in a 429 answer."""
        try:
            params = msgspec.json.decode(self.body).get("parameters") or {}
            return float(params["retry_after"])
        except Exception:
            return None

    def retry_after(self) -> float | None:
        value = self.headers.get("Retry-After")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class HttpClient:
    """aiohttp with a rate limit, a timeout and request metrics; errors become TransientError."""

    def __init__(
        self,
        connector: str,
        conf: ConnectorSettings,
        per_s: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.connector = connector
        self.conf = conf
        self.limiter = RateLimiter(per_s) if per_s else None
        self.headers = headers or {}
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.conf.request_timeout_s),
                headers=self.headers,
            )
        return self._session

    async def request(
        self,
        label: str,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> HttpResponse:
        if self.limiter:
            await self.limiter.wait()
        started = time.perf_counter()
        kwargs: dict[str, Any] = {"params": params, "data": data, "headers": headers}
        if json_body is not None:
            kwargs["json"] = json_body
        if timeout_s is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout_s)
        try:
            async with self.session().request(method, url, **kwargs) as resp:
                body = await resp.read()
                out = HttpResponse(resp.status, CIMultiDict(resp.headers), body)
        except TimeoutError:
            raise TransientError(f"{label}: timed out", "timeout") from None
        except aiohttp.ClientError as exc:
            raise TransientError(f"{label}: {type(exc).__name__}: {exc}", "network") from None
        finally:
            metrics.REQUESTS.labels(self.connector, label).observe(time.perf_counter() - started)
        if out.status == 429:
            after = out.retry_after() or out.body_retry_after()
            raise TransientError(f"{label}: HTTP 429", "rate_limited", after)
        if out.status >= 500:
            raise TransientError(f"{label}: HTTP {out.status}", "server", out.retry_after())
        return out

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


# ------------------------------------------------------------------ runtime
class Publisher(Protocol):
    def publish(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: dict[str, bytes] | None = None,
    ) -> None: ...

    def flush(self, timeout: float = 60.0) -> None: ...


@dataclass
class ConnectorRuntime:
    """One connector process: settings, producer, cursors, logs, health."""

    name: str
    settings: Settings
    conf: ConnectorSettings
    registry: Registry
    producer: Publisher
    store: CursorStore | None = None
    log: Any = None
    published: int = 0
    fatal: str | None = None
    started: float = field(default_factory=time.monotonic)
    last_success: float | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        topics = Topics.from_settings(self.settings)
        self.raw_topic = topics.raw
        self.dlq_topic = topics.dlq
        self.stage = f"connector:{self.name}"
        if self.log is None:
            self.log = logs.get(f"incidents.connectors.{self.name}").bind(connector=self.name)
        metrics.UP.labels(self.name).set(1)

    # publishing (synchronous, cheap: librdkafka queues)
    def publish_mention(self, m: RawMention) -> None:
        self.producer.publish(
            self.raw_topic,
            encode(m),
            key=m.id.encode("utf-8"),
            headers={"schema": b"RawMention/1", "connector": self.name.encode()},
        )

    def dead_letter(
        self, raw: bytes, error_kind: str, reason: str, mention_id: str | None = None
    ) -> None:
        d = dead_letter(
            stage=self.stage,
            topic=self.raw_topic,
            partition=0,
            offset=0,
            value=raw,
            key=mention_id.encode() if mention_id else None,
            error_kind=error_kind,
            reason=reason,
            mention_id=mention_id,
        )
        self.producer.publish(
            self.dlq_topic,
            encode(d),
            key=(mention_id or d.dlq_id).encode(),
            headers=dlq_headers(d),
        )
        metrics.DEAD_LETTERS.labels(self.name, error_kind).inc()
        self.log.warning("dead_letter", kind=error_kind, reason=reason[:300], ref=mention_id)

    async def flush(self) -> None:
        await asyncio.to_thread(self.producer.flush)

    def succeeded(self) -> None:
        self.last_success = time.monotonic()
        metrics.LAST_SUCCESS.labels(self.name).set(time.time())

    def healthy(self) -> tuple[bool, str]:
        if self.fatal:
            return False, self.fatal
        ref = self.last_success or self.started
        if time.monotonic() - ref > self.conf.stale_after_s:
            return False, f"no successful round for {time.monotonic() - ref:.0f} s"
        return True, "ok"

    # the fault hook of the restart tests (INCIDENTS_CONNECTORS_FAULT_*)
    def maybe_crash(self, before_save: bool) -> None:
        n = self.conf.fault_exit_after_items
        if n and self.published >= n and before_save == self.conf.fault_exit_before_save:
            self.log.warning("fault_exit", published=self.published, before_save=before_save)
            os._exit(137)


async def commit_batch(
    rt: ConnectorRuntime, key: str | None, items: list[Fetched], cursor: Cursor
) -> None:
    """Publish a batch, wait for the broker, then (and only then) move the source's cursor."""
    newest: datetime | None = None
    count = 0
    for it in items:
        if it.mention is not None:
            rt.publish_mention(it.mention)
            count += 1
            if newest is None or it.mention.created_at > newest:
                newest = it.mention.created_at
        elif it.error_kind is not None:
            mention_id = it.ref if _MENTION_ID.match(it.ref) else None
            rt.dead_letter(it.raw, it.error_kind, it.reason or "", mention_id)
        elif it.skip:
            metrics.SKIPPED.labels(rt.name, it.skip).inc()
    if items:
        await rt.flush()
    rt.published += count
    metrics.PUBLISHED.labels(rt.name).inc(count)
    if newest is not None:
        metrics.LAG.labels(rt.name).set(max(0.0, time.time() - newest.timestamp()))
    rt.maybe_crash(before_save=True)
    if rt.store is not None and key is not None:
        before = rt.store.saves
        rt.store.save(key, cursor)
        if rt.store.saves != before:
            metrics.CURSOR_SAVES.labels(rt.name).inc()
    rt.maybe_crash(before_save=False)


async def publish_page(rt: ConnectorRuntime, key: str, page: Page) -> int:
    metrics.FETCHED.labels(rt.name).inc(len(page.items))
    batch: list[Fetched] = []
    for it in page.items:
        batch.append(it)
        if len(batch) >= rt.conf.batch_size:
            await commit_batch(rt, key, batch, it.cursor)
            batch = []
    await commit_batch(rt, key, batch, page.cursor)
    return len(page.items)


async def drain(rt: ConnectorRuntime, src: Source) -> bool:
    """Read one source until it has nothing more (or max_pages); False when it failed."""
    assert rt.store is not None
    log = rt.log.bind(source=src.key)
    for _ in range(rt.conf.max_pages):
        if rt.stopping.is_set():
            return True
        cursor = rt.store.get(src.key)

        async def once(cursor: Cursor | None = cursor) -> Page:
            return await src.poll(cursor)

        try:
            page = await retrying(rt.conf, rt.name, once, log, what=src.key)
        except SourceUnavailable as exc:
            metrics.ERRORS.labels(rt.name, exc.reason).inc()
            log.warning("source_unavailable", reason=exc.reason, error=str(exc)[:300])
            return False
        except MalformedResponse as exc:
            metrics.ERRORS.labels(rt.name, exc.reason).inc()
            log.error("malformed_response", error=str(exc)[:300])
            rt.dead_letter(exc.body, "invalid_json", f"{src.key}: {exc}")
            await rt.flush()
            return False
        except TransientError as exc:
            metrics.ERRORS.labels(rt.name, exc.reason).inc()
            log.error("source_failed", reason=exc.reason, error=str(exc)[:300])
            return False
        n = await publish_page(rt, src.key, page)
        if n:
            log.info("page", items=n, published_total=rt.published)
        if not page.more:
            return True
    return True


def no_sources(name: str) -> FatalError:
    return FatalError(
        f"{name}: no sources to poll: add them to the registry "
        "(INCIDENTS_CONNECTORS_REGISTRY_FILE, see docs/connectors.md)"
    )


async def poll_forever(rt: ConnectorRuntime, sources: list[Source], once: bool = False) -> None:
    """Rounds over all sources; `once` stops after one round (cron, tests)."""
    if not sources:
        raise no_sources(rt.name)
    pause = 0.0 if all(getattr(s, "long_poll", False) for s in sources) else rt.conf.poll_interval_s
    while not rt.stopping.is_set():
        ok = True
        for src in sources:
            ok = await drain(rt, src) and ok
            if rt.stopping.is_set():
                break
        if ok:
            rt.succeeded()
        if once:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rt.stopping.wait(), pause or 0.001)


# ------------------------------------------------------------------ web
def web_app(rt: ConnectorRuntime) -> web.Application:
    app = web.Application(client_max_size=rt.conf.webhook_max_bytes)

    async def healthz(request: web.Request) -> web.Response:
        ok, why = rt.healthy()
        return web.json_response(
            {"connector": rt.name, "ok": ok, "detail": why, "published": rt.published},
            status=200 if ok else 503,
        )

    async def metrics_page(request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", healthz)
    app.router.add_get("/metrics", metrics_page)
    return app


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise FatalError(
            f"cannot listen on {host}:{port} (INCIDENTS_CONNECTORS_WEB_PORT): {exc.strerror}"
        ) from None
    return runner


def install_signal_handlers(rt: ConnectorRuntime) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, rt.stopping.set)
