"""The user's input and output files, checked before any work: one line per mistake.

A directory, a binary file, a broken .gz, an unreadable file or an output path whose
directory is missing is a :class:`UsageError` here, before the models load, not a
traceback or a rejected "line" later. ``process``, ``verify`` and ``evaluate`` share it.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from incidents.config.command import UsageError
from incidents.connectors.sources.file import read_lines


def os_reason(exc: BaseException) -> str:
    """An OS error as the user needs it: the file and the reason, no errno."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def input_lines(src: Path) -> int:
    """Non-blank lines of an input file, after checking it is one: one line per mistake.

    A directory, a binary file (an image, a database, a .gz that is not gzip) or an
    unreadable file is a usage error here, before the models load, not a traceback or
    a rejected "line" later.
    """
    if src.is_dir():
        raise UsageError(f"{src} is a directory: give a JSONL file (RawMention lines, .gz allowed)")
    if not src.exists():
        raise UsageError(f"no such input file: {src}")
    try:
        opener = gzip.open if src.suffix == ".gz" else open
        with opener(src, "rb") as f:
            head = f.read(8192)
        if b"\0" in head:
            raise UsageError(
                f"{src} is a binary file, not JSONL text (UTF-8, one RawMention per line)"
            )
        return sum(1 for _ in read_lines(src))
    except gzip.BadGzipFile:
        raise UsageError(f"{src} is named .gz but is not gzip-compressed") from None
    except (OSError, EOFError) as exc:
        raise UsageError(f"cannot read {src}: {os_reason(exc)}") from None


def open_output(name: str) -> Any:
    """The output file, opened before any work: a wrong path costs one line, not the run."""
    path = Path(name)
    if path.is_dir():
        raise UsageError(f"-o {name} is a directory: name a file")
    if not path.parent.is_dir():
        raise UsageError(f"-o {name}: directory {path.parent} does not exist")
    try:
        return open(path, "wb")
    except OSError as exc:
        raise UsageError(f"cannot write {name}: {os_reason(exc)}") from None
