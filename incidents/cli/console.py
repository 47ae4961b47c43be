"""`incidents console` (serve) and `incidents console hash-password`.

``incidents.cli.main.build_parser`` calls :func:`register`. A wrong users file, a demo
login on a public address or an unreachable broker ends in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import signal
import sys
from typing import Any

from incidents.config.command import Failure, UsageError, add_connect_timeout, wait_for_kafka
from incidents.config.settings import load_settings
from incidents.console.auth import Directory, UsersError, hash_password
from incidents.domain.places.gazetteer import Gazetteer
from incidents.domain.understanding.routing import RoutingTable
from incidents.kafka.producer import MentionProducer


def register(sub: Any) -> None:
    sp = sub.add_parser(
        "console",
        help="the operator console: a web desk over the incident topics (docs/console.md)",
        description="Serve the operator console: queue, incident cards, actions as "
        "IncidentCommand/OfficialResponse messages, search. Settings: INCIDENTS_CONSOLE_* "
        "(docs/console.md). `hash-password` prints a password hash for the users file.",
    )
    sp.add_argument(
        "action",
        nargs="?",
        choices=["serve", "hash-password"],
        default="serve",
        help="serve (default), or hash-password: read a password (stdin or prompt) and print "
        "its scrypt hash",
    )
    add_connect_timeout(sp, 30.0)
    sp.set_defaults(fn=cmd_console)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_console(args: argparse.Namespace) -> int:
    if args.action == "hash-password":
        if sys.stdin.isatty():
            password = getpass.getpass("password: ")
            if getpass.getpass("again: ") != password:
                raise UsageError("the two passwords differ")
        else:
            password = sys.stdin.readline().rstrip("\n")
        if len(password) < 8:
            raise UsageError("a password of at least 8 characters, please")
        print(hash_password(password))
        return 0

    from incidents.observability import logs  # lazy: structlog

    s = load_settings()
    c = s.console
    try:
        directory = Directory.load(c.users_file)
    except UsersError as exc:
        raise UsageError(f"INCIDENTS_CONSOLE_USERS_FILE: {exc}") from None
    if directory.demo and c.auth == "local" and not _loopback(c.web_host):
        raise UsageError(
            "INCIDENTS_CONSOLE_USERS_FILE: the built-in demo users (password `demo`) work on a "
            f"loopback address only, not on {c.web_host}; give the console your own users file"
        )
    logs.configure(s.log, s.loglevel)
    wait_for_kafka(s.kafka, timeout=args.connect_timeout)
    try:
        asyncio.run(serve(s, directory))
    except OSError as exc:
        raise Failure(f"console cannot listen on {c.web_host}:{c.web_port}: {exc}") from None
    return 0


def make_console(s: Any, directory: Any, follow: bool = True) -> Any:
    """The console's parts over the real topics (also what tests and benchmarks start)."""
    from incidents.console.follow import Follower  # lazy: the desk
    from incidents.console.view import DeskView  # lazy: the desk
    from incidents.console.web import Console  # lazy: aiohttp, jinja2, the desk

    view = DeskView(
        sla=s.sla,
        timezone_of=lambda region, municipality: Gazetteer.default().timezone(region, municipality),
        clock=s.console.clock,
        regions=_regions(directory),
    )
    producer = MentionProducer(s.kafka, client_id="incidents-console")

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        def send() -> None:
            producer.publish(topic, value, key=key)
            producer.flush(15)

        await asyncio.get_running_loop().run_in_executor(None, send)

    con = Console(
        settings=s,
        view=view,
        directory=directory,
        routing=RoutingTable.load(s.enrich.routing_file),
        publish=publish,
    )
    if follow:
        con.follower = Follower(s, view)
    return con


def _regions(directory: Any) -> frozenset[str] | None:
    """What the view keeps: the regions some user may see (None: all, when one sees all)."""
    if directory.groups and any(r is None for _, r in directory.groups.values()):
        return None
    out: set[str] = set()
    for u in directory.users.values():
        if u.regions is None:
            return None
        out |= u.regions
    for _, regions in directory.groups.values():
        out |= regions or set()
    return frozenset(out)


async def serve(s: Any, directory: Any) -> None:
    from aiohttp import web  # lazy: aiohttp

    from incidents.console.web import build_app  # lazy: aiohttp, jinja2, the desk
    from incidents.observability import logs  # lazy: structlog

    log = logs.get("console")
    con = make_console(s, directory)
    app = build_app(con)
    # The access log names the peer, the request line, status and time: never a cookie,
    # a header or a form field (passwords and tokens travel there).
    runner = web.AppRunner(app, access_log_format='%a "%r" %s %Tfs')
    await runner.setup()
    site = web.TCPSite(runner, s.console.web_host, s.console.web_port)
    await site.start()
    port = s.console.web_port
    for sock in getattr(site._server, "sockets", None) or []:  # the chosen port for port 0
        port = sock.getsockname()[1]
        break
    log.info(
        "console listening",
        url=f"http://{s.console.web_host}:{port}",
        auth=s.console.auth,
        users=len(directory.users),
        demo_users=directory.demo,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
