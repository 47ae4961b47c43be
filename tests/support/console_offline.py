"""The console over the desk's own output without a broker: the sample (or any posts) run
through the very enrich + desk code of the stream (OfflinePipeline), fed into a DeskView,
served by the real aiohttp app on a loopback port. Published actions are captured, not
sent, so tests can read exactly what the console would put on the topics."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from incidents.config.settings import Settings
from incidents.console.auth import Directory
from incidents.console.view import DeskView
from incidents.console.web import Console, build_app
from incidents.domain.desk.records import Outcome
from incidents.domain.places.gazetteer import Gazetteer
from incidents.domain.understanding.routing import RoutingTable
from incidents.stream.offline import OfflinePipeline


def run_offline(settings: Settings, lines: Iterable[bytes], view: DeskView) -> OfflinePipeline:
    def feed(out: Outcome) -> None:
        for inc in out.incidents:
            view.apply_incident(inc)
        for ev in out.events:
            view.apply_event(ev)
        for m in out.mentions:
            view.apply_mention(m)

    pipeline = OfflinePipeline(settings, on_outcome=feed)
    for _ in pipeline.run(lines):
        pass
    return pipeline


def new_view(settings: Settings, regions: frozenset[str] | None = None) -> DeskView:
    return DeskView(
        sla=settings.sla,
        timezone_of=lambda r, m: Gazetteer.default().timezone(r, m),
        clock=settings.console.clock,
        regions=regions,
    )


@dataclass
class Server:
    """The console app on a loopback port, in a thread with its own event loop."""

    con: Console
    url: str = ""
    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None

    def start(self) -> Server:
        ready = threading.Event()

        def run() -> None:
            from aiohttp import web

            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            runner = web.AppRunner(build_app(self.con))
            self.loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}"
            self._runner = runner
            ready.set()
            self.loop.run_forever()
            self.loop.run_until_complete(runner.cleanup())

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(30)
        return self

    def call(self, fn: Any) -> Any:
        """Run `fn()` on the server's loop (the view is only touched there)."""
        assert self.loop is not None
        fut = asyncio.run_coroutine_threadsafe(_as_coro(fn), self.loop)
        return fut.result(30)

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self.thread is not None:
            self.thread.join(30)


async def _as_coro(fn: Any) -> Any:
    return fn()


def make_server(settings: Settings, view: DeskView, users: Path | None = None) -> Server:
    sent: list[tuple[str, bytes, bytes]] = []

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        sent.append((topic, key, value))

    con = Console(
        settings=settings,
        view=view,
        directory=Directory.load(users),
        routing=RoutingTable.load(),
        publish=publish,
    )
    srv = Server(con, sent=sent)
    return srv.start()


class Client:
    """A browser-like HTTP client: cookies kept, redirects followed, CSRF read from pages."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf: str | None = None

    def request(
        self,
        path: str,
        data: dict[str, Any] | list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as resp:
                text = resp.read().decode()
                status, final = resp.status, resp.geturl()
        except urllib.error.HTTPError as err:
            text = err.read().decode()
            status, final = err.code, err.geturl()
        m = re.search(r'name="csrf" value="([^"]+)"', text)
        if m:
            self.csrf = m.group(1)
        return status, text, final

    def get(self, path: str) -> tuple[int, str, str]:
        return self.request(path)

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]]) -> tuple[int, str, str]:
        if isinstance(data, dict):
            data = {"csrf": self.csrf or "", **data}
        else:
            data = [("csrf", self.csrf or ""), *data]
        return self.request(path, data)

    def login(self, name: str, password: str = "demo") -> tuple[int, str, str]:
        return self.request("/login", {"name": name, "password": password, "next": "/"})


def decode(value: bytes) -> dict[str, Any]:
    return json.loads(value)
