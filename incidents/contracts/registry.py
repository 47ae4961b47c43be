"""JSON Schemas generated from the msgspec models, and lookups by name.

``incidents schemas export`` rewrites ``incidents/contracts/json/*.schema.json``;
``incidents schemas check`` (and a contract test) fails when they drift from
``incidents/contracts/models.py``. Downstream teams read the JSON files; our code reads the
Structs.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import msgspec

from incidents.contracts.models import RULES, SCHEMAS

JSON_DIR = Path(__file__).parent / "json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def schema_id(name: str, version: int) -> str:
    return f"urn:incidents:schema:{name}:v{version}"


def file_name(name: str, version: int) -> str:
    return f"{name}.v{version}.schema.json"


def _clean_descriptions(node: Any) -> Any:
    """Docstrings as `inspect.cleandoc` reads them, whichever msgspec rendered them.

    msgspec 0.23 strips a docstring's indentation and earlier versions kept it; the
    contract must not change with the generator's whitespace.
    """
    if isinstance(node, dict):
        return {
            k: inspect.cleandoc(v)
            if k == "description" and isinstance(v, str)
            else _clean_descriptions(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_clean_descriptions(v) for v in node]
    return node


def _with_rules(body: dict[str, Any]) -> dict[str, Any]:
    """The rules between fields (incidents.contracts.models.RULES) on the definitions of their
    Structs.

    msgspec writes one definition per Struct under ``$defs``, named by the class; a
    Struct nested in another message (OfficialResponse inside a `respond` command)
    gets its rules there too.
    """
    by_name = {t.__name__: rules for t, rules in RULES.items()}
    for name, definition in body.get("$defs", {}).items():
        if name in by_name:
            definition["allOf"] = [rule.schema() for rule in by_name[name]]
    return body


def render_schema(name: str) -> dict[str, Any]:
    typ, version = SCHEMAS[name]
    body = _with_rules(_clean_descriptions(msgspec.json.schema(typ)))
    doc = {
        "$schema": DRAFT,
        "$id": schema_id(name, version),
        "title": f"{name} v{version}",
    }
    doc.update(body)
    return doc


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def export_all(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (_, version) in SCHEMAS.items():
        path = directory / file_name(name, version)
        path.write_text(dumps(render_schema(name)), encoding="utf-8")
        written.append(path)
    return written


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    stale = []
    for name, (_, version) in SCHEMAS.items():
        path = directory / file_name(name, version)
        if not path.is_file() or path.read_text(encoding="utf-8") != dumps(render_schema(name)):
            stale.append(path.name)
    return stale


def load_schema(name: str) -> dict[str, Any]:
    _, version = SCHEMAS[name]
    return json.loads((JSON_DIR / file_name(name, version)).read_text(encoding="utf-8"))
