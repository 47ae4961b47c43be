"""A deployment's own rubric mapped onto the problem taxonomy, and scoring problem types.

Every region's rubricator differs (St Petersburg's portal has 125 reasons in 15
categories, IM-style rubricators about 195 topics in 26 groups). A deployment says,
once, which problem types each line of its rubric means, in a YAML file:

    rubric: Портал «Наш город», причины обращений
    lines:
      Неисправное освещение в подъезде: [entrance_light_out]
      Неудовлетворительное состояние подъезда: [entrance_repair, entrance_dirty]

(the first type is the line's main one). The map is used three ways:

- a post whose source classed it itself (``source_topic``, a portal's reason) gets the
  line's problem types instead of guessing them from the text;
- ``incidents train --problems`` learns problem types from the deployment's labelled
  history (the rubric labels mapped to their main type), a model the enrich stage asks
  when the rules recognise nothing;
- ``incidents evaluate problems`` scores the recogniser against labelled history.

Labels compare without case and with runs of spaces collapsed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from incidents.domain.understanding.problems import Taxonomy


def label_key(label: str) -> str:
    return " ".join(label.split()).casefold()


@dataclass(frozen=True)
class RubricMap:
    """Lines of a deployment's rubric → the problem types they mean, main first."""

    name: str
    lines: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], taxonomy: Taxonomy) -> RubricMap:
        raw = doc.get("lines")
        if not isinstance(raw, Mapping) or not raw:
            raise ValueError("rubric map: `lines` must map each rubric line to problem types")
        lines: dict[str, tuple[str, ...]] = {}
        for label, types in raw.items():
            if isinstance(types, str):
                types = [types]
            if not isinstance(types, list) or not types:
                raise ValueError(f"rubric map: line {label!r} must list problem types")
            unknown = [t for t in types if t not in taxonomy.types]
            if unknown:
                raise ValueError(f"rubric map: line {label!r} names unknown types {unknown}")
            lines[label_key(str(label))] = tuple(str(t) for t in types)
        return cls(str(doc.get("rubric", "")), lines)

    @classmethod
    def load(cls, path: Path, taxonomy: Taxonomy) -> RubricMap:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        if not isinstance(doc, Mapping):
            raise ValueError(f"rubric map {path}: top level must be a mapping")
        return cls.from_dict(doc, taxonomy)

    def types_of(self, label: str | None) -> tuple[str, ...]:
        """The problem types a rubric line means (empty for a line the map lacks)."""
        if not label:
            return ()
        return self.lines.get(label_key(label), ())


@dataclass
class ProblemReport:
    """How the recogniser's problem types agree with a rubric's labels."""

    n: int = 0
    scored: int = 0  # texts whose label the map covers
    recognised: int = 0  # scored texts with at least one type
    right: int = 0  # the first type is one the label admits (or compatible with one)
    learned: int = 0  # types that came from the learned model, not the rules
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)
    categories_right: int = 0
    categories_acceptable: int = 0
    categories_n: int = 0

    def render(self, top: int = 15) -> str:
        rec = max(1, self.recognised)
        lines = [
            f"texts {self.n:,}; scored (label in the map) {self.scored:,}",
            f"recognised: {self.recognised:,} = {self.recognised / max(1, self.scored):.3f} "
            f"of scored ({self.learned:,} by the learned model)",
            f"type accuracy: {self.right / rec:.3f} of recognised, "
            f"{self.right / max(1, self.scored):.3f} of all scored",
        ]
        if self.categories_n:
            lines.append(
                f"category from the type: strict {self.categories_right / self.categories_n:.3f}, "
                f"acceptable {self.categories_acceptable / self.categories_n:.3f} "
                f"(n={self.categories_n:,})"
            )
        if self.confusions:
            lines.append(f"most confused (label → first type), top {top}:")
            for (label, code), k in self.confusions.most_common(top):
                lines.append(f"  {k:6,}  {label[:70]} → {code}")
        if self.missed:
            lines.append(f"labels most often unrecognised, top {top}:")
            for label, k in self.missed.most_common(top):
                lines.append(f"  {k:6,}  {label[:80]}")
        return "\n".join(lines)


def score_problems(
    labels: Sequence[str],
    predicted: Sequence[Sequence[str]],
    rubric: RubricMap,
    taxonomy: Taxonomy,
    *,
    categories: Sequence[str | None] | None = None,
    learned: Sequence[bool] | None = None,
) -> ProblemReport:
    """Score each text's problem types against its label's types in the map.

    Right when the first type is one the label admits, or refines or is refined by one
    (``Taxonomy.compatible``). ``categories`` (the true default codes, where known)
    also scores the category the first type implies.
    """
    rep = ProblemReport(n=len(labels))
    for i, (label, types) in enumerate(zip(labels, predicted, strict=True)):
        want = rubric.types_of(label)
        if categories is not None and types and categories[i]:
            t = taxonomy.types[types[0]]
            rep.categories_n += 1
            rep.categories_right += t.category == categories[i]
            rep.categories_acceptable += categories[i] in t.acceptable
        if not want:
            continue
        rep.scored += 1
        if not types:
            rep.missed[label_key(label)] += 1
            continue
        rep.recognised += 1
        if learned is not None and learned[i]:
            rep.learned += 1
        if any(taxonomy.compatible(types[0], w) for w in want):
            rep.right += 1
        else:
            rep.confusions[(label_key(label), types[0])] += 1
    return rep


def main_types(labels: Sequence[str], rubric: RubricMap | None, taxonomy: Taxonomy) -> list[str]:
    """Training labels for a learned problem model: each label's main type (through the
    map), or the label itself when it already is a type code; '' when neither."""
    out = []
    for label in labels:
        if rubric is not None and (types := rubric.types_of(label)):
            out.append(types[0])
        elif label in taxonomy.types:
            out.append(label)
        else:
            out.append("")
    return out
