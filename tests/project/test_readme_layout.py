"""The README's Layout section against the tree: a newcomer reads it to find their way.

Every folder it names exists, every module it names exists where it says, and every
folder of the project (the top level, every subpackage of ``incidents`` and of the
tests) is named, so a folder added or moved shows up here until the README says
where it is.
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
    """(folders, modules) the Layout names, as paths from the repository root.

    The Layout is a tree: a line that starts with ``name/`` at an indent of 0, 2 or 4
    spaces opens that folder inside the folder opened one level up. ``name/`` anywhere
    else (a description, a deeper continuation line) names a folder inside the folder
    opened last, and so does ``name.py`` a module (``app.py``)."""
    folders: set[str] = set()
    modules: set[str] = set()
    opened: list[str] = []  # the folder opened at each depth
    for line in _layout():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        first = line.split()[0]
        if indent in (0, 2, 4) and re.fullmatch(r"\w+/", first):
            depth = indent // 2
            opened[depth:] = [(opened[depth - 1] if depth else "") + first]
            folders.add(opened[-1].rstrip("/"))
            line = line.lstrip(" ")[len(first) :]
        here = opened[-1] if opened else ""
        folders.update(here + n for n in re.findall(r"(?<![\w./-])(\w+)/(?=[\s,)]|$)", line))
        if here.startswith("incidents/"):
            modules.update(here + m for m in re.findall(r"(?<![\w/])(\w+\.py)\b", line))
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
    # and every package of the code and of the tests, at any depth
    for package in ("incidents", "tests"):
        expected |= {
            str(init.parent.relative_to(ROOT))
            for init in (ROOT / package).rglob("__init__.py")
            if init.parent != ROOT / package
        }
    assert sorted(expected - folders) == []
