"""The tree is the architecture: modules stay small, tests mirror the package.

- A module over ``LONG`` lines says why at its top (a paragraph of its docstring that
  starts with "Why this module is long:"); otherwise it is split along its seams.
- Every folder of ``tests/`` mirrors a folder of ``incidents/`` (same path), except
  the suites' own folders in ``OWN``.
- Nothing imports a conftest: shared harnesses live in ``tests/support`` and are
  imported from there (their fixtures are registered by the root conftest).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "incidents"
TESTS = ROOT / "tests"
#: "~600 lines" with a little slack for a docstring that grows.
LONG = 650
REASON = "Why this module is long:"
#: tests/ folders that are not a part of the package: the harnesses, the repository's
#: own rules, the dev sets, recorded payloads, the fault suite of the stream.
OWN = {"support", "project", "data", "connectors/fixtures", "stream/faults"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def unexplained(paths: list[Path]) -> list[str]:
    """The modules over LONG lines whose docstring does not say why."""
    out = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > LONG and REASON not in (ast.get_docstring(ast.parse(text)) or ""):
            out.append(f"{path.name} ({lines} lines)")
    return out


def test_a_long_module_says_why_at_its_top() -> None:
    assert unexplained(_modules()) == [], f"split these, or say {REASON!r} in their docstring"


def test_the_check_sees_a_long_module_without_a_reason(tmp_path: Path) -> None:
    body = "x = 1\n" * (LONG + 1)
    (tmp_path / "plain.py").write_text('"""A module."""\n' + body)
    (tmp_path / "told.py").write_text(f'"""A module.\n\n{REASON} it is a table.\n"""\n' + body)
    (tmp_path / "short.py").write_text('"""A module."""\nx = 1\n')
    found = unexplained(sorted(tmp_path.glob("*.py")))
    assert found == [f"plain.py ({LONG + 2} lines)"]


def test_the_tests_mirror_the_package() -> None:
    strays = []
    for d in sorted(p for p in TESTS.rglob("*") if p.is_dir()):
        rel = d.relative_to(TESTS).as_posix()
        if "__pycache__" in rel or any(rel == o or rel.startswith(o + "/") for o in OWN):
            continue
        if not (PACKAGE / rel).is_dir():
            strays.append(rel)
    assert strays == [], "tests/ folders without an incidents/ folder of the same path"


def test_no_test_imports_a_conftest() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n.split(".")[-1] == "conftest" for n in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
