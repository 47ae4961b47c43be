"""Local fake platform APIs for connector tests: aiohttp on 127.0.0.1, in a thread.

Each fake answers in the format the platform documents publicly (request
parameters, envelopes, error objects, pagination). The live APIs cannot be
reached from the build machines, so these fakes are the platform as far as
the tests know it: they were written from the public documentation, not
recorded from live traffic. Every fake serves its fixtures at most
``page_cap`` items a page, so the small fixtures span several pages, records
each call, and plays injected faults (an error object, an HTTP status, a body
that is not JSON) on the next calls of a method.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from incidents.kafka.embedded import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "connectors" / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class Fault:
    status: int = 200
    json_body: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> web.Response:
        if self.body is not None:
            return web.Response(status=self.status, body=self.body, headers=self.headers)
        return web.json_response(self.json_body, status=self.status, headers=self.headers)


class FakeServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.faults: dict[str, list[Fault]] = defaultdict(list)
        self.lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.delay_s = 0.0  # every answer waits this long (to kill a connector mid-round)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> web.Application:  # pragma: no cover - each fake defines it
        raise NotImplementedError

    def inject(self, method: str, *faults: Fault) -> None:
        with self.lock:
            self.faults[method].extend(faults)

    def take_fault(self, method: str) -> Fault | None:
        with self.lock:
            return self.faults[method].pop(0) if self.faults[method] else None

    def record(self, method: str, params: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append((method, dict(params)))

    def called(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [p for m, p in self.calls if m == method]

    def start(self) -> FakeServer:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def up() -> None:
                self._runner = web.AppRunner(self.app(), access_log=None)
                await self._runner.setup()
                await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

            loop.run_until_complete(up())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())  # type: ignore[union-attr]
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def pause(self) -> None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)


def page(items: list[Any], offset: int, count: int, cap: int) -> list[Any]:
    return items[offset : offset + min(count, cap)]


# --------------------------------------------------------------------- VK
class FakeVk(FakeServer):
    """POST /method/<name> with form parameters, answers {"response": ...} or {"error": ...}."""

    def __init__(self, token: str = "vk-service-token", page_cap: int = 4) -> None:
        super().__init__()
        self.token = token
        self.page_cap = page_cap
        self.walls: dict[int, list[dict[str, Any]]] = {
            int(k): v for k, v in fixture("vk_wall.json").items()
        }
        self.comments: dict[tuple[int, int], list[dict[str, Any]]] = {
            (int(k.rsplit("_", 1)[0]), int(k.rsplit("_", 1)[1])): v
            for k, v in fixture("vk_comments.json").items()
        }
        self.search: list[dict[str, Any]] = fixture("vk_search.json")
        self.created: dict[str, dict[str, Any]] = {}  # guid -> comment
        self.next_comment_id = 90000

    def add_post(self, owner: int, post: dict[str, Any]) -> None:
        with self.lock:
            wall = self.walls[owner]
            pinned = [p for p in wall if p.get("is_pinned")]
            rest = [p for p in wall if not p.get("is_pinned")]
            self.walls[owner] = [*pinned, post, *rest]

    @staticmethod
    def error(code: int, msg: str) -> Fault:
        return Fault(
            json_body={"error": {"error_code": code, "error_msg": msg, "request_params": []}}
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/method/{name}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        form = dict(await request.post())
        self.record(name, form)
        await self.pause()
        fault = self.take_fault(name)
        if fault is not None:
            return fault.response()
        if form.get("access_token") != self.token:
            return self.error(5, "User authorization failed: invalid access_token (4).").response()
        if "v" not in form:
            return self.error(8, "Invalid request: v (version) is required").response()
        handler: dict[str, Callable[[dict[str, Any]], Any]] = {
            "wall.get": self.wall_get,
            "wall.getComments": self.wall_get_comments,
            "newsfeed.search": self.newsfeed_search,
            "wall.createComment": self.create_comment,
        }
        if name not in handler:
            return self.error(3, "Unknown method passed").response()
        try:
            return web.json_response({"response": handler[name](form)})
        except LookupError as exc:
            return self.error(15, f"Access denied: {exc}").response()

    def wall_get(self, form: dict[str, Any]) -> Any:
        owner = int(form["owner_id"])
        with self.lock:
            wall = list(self.walls[owner])
        offset, count = int(form.get("offset", 0)), int(form.get("count", 20))
        return {"count": len(wall), "items": page(wall, offset, count, self.page_cap)}

    def wall_get_comments(self, form: dict[str, Any]) -> Any:
        """Comments of a post with their threads, as VK answers: `thread.items` holds the
        first `thread_items_count` replies (none without it); `comment_id` lists one
        thread's replies instead."""
        key = (int(form["owner_id"]), int(form["post_id"]))
        with self.lock:
            items = [dict(c) for c in self.comments.get(key, [])]
        if form.get("comment_id"):
            parent = next((c for c in items if str(c.get("id")) == form["comment_id"]), None)
            if parent is None:
                raise LookupError(f"no comment {form['comment_id']}")
            items = list((parent.get("thread") or {}).get("items", []))
        else:
            inline = int(form.get("thread_items_count", 0) or 0)
            for c in items:
                if isinstance(c.get("thread"), dict):
                    replies = c["thread"].get("items", [])
                    c["thread"] = {**c["thread"], "items": replies[:inline]}
        if form.get("sort", "asc") != "asc":
            items = list(reversed(items))
        offset, count = int(form.get("offset", 0)), int(form.get("count", 10))
        return {
            "count": len(items),
            "current_level_count": len(items),
            "can_post": 1,
            "show_reply_button": 1,
            "items": page(items, offset, count, self.page_cap),
        }

    def newsfeed_search(self, form: dict[str, Any]) -> Any:
        start_time = int(form.get("start_time", 0))
        items = sorted(
            (p for p in self.search if p["date"] >= start_time),
            key=lambda p: (-p["date"], p["id"]),
        )
        offset = int(form.get("start_from", 0) or 0)
        chunk = page(items, offset, int(form.get("count", 30)), self.page_cap)
        out: dict[str, Any] = {"items": chunk, "count": len(items), "total_count": len(items)}
        if offset + len(chunk) < len(items):
            out["next_from"] = str(offset + len(chunk))
        return out

    def create_comment(self, form: dict[str, Any]) -> Any:
        guid = form.get("guid")
        with self.lock:
            if guid and guid in self.created:  # VK: a repeated guid does not post again
                return {"comment_id": self.created[guid]["id"]}
            self.next_comment_id += 1
            comment = {"id": self.next_comment_id, **form}
            self.created[guid or str(self.next_comment_id)] = comment
            return {"comment_id": self.next_comment_id}


