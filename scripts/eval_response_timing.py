"""Answer timing on St Petersburg cases: does the stream reproduce the raw timelines?

Takes N portal cases from ../shared/data (never shipped), publishes each as a
RawMention (as scripts/eval_grouping.py does) and each of its answers as an
OfficialResponse (interim or final, addressed to the case's mention, agency =
the answering organisation, at the answer's time), merged by event time, and
runs them through the desk:

- offline (default): OfflinePipeline in-process, outputs loaded into an
  in-process chDB with the project's migrations (the same tables and views the
  sink fills);
- `--stream`: the embedded broker, an `incidents worker` subprocess (all
  stages, its own chDB directory) and `incidents replay --responses`-style
  publication; outputs read back from ClickHouse and the incidents.events topic.

It then compares three measures (minutes; median and p90, linear interpolation):

1. per mention, its own answers: first answer (any kind) and first final
   answer minus the mention's created_at, from the replies the stream addressed
   to that post, against the same computed directly from the raw `answers`;
2. per mention as the post sees it: the earliest reply of any answer given to
   its incident (a grouped post also receives the answers to its neighbours);
3. per answer as the SLA tables measure it (docs/oversight.md): answer time
   minus the incident's opening (its first post), from the incidents.events
   log, against ClickHouse `responses` (exact quantiles over the facts) and the
   dashboards' own expression (`incidents/oversight/fragments.py` ANSWER_Q) run 10 times: the
   same number every run (spread 0) is part of "agree". For contrast, the
   deprecated reservoir states of `response_times_daily` (quantilesMerge), also
   run 10 times.

    .venv/bin/python scripts/eval_response_timing.py [--cases 2000] [--split dev|heldout]
                                                     [--stream] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_grouping import MSK, SPB, load, mention_id, to_raw  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

HISTORY_TTL_DAYS = 3650  # the cases are from 2020-2021, older than the default retention (730)
KINDS = {"Промежуточный ответ": "interim", "Окончательный ответ": "final"}


# ------------------------------------------------------------------ inputs
def answer_time(answer: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(answer["at"] + MSK)


def responses_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    """One OfficialResponse per answer of a case, addressed to its mention."""
    out = []
    for n, a in enumerate(row["answers"]):
        kind = KINDS[a["kind"]]
        out.append(
            {
                "response_id": f"spb-{row['id']}-{n}",
                "kind": kind,
                "agency": a["by"][:512],
                "text": "Промежуточный ответ ведомства" if kind == "interim" else "Ответ ведомства",
                "responded_at": answer_time(a).replace(microsecond=0).isoformat(),
                "mention_id": mention_id(row),
                "region": "RU-SPE",
            }
        )
    return out


def expected_delays(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Straight from the raw timelines: seconds from the case to its first / first final answer."""
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        created = datetime.fromisoformat(r["created_at"] + MSK)
        times = [(answer_time(a) - created).total_seconds() for a in r["answers"]]
        finals = [
            (answer_time(a) - created).total_seconds()
            for a in r["answers"]
            if KINDS[a["kind"]] == "final"
        ]
        d: dict[str, float] = {}
        if times:
            d["first"] = min(times)
        if finals:
            d["final"] = min(finals)
        out[mention_id(r)] = d
    return out


def merged(rows: Sequence[dict[str, Any]]) -> list[tuple[datetime, int, dict[str, Any]]]:
    """Mentions (0) and answers (1) in event-time order; a mention before answers at its time."""
    events: list[tuple[datetime, int, dict[str, Any]]] = []
    for r in rows:
        raw = to_raw(r)
        events.append((datetime.fromisoformat(raw["created_at"]), 0, raw))
        for resp in responses_of(r):
            events.append((datetime.fromisoformat(resp["responded_at"]), 1, resp))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


