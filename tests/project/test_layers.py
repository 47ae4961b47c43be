"""Imports point down the layers, never in a circle, and inside functions only for weight.

The table below gives every module of the ``incidents`` package its layer
(docs/architecture.md#layers): a layer is a set of folders, bottom first:

    contracts ← domain ← platform ← io ← {stream, connectors, oversight, console,
    evaluation} ← ops ← cli

A module may import a module of a lower layer, or of its own part of its own layer
(``incidents.oversight.report`` uses ``incidents.oversight.dashboards``); not a
higher layer, and not another part of its layer (the stream runtime does not import
the console). Imports form no cycle, counting those inside functions: a cycle hidden
behind a lazy import is still a cycle. An import inside a function is allowed only
for a module in ``LAZY``, whose loading costs start-up time a command or a process
that does not need it should not pay; never for the standard library, and never for
a module that importing the importer has already loaded (it saves nothing).

The test reads the source (``ast``), so it sees every import, run or not.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from pydantic import ValidationError

from incidents.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("incidents",)

#: Bottom first: (layer, {part: module patterns}). ``pkg.*``: every module under pkg.
#: The parts are the package's folders: the tree is the architecture.
LAYERS: list[tuple[str, dict[str, list[str]]]] = [
    # the contracts with everything outside: models, JSON Schemas, the vocabulary
    ("contracts", {"contracts": ["incidents.contracts", "incidents.contracts.*"]}),
    # pure logic: no Kafka, no ClickHouse, no settings tree (frozen policies instead)
    ("domain", {"domain": ["incidents.domain", "incidents.domain.*"]}),
    # what every process needs: settings, errors of commands, logs, metrics
    (
        "platform",
        {
            "config": ["incidents.config.*"],
            "observability": ["incidents.observability.*"],
        },
    ),
    # talking to Kafka and to ClickHouse
    ("io", {"kafka": ["incidents.kafka.*"], "warehouse": ["incidents.warehouse.*"]}),
    # the parts a deployment runs, side by side, and the scorers that judge the domain
    (
        "services",
        {
            "stream": ["incidents.stream.*"],
            "connectors": ["incidents.connectors.*"],
            "oversight": ["incidents.oversight.*"],
            "console": ["incidents.console.*"],
            "evaluation": ["incidents.evaluation.*"],
        },
    ),
    # tools around the services: benchmarks, checks, replays, the demo
    ("ops", {"ops": ["incidents.ops.*"]}),
    # the command line: one entry point, a module per command group
    ("cli", {"cli": ["incidents.cli.*"]}),
]

#: Modules that may be imported inside a function: their import costs start-up time
#: (measured with a fresh interpreter that has loaded incidents.config.settings, min of 3:
#: docs/architecture.md#function-level-imports). A prefix covers its submodules.
LAZY: dict[str, str] = {
    "incidents.stream.worker": "Faust and every stage's domain objects, ~1.0 s",
    "incidents.stream.offline": "the models and the gazetteer, ~0.8 s",
    "incidents.domain.enrichment": "the classifier's numpy/scipy model, ~0.35 s",
    "incidents.domain.copies.dedup": "datasketch and numpy, ~0.5 s",
    "incidents.domain.understanding.classify": "numpy, scipy and pymorphy3, ~0.2 s",
    "incidents.domain.understanding.features": "numpy, scipy and pymorphy3, ~0.2 s",
    "incidents.evaluation.learner": "numpy and scipy, ~0.45 s",
    "incidents.ops.verify": "the enrich stage's models, ~0.8 s",
    "incidents.ops.bench.run": "every benchmark's imports, ~0.17 s",
    "incidents.ops.demo.run": "the demo's broker, report and replay, ~80 ms",
    "incidents.oversight.report_html": "the HTML report, ~50 ms",
    "incidents.console.web": "aiohttp, jinja2 and the desk, ~0.8 s",
    "incidents.console.view": "the desk (domain.incidents), ~0.45 s",
    "incidents.console.follow": "the desk and the metrics, ~0.7 s",
    "incidents.connectors.base": "aiohttp, tenacity and the dead-letter code, ~0.8 s",
    "incidents.connectors.replies": "aiohttp and the platforms' clients, ~0.8 s",
    "incidents.connectors.sources.webhook": "aiohttp, ~0.9 s",
    "incidents.connectors.sources.telegram": "aiohttp, ~0.9 s",
    "incidents.connectors.registry": "the gazetteer's module, ~50 ms",
    "incidents.observability.logs": "structlog, ~55 ms",
    "aiohttp": "~0.1 s",
    "clickhouse_connect": "~50 ms, and chDB's engine when it connects",
}

#: Edges that break the rules, each with the reason it is tolerated (none now).
KNOWN_EDGES: dict[tuple[str, str], str] = {}
KNOWN_LAZY: dict[tuple[str, str], str] = {}


# ------------------------------------------------------------------ reading
@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # a project module, or a third-party / standard module as written
    line: int
    end_line: int
    in_function: bool
    type_only: bool  # under `if TYPE_CHECKING:`


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_sources() -> dict[str, str]:
    return {
        module_name(p): p.read_text(encoding="utf-8")
        for pkg in PACKAGES
        for p in sorted((ROOT / pkg).rglob("*.py"))
    }


def _is_type_checking(test: ast.expr) -> bool:
    return "TYPE_CHECKING" in ast.unparse(test)


def imports_of(name: str, source: str, modules: Iterable[str], package: bool) -> Iterator[Import]:
    """Every import statement of a module, resolved to modules (``from a import b``
    is an import of ``a.b`` when that is a module)."""
    known = set(modules)

    def targets(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = node.module or ""
        if node.level:
            here = name.split(".") if package else name.split(".")[:-1]
            here = here[: len(here) - (node.level - 1)]
            base = ".".join([*here, base] if base else here)
        subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
        rest = [a for a in node.names if f"{base}.{a.name}" not in known]
        return subs + ([base] if rest or not subs else [])

    def walk(node: ast.AST, in_function: bool, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for t in targets(child):
                    end = child.end_lineno or child.lineno
                    yield Import(name, t, child.lineno, end, in_function, type_only)
                continue
            fn = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            tc = isinstance(child, ast.If) and _is_type_checking(child.test)
            yield from walk(child, in_function or fn, type_only or tc)

    yield from walk(ast.parse(source), False, False)


def project_module(target: str, modules: Iterable[str]) -> str | None:
    """The project module an import names (``incidents.domain.places.geo``), else None."""
    known = set(modules)
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def is_neutral(source: str) -> bool:
    """A package ``__init__`` that only documents: importing it imports nothing."""
    tree = ast.parse(source)
    return not any(isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(tree))


# ------------------------------------------------------------------ the table
def layer_table(modules: Iterable[str]) -> dict[str, tuple[int, str]]:
    """module → (layer index, part); exact names win over ``pkg.*`` patterns."""
    out: dict[str, tuple[int, str]] = {}
    for module in modules:
        exact = [
            (i, part)
            for i, (_, parts) in enumerate(LAYERS)
            for part, pats in parts.items()
            if module in pats
        ]
        wild = [
            (i, part)
            for i, (_, parts) in enumerate(LAYERS)
            for part, pats in parts.items()
            for pat in pats
            if pat.endswith(".*") and fnmatchcase(module, pat)
        ]
        hits = exact or wild
        if len(hits) == 1:
            out[module] = hits[0]
    return out


@dataclass
class Findings:
    unplaced: list[str]
    upward: list[str]
    cycles: list[list[str]]
    lazy: list[str]


def analyse(sources: dict[str, str]) -> Findings:
    """Everything wrong with a tree of modules (name → source) under the rules above."""
    modules = set(sources)
    neutral = {m for m, src in sources.items() if is_neutral(src) and _is_package(m, modules)}
    placed = layer_table(modules - neutral)
    unplaced = sorted(modules - neutral - set(placed))
    stdlib = set(sys.stdlib_module_names)
    lines = {m: src.split("\n") for m, src in sources.items()}
    imports = [
        imp
        for m, src in sources.items()
        for imp in imports_of(m, src, modules, _is_package(m, modules))
    ]

    def edges(kind: str) -> dict[str, set[str]]:
        g: dict[str, set[str]] = {m: set() for m in modules}
        for imp in imports:
            t = project_module(imp.target, modules)
            if t is None or t in neutral or t == imp.importer or imp.type_only:
                continue
            if kind == "top" and imp.in_function:
                continue
            g[imp.importer].add(t)
        return g

    upward: list[str] = []
    for imp in imports:
        t = project_module(imp.target, modules)
        if t is None or t in neutral or t == imp.importer:
            continue
        if imp.importer not in placed or t not in placed:
            continue
        (li, pi), (lt, pt) = placed[imp.importer], placed[t]
        if lt < li or (lt == li and pt == pi):
            continue
        if (imp.importer, t) in KNOWN_EDGES:
            continue
        where = "up" if lt > li else "sideways"
        upward.append(
            f"{imp.importer}:{imp.line} → {t} ({where}: {LAYERS[li][0]}/{pi} → {LAYERS[lt][0]}/{pt})"
        )

    every = edges("all")
    cycles = _cycles(every)

    top = edges("top")
    lazy: list[str] = []
    for imp in imports:
        if not imp.in_function or imp.type_only:
            continue
        t = project_module(imp.target, modules)
        if t in neutral:
            continue
        name = t or imp.target
        known = (imp.importer, name) in KNOWN_LAZY
        if name.split(".")[0] in stdlib and t is None:
            if not known:
                lazy.append(f"{imp.importer}:{imp.line} imports {name} in a function: stdlib, top")
            continue
        loaded = _loaded_by(imp.importer, top, imports, modules)
        if name in loaded:
            lazy.append(
                f"{imp.importer}:{imp.line} imports {name} in a function: already loaded with "
                f"{imp.importer}, import it at the top"
            )
            continue
        if known:
            continue
        if not any(name == k or name.startswith(k + ".") for k in LAZY):
            lazy.append(
                f"{imp.importer}:{imp.line} imports {name} in a function: not a heavy module "
                "(LAZY); import it at the top"
            )
        elif "# lazy: " not in "\n".join(lines[imp.importer][imp.line - 2 : imp.end_line]):
            lazy.append(
                f"{imp.importer}:{imp.line} imports {name} in a function: say why, with a "
                "`# lazy: ...` comment"
            )
    return Findings(unplaced, upward, cycles, lazy)


def _is_package(module: str, modules: set[str]) -> bool:
    return any(m.startswith(module + ".") for m in modules)


def _loaded_by(
    module: str, top: dict[str, set[str]], imports: list[Import], modules: set[str]
) -> set[str]:
    """Every module importing ``module`` loads: project modules by their top-level
    imports, and the third-party modules those import at the top."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(top.get(m, ()))
    third = {
        imp.target
        for imp in imports
        if imp.importer in seen and not imp.in_function and not imp.type_only
        if project_module(imp.target, modules) is None
    }
    return (seen - {module}) | third | {t.rpartition(".")[0] for t in third}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


