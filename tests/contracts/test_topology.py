"""The vocabulary is written once: stages, topics, open statuses and categories come
from ``incidents/contracts/topology.py`` everywhere.

A second copy of a list drifts: a stage added in one place and not in another, a
status that is open for the desk but closed for the report's SQL. These tests read
the package's source and fail on a literal list (or an SQL ``IN (...)``) of those
names outside the topology; a table *keyed* by the vocabulary (labels, decoders)
is allowed by name below, and is held to cover the whole vocabulary instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from incidents.config.settings import ROLES, Settings
from incidents.console import labels as console_labels
from incidents.contracts import topology
from incidents.domain import labels as report_labels
from incidents.domain.understanding import classify, problems
from incidents.kafka.topics import Topics

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("incidents",)

#: vocabulary → (its names, how many of them make a copy)
VOCABULARIES: dict[str, tuple[frozenset[str], int]] = {
    "stages": (frozenset(topology.STAGES), 4),
    "topics": (frozenset(topology.TOPIC), 4),
    "incident statuses": (frozenset(topology.INCIDENT_STATUSES), 4),
    "categories": (frozenset(topology.CATEGORIES), 6),
}

#: Where the names may be written out: the topology, and the contract's own Literal.
SOURCES = {"incidents/contracts/topology.py", "incidents/contracts/models.py"}

#: Tables keyed by the vocabulary (module path, assigned name): each says something
#: per name, and the tests below hold it to the whole vocabulary.
KEYED_TABLES: dict[tuple[str, str], str] = {
    ("incidents/domain/labels.py", "CATEGORIES"): "Russian labels of the categories",
    ("incidents/domain/labels.py", "VALUES"): "Russian labels of codes in the report, stages too",
    ("incidents/console/labels.py", "STATUSES"): "Russian labels of the statuses",
    (
        "incidents/stream/decoders.py",
        "_DECODERS",
    ): "the decoder of each topic (KeyError when missing)",
    ("incidents/console/follow.py", "_DECODERS"): "the topics the console reads, and how",
    ("incidents/evaluation/training.py", "DEFAULT_PARAMS"): "the share of each category (a prior)",
    # Temporary: the agents are being rewritten into one step runner, whose stages
    # declare themselves; remove this line when that lands.
    ("incidents/stream/agents/__init__.py", "modules"): "the agent module of each stage",
}


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _assigned_names(tree: ast.AST) -> dict[int, str]:
    """id(node) → the name its outermost assignment binds, for every node inside one."""
    names: dict[int, str] = {}
    for node in ast.walk(tree):
        target: ast.expr | None = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign):
            target = node.target
        if isinstance(target, ast.Name) and getattr(node, "value", None) is not None:
            for inner in ast.walk(node.value):  # type: ignore[attr-defined]
                names.setdefault(id(inner), target.id)
    return names


def copies_in(rel: str, source: str) -> list[str]:
    """The literal lists of the vocabulary in one module (``rel``: its path), but for
    its keyed tables."""
    tree = ast.parse(source)
    names = _assigned_names(tree)
    words = {w for vocab, _ in VOCABULARIES.values() for w in vocab}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings = {w for w in words if f"'{w}'" in node.value}  # SQL: IN ('a', 'b')
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            strings = {e.value for e in node.elts if isinstance(e, ast.Constant)}
        elif isinstance(node, ast.Dict):
            strings = {k.value for k in node.keys if isinstance(k, ast.Constant)}
        else:
            continue
        if (rel, names.get(id(node), "")) in KEYED_TABLES:
            continue
        for vocab, (names_of, enough) in VOCABULARIES.items():
            if len(strings & names_of) >= enough:
                found.append(f"{rel}:{node.lineno}: {vocab} {sorted(strings & names_of)}")
    return found


def copies() -> list[str]:
    """Every literal list of the vocabulary outside the topology and the keyed tables."""
    found: list[str] = []
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        if rel not in SOURCES:
            found += copies_in(rel, path.read_text(encoding="utf-8"))
    return found


def test_the_vocabulary_is_not_written_out_again() -> None:
    """Derive from incidents.contracts.topology (STAGES, TOPICS, OPEN_STATUSES, CATEGORIES, sql_list)
    instead of listing the names again."""
    assert copies() == []


def test_the_copy_detector_sees_a_copy() -> None:
    """The check above is not vacuous: a list of the stages, an SQL list of the open
    statuses, a set of categories and a table of topics are each found."""
    source = (
        'ROLES = ["enrich", "dedup", "group", "respond", "sink"]\n'
        "OPEN = \"status IN ('new', 'assigned', 'in_progress', 'answered_interim')\"\n"
        'CATS = {"roads", "housing", "utilities", "waste", "healthcare", "safety"}\n'
        'WHO = {"mentions.raw": 1, "mentions.enriched": 2, "incidents": 3, "responses": 4}\n'
    )
    found = copies_in("incidents/probe_of_the_test.py", source)
    assert [f.split(": ")[1].split(" [")[0] for f in found] == [
        "stages",
        "incident statuses",
        "categories",
        "topics",
    ]
    # the same table under a keyed name is allowed
    assert (
        copies_in("incidents/stream/decoders.py", "_DECODERS = " + source.split("WHO = ")[1]) == []
    )


# ----------------------------------------------- tables keyed by the vocabulary
def test_every_category_and_stage_has_a_russian_label() -> None:
    assert set(report_labels.CATEGORIES) == set(topology.CATEGORIES)
    assert set(topology.STAGES) <= set(report_labels.VALUES)
    assert set(console_labels.STATUSES) == set(topology.INCIDENT_STATUSES)


def test_the_bundled_model_and_the_taxonomy_use_the_categories() -> None:
    with np.load(classify.DEFAULT_MODEL_PATH, allow_pickle=False) as model:
        assert set(model["category_labels"].tolist()) == set(topology.CATEGORIES)
    assert classify.DEFAULT_LABELS == topology.CATEGORIES
    assert problems.CATEGORIES == topology.CATEGORIES  # what the taxonomy is checked against


# ------------------------------------------------------------ derived views
def test_the_worker_roles_are_the_stages() -> None:
    assert ROLES == topology.STAGES
    assert Settings().worker.roles == list(topology.STAGES)


def test_topics_are_derived_from_the_topology() -> None:
    s = Settings(topics={"prefix": "tver."})
    topics = Topics.from_settings(s)
    assert topics.all() == [f"tver.{t.base}" for t in topology.CREATED]
    assert topics.compacted() == {"tver.incidents"}
    assert topics.from_outside() == {
        "tver.mentions.raw",
        "tver.responses",
        "tver.incidents.commands",
    }
    for t in topology.CREATED:
        assert topics.named(t.base) == f"tver.{t.base}"


def test_each_stage_reads_and_writes_what_the_topology_says() -> None:
    """What the agents declare today (incidents/stream/agents/*: rt.declare), as the topology
    has it: the step runner can take its inputs and outputs from here."""
    assert topology.inputs("enrich") == ("mentions.raw",)
    assert topology.outputs("enrich") == ("mentions.dlq", "mentions.enriched")
    assert topology.inputs("dedup") == ("mentions.enriched",)
    assert set(topology.outputs("dedup")) == {"mentions.deduped", "desk.commands", "mentions.dlq"}
    assert set(topology.inputs("group")) == {"mentions.deduped", "desk.commands"}
    assert set(topology.outputs("group")) == {
        "mentions.resolved",
        "incidents.events",
        "replies.outbound",
        "incidents",
        "desk.commands",
        "mentions.dlq",
    }
    assert set(topology.inputs("respond")) == {"responses", "incidents.commands"}
    assert set(topology.outputs("respond")) == {"desk.commands", "mentions.dlq"}
    assert set(topology.inputs("sink")) == {
        "mentions.resolved",
        "incidents",
        "incidents.events",
        "replies.outbound",
        "mentions.dlq",
    }
    assert topology.outputs("sink") == ("mentions.dlq",)


def test_open_statuses_are_statuses_and_the_sql_list_quotes_them() -> None:
    assert set(topology.OPEN_STATUSES) < set(topology.INCIDENT_STATUSES)
    assert topology.sql_list(topology.OPEN_STATUSES) == (
        "('new', 'assigned', 'in_progress', 'answered_interim')"
    )