# ----------------------------------------------------------------- outputs
@dataclass
class Observed:
    """What the pipeline produced, reduced to what the measures need."""

    created: dict[str, datetime] = field(default_factory=dict)  # mention id → created_at
    # replies: (response id, mention id, kind, responded_at)
    replies: list[tuple[str, str, str, datetime]] = field(default_factory=list)
    opened: dict[str, datetime] = field(default_factory=dict)  # incident → first `created` at
    # responded events: (event id, incident id, kind, at)
    responded: list[tuple[str, str, str, datetime]] = field(default_factory=list)
    dead_letters: int = 0
    parked: int = 0


def per_mention(
    obs: Observed, target: dict[str, str], own_only: bool
) -> dict[str, dict[str, float]]:
    """Seconds from each mention to its first reply and first final reply."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    seen: set[tuple[str, str]] = set()
    for response_id, mid, kind, at in obs.replies:
        if (response_id, mid) in seen:
            continue  # a redelivered reply (same reply id)
        seen.add((response_id, mid))
        if own_only and target.get(response_id) != mid:
            continue
        if mid not in obs.created:
            continue
        s = (at - obs.created[mid]).total_seconds()
        d = out[mid]
        d["first"] = min(d.get("first", math.inf), s)
        if kind == "final":
            d["final"] = min(d.get("final", math.inf), s)
    return dict(out)


def per_answer(obs: Observed) -> dict[str, list[float]]:
    """Seconds from the incident's opening to each answer, by kind, from the event log."""
    out: dict[str, list[float]] = defaultdict(list)
    seen: set[str] = set()
    for event_id, inc, kind, at in obs.responded:
        if event_id in seen or inc not in obs.opened:
            continue
        seen.add(event_id)
        out[kind].append(max(0.0, (at - obs.opened[inc]).total_seconds()))
    return dict(out)


def quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, ClickHouse's quantile)."""
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def minutes(s: float) -> str:
    return "—" if s is None or math.isnan(s) else f"{s / 60:,.1f}"


# --------------------------------------------------------- offline / chDB
def run_offline(events: list[tuple[datetime, int, dict[str, Any]]]) -> tuple[Observed, list]:
    from incidents.config.settings import Settings
    from incidents.contracts.models import OfficialResponse
    from incidents.domain.desk.records import Outcome
    from incidents.stream.offline import OfflinePipeline

    outcomes: list[Outcome] = []
    pipeline = OfflinePipeline(Settings(), on_outcome=outcomes.append)
    import msgspec

    dec = msgspec.json.Decoder(OfficialResponse)
    pending: list[bytes] = []
    rejected = 0
    for _, is_answer, obj in events:
        if not is_answer:
            pending.append(json.dumps(obj, ensure_ascii=False).encode())
            continue
        if pending:
            rejected += sum(r.status == "rejected" for r in pipeline.run(pending))
            pending = []
        pipeline.respond(dec.decode(json.dumps(obj, ensure_ascii=False).encode()))
    if pending:
        rejected += sum(r.status == "rejected" for r in pipeline.run(pending))
    obs = Observed()
    for o in outcomes:
        for m in o.mentions:
            obs.created.setdefault(m.id, m.created_at)
        for r in o.replies:
            obs.replies.append((r.response_id, r.mention_id, r.kind, r.responded_at))
        for e in o.events:
            if e.type == "created":
                obs.opened.setdefault(e.incident_id, e.at)
            elif e.type == "responded":
                kind = str(e.detail.get("kind", "unknown"))
                obs.responded.append((e.event_id, e.incident_id, kind, e.at))
        obs.dead_letters += len(o.dead_letters) + (1 if o.error else 0)
        obs.parked += o.parked
    if rejected:
        print(f"{rejected} mention lines rejected", file=sys.stderr)
    return obs, outcomes