# ------------------------------------------------------------------ the tests
@pytest.fixture(scope="module")
def findings() -> Findings:
    return analyse(read_sources())


def test_every_module_has_a_layer(findings: Findings) -> None:
    """A new module says where it belongs: add it to LAYERS (and docs/architecture.md)."""
    assert findings.unplaced == []


def test_every_layer_entry_names_a_module() -> None:
    modules = set(read_sources())
    for _, parts in LAYERS:
        for pats in parts.values():
            for pat in pats:
                assert any(fnmatchcase(m, pat) for m in modules), f"{pat}: no such module"


def test_imports_point_down(findings: Findings) -> None:
    assert findings.upward == []


def test_no_import_cycles(findings: Findings) -> None:
    assert findings.cycles == []


def test_function_level_imports_are_only_for_heavy_modules(findings: Findings) -> None:
    assert findings.lazy == []


def test_the_allow_lists_are_not_stale() -> None:
    """Every LAZY module is still imported lazily somewhere; every known edge still exists."""
    sources = read_sources()
    modules = set(sources)
    imports = [
        imp
        for m, src in sources.items()
        for imp in imports_of(m, src, modules, _is_package(m, modules))
    ]
    lazily = {project_module(i.target, modules) or i.target for i in imports if i.in_function}
    for k in LAZY:
        assert any(n == k or n.startswith(k + ".") for n in lazily), f"LAZY {k}: not used"
    edges = {(i.importer, project_module(i.target, modules)) for i in imports}
    for edge in KNOWN_EDGES:
        assert edge in edges, f"KNOWN_EDGES {edge}: gone, remove it"
    lazy_pairs = {
        (i.importer, project_module(i.target, modules) or i.target)
        for i in imports
        if i.in_function
    }
    for pair in KNOWN_LAZY:
        assert pair in lazy_pairs, f"KNOWN_LAZY {pair}: gone, remove it"


