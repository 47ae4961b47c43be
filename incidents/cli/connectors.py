"""`incidents connect NAME` and `incidents replies`: one process per source kind.

``incidents.cli.main.build_parser`` calls :func:`register`. A bad token or setting
ends the process with one line and exit code 2 (``ConfigError``); a broker
that cannot be reached ends it with exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

from incidents.config.command import (
    Failure,
    UsageError,
    add_connect_timeout,
    seconds,
    wait_for_kafka,
)
from incidents.config.connectors import load_connector_settings
from incidents.config.settings import ConfigError, load_settings
from incidents.connectors.cursor import CursorStore
from incidents.connectors.sources.file import replay_csv, replay_file
from incidents.kafka.producer import MentionProducer, PublishError
from incidents.kafka.topics import Topics, ensure_topics
from incidents.observability import connectors as metrics

CONNECTORS = ("vk", "ok", "telegram", "portal", "rss", "webhook", "file")


def register(sub: Any) -> None:
    sp = sub.add_parser(
        "connect",
        help="run a connector: vk, ok, telegram, portal, rss, webhook, or replay files",
        description="Poll a platform (or receive webhooks) and publish RawMention v1 to "
        "mentions.raw. Settings: INCIDENTS_CONNECTORS_* (docs/connectors.md). The "
        "connector's own settings (token, registry) are checked before Kafka.",
    )
    sp.add_argument("name", choices=CONNECTORS, help="which connector")
    sp.add_argument("files", nargs="*", help="for `file`: JSONL or CSV files (.gz allowed)")
    sp.add_argument("--once", action="store_true", help="one polling round, then exit")
    add_connect_timeout(sp)
    sp.set_defaults(fn=cmd_connect)

    sp = sub.add_parser(
        "replies",
        help="post answers from replies.outbound to VK/OK/Telegram (dry-run unless enabled)",
        description="Post the answers on replies.outbound to VK, OK and Telegram, once each; "
        "platforms not in INCIDENTS_CONNECTORS_REPLIES_LIVE are dry-run (docs/connectors.md).",
    )
    sp.add_argument(
        "--idle-exit",
        type=seconds,
        metavar="S",
        help="exit after S seconds without replies (batch runs; default: run until stopped)",
    )
    add_connect_timeout(sp)
    sp.set_defaults(fn=cmd_replies)


def _load() -> tuple[Any, Any, Any]:
    from incidents.connectors.registry import load_registry  # lazy: the gazetteer
    from incidents.observability import logs  # lazy: structlog

    settings = load_settings()
    conf = load_connector_settings()
    logs.configure(settings.log, settings.loglevel)
    registry = load_registry(conf.registry_file)
    return settings, conf, registry


def cmd_connect(args: argparse.Namespace) -> int:
    from incidents.connectors.base import FatalError  # lazy: aiohttp, tenacity

    if args.name == "file":
        if not args.files:
            raise UsageError("connect file: name one or more JSONL or CSV files")
        for f in args.files:
            if Path(f).is_dir():
                raise UsageError(f"{f} is a directory: give JSONL or CSV files")
            if not Path(f).is_file():
                raise UsageError(f"no such file: {f}")
    elif args.files:
        raise UsageError(f"connect {args.name}: takes no file arguments")
    settings, conf, registry = _load()
    if args.name != "file":
        try:  # a missing token or an empty registry is said before Kafka is even asked
            _module(args.name).check(conf, registry)
        except FatalError as exc:
            raise ConfigError(f"connect {args.name}: {exc}") from None
    wait_for_kafka(settings.kafka, args.connect_timeout)
    ensure_topics(settings)
    producer = MentionProducer(settings.kafka, client_id=f"incidents-connector-{args.name}")
    try:
        if args.name == "file":
            return _replay_files(settings, producer, [Path(f) for f in args.files])
        return asyncio.run(_run_connector(args.name, settings, conf, registry, producer, args.once))
    except FatalError as exc:
        raise ConfigError(f"connect {args.name}: {exc}") from None
    except PublishError as exc:
        raise Failure(f"connect {args.name}: {exc}") from None


def _replay_files(settings: Any, producer: Any, paths: list[Path]) -> int:
    raw = Topics.from_settings(settings).raw
    for path in paths:
        is_csv = path.name.removesuffix(".gz").endswith(".csv")
        n = replay_csv(producer, path, raw) if is_csv else replay_file(producer, path, raw)
        print(f"{path}: published {n} lines to {raw}", file=sys.stderr)
    return 0


async def _run_connector(
    name: str, settings: Any, conf: Any, registry: Any, producer: Any, once: bool
) -> int:
    from incidents.connectors.base import (  # lazy: aiohttp, tenacity
        ConnectorRuntime,
        FatalError,
        install_signal_handlers,
        poll_forever,
        serve,
        web_app,
    )

    rt = ConnectorRuntime(
        name=name,
        settings=settings,
        conf=conf,
        registry=registry,
        producer=producer,
        store=CursorStore.for_connector(conf.state_dir, name),
    )
    install_signal_handlers(rt)
    app = web_app(rt)
    closers: list[Any] = []
    sources: list[Any] | None = None
    try:
        if name == "webhook":
            from incidents.connectors.sources import webhook  # lazy: aiohttp, tenacity

            webhook.routes(app, rt)
        elif name == "telegram" and conf.telegram_mode == "webhook":
            from incidents.connectors.sources import telegram  # lazy: aiohttp, tenacity

            telegram.webhook_routes(app, rt)
            api = telegram.TelegramApi(conf)
            closers.append(api)
            await telegram.set_webhook(api, conf)
        else:
            client, sources = _module(name).build_sources(rt)
            closers.append(client)
        runner = await serve(app, conf.web_host, conf.web_port)
        rt.log.info("connector_started", sources=len(sources or []), port=conf.web_port)
        try:
            if sources is not None:
                await poll_forever(rt, sources, once=once)
            else:
                await rt.stopping.wait()
        finally:
            await runner.cleanup()
    except FatalError as exc:
        rt.fatal = str(exc)
        metrics.UP.labels(name).set(0)
        rt.log.error("connector_fatal", error=str(exc))
        raise
    finally:
        for c in closers:
            await c.close()
        await asyncio.to_thread(producer.flush)
    rt.log.info("connector_stopped", published=rt.published)
    return 0


def _module(name: str) -> Any:
    return importlib.import_module(f"incidents.connectors.sources.{name}")


def cmd_replies(args: argparse.Namespace) -> int:
    from incidents.connectors.base import FatalError  # lazy: aiohttp, tenacity
    from incidents.connectors.replies import build_posters  # lazy: aiohttp, tenacity

    settings, conf, registry = _load()
    try:  # a live platform without its token is said before Kafka is even asked
        posters = build_posters(conf)
    except FatalError as exc:
        raise ConfigError(f"replies: {exc}") from None
    wait_for_kafka(settings.kafka, args.connect_timeout)
    ensure_topics(settings)
    results = Topics.from_settings(settings).reply_results
    producer = MentionProducer(settings.kafka, client_id="incidents-replies")
    try:
        return asyncio.run(
            _run_replies(settings, conf, registry, producer, posters, results, args.idle_exit)
        )
    except FatalError as exc:
        raise ConfigError(f"replies: {exc}") from None
    except PublishError as exc:
        raise Failure(f"replies: {exc}") from None


async def _run_replies(
    settings: Any,
    conf: Any,
    registry: Any,
    producer: Any,
    posters: dict[str, Any],
    results: str,
    idle_exit: float | None,
) -> int:
    from incidents.connectors.base import (  # lazy: aiohttp
        ConnectorRuntime,
        install_signal_handlers,
        serve,
        web_app,
    )
    from incidents.connectors.replies import RepliesWorker, SentStore, run_replies  # lazy: aiohttp

    rt = ConnectorRuntime(
        name="replies", settings=settings, conf=conf, registry=registry, producer=producer
    )
    install_signal_handlers(rt)
    store = SentStore(conf.state_dir / "replies.sent.sqlite")
    k = settings.kafka
    consumer = Consumer(
        {
            **k.librdkafka(),
            "group.id": conf.replies_group or f"{settings.worker.app_id}-replies",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": int(k.session_timeout_s * 1000),
            "heartbeat.interval.ms": int(k.heartbeat_interval_s * 1000),
        }
    )
    consumer.subscribe([Topics.from_settings(settings).replies])
    runner = await serve(web_app(rt), conf.web_host, conf.web_port)
    rt.log.info("replies_started", live=list(posters), results_topic=results)
    worker = RepliesWorker(rt, store, posters, results)
    try:
        await run_replies(rt, worker, consumer, idle_exit_s=idle_exit)
    finally:
        await runner.cleanup()
        for p in posters.values():
            await p.close()
        await asyncio.to_thread(producer.flush)
        consumer.close()
        store.close()
    rt.log.info("replies_stopped", posted=worker.posted)
    return 0