def load_offline_into_chdb(outcomes: list, path: Path) -> Any:
    """The outcomes as the sink writes them, into an in-process chDB: returns the Warehouse."""
    from incidents.config.settings import ClickHouseSettings
    from incidents.warehouse.rows import rows_for
    from incidents.warehouse.writer import Warehouse

    # History older than the retention (730 days by default) would be dropped by the
    # tables' TTL as it is inserted: keep it for the evaluation.
    wh = Warehouse(ClickHouseSettings(url=f"chdb://{path}", ttl_days=HISTORY_TTL_DAYS))
    wh.migrate()
    tables: dict[str, list[tuple[Any, int, int]]] = defaultdict(list)
    for o in outcomes:
        for name, items in (
            ("mentions", o.mentions),
            ("incidents", o.incidents),
            ("incident_events", o.events),
            ("replies", o.replies),
        ):
            for item in items:
                tables[name].append((item, 0, len(tables[name])))
    for name in ("mentions", "incidents", "incident_events", "replies"):
        rows = rows_for(name, tables[name])
        # 2,000 rows per insert: the "already there?" lookup of 10,000 reply ids would
        # exceed ClickHouse's max_query_size (256 KiB).
        for i in range(0, len(rows), 2_000):
            wh.insert(name, rows[i : i + 2_000])
    return wh


REPEATS = 10  # each aggregate query runs this many times: an official compares screenshots


def _repeated(query: Any, sql: str) -> dict[str, tuple[int, float, float, float]]:
    """Per kind: n, median, p90 of the first run, and the spread (max - min, seconds) of the
    median and p90 over REPEATS runs of the same query on the same data (under STRESS)."""
    runs: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for _ in range(REPEATS):
        _, rows = query(sql + STRESS)
        for kind, n, qs in rows:
            runs[kind].append((int(n), float(qs[0]), float(qs[1])))
    out = {}
    for kind, got in runs.items():
        spread = max(max(g[i] for g in got) - min(g[i] for g in got) for i in (1, 2))
        out[kind] = (got[0][0], got[0][1], got[0][2], spread)
    return out


# Candidate ClickHouse functions for the dashboards' medians and p90 (docs/oversight.md
# #answer-times), each over the per-answer facts. Small blocks on several threads: the
# partial states are merged in whatever order the threads finish, as on a busy server.
_FACTS = "FROM {db}.responses WHERE response_s IS NOT NULL GROUP BY kind"
CANDIDATES = (
    ("before: quantilesMerge of response_times_daily",
     "SELECT kind, quantilesMerge(0.5, 0.9)(response_s_q) FROM {db}.response_times_daily "
     "GROUP BY kind"),
    ("quantiles (reservoir, 8,192 values)",
     f"SELECT kind, quantiles(0.5, 0.9)(response_s) {_FACTS}"),
    ("quantilesDeterministic (by event id)",
     f"SELECT kind, quantilesDeterministic(0.5, 0.9)(response_s, cityHash64(event_id)) {_FACTS}"),
    ("quantilesTDigest", f"SELECT kind, quantilesTDigest(0.5, 0.9)(response_s) {_FACTS}"),
    ("quantilesBFloat16", f"SELECT kind, quantilesBFloat16(0.5, 0.9)(response_s) {_FACTS}"),
    ("quantilesGK (accuracy 10,000)",
     f"SELECT kind, quantilesGK(10000, 0.5, 0.9)(response_s) {_FACTS}"),
    ("quantilesDD (relative accuracy 0.001)",
     f"SELECT kind, quantilesDD(0.001, 0.5, 0.9)(response_s) {_FACTS}"),
    ("chosen: quantilesExactInclusive",
     f"SELECT kind, quantilesExactInclusive(0.5, 0.9)(response_s) {_FACTS}"),
)  # fmt: skip
# Small blocks on several threads: partial states are merged in whatever order the
# threads finish, as on a busy server.
STRESS = " SETTINGS max_threads = 4, max_block_size = 1000"


