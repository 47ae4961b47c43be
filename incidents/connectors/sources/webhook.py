"""HTTP webhook receiver: RawMention JSON from anything we have no connector for.

``POST /mentions`` with ``Authorization: Bearer <token>`` (one of
``INCIDENTS_CONNECTORS_WEBHOOK_TOKENS``) and a body that is one RawMention
object or a JSON array of them. Each is validated with the same msgspec
decoder the pipeline uses; a mention without ``region_hint`` from a
registered source gets the registry's. Answers:

- 202 ``{"accepted": n}`` once the broker has acknowledged every mention;
- 400 ``{"error": ..., "accepted": n, "rejected": [{"index", "error"}]}`` when
  some are invalid: the valid ones are published, the invalid ones become
  dead letters (stage ``connector:webhook``) with the reason, so a sender
  that retries the whole request changes nothing (ids are deterministic);
- 401 without a valid token, 413 for a body over ``WEBHOOK_MAX_BYTES``,
  503 when the broker did not acknowledge (retry later).
"""

from __future__ import annotations

import hmac
from typing import Any

import msgspec
from aiohttp import web

from incidents.config.connectors import ConnectorSettings
from incidents.connectors.base import ConnectorRuntime, FatalError
from incidents.connectors.registry import Registry
from incidents.contracts.models import RawMention
from incidents.kafka.producer import PublishError
from incidents.observability import connectors as metrics


def _decode(item: Any) -> RawMention:
    return msgspec.convert(item, RawMention)


def _tokens(conf: ConnectorSettings) -> list[bytes]:
    tokens = [t.get_secret_value().encode() for t in conf.webhook_tokens]
    if not tokens:
        raise FatalError(
            "INCIDENTS_CONNECTORS_WEBHOOK_TOKENS is not set: the webhook accepts only "
            "authenticated senders (comma-separated bearer tokens)"
        )
    return tokens


def check(conf: ConnectorSettings, registry: Registry) -> None:
    """The connector's own settings, before anything connects: one line, exit 2."""
    _tokens(conf)


def routes(app: web.Application, rt: ConnectorRuntime) -> None:
    tokens = _tokens(rt.conf)

    def authorized(request: web.Request) -> bool:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        g = given.strip().encode()
        return any(hmac.compare_digest(g, t) for t in tokens)

    async def receive(request: web.Request) -> web.Response:
        if not authorized(request):
            metrics.ERRORS.labels(rt.name, "unauthorized").inc()
            return web.json_response(
                {"error": "missing or wrong bearer token"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            metrics.ERRORS.labels(rt.name, "too_large").inc()
            return web.json_response(
                {"error": f"body larger than {rt.conf.webhook_max_bytes} bytes"}, status=413
            )
        try:
            parsed = msgspec.json.decode(body)
        except UnicodeDecodeError as exc:
            return await _reject_all(rt, body, "invalid_encoding", f"not UTF-8: {exc}")
        except msgspec.DecodeError as exc:
            return await _reject_all(rt, body, "invalid_json", f"not JSON: {exc}")
        batch = parsed if isinstance(parsed, list) else [parsed]
        metrics.FETCHED.labels(rt.name).inc(len(batch))
        accepted = 0
        rejected: list[dict[str, Any]] = []
        for i, item in enumerate(batch):
            try:
                m = _decode(item)
            except msgspec.ValidationError as exc:
                raw = msgspec.json.encode(item)
                mid = (
                    item.get("id")
                    if isinstance(item, dict) and isinstance(item.get("id"), str)
                    else None
                )
                rt.dead_letter(raw, "schema", f"RawMention: {exc}", mid)
                rejected.append({"index": i, "error": str(exc)})
                continue
            if m.region_hint is None:
                entry = rt.registry.lookup(m.platform, m.source.id)
                if entry is not None:
                    m = msgspec.structs.replace(m, region_hint=entry.region)
            rt.publish_mention(m)
            accepted += 1
        try:
            await rt.flush()
        except PublishError as exc:
            metrics.ERRORS.labels(rt.name, "broker").inc()
            rt.log.error("publish_failed", error=str(exc)[:300])
            return web.json_response({"error": "broker unavailable, retry later"}, status=503)
        rt.published += accepted
        metrics.PUBLISHED.labels(rt.name).inc(accepted)
        rt.succeeded()
        if rejected:
            return web.json_response(
                {
                    "error": f"{len(rejected)} of {len(batch)} mentions are invalid",
                    "accepted": accepted,
                    "rejected": rejected,
                },
                status=400,
            )
        return web.json_response({"accepted": accepted}, status=202)

    app.router.add_post("/mentions", receive)


async def _reject_all(rt: ConnectorRuntime, body: bytes, kind: str, reason: str) -> web.Response:
    metrics.FETCHED.labels(rt.name).inc()
    rt.dead_letter(body, kind, reason)
    try:
        await rt.flush()
    except PublishError:
        return web.json_response({"error": "broker unavailable, retry later"}, status=503)
    return web.json_response({"error": reason, "accepted": 0}, status=400)
