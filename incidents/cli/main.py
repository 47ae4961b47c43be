"""`incidents`: the one command-line entry point.

Every failure a user can cause (a mistyped command, a wrong setting, a missing
file, an unreachable broker) ends in one line on stderr and exit code 2 (usage
or config) or 1 (runtime), never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import signal
import sys
import time
import urllib.error
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from incidents.cli import connectors as connectors_cli
from incidents.cli import console as console_cli
from incidents.config.command import (
    Failure,
    OneLineParser,
    UsageError,
    add_connect_timeout,
    positive_int,
    wait_for_kafka,
)
from incidents.config.gc import tune_gc
from incidents.config.settings import ConfigError, Settings, effective, load_settings, reference
from incidents.connectors.sources.file import (
    count_lines,
    older_than,
    read_lines,
    replay_file,
    replay_merged,
)
from incidents.contracts.models import RawMention, Source
from incidents.contracts.registry import export_all, stale_files
from incidents.contracts.topology import STAGES
from incidents.domain.understanding.problems import Taxonomy
from incidents.domain.understanding.rubric import RubricMap, main_types, score_problems
from incidents.evaluation import dedup as dedup_eval
from incidents.evaluation.grouping import incident_ids, score_labelled
from incidents.kafka.embedded import BrokerError, EmbeddedBroker
from incidents.kafka.producer import MentionProducer, PublishError
from incidents.kafka.topics import Topics, ensure_topics
from incidents.ops import dlq_replay
from incidents.ops.dlq_replay import DeadLetterReader, Filter
from incidents.oversight.report import collect, http_query, render, wide_console
from incidents.warehouse.writer import Warehouse, WarehouseError


def _settings() -> Settings:
    return load_settings()


def _err_console() -> Any:
    return Console(stderr=True)


# ------------------------------------------------------------------ process
def cmd_process(args: argparse.Namespace) -> int:
    src = Path(args.input)
    stdin = str(src) == "-"
    total = None if stdin else _input_lines(src)
    if total == 0:
        raise Failure(f"{src} is empty (no lines): nothing to process")
    s = _settings()
    out = sys.stdout.buffer if args.output in (None, "-") else _open_output(args.output)
    err = _err_console()
    with err.status("loading models and gazetteer…"):
        pipeline = _pipeline(s)
    tune_gc()
    lines = iter(sys.stdin.buffer) if stdin else read_lines(src)
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
    except (OSError, EOFError) as exc:  # a truncated .gz, a disk that filled up
        raise Failure(f"process stopped: {_os_reason(exc)}") from None
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    elapsed = time.perf_counter() - started
    t = pipeline.totals
    if t.lines == 0:  # stdin gave nothing (files are checked before the models load)
        raise Failure("no input lines on stdin: nothing processed")
    if not args.quiet:
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
    if t.accepted + t.duplicate == 0:
        kinds = ", ".join(f"{k}={v}" for k, v in sorted(t.errors.items()))
        raise Failure(
            f"none of the {t.lines} lines is a valid RawMention ({kinds}); "
            "each line's reason is in the output's `error`"
        )
    return 0


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _input_lines(src: Path) -> int:
    """Non-blank lines of an input file, after checking it is one: one line per mistake.

    A directory, a binary file (an image, a database, a .gz that is not gzip) or an
    unreadable file is a usage error here, before the models load, not a traceback or
    a rejected "line" later.
    """
    if src.is_dir():
        raise UsageError(f"{src} is a directory: give a JSONL file (RawMention lines, .gz allowed)")
    if not src.exists():
        raise UsageError(f"no such input file: {src}")
    try:
        opener = gzip.open if src.suffix == ".gz" else open
        with opener(src, "rb") as f:
            head = f.read(8192)
        if b"\0" in head:
            raise UsageError(
                f"{src} is a binary file, not JSONL text (UTF-8, one RawMention per line)"
            )
        return sum(1 for _ in read_lines(src))
    except gzip.BadGzipFile:
        raise UsageError(f"{src} is named .gz but is not gzip-compressed") from None
    except (OSError, EOFError) as exc:
        raise UsageError(f"cannot read {src}: {_os_reason(exc)}") from None


def _open_output(name: str) -> Any:
    """The output file, opened before any work: a wrong path costs one line, not the run."""
    path = Path(name)
    if path.is_dir():
        raise UsageError(f"-o {name} is a directory: name a file")
    if not path.parent.is_dir():
        raise UsageError(f"-o {name}: directory {path.parent} does not exist")
    try:
        return open(path, "wb")
    except OSError as exc:
        raise UsageError(f"cannot write {name}: {_os_reason(exc)}") from None


# ------------------------------------------------------------------- replay
def cmd_replay(args: argparse.Namespace) -> int:
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
    for path, *_ in plan:  # any bytes go: the pipeline, not the replayer, says what is invalid
        if path.is_dir():
            raise UsageError(f"{path} is a directory: give JSONL files")
        if not path.is_file():
            raise UsageError(f"no such file: {path}")
    err = _err_console()
    _warn_older_than_retention(plan, s, err)
    wait_for_kafka(s.kafka, timeout=args.connect_timeout)
    ensure_topics(s)
    producer = MentionProducer(s.kafka, client_id="incidents-replay")
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


def _warn_older_than_retention(
    plan: list[tuple[Path, str, str, str, str]], s: Settings, err: Any
) -> None:
    """Before a backfill: say how much of it ClickHouse will not store (older than the
    retention), naming the setting that keeps it."""
    days = s.clickhouse.ttl_days
    cutoff = datetime.now(UTC) - timedelta(days=days)
    for path, _topic, _key, time_field, _schema in plan:
        h = older_than(path, time_field, cutoff)
        if h.older:
            oldest = f", the oldest {h.oldest:%Y-%m-%d}" if h.oldest else ""
            err.print(
                f"warning: {h.older} of {h.lines} lines of {path.name} are older than the "
                f"retention of {days} days ({time_field}{oldest}): ClickHouse will not store "
                "them. To keep them, raise INCIDENTS_CLICKHOUSE_TTL_DAYS for the worker and "
                "restart it (or run `incidents migrate`) before replaying.",
                markup=False,
                highlight=False,
            )


# -------------------------------------------------------------------- worker
def cmd_worker(args: argparse.Namespace) -> int:
    from incidents.stream.worker import run_worker  # lazy: Faust and every stage

    s = _settings()
    wait_for_kafka(s.kafka, timeout=args.connect_timeout)
    run_worker(s)
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
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
    s = _settings()
    wait_for_kafka(s.kafka, timeout=args.connect_timeout)
    created = ensure_topics(s)
    print("created: " + (", ".join(created) if created else "nothing (all topics exist)"))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
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


def _via(base_url: str) -> Callable[..., Any]:
    """A worker's /query endpoint; its JSON error body, not "HTTP Error 400", on a refusal."""
    run = http_query(base_url)

    def query(sql: str, parameters: dict[str, Any] | None = None) -> Any:
        try:
            return run(sql)
        except urllib.error.HTTPError as exc:
            try:
                detail = str(json.loads(exc.read()).get("error") or exc.reason)
            except Exception:  # not our worker's JSON
                detail = f"HTTP {exc.code} {exc.reason}"
            raise RuntimeError(detail) from None

    return query


