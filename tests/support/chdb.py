"""A chDB engine in a child process, driven over stdin/stdout with JSON lines.

chDB allows one engine per process and one process per data directory, and its
startup options (a config file with users and row filters) apply to the whole
process. The oversight tests therefore open every engine they need in a child of
their own: the pipeline's data as written, a copy of it seen by a regional user,
an empty engine for migrations. Each request is ``{"sql": ..., "command": bool}``;
each answer ``{"columns": [...], "rows": [...]}`` or ``{"error": "..."}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def _jsonable(v: Any) -> Any:
    """The JSON shapes the worker's /query endpoint answers with (incidents/stream/app.py)."""
    if isinstance(v, int | float | str | bool) or v is None:
        return v
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return str(v)


class ChdbProcess:
    """The parent's handle on a runner child."""

    def __init__(self, path: Path | str, config_file: Path | None = None) -> None:
        cmd = [sys.executable, "-m", "tests.support.chdb", str(path)]
        if config_file is not None:
            cmd += ["--config-file", str(config_file)]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )

    def _call(self, sql: str, command: bool) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"sql": sql, "command": command}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"chdb runner exited with {self.proc.wait(10)}")
        return json.loads(line)

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        answer = self._call(sql, command=False)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["columns"], [tuple(r) for r in answer["rows"]]

    def command(self, sql: str) -> None:
        answer = self._call(sql, command=True)
        if "error" in answer:
            raise RuntimeError(answer["error"])

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> ChdbProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> int:
    import clickhouse_connect

    p = argparse.ArgumentParser()
    p.add_argument("path", help="chDB data directory, or 'memory'")
    p.add_argument("--config-file", help="a ClickHouse config file for the engine (users, filters)")
    args = p.parse_args()
    options = {"config-file": args.config_file} if args.config_file else None
    path = None if args.path == "memory" else args.path
    client = clickhouse_connect.get_client(
        dsn=f"chdb://{path}" if path else "chdb://memory", chdb_options=options
    )
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req.get("command"):
                client.command(req["sql"])
                out: dict[str, Any] = {"columns": [], "rows": []}
            else:
                res = client.query(req["sql"])
                out = {
                    "columns": list(res.column_names),
                    "rows": [[_jsonable(v) for v in r] for r in res.result_rows],
                }
        except Exception as exc:
            out = {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