def compare_functions(query: Any, db: str = "incidents") -> list[tuple[str, str, list[Any]]]:
    """Per candidate and kind: the worst error of median and p90 against the exact value
    over REPEATS runs (%), and how many different answers the runs gave."""
    _, rows = query(
        f"SELECT kind, quantilesExactInclusive(0.5, 0.9)(response_s) FROM {db}.responses "
        f"WHERE response_s IS NOT NULL GROUP BY kind"
    )
    exact = {kind: qs for kind, qs in rows}
    out = []
    for name, sql in CANDIDATES:
        got: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for _ in range(REPEATS):
            _, rows = query(sql.format(db=db) + STRESS)
            for kind, qs in rows:
                got[kind].append((float(qs[0]), float(qs[1])))
        for kind in ("interim", "final"):
            runs = got.get(kind, [])
            if not runs:
                continue
            errs = [
                max(abs(r[i] - exact[kind][i]) / exact[kind][i] * 100 for r in runs) for i in (0, 1)
            ]
            out.append((name, kind, [*errs, len(set(runs))]))
    return out


def report_functions(figures: list[tuple[str, str, list[Any]]], out: Console) -> None:
    t = Table(
        title=f"4. quantile functions over the same answers, {REPEATS} runs each: worst error "
        "against the exact value, and how many different answers the runs gave",
        title_justify="left",
    )
    for col in ("function", "kind", "median: worst error %", "p90: worst error %",
                "different answers"):  # fmt: skip
        t.add_column(col, justify="left" if col in ("function", "kind") else "right")
    for name, kind, (e5, e9, distinct) in figures:
        t.add_row(name, kind, f"{e5:.2f}", f"{e9:.2f}", str(distinct))
    out.print(t)


def clickhouse_figures(query: Any, db: str = "incidents") -> dict[str, dict[str, float]]:
    """Per kind: n and quantiles from `responses` (exact, over facts) and from the
    dashboards' own expression (incidents/oversight/fragments.py, ANSWER_Q), the latter repeated
    REPEATS times (spread = max - min of the median and p90, seconds)."""
    from incidents.oversight.fragments import ANSWER_Q, ANSWERED, ANSWERS

    out: dict[str, dict[str, float]] = defaultdict(dict)
    _, rows = query(
        f"SELECT kind, count(), quantileExactInclusive(0.5)(response_s), "
        f"quantileExactInclusive(0.9)(response_s) FROM {db}.responses FINAL "
        f"WHERE response_s IS NOT NULL GROUP BY kind"
    )
    for kind, n, q5, q9 in rows:
        out[kind].update(resp_n=n, resp_q5=q5, resp_q9=q9)
    dashboard = _repeated(
        query,
        f"SELECT kind, count(), {ANSWER_Q} FROM {ANSWERS.replace('{db}', db)} "
        f"WHERE {ANSWERED} GROUP BY kind",
    )
    for kind, (n, q5, q9, spread) in dashboard.items():
        out[kind].update(dash_n=n, dash_q5=q5, dash_q9=q9, dash_spread=spread)
    return dict(out)


