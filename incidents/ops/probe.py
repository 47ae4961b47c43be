"""Ask running workers how far they are: readiness and "has everything drained?".

The embedded broker under-reports high watermarks (it answers ListOffsets with
the base offset of the last batch, see docs/operations.md), so consumer lag
from the broker cannot say when a pipeline is drained. Instead every worker
counts, per topic, what its stages consumed and produced (/status); the
pipeline is drained when every internal topic has been consumed at least as
often as it was produced (plus what was published from outside), and the
counts stopped moving.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from incidents.contracts.topology import CONSUMERS  # which stage consumes each topic (base names)


def get_json(url: str, timeout: float = 3.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read() or b"null")
        except ValueError:
            return err.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, None


def status(base_url: str) -> dict[str, Any] | None:
    code, body = get_json(base_url.rstrip("/") + "/status")
    return body if code == 200 else None


def _sum(statuses: Sequence[Mapping[str, Any]], field: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for st in statuses:
        for k, v in (st.get(field) or {}).items():
            out[k] = out.get(k, 0.0) + float(v)
    return out


def topic_flow(
    statuses: Sequence[Mapping[str, Any]], external: Mapping[str, int]
) -> dict[str, tuple[float, float]]:
    """(produced incl. external, consumed) per topic base name, over all workers."""
    consumed: dict[str, float] = {}
    for key, v in _sum(statuses, "messages_in").items():
        _stage, topic = key.split("/", 1)
        consumed[topic] = consumed.get(topic, 0.0) + v
    produced: dict[str, float] = {t: float(n) for t, n in external.items()}
    for key, v in _sum(statuses, "messages_out").items():
        _stage, topic = key.split("/", 1)
        produced[topic] = produced.get(topic, 0.0) + v
    return {t: (produced.get(t, 0.0), consumed.get(t, 0.0)) for t in set(produced) | set(consumed)}


def is_drained(
    statuses: Sequence[Mapping[str, Any]], external: Mapping[str, int], roles_present: set[str]
) -> bool:
    for topic, (prod, cons) in topic_flow(statuses, external).items():
        if CONSUMERS.get(topic) in roles_present and cons < prod:
            return False
    return True


def wait_ready(base_urls: Sequence[str], alive: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the worker exited during start-up")
        if all(get_json(u.rstrip("/") + "/readyz")[0] == 200 for u in base_urls):
            return
        time.sleep(0.3)
    raise TimeoutError(f"workers not ready within {timeout:.0f} s")


def wait_drained(
    base_urls: Sequence[str],
    external: Mapping[str, int],
    roles_present: set[str],
    timeout: float = 120.0,
    settle_s: float = 1.5,
    alive: Callable[[], bool] = lambda: True,
    progress: Callable[[float, float], None] | None = None,
) -> list[dict[str, Any]]:
    """Block until all topics are consumed and the counters have been still for settle_s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    still_since: float | None = None
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("a worker exited while the pipeline was draining")
        statuses = [s for s in (status(u) for u in base_urls) if s is not None]
        if len(statuses) == len(base_urls):
            flow = topic_flow(statuses, external)
            if progress:
                progress(sum(c for _, c in flow.values()), sum(p for p, _ in flow.values()))
            snapshot = sorted(flow.items())
            if is_drained(statuses, external, roles_present) and snapshot == last:
                if still_since is None:
                    still_since = time.monotonic()
                if time.monotonic() - still_since >= settle_s:
                    return statuses
            else:
                still_since = None
            last = snapshot
        time.sleep(0.3)
    short = [
        f"{t}: {c:.0f} of {p:.0f} consumed"
        for t, (p, c) in last or ()
        if c < p and CONSUMERS.get(t) in roles_present
    ]
    behind = "; ".join(short) or "every topic consumed, the counts still moving"
    raise TimeoutError(f"pipeline not drained within {timeout:.0f} s ({behind})")
