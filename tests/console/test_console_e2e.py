"""The operator console end to end: real broker, real worker (chDB), real Chromium.

An operator signs in, sees the demo's incidents most urgent first, opens one,
assigns an agency, publishes a final answer, and one Reply per post of that
incident appears on replies.outbound; an operator of another region sees none of
it; a supervisor merges two incidents and both cards show it; hostile post texts
render as text; a new incident appears without a reload; a restart rebuilds the view.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections import Counter
from typing import Any

import pytest

from tests.support.browser import Browser
from tests.support.chromium import goto, login, submit, wait_js
from tests.support.console import Desk, start_console, wait_until

pytestmark = pytest.mark.integration

ROWS = """Array.from(document.querySelectorAll('#queue tr.row'), (r) => ({
    id: r.dataset.id, breached: r.dataset.breached === '1', left: Number(r.dataset.left),
    clock: r.dataset.clock, posts: Number(r.querySelector('td.n').firstChild.textContent.trim())}))"""


def _urgency(row: dict[str, Any]) -> tuple[int, float]:
    if not row["clock"]:
        return (2, 0.0)
    return (0 if row["breached"] else 1, row["left"])


def _incident(desk: Desk, incident_id: str) -> dict[str, Any]:
    """The latest state of an incident on the incidents topic (highest version)."""
    best: dict[str, Any] = {}
    for key, value, _ in desk.stack.read_topic("incidents"):
        if key == incident_id.encode():
            inc = json.loads(value)
            if inc["version"] > best.get("version", 0):
                best = inc
    return best


def test_operator_assigns_and_answers_every_post_once(desk: Desk) -> None:
    chosen: dict[str, Any] = {}
    text = "Окончательный ответ из теста консоли: яму заделали 21 ноября."

    async def run() -> None:
        async with Browser() as browser:
            page = await login(browser, desk.console.url, "tver")
            rows = await page.evaluate(ROWS)
            assert len(rows) > 10, rows
            assert all(r["id"].startswith("RU-TVE/") for r in rows)
            # most urgent first: overdue (longest overdue first), then least time left
            keys = [_urgency(r) for r in rows]
            assert keys == sorted(keys), keys
            assert any(r["breached"] for r in rows) and any(not r["breached"] for r in rows)
            target = next(r for r in rows if r["posts"] >= 2)
            chosen["id"] = target["id"]
            await goto(page, f"{desk.console.url}/incident/{target['id']}")
            posts = await page.evaluate(
                "Array.from(document.querySelectorAll('#card .post[data-mention]'),"
                " (p) => p.dataset.mention)"
            )
            assert len(posts) >= 2
            current = await page.evaluate(
                "document.querySelector('article.incident').dataset.agency"
            )
            options = await page.evaluate(
                "Array.from(document.querySelectorAll('form[action$=\"/assign\"] option'), (o) => o.value)"
            )
            agency = next(o for o in options if o != current)
            chosen["agency"] = agency
            await submit(page, 'form[action$="/assign"]', {"agency": agency}, "button")
            # the card shows the pipeline's result, read back from the incidents topic
            await wait_js(
                page,
                f"document.querySelector('article.incident')?.dataset.agency === {json.dumps(agency)}"
                " && !!document.querySelector('.pending li.applied[data-action=assign]')",
                "the assignment applied by the pipeline",
            )
            by = await page.evaluate(
                "Array.from(document.querySelectorAll('tr[data-type=assigned]'), (t) => t.dataset.by)"
            )
            assert "tver" in by
            await submit(
                page,
                'form[action$="/respond"]',
                {"kind": "final", "text": text},
                "button[value=respond]",
            )
            await wait_js(
                page,
                "document.querySelector('article.incident')?.dataset.status === 'answered_final'"
                " && !!document.querySelector('.pending li.applied[data-action=respond]')",
                "the final answer applied by the pipeline",
            )
            answered_by = await page.evaluate(
                "Array.from(document.querySelectorAll('tr[data-type=responded]'), (t) => t.dataset.by)"
            )
            assert "tver" in answered_by

    asyncio.run(run())
    inc = _incident(desk, chosen["id"])
    assert inc["agency"] == chosen["agency"] and inc["status"] == "answered_final"

    def replies() -> list[dict[str, Any]] | None:
        ours = [
            json.loads(v)
            for _, v, _ in desk.stack.read_topic("replies.outbound")
            if json.loads(v).get("text") == text
        ]
        return ours if len({r["mention_id"] for r in ours}) >= len(inc["mention_ids"]) else None

    ours = wait_until(replies, "a reply for every post")
    per_post = Counter(r["mention_id"] for r in ours)
    assert set(per_post) == set(inc["mention_ids"])
    assert set(per_post.values()) == {1}, per_post  # exactly once each
    assert {r["kind"] for r in ours} == {"final"} and {r["incident_id"] for r in ours} == {
        inc["id"]
    }


def test_another_region_sees_nothing_of_it(desk: Desk) -> None:
    async def run() -> None:
        async with Browser() as browser:
            tver = await login(browser, desk.console.url, "tver")
            tver_ids = [r["id"] for r in await tver.evaluate(ROWS)]
            async with Browser() as other:
                page = await login(other, desk.console.url, "ivanovo")
                rows = await page.evaluate(ROWS)
                assert rows and all(r["id"].startswith("RU-IVA/") for r in rows)
                target = tver_ids[0]
                # the card of a Tver incident: not found for Ivanovo
                await goto(page, f"{desk.console.url}/incident/{target}")
                body = await page.evaluate("document.body.innerText")
                assert "нет в ваших регионах" in body and target not in await page.evaluate(
                    "document.title"
                )
                # search by its id or its words finds nothing
                await goto(
                    page, f"{desk.console.url}/search?" + urllib.parse.urlencode({"q": target})
                )
                assert not await page.evaluate("document.querySelectorAll('tr[data-id]').length")
                # an action on it, with Ivanovo's own valid CSRF token: refused, nothing sent
                await goto(page, desk.console.url + "/")
                status = await page.evaluate(
                    f"""(async () => {{
                    const csrf = document.querySelector('input[name=csrf]').value;
                    const r = await fetch('/incident/{target}/assign', {{method: 'POST',
                      body: new URLSearchParams({{csrf, agency: 'Водоканал'}})}});
                    return r.status }})()"""
                )
                assert status == 404

    asyncio.run(run())
    sent = [json.loads(v) for _, v, _ in desk.stack.read_topic("incidents.commands")]
    assert not [c for c in sent if c.get("agency") == "Водоканал"]


def test_supervisor_merges_and_both_cards_show_it(desk: Desk) -> None:
    async def run() -> None:
        async with Browser() as browser:
            page = await login(browser, desk.console.url, "tver-lead")
            rows = [r for r in await page.evaluate(ROWS) if r["id"].startswith("RU-TVE/")]
            source, into = rows[-1]["id"], rows[-2]["id"]
            await goto(page, f"{desk.console.url}/incident/{source}")
            moving = await page.evaluate(
                "Array.from(document.querySelectorAll('#card .post[data-mention]'), (p) => p.dataset.mention)"
            )
            await submit(page, 'form[action$="/merge"]', {"into": into}, "button")
            await wait_js(
                page,
                "document.querySelector('article.incident')?.dataset.status === 'merged_into'"
                " && !!document.querySelector('.pending li.applied[data-action=merge]')",
                "the merge applied by the pipeline",
            )
            note = await page.evaluate("document.querySelector('p.note').innerText")
            assert into in note
            assert "tver-lead" in await page.evaluate(
                "Array.from(document.querySelectorAll('tr[data-type=merged]'), (t) => t.dataset.by)"
            )
            await goto(page, f"{desk.console.url}/incident/{into}")
            assert source in await page.evaluate(
                "document.querySelector('p.merged-from').innerText"
            )
            there = await page.evaluate(
                "Array.from(document.querySelectorAll('#card .post[data-mention]'), (p) => p.dataset.mention)"
            )
            assert set(moving) <= set(there)
            # the merged incident left the queue
            await goto(page, desk.console.url + "/")
            assert source not in [r["id"] for r in await page.evaluate(ROWS)]

    asyncio.run(run())


def test_post_texts_render_as_text(desk: Desk) -> None:
    async def run() -> None:
        async with Browser() as browser:
            page = await login(browser, desk.console.url, "tver")
            # found by the post's id (search covers ids and URLs of posts)
            await goto(
                page,
                desk.console.url
                + "/search?"
                + urllib.parse.urlencode({"q": "vk:wall-41237765_990001"}),
            )
            hits = await page.evaluate(
                "Array.from(document.querySelectorAll('tr[data-id]'), (r) => r.dataset.id)"
            )
            assert len(hits) == 1, "the <script> post made no incident"
            await goto(page, f"{desk.console.url}/incident/{hits[0]}")
            texts = await page.evaluate(
                "Array.from(document.querySelectorAll('.post .text'), (t) => t.textContent)"
            )
            assert any("<script>window.__pwned = 1</script>" in t for t in texts), texts
            source = await page.evaluate(
                "document.querySelector('.post[data-mention=\"vk:wall-41237765_990001\"] .source')"
                ".textContent"
            )
            assert source == "Тверь <b>Городская</b> лента"
            assert await page.evaluate("window.__pwned") is None
            # only the console's own script, no element made from a post
            assert await page.evaluate("document.querySelectorAll('script').length") == 1
            # a javascript: link is shown as text, never as a link
            assert not await page.evaluate(
                "document.querySelectorAll('a[href^=javascript]').length"
            )
            # and by the post's URL
            await goto(
                page,
                desk.console.url
                + "/search?"
                + urllib.parse.urlencode({"q": "https://vk.com/wall-41237765_990002"}),
            )
            hit = await page.evaluate("document.querySelector('tr[data-id]')?.dataset.id")
            assert hit
            await goto(page, f"{desk.console.url}/incident/{hit}")
            text = await page.evaluate(
                "Array.from(document.querySelectorAll('.post .text'), (t) => t.textContent).join(' ')"
            )
            assert '<img src=x onerror="window.__pwned=3"><b>Жирный</b>' in text
            assert (
                await page.evaluate("document.querySelectorAll('img, .post b, .post i').length")
                == 0
            )
            assert await page.evaluate("window.__pwned") is None
            # the queue shows the same titles as text too
            await goto(page, desk.console.url + "/")
            assert await page.evaluate("document.querySelectorAll('img').length") == 0
            assert await page.evaluate("window.__pwned") is None

    asyncio.run(run())


def test_a_new_incident_appears_without_a_reload(desk: Desk) -> None:
    post = {
        "id": "ok:5566778899001",
        "platform": "ok",
        "source": {"id": "tver-ok-1", "name": "Тверь онлайн"},
        "text": "Под мостом на улице Софьи Перовской в Твери прорвало трубу, вода хлещет на дорогу, "
        "уже образовался каток! Срочно примите меры",
        "created_at": "2026-11-20T17:40:00+03:00",
        "region_hint": "RU-TVE",
    }

    async def run() -> None:
        async with Browser() as browser:
            page = await login(browser, desk.console.url, "tver")
            await page.evaluate("window.__same_page = 1; true")
            assert not await page.evaluate(
                "document.querySelector('#queue').innerText.includes('Софьи Перовской')"
            )
            desk.stack.publish(
                "mentions.raw", [json.dumps(post, ensure_ascii=False).encode()], [b"RU-TVE"]
            )
            await wait_js(
                page,
                "document.querySelector('#queue').innerText.includes('Софьи Перовской')",
                "the new incident in the open queue",
            )
            assert await page.evaluate("window.__same_page") == 1  # no reload happened

    asyncio.run(run())
    desk.stack.wait_drained()


def test_a_restart_rebuilds_the_view(desk: Desk) -> None:
    before = desk.console.ready()
    second = start_console(desk.stack)
    try:
        # the same incidents and posts, read again from offset 0 of the topics
        wait_until(
            lambda: (
                (lambda a: (a["incidents"], a["posts"]))(second.ready())
                == (before["incidents"], before["posts"])
            ),
            "the restarted console to hold the same view",
        )
    finally:
        second.stop()
