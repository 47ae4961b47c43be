"""Grafana's macro and variable expansion, so panel SQL runs outside Grafana.

``incidents report``, ``incidents report --html``, the benchmark and the tests run the
dashboards' SQL on ClickHouse (chDB in tests) after expanding it the way Grafana and the
ClickHouse data source plugin do (:func:`expand`): ``$__conditionalAll`` in the plugin's
frontend, then Grafana's template variables, then the plugin's backend time macros
(``$__timeFilter``, ``$__dateFilter``, ``$__timeInterval`` and friends).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from incidents.oversight.panels import Dashboard


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    interval_s: int = 3600

    @classmethod
    def covering(cls, start: datetime, end: datetime, points: int = 60) -> TimeRange:
        """A range over [start, end] whose $__timeInterval gives about `points` buckets."""
        span = max((end - start).total_seconds(), 3600)
        hours = span / 3600
        step = 3600 if hours <= points * 2 else 86400 if hours / 24 <= points * 2 else 604800
        return cls(start, end, step)


def apply_conditional_all(sql: str, values: Mapping[str, object]) -> str:
    """$__conditionalAll(cond, $var): the plugin's frontend (CHDatasource.applyConditionalAll).

    The last occurrence first; arguments split at top-level commas; the condition is
    replaced by ``1=1`` when the variable's current value is empty or "All" (``$__all``).
    """
    macro = "$__conditionalAll("
    idx = sql.rfind(macro)
    while idx != -1:
        args = _macro_args(sql, idx + len(macro) - 1)
        if len(args) != 2:
            return sql
        name = re.search(r"(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+", args[1].strip())
        phrase = args[0]
        if name:
            value = values.get(name.group(0))
            if isinstance(value, list | tuple):
                shown = ",".join(str(v) for v in value)
            else:
                shown = str(value or "")
            if shown in ("", "$__all"):
                phrase = "1=1"
        sql = sql.replace(f"{macro}{args[0]},{args[1]})", phrase, 1)
        idx = sql.rfind(macro)
    return sql


def _macro_args(sql: str, start: int) -> list[str]:
    args: list[str] = []
    depth = 0
    last = 1
    sub = sql[start:]
    for m in re.finditer(r"\(|\)|,", sub):
        tok = m.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        if tok == "," and depth == 1:
            args.append(sub[last : m.end() - 1])
            last = m.end()
        if depth == 0:
            args.append(sub[last : m.end() - 1])
            return args
    return []


def _format(value: object, fmt: str | None) -> str:
    values = list(value) if isinstance(value, list | tuple) else None
    if fmt == "singlequote":
        items = values if values is not None else [value]
        return ",".join("'" + str(v).replace("'", "\\'") + "'" for v in items)
    if fmt == "csv":
        return ",".join(map(str, values if values is not None else [value]))
    if values is not None:  # the plugin's own formatter for multi-values: 'a','b'
        return "'" + "','".join(map(str, values)) + "'"
    return str(value)


def replace_variables(sql: str, values: Mapping[str, object]) -> str:
    """Grafana's template service: $var, ${var}, ${var:format}, [[var]]; unknown names stay."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        fmt = m.group(3)
        if name not in values:
            return m.group(0)
        return _format(values[name], fmt)

    return re.sub(r"\$(\w+)|\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]", sub, sql)


def _dt(t: datetime) -> str:
    return f"toDateTime({int(t.timestamp())})"


def _dt64(t: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(t.timestamp() * 1000)})"


def _date(t: datetime) -> str:
    return f"toDate('{t.astimezone(UTC):%Y-%m-%d}')"


_MACRO_ARITY = {
    "fromTime": 0,
    "toTime": 0,
    "fromTime_ms": 0,
    "toTime_ms": 0,
    "timeFilter": 1,
    "timeFilter_ms": 1,
    "dateFilter": 1,
    "dateTimeFilter": 2,
    "dt": 2,
    "timeInterval": 1,
    "timeInterval_ms": 1,
    "interval_s": 0,
}


def _macro(name: str, a: Sequence[str], tr: TimeRange) -> str:
    f, t, n = tr.start, tr.end, max(int(tr.interval_s), 1)
    if _MACRO_ARITY[name] and len(a) != _MACRO_ARITY[name]:
        raise ValueError(f"$__{name}: expected {_MACRO_ARITY[name]} argument(s), got {len(a)}")
    if name in ("fromTime", "toTime"):
        return _dt(f if name == "fromTime" else t)
    if name in ("fromTime_ms", "toTime_ms"):
        return _dt64(f if name == "fromTime_ms" else t)
    if name == "timeFilter":
        return f"{a[0]} >= {_dt(f)} AND {a[0]} <= {_dt(t)}"
    if name == "timeFilter_ms":
        return f"{a[0]} >= {_dt64(f)} AND {a[0]} <= {_dt64(t)}"
    if name == "dateFilter":
        return f"{a[0]} >= {_date(f)} AND {a[0]} <= {_date(t)}"
    if name in ("dateTimeFilter", "dt"):
        return (
            f"({a[0]} >= {_date(f)} AND {a[0]} <= {_date(t)}) AND "
            f"({a[1]} >= {_dt(f)} AND {a[1]} <= {_dt(t)})"
        )
    if name == "timeInterval":
        return f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {n} second)"
    if name == "timeInterval_ms":
        return f"toStartOfInterval(toDateTime64({a[0]}, 3), INTERVAL {n * 1000} millisecond)"
    return str(n)  # interval_s


def expand_macros(sql: str, tr: TimeRange) -> str:
    """The plugin's backend macros (pkg/macros/macros.go), matched as grafana/sqlds does.

    Each name is found with ``\\$__name\\b(?:\\((.*?)\\))?``: the arguments end at
    the first ``)`` and split at every comma; times are UTC seconds
    (``toDateTime(unix)``), milliseconds (``fromUnixTimestamp64Milli``) or dates.
    """
    for name in _MACRO_ARITY:
        for m in re.finditer(r"\$__" + name + r"\b(?:\((.*?)\))?", sql):
            args = [x.strip() for x in m.group(1).split(",")] if m.group(1) is not None else []
            sql = sql.replace(m.group(0), _macro(name, args, tr))
    return sql


def expand(sql: str, tr: TimeRange, values: Mapping[str, object]) -> str:
    """Panel SQL as ClickHouse receives it from Grafana: frontend, then backend."""
    sql = apply_conditional_all(sql, values)
    sql = replace_variables(sql, values)
    return expand_macros(sql, tr)


def all_values(dashboard: Dashboard, **chosen: object) -> dict[str, object]:
    """Variable values with "All" for every multi-value variable not chosen."""
    out: dict[str, object] = {}
    for v in dashboard.variables:
        if v.kind == "datasource":
            continue
        if v.name in chosen:
            out[v.name] = chosen[v.name]
        elif v.kind == "custom":
            out[v.name] = v.default
        elif v.include_all:
            out[v.name] = ["$__all"] if v.all_value is None else v.all_value
        else:
            out[v.name] = ""
    out.update({k: val for k, val in chosen.items() if k not in out})
    return out


def render_sql(text: str, db: str) -> str:
    return text.replace("{db}", db)
