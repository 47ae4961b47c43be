"""Answer times over the real broker and chDB equal the ones computed by hand.

Five posts written for this test (one Tver pothole reported twice, hot water in
Rzhev, garbage in Torzhok, street lights nine days later) and five answers with
known times, one of them redelivered and one arriving ten days after its post,
when the post has left the 7-day dedup window. The delays below are worked out
from the literal times, not from the pipeline:

- per post, its own answers: the first and the first final reply to that post;
- per post, as it sees them: a grouped post also receives its neighbour's answers;
- per answer, from the incident's first post: what `responses` holds and the
  dashboards' exact quantiles over it show (docs/oversight.md#answer-times).
"""

from __future__ import annotations

import json
import math
from datetime import datetime

import pytest

from incidents.oversight.fragments import ANSWER_Q, ANSWERED
from incidents.oversight.fragments import ANSWERS as ANSWER_FACTS
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def _post(mid: str, text: str, at: str, lat: float, lon: float) -> dict:
    platform = mid.split(":", 1)[0]
    return {
        "id": mid,
        "platform": platform,
        "source": {"id": f"{platform}-src"},
        "text": text,
        "created_at": at,
        "region_hint": "RU-TVE",
        "geo": {"lat": lat, "lon": lon},
    }


A, B, C, D, E = "vk:wall-1_1", "telegram:-100_2", "ok:3", "vk:wall-1_4", "vk:wall-1_5"
POSTS = [
    _post(A, "В Твери на улице Склизкова у дома 48 огромная яма на дороге, машины ломают колёса",
          "2026-03-02T10:00:00+03:00", 56.8420, 35.8790),
    _post(B, "Склизкова, 48: яма на проезжей части уже неделю, вчера пробил колесо, когда заделают?",
          "2026-03-02T11:00:00+03:00", 56.8421, 35.8791),
    _post(C, "В Ржеве на улице Ленина, дом 5 третий день нет горячей воды, управляющая компания молчит",
          "2026-03-02T12:00:00+03:00", 56.2620, 34.3290),
    _post(D, "В Торжке на Дзержинского, 92 переполнены мусорные контейнеры, мусор не вывозят неделю",
          "2026-03-02T13:00:00+03:00", 57.0410, 34.9600),
    _post(E, "В Твери на бульваре Радищева не горят фонари, вечером идти страшно",
          "2026-03-11T10:00:00+03:00", 56.8590, 35.9000),
]  # fmt: skip
# (response id, kind, addressed to, answered at)
ANSWERS = [
    ("r1", "interim", B, "2026-03-02T12:30:00+03:00"),
    ("r2", "final", A, "2026-03-03T15:00:00+03:00"),
    ("r3", "interim", C, "2026-03-02T13:00:00+03:00"),
    ("r4", "final", C, "2026-03-04T12:00:00+03:00"),
    ("r5", "final", D, "2026-03-12T13:00:00+03:00"),  # D left the dedup window on 03-09
]
KIND = {rid: kind for rid, kind, _, _ in ANSWERS}
H = 3600
# Seconds from the incident's first post to each answer (A and B are one incident, opened by A).
PER_ANSWER = {"r1": 2.5 * H, "r2": 29 * H, "r3": 1 * H, "r4": 48 * H, "r5": 240 * H}
OWN = {A: (29 * H, 29 * H), B: (1.5 * H, None), C: (1 * H, 48 * H), D: (240 * H, 240 * H)}
SEEN = {A: (2.5 * H, 29 * H), B: (1.5 * H, 28 * H), C: OWN[C], D: OWN[D]}


def _answer(rid: str, kind: str, mid: str, at: str) -> dict:
    return {
        "response_id": rid,
        "kind": kind,
        "agency": "Администрация",
        "text": "Ответ ведомства",
        "responded_at": at,
        "mention_id": mid,
        "region": "RU-TVE",
    }


