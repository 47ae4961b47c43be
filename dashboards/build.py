"""Render the oversight dashboards (incidents/oversight/dashboards.py) to Grafana JSON.

    python -m dashboards.build            # write dashboards/json/*.json (make dashboards)
    python -m dashboards.build --check    # exit 1 if the committed JSON is stale
    python -m dashboards.build --database incidents_tver

The JSON is committed: Grafana provisions it from files
(dashboards/provisioning/dashboards/incidents.yaml), and a review sees every
query change as a diff. Panels target grafana-clickhouse-datasource v4 and
Prometheus through data source variables (``${datasource}``), so one dashboard
serves the federal data source and each region's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from incidents.oversight.dashboards import dashboards
from incidents.oversight.macros import render_sql
from incidents.oversight.panels import CLICKHOUSE, PROMETHEUS, Dashboard, Panel, Variable

OUT = Path(__file__).resolve().parent / "json"
PLUGIN_VERSION = "4.0.0"
SCHEMA_VERSION = 39


def _ds(source: str, var: str) -> dict[str, str]:
    return {"type": source, "uid": "${" + var + "}"}


def _target(panel: Panel, i: int, db: str) -> dict[str, Any]:
    q = panel.queries[i]
    ds = _ds(panel.source, panel.datasource)
    if panel.source == PROMETHEUS:
        return {
            "refId": q.ref,
            "datasource": ds,
            "editorMode": "code",
            "expr": q.text,
            "legendFormat": q.legend or "__auto",
            "range": True,
        }
    return {
        "refId": q.ref,
        "datasource": ds,
        "editorType": "sql",
        "pluginVersion": PLUGIN_VERSION,
        # sqlds formats: 0 = time series (long rows become one series per label), 1 = table
        "format": 0 if q.time_series else 1,
        "queryType": "timeseries" if q.time_series else "table",
        "rawSql": render_sql(q.text, db),
    }


def _options(panel: Panel) -> dict[str, Any]:
    legend = {"displayMode": "list", "placement": "bottom", "showLegend": True}
    if panel.kind == "timeseries":
        return {"legend": legend, "tooltip": {"mode": "multi", "sort": "desc"}}
    if panel.kind == "barchart":
        return {
            "orientation": "horizontal",
            "xField": panel.queries[0].columns[0] if panel.queries[0].columns else None,
            "showValue": "auto",
            "legend": legend,
            "tooltip": {"mode": "single", "sort": "none"},
        }
    return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}


def _field_config(panel: Panel) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    if panel.unit:
        defaults["unit"] = panel.unit
    if panel.kind == "timeseries":
        defaults["custom"] = {"drawStyle": "line", "lineWidth": 2, "fillOpacity": 8}
    overrides = [
        {
            "matcher": {"id": "byName", "options": column},
            "properties": [
                {
                    "id": "links",
                    "value": [{"title": "Open the post", "url": url, "targetBlank": True}],
                }
            ],
        }
        for column, url in panel.links.items()
    ]
    return {"defaults": defaults, "overrides": overrides}


def _variable(v: Variable, db: str) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": v.name,
        "label": v.label,
        "hide": 2 if v.hidden else 0,
        "multi": v.multi,
        "includeAll": v.include_all,
        "current": {},
        "skipUrlSync": False,
    }
    if v.kind == "datasource":
        return {**base, "type": "datasource", "query": v.query, "refresh": 1, "regex": ""}
    if v.kind == "custom":
        options = [{"text": o, "value": o, "selected": o == v.default} for o in v.options]
        return {
            **base,
            "type": "custom",
            "query": ",".join(v.options),
            "options": options,
            "current": {"text": v.default, "value": v.default},
        }
    source = PROMETHEUS if v.query.startswith("label_values(") else CLICKHOUSE
    out = {
        **base,
        "type": "query",
        "datasource": _ds(source, v.datasource),
        "definition": render_sql(v.query, db),
        "refresh": 1,
        "sort": 1,
        "regex": "",
    }
    if source == PROMETHEUS:
        out["query"] = {"query": v.query, "refId": "PrometheusVariableQueryEditor-VariableQuery"}
    else:
        out["query"] = {"refId": "var", "queryType": "sql", "rawSql": render_sql(v.query, db)}
    if v.all_value is not None:
        out["allValue"] = v.all_value
    return out


def to_grafana(d: Dashboard, db: str = "incidents") -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    pid = 1
    for row in d.rows:
        panels.append(
            {
                "id": pid,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        pid += 1
        y += 1
        x = 0
        height = 0
        for p in row.panels:
            if x + p.width > 24:
                x, y, height = 0, y + height, 0
            panels.append(
                {
                    "id": pid,
                    "type": p.kind,
                    "title": p.title,
                    "description": p.description,
                    "datasource": _ds(p.source, p.datasource),
                    "gridPos": {"h": p.height, "w": p.width, "x": x, "y": y},
                    "fieldConfig": _field_config(p),
                    "options": _options(p),
                    "targets": [_target(p, i, db) for i in range(len(p.queries))],
                }
            )
            pid += 1
            x += p.width
            height = max(height, p.height)
        y += height
    return {
        "uid": d.uid,
        "title": d.title,
        "description": d.description,
        "tags": list(d.tags),
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "timezone": "",
        "refresh": "5m",
        "time": {"from": d.time_from, "to": "now"},
        "timepicker": {},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "title": "Incidents",
                "tags": ["incidents"],
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
            }
        ],
        "templating": {"list": [_variable(v, db) for v in d.variables]},
        "panels": panels,
    }


def render_all(db: str = "incidents") -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {
        f"{d.uid}.json": json.dumps(to_grafana(d, db), ensure_ascii=False, indent=2) + "\n"
        for d in dashboards()
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dashboards.build", description=__doc__)
    p.add_argument("--database", default="incidents", help="ClickHouse database the panels read")
    p.add_argument("--out", type=Path, default=OUT, help="output directory")
    p.add_argument("--check", action="store_true", help="fail if the files on disk differ")
    args = p.parse_args(argv)
    files = render_all(args.database)
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (args.out / name).is_file() or (args.out / name).read_text("utf-8") != text
        ]
        if stale:
            print("stale dashboards (run `make dashboards`): " + ", ".join(stale), file=sys.stderr)
            return 1
        print(f"{len(files)} dashboards up to date")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
