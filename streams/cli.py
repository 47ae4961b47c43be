"""`incidents`: the one command-line entry point.

Every failure a user can cause (a mistyped command, a wrong setting, a missing
file, an unreachable broker) ends in one line on stderr and exit code 2 (usage
or config) or 1 (runtime), never a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from streams.settings import ConfigError, Settings, load_settings


class UsageError(Exception):
    """Exit code 2 with one line."""


class Failure(Exception):
    """Exit code 1 with one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if "invalid choice" in message and "argument command" in message:
            bad = message.split("'")[1] if "'" in message else ""
            close = difflib.get_close_matches(bad, COMMANDS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            message = f"unknown command '{bad}'{hint} (see `incidents --help`)"
        raise UsageError(message)


def _settings() -> Settings:
    return load_settings()


def _err_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


# ------------------------------------------------------------------ process
def cmd_process(args: argparse.Namespace) -> int:
    import msgspec
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from connectors.file import read_lines
    from streams.domain.pipeline import OfflinePipeline
    from streams.runtime import tune_gc

    src = Path(args.input)
    if str(src) != "-" and not src.is_file():
        raise UsageError(f"no such input file: {src}")
    s = _settings()
    err = _err_console()
    with err.status("loading models and gazetteer…"):
        pipeline = OfflinePipeline(s)
    tune_gc()
    out = sys.stdout.buffer if args.output in (None, "-") else open(args.output, "wb")  # noqa: SIM115
    lines = iter(sys.stdin.buffer) if str(src) == "-" else read_lines(src)
    total = None if str(src) == "-" else sum(1 for _ in read_lines(src))
    enc = msgspec.json.Encoder()
    started = time.perf_counter()
    show = args.output not in (None, "-") and not args.quiet
    try:
        with Progress(
            TextColumn("process"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=not show,
        ) as bar:
            task = bar.add_task("lines", total=total)
            for result in pipeline.run(lines, batch=args.batch):
                out.write(enc.encode(result.as_dict()) + b"\n")
                bar.advance(task)
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    elapsed = time.perf_counter() - started
    t = pipeline.totals
    if not args.quiet:
        from rich.table import Table

        rate = t.lines / max(elapsed, 1e-9)
        table = Table(title=f"process: {t.lines} lines in {elapsed:.1f} s ({rate:,.0f}/s)")
        for c in ("accepted", "duplicate", "rejected", "appeals", "incidents"):
            table.add_column(c, justify="right")
        table.add_row(
            str(t.accepted),
            str(t.duplicate),
            str(t.rejected),
            str(t.appeals),
            str(len(t.incidents)),
        )
        err.print(table)
        if t.errors:
            err.print(
                "rejected by kind: " + ", ".join(f"{k}={v}" for k, v in sorted(t.errors.items()))
            )
    return 0


# ------------------------------------------------------------------- replay
def cmd_replay(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from connectors.file import count_lines, replay_file, replay_merged
    from connectors.producer import MentionProducer, PublishError
    from streams.topics import Topics, ensure_topics

    s = _settings()
    topics = Topics.from_settings(s)
    plan: list[tuple[Path, str, str, str, str]] = []
    mention_key = "region_hint|id" if args.key == "region" else "id"
    for f in args.files:
        plan.append((Path(f), topics.raw, mention_key, "created_at", "RawMention/1"))
    for f in args.responses or []:
        plan.append(
            (Path(f), topics.responses, "response_id", "responded_at", "OfficialResponse/1")
        )
    for path, *_ in plan:
        if not path.is_file():
            raise UsageError(f"no such file: {path}")
    _wait_for_broker(s, timeout=args.connect_timeout)
    ensure_topics(s)
    producer = MentionProducer(s.kafka, client_id="incidents-replay")
    err = _err_console()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=err) as bar:
            if args.responses and not args.in_file_order:
                total = sum(count_lines(p) for p, *_ in plan)
                task = bar.add_task("mentions + responses by event time", total=total)
                replay_merged(producer, plan, progress=lambda n: bar.advance(task, n))
            else:
                for path, topic, key_field, _time_field, schema in plan:
                    task = bar.add_task(f"{path.name} → {topic}", total=count_lines(path))
                    replay_file(
                        producer,
                        path,
                        topic,
                        key_field,
                        schema,
                        progress=functools.partial(bar.advance, task),
                    )
    except PublishError as exc:
        raise Failure(f"replay failed: {exc}") from None
    err.print(f"published {producer.delivered} messages to {s.kafka.bootstrap}")
    return 0


def _wait_for_broker(s: Settings, timeout: float = 20.0) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**s.kafka.librdkafka(), "socket.connection.setup.timeout.ms": 3000})
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=3)
            return
        except Exception as exc:  # KafkaException: transport failure
            last = str(exc)
            time.sleep(0.5)
    raise Failure(
        f"cannot reach Kafka at {s.kafka.bootstrap} (INCIDENTS_KAFKA_BOOTSTRAP) "
        f"within {timeout:.0f} s"
        + (f": {last[:120]}" if last else "")
        + "; start one with `incidents broker`"
    )


