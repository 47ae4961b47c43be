"""`make demo`: the whole pipeline on the embedded stack, end to end, then the report.

Starts tansu on a free loopback port, creates the topics, starts one worker
process (all roles; it owns the embedded ClickHouse in var/clickhouse), replays
the bundled sample (mentions, then the operators' responses), waits until
everything has drained, stops the worker so the ClickHouse directory is free,
and prints the oversight report from it. With ``--keep-running`` (what `make
demo` runs) it also starts the operator console, prints the report through the
running worker, the console's URL and a demo login, and keeps everything up
until Ctrl-C. Everything it started is stopped on exit or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from incidents.config.settings import Settings
from incidents.connectors.sources.file import count_lines, replay_merged
from incidents.contracts.topology import STAGES
from incidents.kafka.embedded import BrokerError, EmbeddedBroker, free_port
from incidents.kafka.producer import MentionProducer
from incidents.kafka.topics import ensure_topics
from incidents.ops import probe
from incidents.oversight.report import collect, http_query, render, wide_console
from incidents.warehouse.writer import Warehouse

SAMPLE_DIR = Path(__file__).parent / "sample"


def _tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 40.0) -> int | None:
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc else None
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=10)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_demo(settings: Settings, keep_running: bool = False) -> int:
    console = wide_console()
    var = Path("var").resolve()
    logs_dir = var / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    ch_url = settings.clickhouse.resolved_url()
    mentions_file = SAMPLE_DIR / "mentions.jsonl"
    responses_file = SAMPLE_DIR / "responses.jsonl"

    broker: EmbeddedBroker | None = None
    worker: subprocess.Popen[bytes] | None = None
    desk: subprocess.Popen[bytes] | None = None  # the operator console (--keep-running)
    desk_url = ""
    worker_log = logs_dir / "worker.log"
    try:
        with console.status("starting the embedded Kafka-protocol broker (tansu)…"):
            try:
                broker = EmbeddedBroker(port=free_port(), log_path=logs_dir / "broker.log").start()
            except BrokerError as exc:
                console.print(f"[red]cannot start the embedded broker:[/] {exc}")
                return 1
        console.print(f"broker   tansu (in memory) on [bold]{broker.bootstrap}[/]")
        s = settings.model_copy(
            update={"kafka": settings.kafka.model_copy(update={"bootstrap": broker.bootstrap})}
        )
        created = ensure_topics(s)
        console.print(f"topics   {len(created)} created ({s.topics.partitions} partitions each)")

        web_port = free_port()
        url = f"http://127.0.0.1:{web_port}"
        env = dict(
            os.environ,
            INCIDENTS_KAFKA_BOOTSTRAP=broker.bootstrap,
            INCIDENTS_WORKER_WEB_PORT=str(web_port),
            INCIDENTS_WORKER_WEB_HOST="127.0.0.1",
            INCIDENTS_CLICKHOUSE_URL=ch_url,
        )
        with console.status("starting the worker (loading models, joining the consumer group)…"):
            log_file = open(worker_log, "wb")  # noqa: SIM115 - closed with the process
            worker = subprocess.Popen(
                [sys.executable, "-m", "incidents.cli.main", "worker"],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            proc = worker
            try:
                probe.wait_ready([url], alive=lambda: proc.poll() is None, timeout=120)
            except (RuntimeError, TimeoutError) as exc:
                console.print(f"[red]worker failed to start:[/] {exc}\n{_tail(worker_log)}")
                return 1
        console.print(
            f"worker   all stages, metrics and health on [bold]{url}[/] (log: {worker_log})"
        )
        if keep_running:
            # the operator console follows the topics from the start, so it fills as the
            # sample is replayed; its SLA clocks count to the sample's own time (Nov 2026)
            desk_port = 6080 if _port_free(6080) else free_port()
            desk_url = f"http://127.0.0.1:{desk_port}"
            desk = subprocess.Popen(
                [sys.executable, "-m", "incidents.cli.main", "console"],
                env=dict(
                    env, INCIDENTS_CONSOLE_WEB_PORT=str(desk_port), INCIDENTS_CONSOLE_CLOCK="events"
                ),
                stdout=open(logs_dir / "console.log", "wb"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            console.print(f"console  operator desk on [bold]{desk_url}[/] (login tver / demo)")

        producer = MentionProducer(s.kafka, client_id="incidents-demo")
        sources = [
            # Keyed by region, as `incidents replay` does: each region keeps its order.
            (
                mentions_file,
                s.topics.name("mentions.raw"),
                "region_hint|id",
                "created_at",
                "RawMention/1",
            ),
            (
                responses_file,
                s.topics.name("responses"),
                "response_id",
                "responded_at",
                "OfficialResponse/1",
            ),
        ]
        external = {
            "mentions.raw": count_lines(mentions_file),
            "responses": count_lines(responses_file),
        }
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f}"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            sent = bar.add_task(
                "replay mentions and answers in event-time order", total=sum(external.values())
            )
            replay_merged(producer, sources, progress=lambda n: bar.advance(sent, n))
            del producer  # librdkafka closes its connections before the broker goes away
            flow = bar.add_task("pipeline draining (messages consumed/produced)", total=1)

            def show(done: float, todo: float) -> None:
                bar.update(flow, completed=done, total=max(todo, 1))

            proc = worker
            try:
                probe.wait_drained(
                    [url],
                    external,
                    set(STAGES),
                    timeout=180,
                    alive=lambda: proc.poll() is None,
                    progress=show,
                )
            except (RuntimeError, TimeoutError) as exc:
                console.print(f"[red]pipeline did not drain:[/] {exc}\n{_tail(worker_log)}")
                return 1

        if keep_running:
            # the report through the worker, which owns the chDB directory while it runs
            render(collect(http_query(url), s.clickhouse.database), console)
            console.print(
                f"\n[bold]Operator console[/]  [bold]{desk_url}[/]   login [bold]tver[/], "
                "password [bold]demo[/]  (also ivanovo, nsk: operators of their regions; "
                "tver-lead: supervisor; federal: viewer of every region; log: "
                f"{logs_dir / 'console.log'})"
            )
            console.print(
                f"running: broker {broker.bootstrap}, worker {url} "
                f"(`incidents report --via {url}`), console {desk_url}; Ctrl-C stops them"
            )

            def _interrupt(*_: object) -> None:
                raise KeyboardInterrupt  # `kill` stops it as Ctrl-C does: cleanly

            signal.signal(signal.SIGTERM, _interrupt)
            with contextlib.suppress(KeyboardInterrupt):
                while worker.poll() is None and (desk is None or desk.poll() is None):
                    time.sleep(1)
            _stop(desk)
            desk = None

        with console.status("stopping the worker (it commits and releases ClickHouse)…"):
            code = _stop(worker)
            worker = None
        if code not in (0, None):
            console.print(f"[yellow]worker exited with code {code}[/]\n{_tail(worker_log)}")

        warehouse = Warehouse(s.clickhouse)
        try:
            if not keep_running:  # printed through the worker already
                render(collect(warehouse.query, s.clickhouse.database), console)
            _, counts = warehouse.query(
                "SELECT table, sum(rows) FROM system.parts WHERE active AND database = %(db)s "
                "GROUP BY table ORDER BY table",
                {"db": s.clickhouse.database},
            )
        finally:
            warehouse.close()
        console.print("\n[bold]Where the data is now[/]")
        console.print(f"  ClickHouse  {ch_url}  database [bold]{s.clickhouse.database}[/]")
        console.print(
            "              " + ", ".join(f"{t} {n}" for t, n in counts if not t.startswith("."))
        )
        console.print(
            "  read it     .venv/bin/incidents report   (or any ClickHouse client on that path)"
        )
        console.print(f"  logs        {logs_dir}")
        console.print(
            "  Kafka       the embedded broker kept its topics in memory; they are gone with it"
        )
        return 0
    except KeyboardInterrupt:
        console.print("\ninterrupted: stopping what the demo started")
        return 130
    finally:
        _stop(desk)
        _stop(worker)
        if broker is not None:
            broker.stop()
