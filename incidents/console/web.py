"""The console's web server: aiohttp, Jinja2 pages rendered on the server, a little own JS.

Every page is built from the local view (:mod:`incidents.console.view`) for the
signed-in user's regions only; every action checks role, region and input on
the server, then publishes one ``IncidentCommand`` (``incidents.commands``) or
``OfficialResponse`` (``responses``) carrying the operator's name, and the card
shows the result once the pipeline's own records say so. Templates escape every
value (post texts are untrusted); forms carry the session's CSRF token; the
session cookie is HttpOnly, SameSite=Strict and Secure; logins are rate limited.

Why this module is long: it is one aiohttp application, and each handler is short;
they share the request's security context (who is signed in, their regions, the CSRF
token, the origin check) that every page and every action must apply the same way.
Kept together so that a reviewer checks the checks in one file; the view
(``view.py``), sign-in (``auth.py``) and live updates (``follow.py``) are apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from aiohttp import web

from incidents.config.settings import Settings
from incidents.console import labels
from incidents.console.auth import (
    Directory,
    LoginLimit,
    Sessions,
    User,
    check_password,
    csrf_ok,
    hash_password,
)
from incidents.console.follow import Follower
from incidents.console.view import FILTERS, DeskView, Pending, expected_event_id, region_of
from incidents.contracts.models import (
    AssignCommand,
    MergeCommand,
    OfficialResponse,
    SplitCommand,
    StatusCommand,
    encode,
)
from incidents.domain.understanding.routing import RoutingTable
from incidents.observability import logs, metrics

log = logs.get("console.web")

HERE = Path(__file__).parent
MAX_ANSWER = 65_536
MAX_REASON = 1000
# A password check against this hash when the user does not exist, so that a wrong
# name takes as long as a wrong password (no user enumeration by timing).
_DUMMY_HASH = hash_password(secrets.token_hex(8))

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def safe_url(url: str | None) -> str | None:
    """A post's link only when it is http(s): a `javascript:` link from a post is text."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


@dataclass
class Console:
    """Everything the handlers share."""

    settings: Settings
    view: DeskView
    directory: Directory
    routing: RoutingTable
    publish: Callable[[str, bytes, bytes], Awaitable[None]]
    follower: Follower | None = None
    sessions: Sessions = field(init=False)
    limit: LoginLimit = field(init=False)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    tick: asyncio.Condition = field(default_factory=asyncio.Condition)
    header_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def __post_init__(self) -> None:
        c = self.settings.console
        self.sessions = Sessions(c.session_hours * 3600)
        self.limit = LoginLimit(c.login_attempts, c.login_window_s)

    @property
    def cookie(self) -> str:
        # `__Host-` binds the cookie to this host, path / and HTTPS (browsers enforce it)
        secure = self.settings.console.cookie_secure
        return "__Host-incidents-console" if secure else "incidents-console"

    @property
    def loaded(self) -> bool:
        return self.follower is None or self.follower.loaded


@dataclass
class Who:
    user: User
    csrf: str
    token: str | None  # the session token (local auth); None with header auth


CONSOLE = web.AppKey("console", Console)
WHO = web.RequestKey("who", Who)


# ------------------------------------------------------------------ templates
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every {{ value }} is escaped: post texts are untrusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(label=labels.label, duration=labels.duration, safe_url=safe_url)
    return env


_ENV = _environment()


def render(template: str, status: int = 200, **ctx: Any) -> web.Response:
    html = _ENV.get_template(template).render(**ctx)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def not_found() -> web.HTTPNotFound:
    """The same answer for an incident of another region as for one that does not exist."""
    html = _ENV.get_template("error.html").render(
        title="Не найдено", message="Такого инцидента нет в ваших регионах."
    )
    return web.HTTPNotFound(text=html, content_type="text/html")


# ------------------------------------------------------------------ middlewares
@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    resp = await handler(request)
    h = resp.headers
    h.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/static/"):
        h.setdefault("Cache-Control", "no-store")
    return resp


_OPEN_PATHS = ("/login", "/static/", "/healthz", "/readyz", "/metrics")


