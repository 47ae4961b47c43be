"""promtool unit tests (`promtool test rules`) built from what a worker exposes.

A :class:`Capture` is one scrape of a worker's /metrics. A :func:`timeline`
strings captures together minute by minute (a worker running, stopped,
restarted) into promtool's input series, with the target labels Prometheus
adds (``namespace``, ``job``, ``instance``) and ``up``. Timestamps a worker
reports (``*_timestamp_seconds``) are moved to simulated time, keeping the age
they had in the first capture that showed them. :func:`run` runs promtool on
the rule file.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "infra" / "prometheus" / "rules.yaml"
TARGET = {"namespace": "tver", "job": "incidents", "instance": "10.0.0.7:6066"}

Labels = tuple[tuple[str, str], ...]
Key = tuple[str, Labels]
#: (metric name, labels) → increase per minute, or None to leave the series as captured
Ramp = Callable[[str, Mapping[str, str]], float | None]


def promtool() -> str | None:
    return shutil.which("promtool")


@dataclass
class Capture:
    """One scrape: every sample by (name, sorted labels), and when it was taken."""

    samples: dict[Key, float]
    at: float = field(default_factory=time.time)

    @classmethod
    def parse(cls, text: str, at: float | None = None) -> Capture:
        samples: dict[Key, float] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
        return cls(samples, time.time() if at is None else at)

    def names(self) -> set[str]:
        return {name for name, _ in self.samples}

    def find(self, name: str, **labels: str) -> dict[Labels, float]:
        """The samples of `name` whose labels include these."""
        return {
            lab: v
            for (n, lab), v in self.samples.items()
            if n == name and all(dict(lab).get(k) == v2 for k, v2 in labels.items())
        }

    def value(self, name: str, **labels: str) -> float:
        found = self.find(name, **labels)
        assert len(found) == 1, f"{name}{labels}: {len(found)} series in the capture: {found}"
        return next(iter(found.values()))


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _series_name(name: str, labels: Labels) -> str:
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return f"{name}{{{body}}}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def timeline(
    segments: Sequence[tuple[Capture | None, int]],
    ramps: Mapping[int, Ramp] | None = None,
    target: Mapping[str, str] = TARGET,
) -> list[dict[str, str]]:
    """promtool input series, one sample a minute.

    Each segment is (capture, minutes): the worker answers with that capture's
    values for that many minutes (``up`` 1), or with None it does not answer
    (``up`` 0, its series end with a stale marker as Prometheus writes them).
    ``ramps[i]`` makes series of segment i grow linearly from their captured value.
    """
    ramps = ramps or {}
    keys: list[Key] = []
    seen: set[Key] = set()
    for cap, _ in segments:
        for key in cap.samples if cap else ():
            if key not in seen:
                seen.add(key)
                keys.append(key)
    parts: dict[Key, list[str]] = {k: [] for k in keys}
    up: list[str] = []
    start = 0
    previous: Capture | None = None
    moved: dict[float, float] = {}
    for i, (cap, minutes) in enumerate(segments):
        assert minutes >= 1
        ramp = ramps.get(i)
        up.append(f"{1 if cap else 0}x{minutes - 1}")
        for key in keys:
            if cap is None or key not in cap.samples:
                was_there = previous is not None and key in previous.samples
                if was_there:
                    parts[key].append("stale" + (f" _x{minutes - 1}" if minutes > 1 else ""))
                else:
                    parts[key].append(f"_x{minutes}")
                continue
            name, labels = key
            value = cap.samples[key]
            if name.endswith("_timestamp_seconds") and value > 0:
                # the age it had when first scraped, on the simulated clock
                value = moved.setdefault(value, start * 60 - (cap.at - value))
            step = ramp(name, dict(labels)) if ramp else None
            if step:
                parts[key].append(f"{_fmt(value)}+{_fmt(step)}x{minutes - 1}")
            else:
                parts[key].append(f"{_fmt(value)}x{minutes - 1}")
        previous = cap
        start += minutes
    extra = tuple(sorted(target.items()))
    out = [{"series": _series_name("up", extra), "values": " ".join(up)}]
    for key in keys:
        name, labels = key
        merged = tuple(sorted({**dict(labels), **dict(extra)}.items()))
        out.append({"series": _series_name(name, merged), "values": " ".join(parts[key])})
    return out


def firing_at(
    at: str,
    alerts: Iterable[tuple[str, Mapping[str, str]]],
    state: str = "firing",
    alert: str | None = None,
) -> dict[str, Any]:
    """A check that exactly these alerts (name, labels with severity) are `state` at `at`
    (of those named `alert`, if given)."""
    samples = []
    for name, labels in sorted(alerts, key=lambda a: (a[0], sorted(a[1].items()))):
        body = {"alertname": name, "alertstate": state, **labels}
        samples.append({"labels": _series_name("ALERTS", tuple(sorted(body.items()))), "value": 1})
    only = f',alertname="{alert}"' if alert else ""
    expr = f'ALERTS{{alertstate="{state}"{only}}}'
    return {"expr": expr, "eval_time": at, "exp_samples": samples}


def no_alert_at(at: str) -> dict[str, Any]:
    """Not even a pending one."""
    return {"expr": "ALERTS", "eval_time": at, "exp_samples": []}


def run(
    tmp: Path,
    series: list[dict[str, str]],
    checks: list[dict[str, Any]],
    rules: Path = RULES,
) -> subprocess.CompletedProcess[str]:
    """Run `promtool test rules`: these input series (one a minute), these checks."""
    exe = promtool()
    assert exe, "promtool not on PATH"
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(rules, tmp / "rules.yaml")
    test = {"interval": "1m", "input_series": series, "promql_expr_test": checks}
    spec = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [test]}
    (tmp / "tests.yaml").write_text(yaml.safe_dump(spec, width=10_000), encoding="utf-8")
    return subprocess.run(
        [exe, "test", "rules", "tests.yaml"], cwd=tmp, capture_output=True, text=True, check=False
    )
