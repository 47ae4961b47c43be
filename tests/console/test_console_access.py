"""The console's server-side rules over HTTP, without a broker.

The sample goes through the very enrich + desk code of the stream (OfflinePipeline)
into the console's view; the real aiohttp app serves it on a loopback port; actions
are captured instead of sent. Every read and action is checked against the user's
regions and role, on the server; forms need the session's CSRF token; logins are
rate limited; post texts are escaped in the HTML itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from incidents.config.settings import Settings
from incidents.console.auth import Directory, UsersError, check_password, hash_password
from tests.support.console_offline import Client, Server, make_server, new_view, run_offline
from tests.support.paths import SAMPLE

HOSTILE = {
    "id": "vk:wall-1_777",
    "platform": "vk",
    "source": {"id": "-1", "name": "<i>паблик</i>"},
    "text": "<script>alert('x')</script> На улице Вагжанова в Твери у дома 7 огромная яма на "
    "проезжей части, колёса бьём каждый день! Отремонтируйте дорогу",
    "created_at": "2026-11-20T10:05:00+03:00",
    "url": "javascript:alert(1)",
    "region_hint": "RU-TVE",
}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Settings(console={"cookie_secure": False, "clock": "events", "login_attempts": 3})
    view = new_view(s)
    lines = SAMPLE.joinpath("mentions.jsonl").read_bytes().splitlines()
    run_offline(s, [*lines, json.dumps(HOSTILE, ensure_ascii=False).encode()], view)
    srv = make_server(s, view)
    yield srv
    srv.stop()


def _ids(html: str) -> list[str]:
    return re.findall(r'<tr class="row[^"]*"[^>]* data-id="([^"]+)"', html)


def _signed_in(server: Server, name: str) -> Client:
    c = Client(server.url)
    status, _, final = c.login(name)
    assert status == 200 and final.endswith("/"), final
    return c


def _open_ids(server: Server, region: str) -> list[str]:
    return server.call(lambda: sorted(server.con.view.open_ids[region]))


def test_queue_and_search_show_only_the_users_regions(server: Server) -> None:
    tver = _signed_in(server, "tver")
    _, html, _ = tver.get("/")
    ids = _ids(html)
    assert ids and all(i.startswith("RU-TVE/") for i in ids)
    assert set(ids) == set(_open_ids(server, "RU-TVE"))
    iva = _open_ids(server, "RU-IVA")[0]
    # another region's incident: not in search, not as a card or its parts, not live
    for path in (
        f"/incident/{iva}",
        f"/incident/{iva}/body",
    ):
        status, page, _ = tver.get(path)
        assert status == 404 and iva not in page
    _, page, _ = tver.get("/search?q=" + iva.replace("/", "%2F"))
    assert f'data-id="{iva}"' not in page and f"/incident/{iva}" not in page
    _, rows, _ = tver.get(
        "/rows?municipality=%D0%98%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2%D0%BE"
    )  # Иваново
    assert "RU-IVA/" not in rows
    # a federal viewer sees every region
    viewer = _signed_in(server, "federal")
    _, html, _ = viewer.get("/?page=1")
    regions = {i.split("/")[0] for i in _ids(html)}
    assert len(regions) > 1


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("assign", {"agency": "Водоканал"}),
        ("status", {"status": "closed"}),
        ("respond", {"kind": "final", "text": "ответ", "agency": "Водоканал"}),
        ("merge", {"into": "RU-IVA/0000000000000000"}),
        ("split", {"mention": "x"}),
    ],
)
def test_no_action_on_another_regions_incident(
    server: Server, action: str, form: dict[str, str]
) -> None:
    c = _signed_in(server, "tver-lead")  # a supervisor: every action is open to the role
    iva = _open_ids(server, "RU-IVA")[0]
    before = len(server.sent)
    status, _, _ = c.post(f"/incident/{iva}/{action}", form)
    assert status == 404
    assert len(server.sent) == before


def test_roles(server: Server) -> None:
    tve = _open_ids(server, "RU-TVE")
    viewer = _signed_in(server, "federal")
    before = len(server.sent)
    assert viewer.post(f"/incident/{tve[0]}/status", {"status": "in_progress"})[0] == 403
    operator = _signed_in(server, "tver")
    assert operator.post(f"/incident/{tve[0]}/merge", {"into": tve[1]})[0] == 403
    assert len(server.sent) == before
    # operators assign from their municipality's table; supervisors from the whole region's
    inc = server.call(
        lambda: next(
            server.con.view.incidents[i]
            for i in tve
            if server.con.view.incidents[i].municipality not in (None, "Тверь")
        )
    )
    tver_city = "Администрация города Твери, управление благоустройства"
    status, page, _ = operator.post(f"/incident/{inc.id}/assign", {"agency": tver_city})
    assert status == 400 and "таблице маршрутизации" in page
    lead = _signed_in(server, "tver-lead")
    status, _, final = lead.post(f"/incident/{inc.id}/assign", {"agency": tver_city})
    assert status == 200 and final.endswith(f"/incident/{inc.id}#pending")
    topic, key, value = server.sent[-1]
    cmd = json.loads(value)
    assert topic == "incidents.commands" and key == inc.id.encode()
    assert cmd["type"] == "assign" and cmd["agency"] == tver_city
    assert cmd["operator"] == "tver-lead" and cmd["incident_id"] == inc.id


def test_actions_publish_the_documented_messages(server: Server) -> None:
    c = _signed_in(server, "tver-lead")
    tve = _open_ids(server, "RU-TVE")
    inc = server.call(
        lambda: next(
            server.con.view.incidents[i]
            for i in tve
            if len(server.con.view.incidents[i].mention_ids) >= 2
        )
    )
    c.get(f"/incident/{inc.id}")
    sent = len(server.sent)
    c.post(f"/incident/{inc.id}/respond", {"kind": "interim", "text": "  Принято в работу.  "})
    topic, key, value = server.sent[sent]
    r = json.loads(value)
    assert topic == "responses" and key == r["response_id"].encode()
    assert r["incident_id"] == inc.id and r["region"] == "RU-TVE" and r["kind"] == "interim"
    assert r["text"] == "Принято в работу." and r["operator"] == "tver-lead" and r["agency"]
    c.post(f"/incident/{inc.id}/split", [("mention", inc.mention_ids[0])])
    split = json.loads(server.sent[-1][2])
    assert split["type"] == "split" and split["mention_ids"] == [inc.mention_ids[0]]
    # every post is not "some": refused, nothing sent
    n = len(server.sent)
    status, _, _ = c.post(f"/incident/{inc.id}/split", [("mention", m) for m in inc.mention_ids])
    assert status == 400 and len(server.sent) == n
    c.post(f"/incident/{inc.id}/status", {"status": "rejected", "reason": "реклама"})
    st = json.loads(server.sent[-1][2])
    assert (st["type"], st["status"], st["reason"], st["operator"]) == (
        "set_status",
        "rejected",
        "реклама",
        "tver-lead",
    )
    # the card shows each as sent and waiting for the pipeline (not as done)
    _, card, _ = c.get(f"/incident/{inc.id}")
    assert card.count('data-state="pending"') >= 3


def test_forms_need_the_csrf_token_and_this_origin(server: Server) -> None:
    c = _signed_in(server, "tver")
    iid = _open_ids(server, "RU-TVE")[0]
    n = len(server.sent)
    form = {"status": "in_progress"}
    assert c.request(f"/incident/{iid}/status", form)[0] == 403  # no token
    assert c.request(f"/incident/{iid}/status", {**form, "csrf": "forged"})[0] == 403
    c.get("/")
    assert c.csrf
    evil = {"Origin": "https://evil.example"}
    assert c.request(f"/incident/{iid}/status", {**form, "csrf": c.csrf}, evil)[0] == 403
    assert len(server.sent) == n
    # another user's token does not work either
    other = _signed_in(server, "tver-lead")
    other.get("/")
    assert c.request(f"/incident/{iid}/status", {**form, "csrf": other.csrf})[0] == 403
    assert len(server.sent) == n


def test_session_cookie_and_logout(server: Server) -> None:
    import urllib.request

    req = urllib.request.Request(
        server.url + "/login",
        data=b"name=tver&password=demo&next=/",
        method="POST",
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: Any, **k: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(req, timeout=30)
    except urllib.error.HTTPError as err:
        cookie = err.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    c = _signed_in(server, "tver")
    c.get("/")
    assert c.post("/logout", {})[2].endswith("/login")
    _, _, final = c.get("/")
    assert final.startswith(server.url + "/login")  # signed out


def test_secure_cookie_by_default() -> None:
    s = Settings()
    srv = make_server(s, new_view(s))
    try:
        import urllib.request

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a: Any, **k: Any) -> None:
                return None

        req = urllib.request.Request(srv.url + "/login", data=b"name=tver&password=demo")
        try:
            urllib.request.build_opener(NoRedirect).open(req, timeout=30)
        except urllib.error.HTTPError as err:
            cookie = err.headers["Set-Cookie"]
        assert cookie.startswith("__Host-incidents-console=") and "Secure" in cookie
    finally:
        srv.stop()


def test_login_is_rate_limited(server: Server) -> None:
    c = Client(server.url)
    codes = [c.login("nsk", "wrong")[0] for _ in range(3)]
    assert codes == [401, 401, 401]
    status, page, _ = c.login("nsk", "demo")  # even the right password waits now
    assert status == 429 and "Слишком много" in page
    assert server.call(lambda: server.con.sessions.by_token) is not None
    # another user from elsewhere is not blocked by it: the limit is per name and address
    server.call(lambda: server.con.limit.failures.pop("addr:127.0.0.1", None))
    assert _signed_in(server, "ivanovo")


def test_post_text_is_escaped_in_the_html(server: Server) -> None:
    c = _signed_in(server, "tver")
    _, page, _ = c.get("/search?q=vk:wall-1_777")
    iid = re.search(r'data-id="([^"]+)"', page)
    assert iid
    _, card, _ = c.get(f"/incident/{iid.group(1)}")
    assert "<script>alert" not in card and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in card
    assert "<i>паблик</i>" not in card and "&lt;i&gt;паблик&lt;/i&gt;" in card
    assert 'href="javascript:' not in card
    _, queue, _ = c.get("/")
    assert "<script>alert" not in queue


def test_header_auth_trusts_only_the_proxy(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text(
        "users:\n  - {name: boss, role: supervisor, regions: [RU-TVE]}\n"
        "groups:\n  cur-iva: {role: operator, regions: [RU-IVA]}\n",
        encoding="utf-8",
    )
    s = Settings(console={"auth": "header", "cookie_secure": False})
    view = new_view(s)
    run_offline(s, SAMPLE.joinpath("mentions.jsonl").read_bytes().splitlines()[:150], view)
    srv = make_server(s, view, users)
    try:
        c = Client(srv.url)
        assert c.get("/")[0] == 401  # no header: nobody
        status, page, _ = c.request(
            "/", headers={"X-Forwarded-User": "someone", "X-Forwarded-Groups": "cur-iva,staff"}
        )
        assert status == 200 and "someone" in page
        assert {i.split("/")[0] for i in _ids(page)} <= {"RU-IVA"}
        status, page, _ = c.request("/", headers={"X-Forwarded-User": "boss"})
        assert status == 200 and {i.split("/")[0] for i in _ids(page)} <= {"RU-TVE"}
        assert c.request("/", headers={"X-Forwarded-User": "stranger"})[0] == 401
    finally:
        srv.stop()
    # from an address that is not a trusted proxy the header means nothing
    s2 = Settings(console={"auth": "header", "trusted_proxies": ["10.0.0.1"]})
    srv = make_server(s2, new_view(s2), users)
    try:
        assert Client(srv.url).request("/", headers={"X-Forwarded-User": "boss"})[0] == 401
    finally:
        srv.stop()


def test_passwords_are_hashed_and_users_checked(tmp_path: Path) -> None:
    h = hash_password("correct horse")
    assert h.startswith("scrypt$") and "correct" not in h
    assert check_password("correct horse", h) and not check_password("wrong", h)
    assert not check_password("x", "md5$abc")
    bad = tmp_path / "u.yaml"
    bad.write_text("users:\n  - {name: a, role: operator, regions: [RU-TVE], password: secret}\n")
    with pytest.raises(UsersError, match="must be a hash"):
        Directory.load(bad)
    bad.write_text("users:\n  - {name: a, role: admin, regions: [RU-TVE]}\n")
    with pytest.raises(UsersError, match="role must be one of"):
        Directory.load(bad)
    bad.write_text("users:\n  - {name: a, role: viewer, regions: [Tver]}\n")
    with pytest.raises(UsersError, match="not a code like RU-TVE"):
        Directory.load(bad)


def test_no_password_or_session_token_in_the_logs(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import logging

    from incidents.observability import logs

    out = io.StringIO()
    logs.configure("json", "debug", stream=out)
    try:
        c = Client(server.url)
        c.login("federal", "hunter2-not-the-password")
        c.login("federal", "demo")
        c.get("/")
        token = next(ck.value for ck in c.jar if ck.name.endswith("incidents-console"))
        iid = _open_ids(server, "RU-TVE")[0]
        c.get(f"/incident/{iid}")
    finally:
        logging.getLogger().handlers.clear()
    text = out.getvalue() + capsys.readouterr().out
    assert '"login failed"' in text and '"event": "login"' in text  # logins are logged
    assert "hunter2" not in text and '"demo"' not in text and "password" not in text
    assert token not in text and (c.csrf or "-") not in text