def _clickhouse_failure(exc: BaseException, s: Settings, via: str | None, command: str) -> Failure:
    """One line for whatever keeps a command from ClickHouse, with what to do about it."""
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    db = s.clickhouse.database
    where = via or s.clickhouse.resolved_url()
    if via and isinstance(exc, OSError):
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        reason = getattr(reason, "strerror", None) or str(reason)
        return Failure(
            f"cannot reach the worker at {via}: {reason}; is `incidents worker` running "
            "(its port: INCIDENTS_WORKER_WEB_PORT)?"
        )
    if "held by another process" in msg:
        return Failure(
            f"the ClickHouse data in {s.clickhouse.data_path()} is held by another process "
            f"(a running worker?): read through it with `incidents {command} --via "
            f"http://127.0.0.1:{s.worker.web_port}`, or stop it first"
        )
    if msg.startswith("cannot open ClickHouse"):
        return Failure(msg)
    if "UNKNOWN_DATABASE" in msg or "UNKNOWN_TABLE" in msg:
        return Failure(
            f"ClickHouse at {where} has no `{db}` tables yet ({msg[:100]}): "
            "run `incidents migrate` first"
        )
    return Failure(f"{command} failed: {msg}")


def _clickhouse(s: Settings, via: str | None, command: str) -> tuple[Callable[..., Any], Any]:
    """(query, close) over ClickHouse or a worker's /query, checked to hold our database.

    A chDB directory that does not exist is not created (reading cannot fill it): the
    user is told to run `incidents migrate`, as for a server without our database.
    """
    db = s.clickhouse.database
    wh = None
    if via:
        query = _via(via)
        where = f"the worker at {via}"
    else:
        path = s.clickhouse.data_path()
        if path is not None and path.exists() and not path.is_dir():
            raise Failure(
                f"{path} is a file, not a ClickHouse data directory (INCIDENTS_CLICKHOUSE_URL)"
            )
        if path is not None and not path.is_dir():
            raise Failure(
                f"no ClickHouse data in {path} (INCIDENTS_CLICKHOUSE_URL): run `incidents "
                "migrate` to create it (`make demo` fills it with the sample)"
            )
        wh = Warehouse(s.clickhouse)
        query = wh.query
        where = s.clickhouse.resolved_url()
    close = wh.close if wh is not None else (lambda: None)
    try:
        exists = query(f"EXISTS DATABASE {db}")[1][0][0]
    except (WarehouseError, OSError, RuntimeError) as exc:
        close()
        raise _clickhouse_failure(exc, s, via, command) from None
    if not int(exists):
        close()
        if where == "chdb://memory":
            raise Failure(
                "INCIDENTS_CLICKHOUSE_URL=chdb://memory keeps nothing between processes: "
                "point it at a directory (chdb://var/clickhouse) or a server"
            )
        raise Failure(f"no database `{db}` in ClickHouse at {where}: run `incidents migrate` first")
    return query, close


