"""The README's Layout section against the tree: a newcomer reads it to find their way.

Every folder it names exists, every module it names exists where it says, and every
folder of the project (the top level, the packages' subpackages, the test suites,
the contracts) is named, so a folder added or moved shows up here until the README
says where it is.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Top-level folders that are not part of the source a newcomer reads (build output,
#: caches, the local state `make demo` and the tests create).
NOT_SOURCE = {"build", "var", ".venv", ".git", ".ci", ".github"}


def _layout() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Layout\n", 1)[1]
    block = section.split("```", 2)[1]
    return block.splitlines()[1:]


def _named() -> tuple[set[str], set[str]]:
    """(folders, modules) the Layout names, as paths from the repository root: a line
    that starts at the margin with ``name/`` opens a folder; ``name/`` anywhere else on
    its lines names a folder inside it (``agents/``, ``unit/ (no I/O)``), and
    ``name.py`` on the lines of ``streams/`` a module of that package."""
    folders: set[str] = set()
    modules: set[str] = set()
    parent = ""
    for line in _layout():
        if not line.strip():
            continue
        if not line[0].isspace():
            parent = line.split()[0]
            folders.add(parent.rstrip("/"))
            line = line[len(parent) :]
        folders.update(
            parent + name for name in re.findall(r"(?<![\w./-])(\w+)/(?=[\s,)]|$)", line)
        )
        if parent == "streams/":
            modules.update(parent + m for m in re.findall(r"(?<![\w/])(\w+\.py)\b", line))
    return folders, modules


def test_every_folder_and_module_the_layout_names_exists() -> None:
    folders, modules = _named()
    assert folders, "no Layout section found in README.md"
    assert sorted(f for f in folders if not (ROOT / f).is_dir()) == []
    assert sorted(m for m in modules if not (ROOT / m).is_file()) == []


def test_every_folder_of_the_project_is_in_the_layout() -> None:
    folders, _ = _named()
    expected = {
        p.name
        for p in ROOT.iterdir()
        if p.is_dir()
        and p.name not in NOT_SOURCE
        and not p.name.startswith(".")
        and not p.name.endswith(".egg-info")
    }
    for package in ("streams", "connectors", "schemas", "tests"):
        expected |= {
            f"{package}/{p.name}"
            for p in (ROOT / package).iterdir()
            if p.is_dir() and not p.name.startswith((".", "__"))
        }
    assert sorted(expected - folders) == []