# --------------------------------------------------------------------- OK
class FakeOk(FakeServer):
    """POST /fb.do: signed form requests; errors as {"error_code", "error_msg", "error_data"}."""

    def __init__(
        self,
        app_key: str = "CBAFKLMNEBABABABA",
        secret: str = "0123456789ABCDEF0123456789ABCDEF",
        token: str = "tkn1a2b3c4d5e6f",
        page_cap: int = 3,
        reply_method: str = "discussions.testComment",
    ) -> None:
        super().__init__()
        self.app_key, self.secret, self.token = app_key, secret, token
        self.page_cap = page_cap
        self.reply_method = reply_method
        groups = fixture("ok_group.json")
        self.topics: dict[str, list[dict[str, Any]]] = {g: v["topics"] for g, v in groups.items()}
        self.users = {g: v["users"] for g, v in groups.items()}
        self.comments: dict[str, list[dict[str, Any]]] = fixture("ok_comments.json")
        self.posted: list[dict[str, Any]] = []

    @staticmethod
    def error(code: int, msg: str) -> Fault:
        return Fault(json_body={"error_code": code, "error_msg": msg, "error_data": None})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/fb.do", self.handle)
        return app

    def expected_sig(self, form: dict[str, str]) -> str:
        secret = hashlib.md5((self.token + self.secret).encode()).hexdigest()
        pairs = "".join(
            f"{k}={form[k]}"
            for k in sorted(form)
            if k not in ("sig", "access_token", "session_key")
        )
        return hashlib.md5((pairs + secret).encode()).hexdigest()

    async def handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        method = form.get("method", "")
        self.record(method, form)
        await self.pause()
        fault = self.take_fault(method)
        if fault is not None:
            return fault.response()
        if form.get("application_key") != self.app_key:
            return self.error(101, "PARAM_API_KEY : Invalid application key").response()
        if form.get("access_token") != self.token:
            return self.error(102, "PARAM_SESSION_EXPIRED : Session expired").response()
        if form.get("sig") != self.expected_sig(form):
            return self.error(104, "PARAM_SIGNATURE : Invalid signature").response()
        if method == "mediatopic.getTopics":
            return web.json_response(self.get_topics(form))
        if method == "discussions.getComments":
            return web.json_response(self.get_comments(form))
        if method == self.reply_method:
            self.posted.append(form)
            return web.json_response({"id": f"c{len(self.posted)}"})
        return self.error(3, "METHOD : Method does not exist").response()

    def get_topics(self, form: dict[str, str]) -> Any:
        topics = self.topics.get(form["gid"], [])
        offset = int(form.get("anchor", "0") or 0)
        chunk = page(topics, offset, int(form.get("count", 20)), self.page_cap)
        end = offset + len(chunk)
        return {
            "media_topics": chunk,
            "entities": {"users": self.users.get(form["gid"], [])},
            "anchor": str(end),
            "has_more": end < len(topics),
        }

    def get_comments(self, form: dict[str, str]) -> Any:
        items = self.comments.get(form["discussionId"], [])
        offset = int(form.get("anchor", "0") or 0)
        chunk = page(items, offset, int(form.get("count", 20)), self.page_cap)
        end = offset + len(chunk)
        return {
            "comments": chunk,
            "discussionId": form["discussionId"],
            "discussionType": form.get("discussionType"),
            "anchor": str(end),
            "has_more": end < len(items),
        }