# ------------------------------------------------ the checker sees what it should
BASE = {
    "incidents": "",
    "incidents.contracts": "",
    "incidents.contracts.models": "X = 1\n",
    "incidents.domain": "",
    "incidents.domain.places": "",
    "incidents.domain.places.geo": "from incidents.contracts.models import X\n",
    "incidents.config.settings": "from incidents.domain.places.geo import X\n",
    "incidents.oversight.report": "import json\nfrom incidents.config.settings import X\n",
    "incidents.oversight.dashboards": "",
    "incidents.console": "",
    "incidents.console.view": "",
    "incidents.oversight": "",
    "incidents.config": "",
}


def _only(findings: Findings) -> Findings:
    """Findings without the unplaced modules of the synthetic tree."""
    return Findings([], findings.upward, findings.cycles, findings.lazy)


def test_the_checker_sees_an_upward_import() -> None:
    tree = dict(
        BASE, **{"incidents.domain.places.geo": "from incidents.config.settings import X\n"}
    )
    f = _only(analyse(tree))
    assert [u.split(" (")[0] for u in f.upward] == [
        "incidents.domain.places.geo:1 → incidents.config.settings"
    ]
    assert f.cycles == [["incidents.config.settings", "incidents.domain.places.geo"]]


def test_the_checker_sees_a_sideways_import_and_a_cycle_behind_a_lazy_import() -> None:
    tree = dict(
        BASE,
        **{
            "incidents.console.view": "from incidents.oversight.report import X\n",
            "incidents.oversight.report": "def f():\n    from incidents.console.view import Y\n",
        },
    )
    f = _only(analyse(tree))
    assert any(
        u.startswith("incidents.console.view:1 → incidents.oversight.report (sideways")
        for u in f.upward
    )
    assert f.cycles == [["incidents.console.view", "incidents.oversight.report"]]