# ------------------------------------------------------------------ stream
def run_stream(
    events: list[tuple[datetime, int, dict[str, Any]]], work: Path, err: Console
) -> tuple[Observed, dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    from confluent_kafka import Consumer, TopicPartition

    from incidents.config.settings import Settings
    from incidents.connectors.sources.file import replay_merged
    from incidents.kafka.embedded import EmbeddedBroker, free_port
    from incidents.kafka.producer import MentionProducer
    from incidents.kafka.topics import ensure_topics
    from incidents.ops import probe

    work.mkdir(parents=True, exist_ok=True)
    mentions_file, responses_file = work / "mentions.jsonl", work / "responses.jsonl"
    with (
        open(mentions_file, "w", encoding="utf-8") as fm,
        open(responses_file, "w", encoding="utf-8") as fr,
    ):
        for _, is_answer, obj in events:
            (fr if is_answer else fm).write(json.dumps(obj, ensure_ascii=False) + "\n")
    n_mentions = sum(1 for e in events if not e[1])
    n_answers = len(events) - n_mentions
    ch_path = work / "clickhouse"
    broker = EmbeddedBroker(port=free_port(), log_path=work / "broker.log").start()
    worker: subprocess.Popen[bytes] | None = None
    try:
        base = Settings()
        s = base.model_copy(
            update={"kafka": base.kafka.model_copy(update={"bootstrap": broker.bootstrap})}
        )
        ensure_topics(s)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
        env.update(
            INCIDENTS_KAFKA_BOOTSTRAP=broker.bootstrap,
            INCIDENTS_WORKER_WEB_PORT=str(port),
            INCIDENTS_WORKER_WEB_HOST="127.0.0.1",
            INCIDENTS_WORKER_APP_ID=f"timing-{uuid.uuid4().hex[:6]}",
            INCIDENTS_WORKER_DATA_DIR=str(work / "worker"),
            INCIDENTS_CLICKHOUSE_URL=f"chdb://{ch_path}",
            INCIDENTS_CLICKHOUSE_TTL_DAYS=str(HISTORY_TTL_DAYS),
        )
        log = open(work / "worker.log", "wb")  # noqa: SIM115 - closed with the process
        worker = subprocess.Popen(
            [sys.executable, "-m", "incidents.cli.main", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(ROOT),
        )
        proc = worker
        with err.status("starting the worker…"):
            probe.wait_ready([url], alive=lambda: proc.poll() is None, timeout=120)
        producer = MentionProducer(s.kafka, client_id="eval-response-timing")
        t0 = time.perf_counter()
        with err.status(f"publishing {n_mentions:,} mentions and {n_answers:,} answers…"):
            replay_merged(
                producer,
                [
                    (mentions_file, s.topics.name("mentions.raw"), "region_hint|id", "created_at",
                     "RawMention/1"),
                    (responses_file, s.topics.name("responses"), "response_id", "responded_at",
                     "OfficialResponse/1"),
                ],
            )  # fmt: skip
            del producer
        with err.status("waiting for the pipeline to drain…"):
            probe.wait_drained(
                [url],
                {"mentions.raw": n_mentions, "responses": n_answers},
                {"enrich", "dedup", "group", "respond", "sink"},
                timeout=max(180.0, n_mentions * 0.2),
                alive=lambda: proc.poll() is None,
            )
        err.print(f"stream drained in {time.perf_counter() - t0:.1f} s")
        obs = Observed()
        c = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": f"timing-reader-{uuid.uuid4().hex[:6]}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        topic = s.topics.name("incidents.events")
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        quiet = time.monotonic()
        with err.status("reading incidents.events…"):
            while time.monotonic() - quiet < 3.0:
                msg = c.poll(0.3)
                if msg is None or msg.error():
                    continue
                quiet = time.monotonic()
                e = json.loads(msg.value())
                at = datetime.fromisoformat(e["at"])
                if e["type"] == "created":
                    obs.opened[e["incident_id"]] = min(obs.opened.get(e["incident_id"], at), at)
                elif e["type"] == "responded":
                    kind = (e.get("detail") or {}).get("kind", "unknown")
                    obs.responded.append((e["event_id"], e["incident_id"], kind, at))
        c.close()
        # ClickHouse through the worker that owns it (chDB: one process per directory).
        from incidents.oversight.report import http_query

        query = http_query(url, timeout=120)
        _, rows = query(
            "SELECT r.response_id, r.mention_id, r.kind, toUnixTimestamp64Milli(r.responded_at), "
            "toUnixTimestamp64Milli(m.created_at) "
            "FROM incidents.replies AS r INNER JOIN incidents.mentions AS m ON m.id = r.mention_id"
        )
        for response_id, mid, kind, at_ms, created_ms in rows:
            obs.replies.append((response_id, mid, kind, _from_ms(at_ms)))
            obs.created[mid] = _from_ms(created_ms)
        _, dl = query("SELECT count() FROM incidents.dead_letters")
        obs.dead_letters = int(dl[0][0])
        ch = clickhouse_figures(query)
        facts = event_fact_figures(query)
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
        broker.stop()
    return obs, ch, facts


def event_fact_figures(query: Any, db: str = "incidents") -> dict[str, dict[str, float]]:
    """Answer times from the `incident_events` facts alone (created → responded)."""
    _, rows = query(
        f"SELECT r.kind, count(), quantileExactInclusive(0.5)(s), quantileExactInclusive(0.9)(s) "
        f"FROM (SELECT e.detail['kind'] AS kind, "
        f"greatest(0, dateDiff('millisecond', o.opened, e.at) / 1000) AS s "
        f"FROM {db}.incident_events AS e INNER JOIN "
        f"(SELECT incident_id, min(at) AS opened FROM {db}.incident_events "
        f"WHERE type = 'created' GROUP BY incident_id) AS o ON o.incident_id = e.incident_id "
        f"WHERE e.type = 'responded') AS r GROUP BY r.kind"
    )
    return {kind: {"n": n, "q5": q5, "q9": q9} for kind, n, q5, q9 in rows}


def _from_ms(ms: Any) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


# ------------------------------------------------------------------ report
def compare_rows(
    name: str,
    expected: dict[str, dict[str, float]],
    got: dict[str, dict[str, float]],
    which: str,
) -> tuple[list[str], int, float]:
    exp = [d[which] for d in expected.values() if which in d]
    obs = [got[m][which] for m, d in expected.items() if which in d and which in got.get(m, {})]
    missing = sum(1 for m, d in expected.items() if which in d and which not in got.get(m, {}))
    worst = max(
        (abs(got[m][which] - d[which]) for m, d in expected.items()
         if which in d and which in got.get(m, {})),
        default=0.0,
    )  # fmt: skip
    e5, e9, o5, o9 = quantile(exp, 0.5), quantile(exp, 0.9), quantile(obs, 0.5), quantile(obs, 0.9)
    same = (
        len(obs) == len(exp)
        and math.floor(e5 / 60) == math.floor(o5 / 60)
        and math.floor(e9 / 60) == math.floor(o9 / 60)
    )
    row = [
        name,
        which,
        f"{len(exp):,}",
        f"{len(obs):,}",
        minutes(e5),
        minutes(o5),
        minutes(e9),
        minutes(o9),
        f"{worst:.1f}",
        "yes" if same else "NO",
    ]
    return row, missing, worst


def report(
    rows: list[dict[str, Any]],
    obs: Observed,
    ch: dict[str, dict[str, float]] | None,
    facts: dict[str, dict[str, float]] | None,
    mode: str,
    out: Console,
) -> bool:
    target = {resp["response_id"]: resp["mention_id"] for r in rows for resp in responses_of(r)}
    expected = expected_delays(rows)
    own = per_mention(obs, target, own_only=True)
    seen = per_mention(obs, target, own_only=False)
    n_answers = sum(len(r["answers"]) for r in rows)
    out.print(
        f"[bold]{mode}[/]: {len(rows):,} cases ({rows[0]['created_at'][:10]} … "
        f"{rows[-1]['created_at'][:10]}), {n_answers:,} answers; "
        f"replies {len(obs.replies):,}, responded events {len(obs.responded):,}, "
        f"incidents opened {len(obs.opened):,}, dead letters {obs.dead_letters}"
    )
    t = Table(
        title="1. per mention, its own answers: raw timelines vs the replies the stream sent "
        "(minutes)",
        title_justify="left",
    )
    for col in ("measure", "delay", "expected n", "got n", "median exp", "median got",
                "p90 exp", "p90 got", "max |Δ| s", "equal to the minute"):  # fmt: skip
        t.add_column(col, justify="left" if col in ("measure", "delay") else "right")
    ok = True
    for which in ("first", "final"):
        row, missing, worst = compare_rows("own answers", expected, own, which)
        t.add_row(*row)
        ok &= row[-1] == "yes" and missing == 0 and worst < 1.0
    out.print(t)

    t2 = Table(
        title="2. per mention as the post sees it: earliest reply of any answer to its incident",
        title_justify="left",
    )
    for col in ("delay", "mentions", "median own", "median seen", "p90 own", "p90 seen",
                "posts answered earlier through a neighbour"):  # fmt: skip
        t2.add_column(col, justify="left" if col == "delay" else "right")
    for which in ("first", "final"):
        both = [m for m in expected if which in own.get(m, {}) and which in seen.get(m, {})]
        earlier = sum(1 for m in both if seen[m][which] < own[m][which] - 0.5)
        only_seen = sum(1 for m, d in seen.items() if which in d and which not in own.get(m, {}))
        t2.add_row(
            which,
            f"{len(both):,}",
            minutes(quantile([own[m][which] for m in both], 0.5)),
            minutes(quantile([seen[m][which] for m in both], 0.5)),
            minutes(quantile([own[m][which] for m in both], 0.9)),
            minutes(quantile([seen[m][which] for m in both], 0.9)),
            f"{earlier:,} (+{only_seen:,} with no answer of their own)",
        )
    out.print(t2)

    per = per_answer(obs)
    t3 = Table(
        title="3. per answer, from the incident's first post (what the SLA tables measure)",
        title_justify="left",
    )
    cols = ["kind", "event log n", "median", "p90"]
    if facts is not None:
        cols += ["incident_events n", "median", "p90"]
    if ch is not None:
        cols += ["responses n", "median", "p90", "dashboards n", "median", "p90",
                 f"spread, {REPEATS} runs", "agree"]  # fmt: skip
    for col in cols:
        t3.add_column(col, justify="left" if col == "kind" else "right")
    for kind in ("interim", "final"):
        vals = per.get(kind, [])
        q5, q9 = quantile(vals, 0.5), quantile(vals, 0.9)
        line = [kind, f"{len(vals):,}", minutes(q5), minutes(q9)]
        if facts is not None:
            f = facts.get(kind, {})
            line += [f"{f.get('n', 0):,}", minutes(f.get("q5", math.nan)),
                     minutes(f.get("q9", math.nan))]  # fmt: skip
        if ch is not None:
            c = ch.get(kind, {})
            agree = (
                c.get("resp_n") == len(vals) == c.get("dash_n")
                and c.get("dash_spread") == 0
                and all(
                    abs(c.get(k, math.nan) - v) < 60
                    for k, v in (
                        ("resp_q5", q5),
                        ("resp_q9", q9),
                        ("dash_q5", q5),
                        ("dash_q9", q9),
                    )
                )
            )
            ok &= agree
            line += [
                f"{c.get('resp_n', 0):,}",
                minutes(c.get("resp_q5", math.nan)),
                minutes(c.get("resp_q9", math.nan)),
                f"{c.get('dash_n', 0):,}",
                minutes(c.get("dash_q5", math.nan)),
                minutes(c.get("dash_q9", math.nan)),
                minutes(c.get("dash_spread", math.nan)),
                "yes" if agree else "NO",
            ]
        t3.add_row(*line)
    out.print(t3)
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--split", choices=["dev", "heldout"], default="dev")
    ap.add_argument("--stream", action="store_true", help="through broker + worker + chDB too")
    ap.add_argument("--keep", help="keep the work directory (files, logs, chDB) here")
    args = ap.parse_args()
    out, err = Console(width=200), Console(stderr=True)
    if not SPB.is_file():
        err.print(f"{SPB} not found: this evaluation needs the St Petersburg data")
        return 2
    rows = load(args.split, args.cases)
    events = merged(rows)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="incidents-timing-"))
    work.mkdir(parents=True, exist_ok=True)
    ok = True
    try:
        with err.status("offline: enrich + desk in-process…"):
            t0 = time.perf_counter()
            obs, outcomes = run_offline(events)
            secs = time.perf_counter() - t0
        with err.status("loading the outcomes into an in-process chDB…"):
            wh = load_offline_into_chdb(outcomes, work / "offline-clickhouse")
            try:
                ch = clickhouse_figures(wh.query)
                facts = event_fact_figures(wh.query)
                functions = compare_functions(wh.query)
            finally:
                wh.close()
        ok &= report(rows, obs, ch, facts, f"offline ({secs:.1f} s)", out)
        report_functions(functions, out)
        if args.stream:
            out.print()
            sobs, sch, sfacts = run_stream(events, work / "stream", err)
            ok &= report(rows, sobs, sch, sfacts, "stream", out)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    out.print("all equal" if ok else "[red]DIFFERENCES above[/]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