# --------------------------------------------------------------- Telegram
class FakeTelegram(FakeServer):
    """POST /bot<token>/<method> with JSON; answers {"ok": true, "result": ...} or an error."""

    def __init__(self, token: str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", page_cap: int = 3):
        super().__init__()
        self.token = token
        self.page_cap = page_cap
        self.updates: list[dict[str, Any]] = fixture("telegram_updates.json")
        self.sent: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] | None = None

    @staticmethod
    def error(code: int, description: str, retry_after: int | None = None) -> Fault:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return Fault(status=code, json_body=body)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await request.json() if request.can_read_body else {}
        self.record(method, params)
        await self.pause()
        fault = self.take_fault(method)
        if fault is not None:
            return fault.response()
        if request.match_info["token"] != self.token:
            return self.error(401, "Unauthorized").response()
        if method == "getUpdates":
            if self.webhook:
                return self.error(
                    409, "Conflict: can't use getUpdates method while webhook is active"
                ).response()
            offset = params.get("offset")
            with self.lock:
                if offset is not None:  # confirms every update below offset
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                result = self.updates[: min(int(params.get("limit", 100)), self.page_cap)]
            return web.json_response({"ok": True, "result": result})
        if method == "sendMessage":
            with self.lock:
                self.sent.append(params)
                mid = 90000 + len(self.sent)
            return web.json_response(
                {
                    "ok": True,
                    "result": {
                        "message_id": mid,
                        "chat": {"id": params["chat_id"]},
                        "text": params["text"],
                    },
                }
            )
        if method == "setWebhook":
            self.webhook = params
            return web.json_response({"ok": True, "result": True, "description": "Webhook was set"})
        return self.error(404, "Not Found").response()


# ------------------------------------------------------------------ portal
class FakePortal(FakeServer):
    """GET /api/v1/appeals?limit=&cursor= (bearer token) → {"data": {"items", "next_cursor"}}."""

    def __init__(self, token: str = "pos-operator-token", page_cap: int = 3) -> None:
        super().__init__()
        self.token = token
        self.page_cap = page_cap
        self.items: list[dict[str, Any]] = fixture("portal_pos.json")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/appeals", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.record("appeals", q)
        await self.pause()
        fault = self.take_fault("appeals")
        if fault is not None:
            return fault.response()
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "invalid_token"}, status=401)
        offset = int(q.get("cursor", "c0")[1:] or 0)
        with self.lock:
            chunk = page(self.items, offset, int(q.get("limit", 50)), self.page_cap)
            end = offset + len(chunk)
            nxt = f"c{end}" if end < len(self.items) else None
        return web.json_response(
            {"data": {"items": chunk, "next_cursor": nxt, "total": len(self.items)}}
        )


# --------------------------------------------------------------------- RSS
class FakeFeeds(FakeServer):
    """GET /rss.xml and /atom.xml with ETag / If-None-Match."""

    def __init__(self) -> None:
        super().__init__()
        self.files = {
            "/rss.xml": (FIXTURES / "tverlife.rss.xml").read_bytes(),
            "/atom.xml": (FIXTURES / "nsk.atom.xml").read_bytes(),
        }

    def etag(self, path: str) -> str:
        return '"' + hashlib.sha1(self.files[path]).hexdigest()[:16] + '"'

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{name}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.record(path, dict(request.headers))
        await self.pause()
        fault = self.take_fault(path)
        if fault is not None:
            return fault.response()
        if path not in self.files:
            return web.Response(status=404)
        tag = self.etag(path)
        if request.headers.get("If-None-Match") == tag:
            return web.Response(status=304, headers={"ETag": tag})
        ctype = "application/rss+xml" if path.endswith("rss.xml") else "application/atom+xml"
        return web.Response(body=self.files[path], headers={"ETag": tag, "Content-Type": ctype})
