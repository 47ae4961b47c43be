"""Labelled texts and how a model scores on them: ``read_labelled`` reads a
deployment's history (JSONL or CSV, optionally gzipped; ``incidents train``,
``incidents evaluate``), and ``evaluate`` gives accuracy, macro-F1, per-class
precision/recall and a confusion table. Plain Python: no numpy, no model.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# ---------------------------------------------------------------------------
# reading labelled data


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _base_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def read_labelled(
    path: Path, text_field: str = "text", label_field: str = "category"
) -> tuple[list[str], list[str]]:
    """Texts and labels from JSONL (``.jsonl``/``.json``/``.ndjson``) or CSV (``.csv``/``.tsv``).

    ``.gz`` is read transparently. Rows without a text or a label are skipped; a
    file with no usable row at all is a ValueError naming the fields it looked for
    (a wrong field name must not read as a score of zero).
    """
    path = Path(path)
    kind = _base_suffix(path)
    texts: list[str] = []
    labels: list[str] = []
    seen: dict[str, None] = {}  # field names met, in order, for the error message
    rows = 0
    if kind not in (".jsonl", ".json", ".ndjson", ".csv", ".tsv"):
        raise ValueError(f"{path}: unknown format {kind!r}; use .jsonl or .csv (optionally .gz)")
    with _open_text(path) as f:
        if kind in (".jsonl", ".json", ".ndjson"):
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not JSON: {e}") from e
                if not isinstance(row, dict):
                    raise ValueError(f"{path}:{n}: not a JSON object")
                rows += 1
                seen.update(dict.fromkeys(row))
                text, label = row.get(text_field), row.get(label_field)
                if isinstance(text, str) and text.strip() and label not in (None, ""):
                    texts.append(text)
                    labels.append(str(label))
        elif kind in (".csv", ".tsv"):
            reader = csv.DictReader(f, delimiter="\t" if kind == ".tsv" else ",")
            fields = reader.fieldnames or []
            for name in (text_field, label_field):
                if name not in fields:
                    raise ValueError(f"{path}: no column {name!r} (columns: {', '.join(fields)})")
            seen.update(dict.fromkeys(fields))
            for row in reader:
                rows += 1
                text, label = row.get(text_field), row.get(label_field)
                if text and text.strip() and label:
                    texts.append(text)
                    labels.append(label)
        else:
            raise ValueError(
                f"{path}: unknown format {kind!r}; use .jsonl or .csv (optionally .gz)"
            )
    if not texts:
        if not rows:
            raise ValueError(f"{path}: no rows (the file is empty)")
        names = ", ".join(list(seen)[:12]) or "none"
        raise ValueError(
            f"{path}: none of {rows} rows has both a text in `{text_field}` and a label in "
            f"`{label_field}` (fields found: {names}); name yours with --text-field/--label-field"
        )
    return texts, labels


# ---------------------------------------------------------------------------
# evaluation


@dataclass
class EvaluationReport:
    accuracy: float
    macro_f1: float
    per_class: dict[
        str, tuple[float, float, float, int]
    ]  # label → (precision, recall, f1, support)
    confusion: tuple[tuple[str, ...], list[list[int]]]  # (labels, matrix[true][pred])
    n: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": {
                k: {"precision": p, "recall": r, "f1": f, "support": s}
                for k, (p, r, f, s) in self.per_class.items()
            },
            "confusion": {"labels": list(self.confusion[0]), "matrix": self.confusion[1]},
        }

    def render(self) -> str:
        labels, matrix = self.confusion
        lines = [
            f"n={self.n}  accuracy={self.accuracy:.4f}  macro-F1={self.macro_f1:.4f}",
            "",
        ]
        w = max([len(x) for x in labels] + [5])
        lines.append(f"{'label':<{w}}  precision  recall     f1  support")
        for label in labels:
            p, r, f1, s = self.per_class[label]
            lines.append(f"{label:<{w}}  {p:9.3f}  {r:6.3f}  {f1:5.3f}  {s:7d}")
        lines.append("")
        lines.append("confusion (rows: true, columns: predicted; column numbers as in rows)")
        cw = max(5, *(len(str(v)) for row in matrix for v in row)) if matrix else 5
        head = f"{'':<{w + 4}}" + "".join(f"{i + 1:>{cw + 1}}" for i in range(len(labels)))
        lines.append(head)
        for i, label in enumerate(labels):
            cells = "".join(f"{v:>{cw + 1}}" for v in matrix[i])
            lines.append(f"{i + 1:>2}. {label:<{w}}{cells}")
        return "\n".join(lines)


def evaluate(y_true: Sequence[str], y_pred: Sequence[str]) -> EvaluationReport:
    """Accuracy, macro-F1 over every label seen in truth or prediction, per class, confusion."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    labels = tuple(sorted({*map(str, y_true), *map(str, y_pred)}))
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    matrix = [[0] * k for _ in range(k)]
    for t, p in zip(y_true, y_pred, strict=True):
        matrix[index[str(t)]][index[str(p)]] += 1
    n = len(y_true)
    correct = sum(matrix[i][i] for i in range(k))
    per_class: dict[str, tuple[float, float, float, int]] = {}
    f1s = []
    for i, label in enumerate(labels):
        tp = matrix[i][i]
        support = sum(matrix[i])
        predicted = sum(matrix[j][i] for j in range(k))
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = (precision, recall, f1, support)
        f1s.append(f1)
    return EvaluationReport(
        accuracy=correct / n if n else 0.0,
        macro_f1=sum(f1s) / k if k else 0.0,
        per_class=per_class,
        confusion=(labels, matrix),
        n=n,
    )