# -------------------------------------------------------------------- worker
def cmd_worker(args: argparse.Namespace) -> int:
    from streams.worker import run_worker

    s = _settings()
    _wait_for_broker(s, timeout=args.connect_timeout)
    run_worker(s)
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    import signal

    from streams.broker import BrokerError, EmbeddedBroker

    s = _settings()
    port = args.port if args.port is not None else int(s.kafka.hosts()[0].rsplit(":", 1)[1])
    try:
        broker = EmbeddedBroker(port=port).start()
    except BrokerError as exc:
        raise Failure(str(exc)) from None
    print(
        f"embedded broker (tansu, in-memory) listening on {broker.bootstrap}; Ctrl-C stops it",
        flush=True,
    )
    stop = {"now": False}

    def _stop(*_: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop["now"] and broker.proc is not None and broker.proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from streams.topics import ensure_topics

    s = _settings()
    _wait_for_broker(s, timeout=args.connect_timeout)
    created = ensure_topics(s)
    print("created: " + (", ".join(created) if created else "nothing (all topics exist)"))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from streams.warehouse import Warehouse, WarehouseError

    s = _settings()
    wh = Warehouse(s.clickhouse)
    try:
        applied = wh.migrate(progress=lambda name: print(f"applied {name}", flush=True))
    except WarehouseError as exc:
        raise Failure(str(exc)) from None
    finally:
        wh.close()
    where = f"{s.clickhouse.resolved_url()} database {s.clickhouse.database}"
    print(f"{len(applied)} migration(s) applied to {where}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from streams.report import collect, http_query, render
    from streams.warehouse import Warehouse, WarehouseError

    s = _settings()
    wh = None
    if args.via:
        query: Callable[..., Any] = http_query(args.via)
    else:
        wh = Warehouse(s.clickhouse)
        query = wh.query
    try:
        if args.html:
            from streams.report_html import build

            page = build(query, s.clickhouse.database)
        else:
            sections = collect(query, s.clickhouse.database, top=args.top)
    except WarehouseError as exc:
        hint = ""
        if "held by another process" in str(exc):
            hint = f" (or run `incidents report --via http://127.0.0.1:{s.worker.web_port}`)"
        raise Failure(str(exc) + hint) from None
    except Exception as exc:
        raise Failure(f"report failed: {str(exc).splitlines()[0]}") from None
    finally:
        if wh is not None:
            wh.close()
    if args.html:
        try:
            Path(args.html).write_text(page, encoding="utf-8")
        except OSError as exc:
            raise Failure(f"cannot write {args.html}: {exc.strerror or exc}") from None
        print(f"wrote {args.html} (a self-contained page: no network needed to open it)")
        return 0
    render(sections)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.demo.run import run_demo

    return run_demo(_settings(), keep_running=args.keep_running)


def cmd_schemas(args: argparse.Namespace) -> int:
    from schemas.registry import export_all, stale_files

    if args.action == "export":
        for path in export_all():
            print(f"wrote {path}")
        return 0
    stale = stale_files()
    if stale:
        raise Failure("JSON Schemas are out of date: " + ", ".join(stale) + " (run `make schemas`)")
    print("JSON Schemas match schemas/models.py")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from streams.settings import effective, reference

    rows = reference() if args.defaults else effective(_settings())
    if args.markdown:
        print("| variable | default | what it does |")
        print("|---|---|---|")
        for name, value, doc in rows:
            shown = f"`{value}`" if value else ""
            print(f"| `{name}` | {shown} | {doc} |")
        return 0
    from rich.table import Table

    from streams.report import wide_console

    table = Table(title="defaults" if args.defaults else "effective settings (secrets hidden)")
    for col in ("variable", "value", "what it does"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    wide_console().print(table)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from rich.table import Table

    from streams.domain.enrichment import Enricher
    from streams.report import http_query, wide_console
    from streams.topics import Topics
    from streams.verify import Expected, lines_of, reconcile
    from streams.warehouse import Warehouse, WarehouseError

    paths = [Path(f) for f in args.files]
    for p in paths:
        if not p.is_file():
            raise UsageError(f"no such file: {p}")
    s = _settings()
    expected = Expected.of_lines(
        lines_of(paths), Enricher.from_settings(s.enrich), Topics.from_settings(s).raw
    )
    wh = None if args.via else Warehouse(s.clickhouse)
    try:
        result = reconcile(
            expected, wh.query if wh is not None else http_query(args.via), s.clickhouse.database
        )
    except WarehouseError as exc:
        raise Failure(str(exc)) from None
    finally:
        if wh is not None:
            wh.close()
    table = Table(title="verify: " + ("OK" if result.ok else "PROBLEMS FOUND"))
    table.add_column("check")
    table.add_column("count", justify="right")
    for row in result.rows():
        table.add_row(*row)
    wide_console().print(table)
    for mention_id in result.lost[:10]:
        print(f"lost: {mention_id}")
    return 0 if result.ok else 1


def cmd_dlq(args: argparse.Namespace) -> int:
    from datetime import datetime

    from rich.table import Table

    from streams.dlq_replay import DeadLetterReader, Filter, replay
    from streams.report import wide_console

    s = _settings()
    _wait_for_broker(s, timeout=args.connect_timeout)
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise UsageError(f"--since: not an ISO time: {args.since!r}") from None
        if since.tzinfo is None:
            raise UsageError("--since needs a UTC offset, e.g. 2026-11-20T00:00:00+03:00")
    flt = Filter(stage=args.stage, kind=args.kind, since=since)
    err = _err_console()
    if args.action == "show":
        table = Table(title="dead letters (mentions.dlq)")
        for col in ("failed at (UTC)", "stage", "kind", "topic", "offset", "reason"):
            table.add_column(col, overflow="ellipsis", no_wrap=col != "reason", max_width=70)
        shown = 0
        try:
            reader = DeadLetterReader(s, None, True)
        except RuntimeError as exc:
            raise Failure(str(exc)) from None
        try:
            for d, _ in reader:
                if d is None or not flt(d):
                    continue
                shown += 1
                if shown <= args.limit:
                    table.add_row(
                        d.failed_at.strftime("%Y-%m-%d %H:%M:%S"),
                        d.stage,
                        d.error_kind,
                        d.topic,
                        f"{d.partition}:{d.offset}",
                        d.reason,
                    )
        finally:
            reader.close()
        wide_console().print(table)
        err.print(
            f"{shown} matching dead letters"
            + (f" (first {args.limit} shown)" if shown > args.limit else "")
        )
        return 0
    with err.status("replaying dead letters…") as status:
        try:
            result = replay(
                s,
                flt,
                dry_run=args.dry_run,
                from_beginning=args.from_beginning,
                progress=lambda r: status.update(
                    f"replaying dead letters… {r.seen} read, {r.replayed} sent"
                ),
            )
        except RuntimeError as exc:
            raise Failure(str(exc)) from None
    verb = "would replay" if args.dry_run else "replayed"
    sent = result.matched - result.connector if args.dry_run else result.replayed
    err.print(
        f"read {result.seen} dead letters, {result.matched} matched, {verb} {sent}; "
        f"{result.unreadable} unreadable"
    )
    if result.connector:
        err.print(
            f"{result.connector} came from a connector (platform JSON, not a RawMention): "
            "not replayed; fix the cause and let the connector fetch them again"
        )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from streams.domain.training import read_labelled, train_category_model

    src = Path(args.input)
    if not src.is_file():
        raise UsageError(f"no such file: {src}")
    err = _err_console()
    try:
        texts, labels = read_labelled(src, args.text_field, args.label_field)
    except (KeyError, ValueError) as exc:
        raise UsageError(f"{src}: {exc}") from None
    if len(set(labels)) < 2:
        raise UsageError(f"{src}: need at least two labels in `{args.label_field}`")
    with err.status(f"training on {len(texts):,} labelled texts, {len(set(labels))} categories…"):
        report = train_category_model(texts, labels, Path(args.output), validation=args.validation)
    print(report.render())
    err.print(
        f"model written to {args.output}; use it with INCIDENTS_ENRICH_CATEGORY_MODEL={args.output}"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    src = Path(args.input)
    if not src.is_file():
        raise UsageError(f"no such file: {src}")
    if args.what == "categories":
        from streams.domain.classify import AppealClassifier
        from streams.domain.training import evaluate, read_labelled

        try:
            texts, labels = read_labelled(src, args.text_field, args.label_field)
        except (KeyError, ValueError) as exc:
            raise UsageError(f"{src}: {exc}") from None
        model = (
            AppealClassifier.load(Path(args.model)) if args.model else AppealClassifier.default()
        )
        err = _err_console()
        with err.status(f"classifying {len(texts):,} texts…"):
            predicted = [c.category or "(none)" for c in model.classify(texts)]
        print(evaluate(labels, predicted).render())
        return 0
    if args.what == "dedup":
        import msgspec

        from connectors.file import read_lines
        from streams.domain.dedup_eval import decisions, regions, score
        from streams.domain.pipeline import OfflinePipeline

        lines = list(read_lines(src))
        gold: list[dict[str, Any]] = []
        for n, line in enumerate(lines, 1):
            try:
                obj = msgspec.json.decode(line)
            except (msgspec.DecodeError, UnicodeDecodeError):
                raise UsageError(f"{src}:{n}: not JSON") from None
            if not isinstance(obj, dict) or "id" not in obj:
                raise UsageError(f"{src}:{n}: a labelled RawMention needs an `id`")
            gold.append(
                {"id": obj["id"], "copy_of": obj.get("copy_of"), "twin_of": obj.get("twin_of"),
                 "text_key": obj.get("text_key"), "kinds": obj.get("kinds")}
            )  # fmt: skip
        err = _err_console()
        with err.status(f"running {len(lines):,} mentions through enrich and dedup…"):
            results = list(OfflinePipeline(_settings()).run(lines))
        print(score(gold, decisions(results), regions(results)).render())
        return 0
    if args.what == "grouping":
        import msgspec

        from connectors.file import read_lines
        from streams.domain.grouping_eval import incident_ids, score_labelled
        from streams.domain.pipeline import OfflinePipeline

        lines = list(read_lines(src))
        groups: dict[str, str | None] = {}  # lines that are not JSON objects with an id: unscored
        for line in lines:
            try:
                obj = msgspec.json.decode(line)
            except (msgspec.DecodeError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict) and isinstance(obj.get("id"), str):
                label = obj.get(args.group_field)
                groups.setdefault(obj["id"], None if label in (None, "") else str(label))
        if not any(groups.values()):
            raise UsageError(f"{src}: no line carries a `{args.group_field}` label")
        err = _err_console()
        with err.status(f"running {len(lines):,} mentions through enrich and the desk…"):
            decided = incident_ids(OfflinePipeline(_settings()).run(lines))
        print(score_labelled([decided.get(i) for i in groups], list(groups.values())).render())
        return 0
    raise UsageError(f"unknown evaluation {args.what!r}")


def cmd_bench(args: argparse.Namespace) -> int:
    from streams.bench import run_bench

    return run_bench(_settings(), quick=args.quick, only=args.only, pure=args.pure_python)


COMMANDS = [
    "process", "replay", "report", "worker", "broker", "topics", "migrate", "demo", "schemas",
    "config", "verify", "dlq", "train", "evaluate", "bench", "connect", "replies",
]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="incidents",
        description="Social-media mentions → deduplicated, classified, located, routed incidents.",
        epilog="Settings come from INCIDENTS_* environment variables; see docs/configuration.md.",
    )
    sub = p.add_subparsers(dest="command", metavar="command", parser_class=_Parser)

    sp = sub.add_parser("process", help="run the pipeline's domain code over a JSONL file, offline")
    sp.add_argument("input", help="RawMention JSONL (.gz allowed, - for stdin)")
    sp.add_argument("-o", "--output", help="output JSONL (default stdout)")
    sp.add_argument("--batch", type=int, default=500, help="batch size (default 500)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    sp.set_defaults(fn=cmd_process)

    sp = sub.add_parser("replay", help="publish JSONL files to mentions.raw (and responses)")
    sp.add_argument("files", nargs="+", help="RawMention JSONL files")
    sp.add_argument(
        "--responses", action="append", help="OfficialResponse JSONL to publish to `responses`"
    )
    sp.add_argument(
        "--in-file-order",
        action="store_true",
        help="publish each file in turn, as written (default with --responses: all lines "
        "merged by event time)",
    )
    sp.add_argument(
        "--key",
        choices=["region", "id"],
        default="region",
        help="mentions.raw key: `region` (region_hint, else the id; default) keeps each "
        "region's posts in one partition, so the desk sees them in event-time order; "
        "`id` spreads them over every partition, as connectors do",
    )
    sp.add_argument("--connect-timeout", type=float, default=20.0)
    sp.set_defaults(fn=cmd_replay)

    sp = sub.add_parser("report", help="print the oversight tables from ClickHouse")
    sp.add_argument("--via", help="query through a running worker, e.g. http://127.0.0.1:6066")
    sp.add_argument("--top", type=int, default=15, help="rows in the incident list (default 15)")
    sp.add_argument(
        "--html", metavar="FILE", help="write a self-contained HTML page with charts instead"
    )
    sp.set_defaults(fn=cmd_report)

    sp = sub.add_parser("worker", help="run the stream worker (agents by INCIDENTS_WORKER_ROLES)")
    sp.add_argument("--connect-timeout", type=float, default=30.0)
    sp.set_defaults(fn=cmd_worker)

    sp = sub.add_parser(
        "broker", help="run the embedded Kafka-protocol broker (tansu) in the foreground"
    )
    sp.add_argument("--port", type=int, help="port (default: the one in INCIDENTS_KAFKA_BOOTSTRAP)")
    sp.set_defaults(fn=cmd_broker)

    sp = sub.add_parser("topics", help="create missing topics with their partitions and configs")
    sp.add_argument("--connect-timeout", type=float, default=20.0)
    sp.set_defaults(fn=cmd_topics)

    sp = sub.add_parser("migrate", help="apply ClickHouse migrations")
    sp.set_defaults(fn=cmd_migrate)

    sp = sub.add_parser(
        "demo", help="broker + worker + ClickHouse, replay the sample, print the report"
    )
    sp.add_argument(
        "--keep-running", action="store_true", help="leave broker and worker up until Ctrl-C"
    )
    sp.set_defaults(fn=cmd_demo)

    sp = sub.add_parser(
        "schemas", help="export or check the JSON Schemas generated from the models"
    )
    sp.add_argument("action", choices=["export", "check"])
    sp.set_defaults(fn=cmd_schemas)

    sp = sub.add_parser("verify", help="reconcile published files with ClickHouse: lost, doubled")
    sp.add_argument("files", nargs="+", help="the RawMention JSONL files that were published")
    sp.add_argument("--via", help="query through a running worker, e.g. http://127.0.0.1:6066")
    sp.set_defaults(fn=cmd_verify)

    sp = sub.add_parser("dlq", help="show dead letters, or replay them after a fix")
    sp.add_argument("action", choices=["show", "replay"])
    sp.add_argument("--stage", choices=["enrich", "dedup", "group", "respond", "sink"])
    sp.add_argument(
        "--kind",
        choices=["invalid_json", "invalid_encoding", "schema", "too_large", "unknown_region",
                 "unknown_incident", "processing_error"],
    )  # fmt: skip
    sp.add_argument("--since", help="only dead letters from this time on (ISO 8601 with offset)")
    sp.add_argument("--limit", type=int, default=50, help="rows to show (show)")
    sp.add_argument("--dry-run", action="store_true", help="count what would be replayed")
    sp.add_argument("--from-beginning", action="store_true", help="replay everything again")
    sp.add_argument("--connect-timeout", type=float, default=20.0)
    sp.set_defaults(fn=cmd_dlq)

    sp = sub.add_parser(
        "train", help="train a category model for your own rubric from labelled history"
    )
    sp.add_argument("input", help="JSONL or CSV (.gz allowed) with a text and a label per row")
    sp.add_argument("-o", "--output", required=True, help="model file to write (.npz)")
    sp.add_argument("--text-field", default="text")
    sp.add_argument("--label-field", default="category")
    sp.add_argument("--validation", type=float, default=0.1, help="share held out to report on")
    sp.set_defaults(fn=cmd_train)

    sp = sub.add_parser("evaluate", help="score the pipeline on your labelled data")
    sp.add_argument(
        "what",
        choices=["categories", "dedup", "grouping"],
        help="categories: text + label rows; dedup: RawMention JSONL with `copy_of` per line; "
        "grouping: RawMention JSONL with the problem of each post in `group` (--group-field)",
    )
    sp.add_argument("input", help="labelled JSONL or CSV (.gz allowed)")
    sp.add_argument("--model", help="a model from `incidents train` (default: the bundled rubric)")
    sp.add_argument("--text-field", default="text")
    sp.add_argument("--label-field", default="category")
    sp.add_argument("--group-field", default="group", help="grouping: the problem label field")
    sp.set_defaults(fn=cmd_evaluate)

    sp = sub.add_parser("config", help="show the effective settings (or the defaults)")
    sp.add_argument("--defaults", action="store_true", help="the defaults, not this environment")
    sp.add_argument("--markdown", action="store_true", help="as a Markdown table")
    sp.set_defaults(fn=cmd_config)

    sp = sub.add_parser("bench", help="throughput figures")
    sp.add_argument("--quick", action="store_true", help="smaller inputs (for CI smoke runs)")
    sp.add_argument(
        "--only", action="append", help="run only these benchmarks (comma-separated or repeated)"
    )
    sp.add_argument(
        "--pure-python",
        action="store_true",
        help="without the compiled twins of dedup's hot steps, to compare (docs/dedup.md)",
    )
    sp.set_defaults(fn=cmd_bench)
    from connectors.cli import register; register(sub)  # noqa: E702, I001  # fmt: skip
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "fn", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.fn(args) or 0)
    except UsageError as exc:
        print(f"incidents: error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"incidents: config error: {exc}", file=sys.stderr)
        return 2
    except Failure as exc:
        print(f"incidents: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("incidents: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `incidents ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