def _peer_trusted(request: web.Request, trusted: list[str]) -> bool:
    peer = request.remote or ""
    for entry in trusted:
        try:
            if ipaddress.ip_address(peer) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _who(request: web.Request) -> Who | None:
    con: Console = request.app[CONSOLE]
    c = con.settings.console
    if c.auth == "header":
        if not _peer_trusted(request, c.trusted_proxies):
            return None
        name = request.headers.get(c.auth_user_header, "").strip()
        if not name:
            return None
        groups = [g.strip() for g in request.headers.get(c.auth_groups_header, "").split(",")]
        user = con.directory.header_user(name, [g for g in groups if g])
        if user is None:
            return None
        csrf = hmac.new(con.header_secret, name.encode(), "sha256").hexdigest()
        return Who(user, csrf, None)
    token = request.cookies.get(con.cookie)
    session = con.sessions.get(token)
    if session is None:
        return None
    return Who(session.user, session.csrf, token)


def _same_origin(request: web.Request) -> bool:
    """A POST from another site is refused before anything else (with SameSite and CSRF
    tokens, a third lock on the door)."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    try:
        return urlsplit(origin).netloc == request.host
    except ValueError:
        return False


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "POST" and not _same_origin(request):
        return web.Response(status=403, text="cross-site request refused")
    if request.path.startswith(_OPEN_PATHS):
        return await handler(request)
    who = _who(request)
    if who is None:
        con: Console = request.app[CONSOLE]
        if con.settings.console.auth == "header":
            return web.Response(status=401, text="no user named by the authenticating proxy")
        if request.method == "GET" and not request.path.startswith("/live"):
            raise web.HTTPSeeOther("/login?" + urlencode({"next": request.path_qs}))
        return web.Response(status=401, text="sign in first")
    if request.method == "POST":
        form = await request.post()
        given = form.get("csrf")
        if not csrf_ok(who.csrf, given if isinstance(given, str) else None):
            return web.Response(status=403, text="CSRF token missing or wrong: reload the page")
    request[WHO] = who
    return await handler(request)


# ------------------------------------------------------------------ login
def _next(target: str | None) -> str:
    """Only a path of this site (never `//evil` or a full URL) after login."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def login_page(request: web.Request) -> web.StreamResponse:
    con: Console = request.app[CONSOLE]
    if con.settings.console.auth == "header":
        raise web.HTTPSeeOther("/")
    return render("login.html", next=_next(request.query.get("next")), error=None, name="")


async def login(request: web.Request) -> web.StreamResponse:
    con: Console = request.app[CONSOLE]
    form = await request.post()
    name = str(form.get("name", "")).strip()[:128]
    password = str(form.get("password", ""))
    target = _next(str(form.get("next", "/")))
    keys = ("user:" + name, "addr:" + (request.remote or "?"))
    wait = con.limit.blocked_for(*keys)
    if wait > 0:
        metrics.CONSOLE_LOGINS.labels("limited").inc()
        log.warning("login limited", user=name, remote=request.remote)
        msg = f"Слишком много неудачных попыток. Повторите через {labels.duration(wait + 59)}."
        return render("login.html", status=429, next=target, error=msg, name=name)
    user = con.directory.users.get(name)
    stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
    loop = asyncio.get_running_loop()
    ok = await loop.run_in_executor(None, check_password, password, stored)
    if not ok or user is None or not user.password_hash:
        con.limit.failed(*keys)
        metrics.CONSOLE_LOGINS.labels("wrong").inc()
        log.info("login failed", user=name, remote=request.remote)
        return render(
            "login.html", status=401, next=target, error="Неверное имя или пароль.", name=name
        )
    con.limit.succeeded(name)
    token = con.sessions.open(user)
    metrics.CONSOLE_LOGINS.labels("ok").inc()
    log.info("login", user=name, role=user.role, remote=request.remote)
    resp = web.HTTPSeeOther(target)
    resp.set_cookie(
        con.cookie,
        token,
        httponly=True,
        secure=con.settings.console.cookie_secure,
        samesite="Strict",
        path="/",
        max_age=int(con.settings.console.session_hours * 3600),
    )
    raise resp


async def logout(request: web.Request) -> web.StreamResponse:
    con: Console = request.app[CONSOLE]
    who: Who = request[WHO]
    con.sessions.close(who.token)
    resp = web.HTTPSeeOther("/login")
    resp.del_cookie(con.cookie, path="/")
    raise resp