def cmd_report(args: argparse.Namespace) -> int:
    s = _settings()
    query, close = _clickhouse(s, args.via, "report")
    try:
        if args.html:
            from incidents.oversight.report_html import build  # lazy: the HTML report

            page = build(query, s.clickhouse.database)
        else:
            sections = collect(query, s.clickhouse.database, top=args.top)
    except Exception as exc:
        raise _clickhouse_failure(exc, s, args.via, "report") from None
    finally:
        close()
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
    from incidents.ops.demo.run import run_demo  # lazy: the demo's imports

    return run_demo(_settings(), keep_running=args.keep_running)


def cmd_schemas(args: argparse.Namespace) -> int:
    if args.action == "export":
        for path in export_all():
            print(f"wrote {path}")
        return 0
    stale = stale_files()
    if stale:
        raise Failure("JSON Schemas are out of date: " + ", ".join(stale) + " (run `make schemas`)")
    print("JSON Schemas match incidents/contracts/models.py")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    rows = reference() if args.defaults else effective(_settings())
    if args.markdown:
        print("| variable | default | what it does |")
        print("|---|---|---|")
        for name, value, doc in rows:
            shown = f"`{value}`" if value else ""
            print(f"| `{name}` | {shown} | {doc} |")
        return 0
    table = Table(title="defaults" if args.defaults else "effective settings (secrets hidden)")
    for col in ("variable", "value", "what it does"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    wide_console().print(table)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from incidents.domain.enrichment import Enricher  # lazy: the models
    from incidents.ops.verify import (  # lazy: the enrich stage's models
        Expected,
        lines_of,
        reconcile,
    )

    paths = [Path(f) for f in args.files]
    for p in paths:
        _input_lines(p)  # a directory, a binary file, a broken .gz: one line each
    s = _settings()
    _check_model_setting(s)
    query, close = _clickhouse(s, args.via, "verify")
    try:
        expected = Expected.of_lines(
            lines_of(paths), Enricher.from_settings(s.enrich), Topics.from_settings(s).raw
        )
        result = reconcile(expected, query, s.clickhouse.database)
    except Exception as exc:
        raise _clickhouse_failure(exc, s, args.via, "verify") from None
    finally:
        close()
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
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise UsageError(f"--since: not an ISO time: {args.since!r}") from None
        if since.tzinfo is None:
            raise UsageError("--since needs a UTC offset, e.g. 2026-11-20T00:00:00+03:00")
    source = args.source or ("clickhouse" if args.via else "kafka")
    if args.via and source != "clickhouse":
        raise UsageError("--via reads ClickHouse through a worker: it goes with --from clickhouse")
    if args.action == "replay" and source == "clickhouse":
        raise UsageError(
            "dlq replay reads mentions.dlq in Kafka: ClickHouse keeps each dead letter's "
            "reason, not its original bytes"
        )
    flt = Filter(stage=args.stage, kind=args.kind, since=since)
    s = _settings()
    if source == "clickhouse":
        return _dlq_show_clickhouse(s, flt, args.limit, args.via)
    try:
        wait_for_kafka(s.kafka, timeout=args.connect_timeout)
    except Failure as exc:
        if args.action != "show":
            raise
        raise Failure(
            f"{exc}; or read the dead letters the sink stored: `incidents dlq show --from "
            "clickhouse`"
        ) from None
    err = _err_console()
    if args.action == "show":
        return _dlq_show_kafka(s, flt, args.limit)
    with err.status("replaying dead letters…") as status:
        try:
            result = dlq_replay.replay(
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


def _labelled_file(name: str) -> Path:
    src = Path(name)
    if src.is_dir():
        raise UsageError(f"{src} is a directory: give a JSONL or CSV file")
    if not src.is_file():
        raise UsageError(f"no such file: {src}")
    return src


def _read_labelled(src: Path, text_field: str, label_field: str) -> tuple[list[str], list[str]]:
    from incidents.evaluation.training import read_labelled  # lazy: numpy, scipy

    try:
        return read_labelled(src, text_field, label_field)
    except (ValueError, OSError, EOFError) as exc:  # not JSON, not UTF-8, no usable row, bad .gz
        msg = _os_reason(exc) if isinstance(exc, OSError) else str(exc)
        if isinstance(exc, UnicodeDecodeError):
            msg = f"not UTF-8 text (byte {exc.start}: {exc.reason}); is it a binary file?"
        raise UsageError(msg if msg.startswith(str(src)) else f"{src}: {msg}") from None


def _load_model(path: Path, what: str) -> Any:
    """A model from `incidents train`, or one line saying why this file is not one."""
    from incidents.domain.understanding.classify import AppealClassifier  # lazy: numpy, scipy

    if not path.is_file():
        raise UsageError(f"{what}: no such model file: {path}")
    try:
        return AppealClassifier.load(path)
    except Exception as exc:  # numpy/zipfile/KeyError: whatever a foreign file makes them raise
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        if "pickled" in reason or "zip file" in reason:  # numpy on a file that is no .npz
            reason = "not an .npz archive"
        raise UsageError(
            f"{what}: {path} is not a model from `incidents train` ({reason})"
        ) from None


def _check_model_setting(s: Settings) -> None:
    """A configured own model or map that does not load is one line, before any work."""
    for path, name in (
        (s.enrich.category_model, "INCIDENTS_ENRICH_CATEGORY_MODEL"),
        (s.enrich.problem_model, "INCIDENTS_ENRICH_PROBLEM_MODEL"),
    ):
        if path is not None:
            try:
                _load_model(Path(path), name)
            except UsageError as exc:
                raise ConfigError(str(exc)) from None
    if s.enrich.rubric_map is not None or s.enrich.problems_file is not None:
        try:
            taxonomy = Taxonomy.load(s.enrich.problems_file)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"INCIDENTS_ENRICH_PROBLEMS_FILE: {exc}") from None
        if s.enrich.rubric_map is not None:
            try:
                _rubric_map(str(s.enrich.rubric_map), taxonomy)
            except UsageError as exc:
                raise ConfigError(f"INCIDENTS_ENRICH_RUBRIC_MAP: {exc}") from None


def _pipeline(s: Settings) -> Any:
    from incidents.stream.offline import OfflinePipeline  # lazy: the models and the gazetteer

    _check_model_setting(s)
    return OfflinePipeline(s)


def _dlq_table(title: str) -> Any:
    table = Table(title=title)
    for col in ("failed at (UTC)", "stage", "kind", "topic", "offset", "reason"):
        table.add_column(col, overflow="ellipsis", no_wrap=col != "reason", max_width=70)
    return table


def _dlq_show_kafka(s: Settings, flt: Any, limit: int) -> int:
    table = _dlq_table("dead letters (mentions.dlq)")
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
            if shown <= limit:
                table.add_row(
                    d.failed_at.strftime("%Y-%m-%d %H:%M:%S"),
                    d.stage,
                    d.error_kind,
                    d.topic,
                    f"{d.partition}:{d.offset}",
                    Text(d.reason),  # plain: a reason quoting "[a-z]" is no rich markup
                )
    finally:
        reader.close()
    wide_console().print(table)
    _err_console().print(
        f"{shown} matching dead letters" + (f" (first {limit} shown)" if shown > limit else "")
    )
    return 0


def _dlq_show_clickhouse(s: Settings, flt: Any, limit: int, via: str | None) -> int:
    """The dead letters the sink stored: what is left after `make demo` (its broker is gone)."""
    db = s.clickhouse.database
    where = []  # values come from argparse choices and a parsed datetime: nothing to inject
    if flt.stage:
        where.append(f"stage = '{flt.stage}'")
    if flt.kind:
        where.append(f"error_kind = '{flt.kind}'")
    if flt.since:
        at = flt.since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        where.append(f"failed_at >= toDateTime64('{at}', 6, 'UTC')")
    cond = f"WHERE {' AND '.join(where)}" if where else ""
    query, close = _clickhouse(s, via, "dlq show")
    try:
        total = int(query(f"SELECT count() FROM {db}.dead_letters FINAL {cond}")[1][0][0])
        _, rows = query(
            "SELECT toString(toDateTime(failed_at)), stage, error_kind, topic, "
            f"concat(toString(partition), ':', toString(offset)), reason "
            f"FROM {db}.dead_letters FINAL {cond} ORDER BY failed_at, dlq_id LIMIT {limit}"
        )
    except Exception as exc:
        raise _clickhouse_failure(exc, s, via, "dlq show") from None
    finally:
        close()
    table = _dlq_table(f"dead letters ({db}.dead_letters in ClickHouse)")
    for row in rows:
        table.add_row(*(Text(str(v)) for v in row))  # plain: "[a-z]" in a reason is no markup
    wide_console().print(table)
    _err_console().print(
        f"{total} matching dead letters" + (f" (first {limit} shown)" if total > limit else "")
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from incidents.evaluation.training import train_category_model  # lazy: numpy, scipy

    src = _labelled_file(args.input)
    if Path(args.output).is_dir():
        raise UsageError(f"-o {args.output} is a directory: name the model file (.npz)")
    err = _err_console()
    texts, labels = _read_labelled(src, args.text_field, args.label_field)
    if args.problems:
        texts, labels = _problem_labels(texts, labels, args)
    if len(set(labels)) < 2:
        raise UsageError(f"{src}: need at least two labels in `{args.label_field}`")
    with err.status(f"training on {len(texts):,} labelled texts, {len(set(labels))} categories…"):
        try:
            report = train_category_model(
                texts, labels, Path(args.output), validation=args.validation
            )
        except OSError as exc:
            raise Failure(f"cannot write {args.output}: {_os_reason(exc)}") from None
    print(report.render())
    setting = "PROBLEM_MODEL" if args.problems else "CATEGORY_MODEL"
    err.print(f"model written to {args.output}; use it with INCIDENTS_ENRICH_{setting}=<that path>")
    return 0


def _problem_labels(
    texts: list[str], labels: list[str], args: argparse.Namespace
) -> tuple[list[str], list[str]]:
    """Rubric labels → their main problem type (through --rubric-map), rows without one
    dropped; labels that already are type codes are kept."""
    taxonomy = Taxonomy.load(_settings().enrich.problems_file)
    rubric = _rubric_map(args.rubric_map, taxonomy) if args.rubric_map else None
    mapped = main_types(labels, rubric, taxonomy)
    kept = [(t, m) for t, m in zip(texts, mapped, strict=True) if m]
    if not kept:
        hint = " (pass --rubric-map)" if rubric is None else ""
        raise UsageError(f"no label in `{args.label_field}` names a problem type{hint}")
    return [t for t, _ in kept], [m for _, m in kept]


def _rubric_map(path: str, taxonomy: Any) -> Any:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no such rubric map: {p}")
    try:
        return RubricMap.load(p, taxonomy)
    except (ValueError, OSError) as exc:
        raise UsageError(f"{p}: {exc}") from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    src = _labelled_file(args.input)
    if args.what == "categories":
        from incidents.domain.understanding.classify import AppealClassifier  # lazy: numpy, scipy
        from incidents.evaluation.training import evaluate  # lazy: numpy, scipy

        texts, labels = _read_labelled(src, args.text_field, args.label_field)
        model = (
            _load_model(Path(args.model), "--model") if args.model else AppealClassifier.default()
        )
        err = _err_console()
        with err.status(f"classifying {len(texts):,} texts…"):
            predicted = [c.category or "(none)" for c in model.classify(texts)]
        print(evaluate(labels, predicted).render())
        return 0
    if args.what == "problems":
        return _evaluate_problems(src, args)
    if args.what == "dedup":
        if _input_lines(src) == 0:
            raise UsageError(f"{src} is empty: nothing to score")
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
        if not any(g["copy_of"] for g in gold):
            raise UsageError(
                f"{src}: no line carries a `copy_of` label (the id of the post it copies): "
                "nothing to score"
            )
        err = _err_console()
        with err.status(f"running {len(lines):,} mentions through enrich and dedup…"):
            results = list(_pipeline(_settings()).run(lines))
        print(
            dedup_eval.score(
                gold, dedup_eval.decisions(results), dedup_eval.regions(results)
            ).render()
        )
        return 0
    if args.what == "grouping":
        if _input_lines(src) == 0:
            raise UsageError(f"{src} is empty: nothing to score")
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
            decided = incident_ids(_pipeline(_settings()).run(lines))
        print(score_labelled([decided.get(i) for i in groups], list(groups.values())).render())
        return 0
    raise UsageError(f"unknown evaluation {args.what!r}")


def _evaluate_problems(src: Path, args: argparse.Namespace) -> int:
    """Problem types recognised in labelled texts against the rubric map's types."""
    from incidents.domain.enrichment import Enricher  # lazy: the models

    if not args.rubric_map:
        raise UsageError("evaluate problems needs --rubric-map (your rubric lines → types)")
    texts, labels = _read_labelled(src, args.text_field, args.label_field)
    settings = _settings()
    enrich = settings.enrich
    if args.problem_model:
        _load_model(Path(args.problem_model), "--problem-model")
        enrich = enrich.model_copy(update={"problem_model": Path(args.problem_model)})
    enricher = Enricher.from_settings(enrich)
    assert enricher.problems is not None
    rubric = _rubric_map(args.rubric_map, enricher.problems)
    when = datetime.now(UTC)
    raws = [
        RawMention(id=f"other:{i}", platform="other", source=Source(id="eval"), text=t,
                   created_at=when)
        for i, t in enumerate(texts)
    ]  # fmt: skip
    err = _err_console()
    with err.status(f"recognising problems in {len(texts):,} texts…"):
        found = []
        for i in range(0, len(raws), 500):
            chunk = raws[i : i + 500]
            found.extend(enricher.find_problems(chunk, [r.text for r in chunk]))
    report = score_problems(
        labels,
        [[h.code for h in hits] for hits in found],
        rubric,
        enricher.problems,
        learned=[bool(hits and hits[0].learned) for hits in found],
    )
    print(report.render())
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from incidents.ops.bench import run_bench  # lazy: every benchmark's imports

    return run_bench(_settings(), quick=args.quick, only=args.only, pure=args.pure_python)


COMMANDS = [
    "process", "replay", "report", "worker", "broker", "topics", "migrate", "demo", "schemas",
    "config", "verify", "dlq", "train", "evaluate", "bench", "connect", "replies", "console",
]  # fmt: skip


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be from 0 up to 1, e.g. 0.1 (got {text})")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 1..65535 (got {value})")
    return value


def _rows(text: str) -> int:
    """`--top N`: a whole number of rows, 0 or more (argparse turns the error into one line)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of rows, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (all rows) or more, got {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="incidents",
        description="Social-media mentions → deduplicated, classified, located, routed incidents.",
        epilog="Settings come from INCIDENTS_* environment variables; see docs/configuration.md.",
    )
    sub = p.add_subparsers(dest="command", metavar="command", parser_class=OneLineParser)

    def add(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(
            name, help=help, description=description or help[:1].upper() + help[1:] + "."
        )
        return parser

    sp = add(
        "process",
        "run the pipeline's domain code over a JSONL file, offline",
        "Run the pipeline's domain code (the very code of the stream agents) over RawMention "
        "JSONL, offline: one result line per input line, in order. Exit 1 when no line is a "
        "valid RawMention or the input is empty.",
    )
    sp.add_argument("input", help="RawMention JSONL (.gz allowed, - for stdin)")
    sp.add_argument(
        "-o", "--output", help="output JSONL (default stdout); its directory must exist"
    )
    sp.add_argument("--batch", type=positive_int, default=500, help="lines per batch (default 500)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    sp.set_defaults(fn=cmd_process)

    sp = add("replay", "publish JSONL files to mentions.raw (and responses)")
    sp.add_argument("files", nargs="+", help="RawMention JSONL files")
    sp.add_argument(
        "--responses",
        action="append",
        metavar="FILE",
        help="OfficialResponse JSONL to publish to `responses` (repeatable)",
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
    add_connect_timeout(sp)
    sp.set_defaults(fn=cmd_replay)

    sp = add("report", "print the oversight tables from ClickHouse")
    sp.add_argument(
        "--via",
        metavar="URL",
        help="query through a running worker, e.g. http://127.0.0.1:6066 (while it owns the "
        "embedded ClickHouse directory)",
    )
    sp.add_argument(
        "--top",
        type=_rows,
        default=15,
        metavar="N",
        help="rows shown per table at most (default 15; 0 = all)",
    )
    sp.add_argument(
        "--html", metavar="FILE", help="write a self-contained HTML page with charts instead"
    )
    sp.set_defaults(fn=cmd_report)

    sp = add("worker", "run the stream worker (agents by INCIDENTS_WORKER_ROLES)")
    add_connect_timeout(sp, 30.0)
    sp.set_defaults(fn=cmd_worker)

    sp = add("broker", "run the embedded Kafka-protocol broker (tansu) in the foreground")
    sp.add_argument(
        "--port", type=_port, help="port (default: the one in INCIDENTS_KAFKA_BOOTSTRAP)"
    )
    sp.set_defaults(fn=cmd_broker)

    sp = add("topics", "create missing topics with their partitions and configs")
    add_connect_timeout(sp)
    sp.set_defaults(fn=cmd_topics)

    sp = add("migrate", "apply ClickHouse migrations (creates the database and its tables)")
    sp.set_defaults(fn=cmd_migrate)

    sp = add("demo", "broker + worker + ClickHouse, replay the sample, print the report")
    sp.add_argument(
        "--keep-running",
        action="store_true",
        help="also start the operator console; leave broker, worker and console up until Ctrl-C",
    )
    sp.set_defaults(fn=cmd_demo)

    sp = add(
        "schemas",
        "export or check the JSON Schemas generated from the models",
        "The JSON Schemas in incidents/contracts/json are generated from "
        "incidents/contracts/models.py (msgspec). "
        "`export` rewrites them; `check` exits 1 when a committed file differs from a fresh "
        "export (CI runs it).",
    )
    sp.add_argument(
        "action",
        choices=["export", "check"],
        help="export: write incidents/contracts/json/*.schema.json from the models; "
        "check: compare them "
        "without writing",
    )
    sp.set_defaults(fn=cmd_schemas)

    sp = add("verify", "reconcile published files with ClickHouse: lost, doubled")
    sp.add_argument("files", nargs="+", help="the RawMention JSONL files that were published")
    sp.add_argument(
        "--via", metavar="URL", help="query through a running worker, e.g. http://127.0.0.1:6066"
    )
    sp.set_defaults(fn=cmd_verify)

    sp = add(
        "dlq",
        "show dead letters, or replay them after a fix",
        "Dead letters: input the pipeline could not use, kept with the original bytes and the "
        "reason on mentions.dlq (Kafka), and with the reason in the dead_letters table "
        "(ClickHouse). `show` lists them, from Kafka by default or from ClickHouse with "
        "--from clickhouse (what is left after `make demo`, whose broker is gone). `replay` "
        "publishes the original bytes back to the topic they came from, after a fix; it "
        "continues where the last replay stopped. See docs/operations.md.",
    )
    sp.add_argument(
        "action",
        choices=["show", "replay"],
        help="show: list dead letters with their reasons; replay: send them back (Kafka only)",
    )
    sp.add_argument(
        "--from",
        dest="source",
        choices=["kafka", "clickhouse"],
        help="show: read mentions.dlq in Kafka (default), or the dead_letters table in "
        "ClickHouse (INCIDENTS_CLICKHOUSE_URL, or a worker with --via)",
    )
    sp.add_argument(
        "--via",
        metavar="URL",
        help="with --from clickhouse: query through a running worker, e.g. http://127.0.0.1:6066",
    )
    sp.add_argument(
        "--stage",
        choices=STAGES,
        help="only dead letters of this pipeline stage",
    )
    sp.add_argument(
        "--kind",
        choices=["invalid_json", "invalid_encoding", "schema", "too_large", "unknown_region",
                 "unknown_incident", "processing_error"],
        help="only dead letters of this kind of error",
    )  # fmt: skip
    sp.add_argument("--since", help="only dead letters from this time on (ISO 8601 with offset)")
    sp.add_argument(
        "--limit", type=positive_int, default=50, help="show: rows to list (default 50)"
    )
    sp.add_argument(
        "--dry-run", action="store_true", help="replay: count what would be replayed, send nothing"
    )
    sp.add_argument(
        "--from-beginning",
        action="store_true",
        help="replay: everything again, not only what the last replay did not reach",
    )
    add_connect_timeout(sp)
    sp.set_defaults(fn=cmd_dlq)

    sp = add("train", "train a category model for your own rubric from labelled history")
    sp.add_argument("input", help="JSONL or CSV (.gz allowed) with a text and a label per row")
    sp.add_argument("-o", "--output", required=True, help="model file to write (.npz)")
    sp.add_argument(
        "--text-field", default="text", help="field (or CSV column) of the text (default: text)"
    )
    sp.add_argument(
        "--label-field",
        default="category",
        help="field (or CSV column) of the label (default: category)",
    )
    sp.add_argument(
        "--validation",
        type=_share,
        default=0.1,
        help="share of rows held out to report on, from 0 up to 1 (default 0.1)",
    )
    sp.add_argument(
        "--problems",
        action="store_true",
        help="learn problem types (docs/problems.md) instead of categories: labels are type "
        "codes, or rubric lines mapped by --rubric-map",
    )
    sp.add_argument("--rubric-map", help="YAML: your rubric lines → problem types")
    sp.set_defaults(fn=cmd_train)

    sp = add(
        "evaluate",
        "score the pipeline on your labelled data",
        "Score the pipeline on your labelled data. A file with no usable labelled line is an "
        "error naming the field it looked for, not a score of zero.",
    )
    sp.add_argument(
        "what",
        choices=["categories", "problems", "dedup", "grouping"],
        help="categories: text + label rows; problems: text + rubric label rows (with "
        "--rubric-map); dedup: RawMention JSONL with `copy_of` (the id "
        "of the post a line copies) on the copies; grouping: RawMention JSONL with the "
        "problem of each post in `group` (--group-field)",
    )
    sp.add_argument("input", help="labelled JSONL or CSV (.gz allowed)")
    sp.add_argument("--model", help="a model from `incidents train` (default: the bundled rubric)")
    sp.add_argument(
        "--text-field",
        default="text",
        help="categories: field (or CSV column) of the text (default: text)",
    )
    sp.add_argument(
        "--label-field",
        default="category",
        help="categories: field (or CSV column) of the true category (default: category)",
    )
    sp.add_argument(
        "--group-field",
        default="group",
        help="grouping: field of the problem label (default: group)",
    )
    sp.add_argument("--rubric-map", help="problems: YAML mapping your rubric lines to types")
    sp.add_argument(
        "--problem-model", help="problems: a model from `incidents train --problems` as fallback"
    )
    sp.set_defaults(fn=cmd_evaluate)

    sp = add("config", "show the effective settings (or the defaults)")
    sp.add_argument("--defaults", action="store_true", help="the defaults, not this environment")
    sp.add_argument("--markdown", action="store_true", help="as a Markdown table")
    sp.set_defaults(fn=cmd_config)

    sp = add("bench", "throughput figures")
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
    connectors_cli.register(sub)
    console_cli.register(sub)
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
    # `python -m incidents.cli.main`; Failure and UsageError come from
    # incidents/config/command.py, so
    # the command groups raise the very classes main() catches.
    sys.exit(main())
