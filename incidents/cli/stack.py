"""`incidents worker`, `broker`, `topics`, `migrate` and `demo`: running the stack.

The stream worker, the embedded Kafka-protocol broker (tansu), the topics and the
ClickHouse tables they need, and ``demo``, which starts all of them over the sample.
The worker and the demo import their heavy parts only when they run.
"""

from __future__ import annotations

import argparse
import signal
import time
from typing import Any

from incidents.config.command import (
    Failure,
    add_command,
    add_connect_timeout,
    argument_type,
    wait_for_kafka,
)
from incidents.config.settings import load_settings
from incidents.kafka.embedded import BrokerError, EmbeddedBroker
from incidents.kafka.topics import ensure_topics
from incidents.warehouse.writer import Warehouse, WarehouseError

#: `--port`: a TCP port, 1..65535.
_port = argument_type(
    int, lambda v: 1 <= v <= 65535, "not a port number: {text!r}", "must be 1..65535 (got {value})"
)


def register(sub: Any) -> None:
    sp = add_command(sub, "worker", "run the stream worker (agents by INCIDENTS_WORKER_ROLES)")
    add_connect_timeout(sp, 30.0)
    sp.set_defaults(fn=cmd_worker)

    sp = add_command(
        sub, "broker", "run the embedded Kafka-protocol broker (tansu) in the foreground"
    )
    sp.add_argument(
        "--port", type=_port, help="port (default: the one in INCIDENTS_KAFKA_BOOTSTRAP)"
    )
    sp.set_defaults(fn=cmd_broker)

    sp = add_command(sub, "topics", "create missing topics with their partitions and configs")
    add_connect_timeout(sp)
    sp.set_defaults(fn=cmd_topics)

    sp = add_command(
        sub, "migrate", "apply ClickHouse migrations (creates the database and its tables)"
    )
    sp.set_defaults(fn=cmd_migrate)

    sp = add_command(
        sub, "demo", "broker + worker + ClickHouse, replay the sample, print the report"
    )
    sp.add_argument(
        "--keep-running",
        action="store_true",
        help="also start the operator console; leave broker, worker and console up until Ctrl-C",
    )
    sp.set_defaults(fn=cmd_demo)


def cmd_worker(args: argparse.Namespace) -> int:
    from incidents.stream.worker import run_worker  # lazy: Faust and every stage

    s = load_settings()
    wait_for_kafka(s.kafka, timeout=args.connect_timeout)
    run_worker(s)
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    s = load_settings()
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
    s = load_settings()
    wait_for_kafka(s.kafka, timeout=args.connect_timeout)
    created = ensure_topics(s)
    print("created: " + (", ".join(created) if created else "nothing (all topics exist)"))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    s = load_settings()
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


def cmd_demo(args: argparse.Namespace) -> int:
    from incidents.ops.demo.run import run_demo  # lazy: the demo's imports

    return run_demo(load_settings(), keep_running=args.keep_running)