# ------------------------------------------------------------------ pages
def _ctx(request: web.Request, **extra: Any) -> dict[str, Any]:
    con: Console = request.app[CONSOLE]
    who: Who = request[WHO]
    return {
        "user": who.user,
        "csrf": who.csrf,
        "loaded": con.loaded,
        "header_auth": con.settings.console.auth == "header",
        "q": request.query.get("q", ""),
        **extra,
    }


def _filters(request: web.Request) -> dict[str, str]:
    return {k: request.query[k][:300] for k in FILTERS if request.query.get(k)}


def _tz(con: Console, region: str | None, municipality: str | None) -> Any:
    return con.view.calendar(region, municipality).tz


def _queue_ctx(request: web.Request) -> dict[str, Any]:
    con: Console = request.app[CONSOLE]
    who: Who = request[WHO]
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    size = con.settings.console.page_size
    filters = _filters(request)
    q = con.view.queue(who.user.regions, filters, limit=size, offset=(page - 1) * size)
    return {
        "queue": q,
        "filters": filters,
        "filter_names": FILTERS,
        "page": page,
        "pages": max(1, -(-q.total // size)),
        "query_string": urlencode(filters),
        "tz": lambda inc: _tz(con, inc.region, inc.municipality),
        "local_time": labels.local_time,
        "regions": con.view.regions_of(who.user.regions),
    }


async def queue_page(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    resp = render("queue.html", **_ctx(request, **_queue_ctx(request)))
    metrics.CONSOLE_PAGE.labels("queue").observe(time.perf_counter() - started)
    return resp


async def queue_rows(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    resp = render("_queue.html", **_ctx(request, **_queue_ctx(request)))
    metrics.CONSOLE_PAGE.labels("rows").observe(time.perf_counter() - started)
    return resp


def _incident_id(request: web.Request) -> str:
    return f"{request.match_info['region']}/{request.match_info['hex']}"


def _agencies(con: Console, user: User, inc: Any) -> list[str]:
    """The agencies a user may assign this incident to: the routing table's for its
    municipality (operators), for any municipality of its region (supervisors)."""
    out = con.routing.agencies(inc.region, inc.municipality, whole_region=user.can("assign_any"))
    suggested = con.routing.route(inc.category, inc.region, inc.municipality, inc.problem)
    if suggested in out:
        out.remove(suggested)
        out.insert(0, suggested)
    return out


def _card_ctx(request: web.Request, error: str | None = None) -> dict[str, Any]:
    con: Console = request.app[CONSOLE]
    who: Who = request[WHO]
    iid = _incident_id(request)
    card = con.view.card(iid, who.user.regions)
    if card is None:
        raise not_found()
    inc = card.incident
    return {
        "card": card,
        "inc": inc,
        "error": error,
        "tz": _tz(con, inc.region, inc.municipality),
        "local_time": labels.local_time,
        "agencies": _agencies(con, who.user, inc) if who.user.can("assign") else [],
        "merge_targets": (con.view.merge_targets(inc)[:200] if who.user.can("merge") else []),
        "suggested": con.routing.route(inc.category, inc.region, inc.municipality, inc.problem),
        "open": inc.status not in ("closed", "rejected", "merged_into"),
        "now": con.view.now(region_of(inc.id)),
    }


async def card_page(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    resp = render("card.html", **_ctx(request, **_card_ctx(request)))
    metrics.CONSOLE_PAGE.labels("card").observe(time.perf_counter() - started)
    return resp


async def card_body(request: web.Request) -> web.StreamResponse:
    return render("_card.html", **_ctx(request, **_card_ctx(request)))


async def search_page(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    con: Console = request.app[CONSOLE]
    who: Who = request[WHO]
    q = request.query.get("q", "").strip()[:300]
    hits, total = con.view.search(q, who.user.regions) if q else ([], 0)
    # an exact incident id (or its link) opens the card
    if len(hits) == 1 and q in (hits[0].id, f"/incident/{hits[0].id}"):
        raise web.HTTPSeeOther(f"/incident/{hits[0].id}")
    resp = render(
        "search.html",
        **_ctx(
            request,
            hits=hits,
            total=total,
            deadline=con.view.deadline,
            tz=lambda inc: _tz(con, inc.region, inc.municipality),
            local_time=labels.local_time,
        ),
    )
    metrics.CONSOLE_PAGE.labels("search").observe(time.perf_counter() - started)
    return resp


async def live(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `change` whenever the user's regions (or one incident) changed."""
    con: Console = request.app[CONSOLE]
    who: Who = request[WHO]
    incident = request.query.get("incident")
    if incident and con.view.visible(incident, who.user.regions) is None:
        incident = None

    def counter() -> int:
        if incident:
            return con.view.incident_changes.get(incident, 0)
        return con.view.changed_since(who.user.regions)

    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await resp.prepare(request)
    seen = counter()
    await resp.write(b"retry: 2000\n\n")
    try:
        while True:
            async with con.tick:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(con.tick.wait(), 15)
            now = counter()
            if now != seen:
                seen = now
                await resp.write(f"event: change\ndata: {now}\n\n".encode())
            else:
                await resp.write(b": keep-alive\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return resp


# ------------------------------------------------------------------ actions
def _refuse(request: web.Request, status: int, message: str, kind: str) -> web.Response:
    metrics.CONSOLE_ACTIONS.labels(kind, "refused").inc()
    ctx = _ctx(request, **_card_ctx(request, error=message))
    return render("card.html", status=status, **ctx)


async def _send(
    request: web.Request,
    kind: str,
    incident_id: str,
    action_id: str,
    topic_base: str,
    key: str,
    value: bytes,
    expect: str,
    what: str,
) -> web.StreamResponse:
    con: Console = request.app[CONSOLE]
    who: Who = request[WHO]
    topic = con.settings.topics.name(topic_base)
    try:
        await con.publish(topic, key.encode(), value)
    except Exception as exc:
        log.error("action not sent", kind=kind, incident=incident_id, error=str(exc))
        return _refuse(request, 503, f"Не удалось отправить в Kafka: {exc}", kind)
    metrics.CONSOLE_ACTIONS.labels(kind, "sent").inc()
    log.info(
        "action sent",
        kind=kind,
        incident=incident_id,
        action_id=action_id,
        operator=who.user.name,
        topic=topic,
    )
    con.view.expect(
        Pending(
            action_id=action_id,
            incident_id=incident_id,
            kind=kind,
            what=what,
            operator=who.user.name,
            sent_at=datetime.now(UTC),
            expect_event=expect,
        )
    )
    raise web.HTTPSeeOther(f"/incident/{incident_id}#pending")


async def act(request: web.Request) -> web.StreamResponse:
    con: Console = request.app[CONSOLE]
    who: Who = request[WHO]
    action = request.match_info["action"]
    iid = _incident_id(request)
    inc = con.view.visible(iid, who.user.regions)
    if inc is None:
        metrics.CONSOLE_ACTIONS.labels(action, "refused").inc()
        raise not_found()
    form = await request.post()

    def field_(name: str) -> str:
        v = form.get(name)
        return v.strip() if isinstance(v, str) else ""

    user = who.user
    if action not in ("assign", "status", "merge", "split", "respond"):
        raise web.HTTPNotFound()
    kind = {"status": "set_status"}.get(action, action)
    if not user.can(action):
        return _refuse(request, 403, "Ваша роль не позволяет это действие.", kind)
    if inc.status == "merged_into":
        return _refuse(request, 409, "Инцидент объединён с другим: действуйте в нём.", kind)
    now = datetime.now(UTC)
    action_id = f"console-{uuid.uuid4().hex}"

    async def command(cmd: Any, event: str, label: str) -> web.StreamResponse:
        """Publish one incident command, keyed by the incident, and wait for its event."""
        return await _send(
            request,
            kind,
            iid,
            action_id,
            "incidents.commands",
            iid,
            encode(cmd),
            expected_event_id(iid, event, action_id),
            label,
        )

    if action == "assign":
        agency = field_("agency")
        if agency not in _agencies(con, user, inc):
            return _refuse(request, 400, "Такого ведомства нет в таблице маршрутизации.", kind)
        cmd: Any = AssignCommand(
            command_id=action_id, at=now, incident_id=iid, agency=agency, operator=user.name
        )
        return await command(cmd, "assigned", f"назначить: {agency}")
    if action == "status":
        status = field_("status")
        if status not in ("in_progress", "closed", "rejected"):
            return _refuse(request, 400, "Неизвестный статус.", kind)
        reason = field_("reason")[:MAX_REASON] or None
        cmd = StatusCommand(
            command_id=action_id,
            at=now,
            incident_id=iid,
            status=status,  # type: ignore[arg-type]
            operator=user.name,
            reason=reason,
        )
        event = "closed" if status == "closed" else "status_changed"
        return await command(cmd, event, f"статус: {labels.label('status', status)}")
    if action == "merge":
        into = field_("into")
        target = con.view.visible(into, user.regions)
        if target is None or into == iid:
            return _refuse(request, 400, "Инцидент для объединения не найден.", kind)
        if region_of(into) != region_of(iid):
            return _refuse(request, 400, "Объединять можно только инциденты одного региона.", kind)
        if target.status == "merged_into":
            return _refuse(request, 400, "Тот инцидент сам уже объединён с другим.", kind)
        cmd = MergeCommand(
            command_id=action_id, at=now, incident_id=iid, into=into, operator=user.name
        )
        return await command(cmd, "merged", f"объединить с {into}")
    if action == "split":
        chosen = [v for v in form.getall("mention", []) if isinstance(v, str)]
        members = set(inc.mention_ids)
        if not chosen or not set(chosen) <= members or len(set(chosen)) >= len(members):
            return _refuse(
                request, 400, "Отметьте часть публикаций (не все), чтобы выделить их.", kind
            )
        cmd = SplitCommand(
            command_id=action_id, at=now, incident_id=iid, mention_ids=chosen, operator=user.name
        )
        return await command(cmd, "split", f"выделить публикаций: {len(chosen)}")
    # respond
    text = field_("text")
    answer_kind = field_("kind")
    agency = field_("agency") or inc.agency or ""
    if answer_kind not in ("interim", "final"):
        return _refuse(request, 400, "Выберите вид ответа.", "respond")
    if not text or len(text) > MAX_ANSWER:
        return _refuse(request, 400, "Напишите текст ответа.", "respond")
    if not agency or (agency != inc.agency and agency not in _agencies(con, user, inc)):
        return _refuse(request, 400, "Укажите ведомство, от имени которого ответ.", "respond")
    response = OfficialResponse(
        response_id=action_id,
        kind=answer_kind,  # type: ignore[arg-type]
        agency=agency,
        text=text,
        responded_at=now,
        incident_id=iid,
        region=inc.region,
        operator=user.name,
    )
    return await _send(
        request,
        "respond",
        iid,
        action_id,
        "responses",
        action_id,
        encode(response),
        expected_event_id(iid, "responded", action_id),
        f"{labels.label('kind', answer_kind)} ответ",
    )


# ------------------------------------------------------------------ service
async def healthz(request: web.Request) -> web.StreamResponse:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.StreamResponse:
    con: Console = request.app[CONSOLE]
    f = con.follower
    body = {
        "loaded": con.loaded,
        "incidents": len(con.view.incidents),
        "posts": len(con.view.posts),
        "records": f.records if f else 0,
        "load_s": f.load_s if f else None,
    }
    return web.json_response(body, status=200 if con.loaded else 503)


async def metrics_page(request: web.Request) -> web.StreamResponse:
    return web.Response(body=metrics.render_console(), content_type="text/plain")


async def _broadcast(con: Console) -> None:
    """Wake every live connection after each batch the follower applied."""
    while True:
        await con.changed.wait()
        con.changed.clear()
        async with con.tick:
            con.tick.notify_all()
        await asyncio.sleep(0.1)  # at most ten wake-ups a second


def build_app(con: Console) -> web.Application:
    app = web.Application(middlewares=[security_headers, authenticate], client_max_size=256 * 1024)
    app[CONSOLE] = con
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", queue_page)
    app.router.add_get("/rows", queue_rows)
    app.router.add_get("/search", search_page)
    app.router.add_get("/live", live)
    app.router.add_get("/incident/{region}/{hex}", card_page)
    app.router.add_get("/incident/{region}/{hex}/body", card_body)
    app.router.add_post("/incident/{region}/{hex}/{action}", act)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_static("/static/", HERE / "static")

    async def background(app: web.Application) -> Any:
        tasks = [asyncio.create_task(_broadcast(con))]
        if con.follower is not None:
            tasks.append(asyncio.create_task(con.follower.run(con.changed)))
        yield
        if con.follower is not None:
            con.follower.stop()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    app.cleanup_ctx.append(background)
    return app