def _b(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def _quantile(values: list[float], q: float) -> float:
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def test_answer_times_in_clickhouse_equal_the_ones_worked_out_by_hand(stack: Stack) -> None:
    w = stack.start_worker()

    def publish(topic: str, items: list[dict], key: str) -> None:
        stack.publish(topic, [_b(x) for x in items], [x[key].encode() for x in items])
        stack.wait_drained()

    answers = {a[0]: _answer(*a) for a in ANSWERS}
    publish("mentions.raw", POSTS[:4], "id")
    # Two answers while the posts are in the dedup window, one of them redelivered...
    publish("responses", [answers["r1"], answers["r3"], answers["r3"]], "response_id")
    # ...then a post nine days later moves the clock: A-D leave the window...
    publish("mentions.raw", POSTS[4:], "id")
    # ...and the later answers still find their posts (and r3 comes a third time).
    publish("responses", [answers[r] for r in ("r2", "r4", "r5", "r3")], "response_id")

    assert w.scalar("SELECT count() FROM incidents.dead_letters") == 0
    created = {p["id"]: datetime.fromisoformat(p["created_at"]).timestamp() for p in POSTS}
    target = {rid: mid for rid, _, mid, _ in ANSWERS}
    rows = [
        tuple(r)
        for r in w.query(
            "SELECT response_id, mention_id, kind, toUnixTimestamp(responded_at), count() "
            "FROM incidents.replies GROUP BY response_id, mention_id, kind, responded_at"
        )
    ]
    assert all(n == 1 for *_, n in rows), rows  # one reply per answer and post, once
    assert {(rid, mid) for rid, mid, *_ in rows} == {
        ("r1", A), ("r1", B), ("r2", A), ("r2", B), ("r3", C), ("r4", C), ("r5", D)
    }  # fmt: skip

    def delays(own_only: bool) -> dict[str, tuple[float | None, float | None]]:
        out: dict[str, tuple[float | None, float | None]] = {}
        for mid in (A, B, C, D):
            mine = [
                (kind, at - created[mid])
                for rid, m, kind, at, _ in rows
                if m == mid and (not own_only or target[rid] == mid)
            ]
            finals = [s for kind, s in mine if kind == "final"]
            out[mid] = (min(s for _, s in mine), min(finals) if finals else None)
        return out

    assert delays(own_only=True) == OWN
    assert delays(own_only=False) == SEEN

    responses = dict(
        tuple(r) for r in w.query("SELECT response_id, response_s FROM incidents.responses FINAL")
    )
    assert responses == PER_ANSWER
    # The same from the event log alone: `created` → `responded` per incident.
    from_events = dict(
        tuple(r)
        for r in w.query(
            "SELECT e.response_id, dateDiff('second', o.opened, e.at) "
            "FROM incidents.incident_events AS e INNER JOIN "
            "(SELECT incident_id, min(at) AS opened FROM incidents.incident_events "
            " WHERE type = 'created' GROUP BY incident_id) AS o ON o.incident_id = e.incident_id "
            "WHERE e.type = 'responded'"
        )
    )
    assert from_events == PER_ANSWER
    daily = {
        kind: (n, qs)
        for kind, n, qs in (
            tuple(r)
            for r in w.query(
                f"SELECT kind, count(), {ANSWER_Q} FROM {ANSWER_FACTS.format(db='incidents')} "
                f"WHERE {ANSWERED} GROUP BY kind"
            )
        )
    }
    counted = dict(
        tuple(r)
        for r in w.query(
            "SELECT kind, sum(responses) FROM incidents.response_times_daily GROUP BY kind"
        )
    )
    for kind in ("interim", "final"):
        values = [s for rid, s in PER_ANSWER.items() if KIND[rid] == kind]
        n, (median, p90) = daily[kind]
        assert n == len(values) == counted[kind]
        assert median == pytest.approx(_quantile(values, 0.5), abs=1)
        assert p90 == pytest.approx(_quantile(values, 0.9), abs=1)
