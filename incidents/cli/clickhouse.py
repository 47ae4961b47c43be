"""Reaching ClickHouse for the commands that read it: ``report``, ``verify``, ``dlq show``.

Directly (chDB or a server) or through a running worker's ``/query`` (``--via``),
checked to hold our database first; whatever keeps a command from its data (a chDB
directory held by a worker, no migrations yet, an unreachable worker) is one
:class:`Failure` line that says what to do about it.
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Callable
from typing import Any

from incidents.config.command import Failure
from incidents.config.settings import Settings
from incidents.oversight.report import http_query
from incidents.warehouse.writer import Warehouse, WarehouseError


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


def clickhouse_failure(exc: BaseException, s: Settings, via: str | None, command: str) -> Failure:
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


def open_clickhouse(s: Settings, via: str | None, command: str) -> tuple[Callable[..., Any], Any]:
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
        raise clickhouse_failure(exc, s, via, command) from None
    if not int(exists):
        close()
        if where == "chdb://memory":
            raise Failure(
                "INCIDENTS_CLICKHOUSE_URL=chdb://memory keeps nothing between processes: "
                "point it at a directory (chdb://var/clickhouse) or a server"
            )
        raise Failure(f"no database `{db}` in ClickHouse at {where}: run `incidents migrate` first")
    return query, close
