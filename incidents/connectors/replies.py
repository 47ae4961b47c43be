"""Replies out: post each answer on ``replies.outbound`` under its post, once.

A consumer group (``<app id>-replies``) reads ``replies.outbound``; for every
Reply the worker

1. looks its ``reply_id`` up in the *sent-store* (SQLite under the state
   directory). A reply already handled is not posted again: its stored result
   is published again instead (a redelivery after a crash, or the desk
   re-emitting the same answer);
2. in dry-run (the default for every platform until it is listed in
   ``INCIDENTS_CONNECTORS_REPLIES_LIVE``) logs what it would post;
3. otherwise marks the reply ``sending``, posts it (VK ``wall.createComment``,
   Telegram ``sendMessage`` with ``reply_parameters``, OK the method set in
   ``OK_REPLY_METHOD``) with bounded retries, and stores the outcome;
4. publishes a :class:`ReplyResult` to ``replies.results`` and, once the broker
   has it, commits the offset.

The one ambiguous case is a crash after the platform accepted a post and
before the store recorded it: the reply is found ``sending``. VK takes a
``guid`` (we pass the reply_id) and ignores a repeated comment with the same
guid, so VK replies are simply posted again. Telegram has no such key:
posting again could answer a resident twice, so the reply is recorded
``unknown`` and left for an operator (it is on ``replies.results``).
Platforms without a reply API (ПОС, RSS, web) get ``unsupported``; ПОС answers
go through the portal's own operator interface.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from incidents.config.connectors import ConnectorSettings
from incidents.connectors.base import (
    ConnectorError,
    ConnectorRuntime,
    FatalError,
    SourceUnavailable,
    TransientError,
    retrying,
)
from incidents.connectors.sources import ok, telegram, vk
from incidents.contracts.models import Reply, ReplyResult, ReplyStatus, encode
from incidents.kafka.dlq import dead_letter, dlq_headers
from incidents.observability import connectors as metrics

DONE = ("posted", "dry_run", "failed", "unknown", "unsupported")
TELEGRAM_LIMIT = 4096


class SentStore:
    """reply_id → outcome, in SQLite (durable, one writer: this worker)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS sent (reply_id TEXT PRIMARY KEY, status TEXT NOT NULL, "
            "attempts INTEGER NOT NULL DEFAULT 0, result BLOB, updated_at REAL NOT NULL)"
        )

    def get(self, reply_id: str) -> tuple[str, int, bytes | None] | None:
        row = self.db.execute(
            "SELECT status, attempts, result FROM sent WHERE reply_id = ?", (reply_id,)
        ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def sending(self, reply_id: str) -> int:
        """Mark an attempt; returns the attempt number."""
        self.db.execute(
            "INSERT INTO sent (reply_id, status, attempts, updated_at) VALUES (?, 'sending', 1, ?) "
            "ON CONFLICT(reply_id) DO UPDATE SET status='sending', attempts=attempts+1, "
            "updated_at=excluded.updated_at",
            (reply_id, time.time()),
        )
        return int(self.get(reply_id)[1])  # type: ignore[index]

    def finish(self, result: ReplyResult) -> None:
        self.db.execute(
            "INSERT INTO sent (reply_id, status, attempts, result, updated_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT(reply_id) DO UPDATE SET status=excluded.status, "
            "result=excluded.result, updated_at=excluded.updated_at",
            (result.reply_id, result.status, result.attempts, encode(result), time.time()),
        )

    def close(self) -> None:
        self.db.close()


class PermanentFailure(ConnectorError):
    """The platform refused this reply for good (post deleted, comments closed, chat gone)."""


class Poster:
    platform = ""
    idempotent = False  # a repeated call with the same reply cannot post twice

    async def post(self, reply: Reply) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    async def close(self) -> None:
        return None


class VkPoster(Poster):
    platform = "vk"
    idempotent = True

    def __init__(self, conf: ConnectorSettings) -> None:
        self.conf = conf
        self.api = vk.VkApi(conf, connector="replies")

    async def post(self, reply: Reply) -> str:
        owner, post, comment = vk.parse_mention_id(reply.mention_id)
        resp = await self.api.call(
            "wall.createComment",
            owner_id=owner,
            post_id=post,
            message=reply.text,
            reply_to_comment=comment,
            from_group=-owner if owner < 0 and self.conf.vk_reply_from_group else None,
            guid=reply.reply_id,
        )
        cid = resp.get("comment_id") if isinstance(resp, dict) else None
        if cid is None:
            raise TransientError("wall.createComment: no comment_id in the answer", "malformed")
        return f"vk:wall{owner}_{post}?reply={cid}"

    async def close(self) -> None:
        await self.api.close()


class TelegramPoster(Poster):
    platform = "telegram"

    def __init__(self, conf: ConnectorSettings) -> None:
        self.api = telegram.TelegramApi(conf, connector="replies")

    async def post(self, reply: Reply) -> str:
        chat, message = telegram.parse_mention_id(reply.mention_id)
        chunks = [
            reply.text[i : i + TELEGRAM_LIMIT] for i in range(0, len(reply.text), TELEGRAM_LIMIT)
        ]
        first: str | None = None
        for chunk in chunks or [""]:
            result = await self.api.call(
                "sendMessage",
                chat_id=chat,
                text=chunk,
                reply_parameters={"message_id": message, "allow_sending_without_reply": True},
            )
            mid = result.get("message_id") if isinstance(result, dict) else None
            first = first or f"telegram:{chat}/{mid}"
        return first or ""

    async def close(self) -> None:
        await self.api.close()


class OkPoster(Poster):
    platform = "ok"

    def __init__(self, conf: ConnectorSettings) -> None:
        self.method = conf.ok_reply_method
        self.api = ok.OkApi(conf, connector="replies")

    async def post(self, reply: Reply) -> str:
        gid, tid, _comment = ok.parse_mention_id(reply.mention_id)
        assert self.method
        body = await self.api.call(
            self.method, discussionId=tid, discussionType="GROUP_TOPIC", text=reply.text
        )
        cid = (
            body
            if isinstance(body, str)
            else (body or {}).get("id")
            if isinstance(body, dict)
            else None
        )
        return f"ok:{gid}_{tid}?comment={cid}" if cid else f"ok:{gid}_{tid}"

    async def close(self) -> None:
        await self.api.close()


def build_posters(conf: ConnectorSettings) -> dict[str, Poster]:
    """Posters for the live platforms; a live platform without its token is a config error."""
    posters: dict[str, Poster] = {}
    for platform in conf.replies_live:
        if platform == "vk":
            posters["vk"] = VkPoster(conf)
        elif platform == "telegram":
            posters["telegram"] = TelegramPoster(conf)
        elif platform == "ok":
            if not conf.ok_reply_method:
                raise FatalError(
                    "INCIDENTS_CONNECTORS_REPLIES_LIVE lists ok, but "
                    "INCIDENTS_CONNECTORS_OK_REPLY_METHOD is not set (OK documents no public "
                    "comment method; use the one OK granted your application)"
                )
            posters["ok"] = OkPoster(conf)
    return posters


_reply = msgspec.json.Decoder(Reply)
_result = msgspec.json.Decoder(ReplyResult)


class RepliesWorker:
    def __init__(
        self, rt: ConnectorRuntime, store: SentStore, posters: dict[str, Poster], results_topic: str
    ) -> None:
        self.rt, self.store, self.posters, self.results_topic = rt, store, posters, results_topic
        self.posted = 0

    def _result(
        self,
        reply: Reply,
        status: ReplyStatus,
        attempts: int = 0,
        external_id: str | None = None,
        error: str | None = None,
    ) -> ReplyResult:
        return ReplyResult(
            reply_id=reply.reply_id,
            mention_id=reply.mention_id,
            response_id=reply.response_id,
            incident_id=reply.incident_id,
            platform=reply.platform,
            status=status,
            at=datetime.now(UTC),
            attempts=attempts,
            external_id=external_id,
            error=error,
        )

    def _emit(self, result: ReplyResult, outcome: str | None = None) -> None:
        self.rt.producer.publish(
            self.results_topic,
            encode(result),
            key=result.mention_id.encode(),
            headers={"schema": b"ReplyResult/1"},
        )
        metrics.REPLIES.labels(result.platform, outcome or result.status).inc()

    async def handle(
        self, value: bytes | None, topic: str, partition: int, offset: int, key: bytes | None
    ) -> None:
        log = self.rt.log
        try:
            reply = _reply.decode(value or b"")
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            kind = "schema" if isinstance(exc, msgspec.ValidationError) else "invalid_json"
            d = dead_letter(
                stage=self.rt.stage,
                topic=topic,
                partition=partition,
                offset=offset,
                value=value,
                key=key,
                error_kind=kind,
                reason=f"Reply: {exc}",
            )
            self.rt.producer.publish(
                self.rt.dlq_topic, encode(d), key=key or d.dlq_id.encode(), headers=dlq_headers(d)
            )
            metrics.DEAD_LETTERS.labels(self.rt.name, kind).inc()
            metrics.REPLIES.labels("unknown", "invalid").inc()
            log.warning(
                "invalid_reply",
                topic=topic,
                partition=partition,
                offset=offset,
                error=str(exc)[:300],
            )
            return
        log = log.bind(
            reply_id=reply.reply_id, mention_id=reply.mention_id, platform=reply.platform
        )
        row = self.store.get(reply.reply_id)
        if row is not None and row[0] in DONE:
            stored = _result.decode(row[2]) if row[2] else self._result(reply, row[0])  # type: ignore[arg-type]
            self._emit(stored, "duplicate")
            log.info("reply_duplicate", status=row[0])
            return
        if reply.platform not in ("vk", "ok", "telegram"):
            result = self._result(reply, "unsupported", error=f"no reply API for {reply.platform}")
            self.store.finish(result)
            self._emit(result)
            return
        poster = self.posters.get(reply.platform)
        if poster is None:
            log.info(
                "reply_dry_run",
                text=reply.text[:200],
                post_url=reply.post_url,
                source_id=reply.source_id,
            )
            result = self._result(reply, "dry_run")
            self.store.finish(result)
            self._emit(result)
            return
        if row is not None and row[0] == "sending" and not poster.idempotent:
            result = self._result(
                reply,
                "unknown",
                row[1],
                error="interrupted while posting; not posted again to avoid a double answer",
            )
            self.store.finish(result)
            self._emit(result)
            log.warning("reply_unknown", attempts=row[1])
            return
        attempts = self.store.sending(reply.reply_id)
        while True:
            try:
                external = await retrying(
                    self.rt.conf, self.rt.name, lambda: poster.post(reply), log, "post"
                )
            except FatalError:
                raise
            except SourceUnavailable as exc:
                result = self._result(reply, "failed", attempts, error=str(exc)[:500])
                break
            except TransientError as exc:
                metrics.ERRORS.labels(self.rt.name, exc.reason).inc()
                log.error("reply_retry_later", error=str(exc)[:300])
                if self.rt.stopping.is_set():
                    raise
                await asyncio.sleep(self.rt.conf.retry_max_s)
                continue
            except ValueError as exc:  # a mention id we cannot address
                result = self._result(reply, "failed", attempts, error=str(exc)[:500])
                break
            result = self._result(reply, "posted", attempts, external_id=external)
            self.posted += 1
            break
        self.rt.published = self.posted
        self.rt.maybe_crash(before_save=True)  # fault tests: posted, not yet stored
        self.store.finish(result)
        self._emit(result)
        log.info("reply_" + result.status, external_id=result.external_id, error=result.error)


async def run_replies(
    rt: ConnectorRuntime, worker: RepliesWorker, consumer: Any, idle_exit_s: float | None = None
) -> None:
    """Consume, handle, publish results, flush, commit; until stopped (or idle, for tests)."""
    idle_since = time.monotonic()
    while not rt.stopping.is_set():
        msgs = await asyncio.to_thread(consumer.consume, 100, 0.5)
        msgs = [m for m in msgs if m.error() is None]
        if not msgs:
            rt.succeeded()
            if not await asyncio.to_thread(consumer.assignment):
                idle_since = time.monotonic()  # still joining the group: not idle yet
            if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                return
            continue
        idle_since = time.monotonic()
        metrics.FETCHED.labels(rt.name).inc(len(msgs))
        for m in msgs:
            await worker.handle(m.value(), m.topic(), m.partition(), m.offset(), m.key())
        await rt.flush()
        rt.maybe_crash(before_save=False)  # fault tests: posted and stored, offsets not committed
        await asyncio.to_thread(consumer.commit, asynchronous=False)
        rt.succeeded()