def test_the_checker_sees_a_needless_function_level_import() -> None:
    tree = dict(
        BASE,
        **{
            "incidents.oversight.report": "from incidents.config.settings import X\n"
            "def f():\n    import json\n"
            "def g():\n    from incidents.domain.places.geo import X\n"
            "def h():\n    from incidents.oversight.dashboards import Z\n"
            "def i():\n    from incidents.observability.logs import W\n"
            "def j():\n    from incidents.observability.logs import V  # lazy: structlog\n",
            "incidents.observability.logs": "",
        },
    )
    f = analyse(tree)
    assert [x.split(" in a function: ")[1].split(",")[0].split(";")[0] for x in f.lazy] == [
        "stdlib",
        "already loaded with incidents.oversight.report",
        "not a heavy module (LAZY)",
        "say why",
    ]


# ------------------------------------------------------------ domain policies
def test_the_domain_receives_frozen_policies() -> None:
    """The Desk, the Deduplicator and the Enricher get settings.dedup, .grouping, .sla and
    .enrich (incidents/domain/policy.py): they cannot change them under a running stage."""
    s = Settings()
    for policy, field, value in (
        (s.dedup, "window_days", 1.0),
        (s.grouping, "radius_m", 1.0),
        (s.sla, "allowed_lateness_s", 1.0),
        (s.enrich, "review_margin", 0.2),
    ):
        with pytest.raises(ValidationError, match="frozen"):
            setattr(policy, field, value)
        assert getattr(policy.model_copy(update={field: value}), field) == value
