"""Durable cursors: where each source stopped, surviving restarts.

Default and only store: one small JSON file per connector under
``INCIDENTS_CONNECTORS_STATE_DIR`` (``vk.cursors.json``), replaced atomically
(write a temporary file, fsync, rename, fsync the directory), so a crash leaves
either the old or the new file, never half of one. Why a file and not a
compacted Kafka topic: reading a compacted topic back to its end at start
relies on the high watermark, which the embedded broker under-reports
(docs/operations.md), and a connector is a single process per source kind, so
nothing else needs to read its cursors. In Kubernetes give each connector a
small persistent volume for its state directory.

A cursor is a JSON object whose meaning belongs to the source (a VK post id, a
Telegram update offset, a portal page token and how many items of that page
were published). The run loop saves it only after the producer has flushed
everything published before it.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

Cursor = dict[str, Any]


class CursorStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cursors: dict[str, Cursor] = {}
        self.saves = 0
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise RuntimeError(
                    f"cursor file {path} is unreadable ({exc}); move it away to start over"
                ) from None
            cursors = data.get("cursors") if isinstance(data, dict) else None
            if not isinstance(cursors, dict):
                raise RuntimeError(f"cursor file {path} has no `cursors` object")
            self._cursors = cursors

    @classmethod
    def for_connector(cls, state_dir: Path, connector: str) -> CursorStore:
        return cls(state_dir / f"{connector}.cursors.json")

    def get(self, key: str) -> Cursor | None:
        value = self._cursors.get(key)
        return json.loads(json.dumps(value)) if value is not None else None  # a private copy

    def all(self) -> dict[str, Cursor]:
        return json.loads(json.dumps(self._cursors))

    def save(self, key: str, cursor: Cursor) -> None:
        with self._lock:
            if self._cursors.get(key) == cursor and self.path.exists():
                return
            self._cursors[key] = json.loads(json.dumps(cursor))
            self._write()
            self.saves += 1

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"version": 1, "cursors": self._cursors}, ensure_ascii=False, indent=1)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
