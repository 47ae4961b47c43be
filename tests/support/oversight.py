"""The oversight tests run over data produced by the real pipeline.

Once per session: one worker (all roles) over the embedded broker processes the
bundled sample (mentions, then the official answers), exactly as in
tests/stream/test_pipeline.py; then the worker stops, which releases its
chDB directory. Tests read that directory through chDB engines in child
processes (tests/support/chdb.py), and take copies of it where they
need an engine with other startup options (a regional user's row filters).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.chdb import ChdbProcess
from tests.support.paths import SAMPLE
from tests.support.stack import Stack, jsonl


@dataclass
class PipelineData:
    """The ClickHouse directory the pipeline wrote, and a reader over it."""

    path: Path
    root: Path
    reader: ChdbProcess
    copies: int = 0

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        return self.reader.query(sql)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.reader.query(sql)[1]

    def scalar(self, sql: str) -> Any:
        return self.rows(sql)[0][0]

    def copy(self) -> Path:
        """A copy of the data directory, for an engine with other startup options."""
        self.copies += 1
        dest = self.root / f"clickhouse-copy-{self.copies}"
        shutil.copytree(
            self.path, dest, symlinks=True, ignore=shutil.ignore_patterns("status", "*.lock")
        )
        return dest


def _is_json_obj(v: bytes) -> bool:
    try:
        obj = json.loads(v)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(obj, dict) and isinstance(obj.get("id"), str)


@pytest.fixture(scope="session")
def pipeline_data(
    broker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PipelineData]:
    import uuid

    root = tmp_path_factory.mktemp("oversight")
    stack = Stack(
        broker, root, prefix=f"o{uuid.uuid4().hex[:6]}.", app_id=f"ov-{uuid.uuid4().hex[:6]}"
    )
    try:
        stack.start_worker()
        mentions = jsonl(SAMPLE / "mentions.jsonl")
        keys = [json.loads(v)["id"].encode() if _is_json_obj(v) else None for v in mentions]
        stack.publish("mentions.raw", mentions, keys)
        stack.wait_drained()
        stack.publish("responses", jsonl(SAMPLE / "responses.jsonl"))
        stack.wait_drained()
    finally:
        stack.stop_all()
    path = root / "clickhouse"
    reader = ChdbProcess(path)
    try:
        yield PipelineData(path, root, reader)
    finally:
        reader.close()
