"""Training and evaluating the appeal models.

- ``train_category_model``: an own-rubric category model from a deployment's
  labelled history (``incidents train``).
- ``evaluate``: accuracy, macro-F1, per-class precision/recall and a confusion
  table (``incidents evaluate``).
- ``build_default_model``: the bundled default model, from the examples the
  project wrote itself (``python -m incidents.evaluation.training build-default``).

The learner is multinomial logistic regression (L2, L-BFGS) over the TF-IDF
features of :mod:`incidents.domain.understanding.classify`: fast to train on tens of thousands
of short texts, fast to apply in batches, and its probabilities serve as
confidences. numpy and scipy do the work; no model library is needed.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import math
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import yaml
from scipy import optimize, sparse

from incidents.domain.understanding.classify import (
    DATA_DIR,
    DEFAULT_MODEL_PATH,
    LEXICON_PATH,
    FeatureConfig,
    Featurizer,
    Lexicon,
    LinearHead,
    ModelFile,
    _tokens,
    save_model,
)

EXAMPLES_DIR = DATA_DIR / "examples"
# The problem taxonomy feeds the P:* features: a change to it changes the model.
PROBLEMS_PATH = DATA_DIR / "problems.yaml"

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


# ---------------------------------------------------------------------------
# fitting


def build_vocabulary(
    featurizer: Featurizer, texts: Sequence[str], min_df: int = 1, max_features: int | None = None
) -> tuple[list[list[str]], dict[str, int], np.ndarray]:
    """Feature names per text, the vocabulary (df ≥ min_df) and smoothed IDF."""
    docs = [featurizer.names(t) for t in texts]
    df: Counter[str] = Counter()
    for names in docs:
        df.update(set(names))
    kept = [name for name, c in df.items() if c >= min_df or name.startswith("L:")]
    if max_features is not None and len(kept) > max_features:
        kept.sort(key=lambda name: (-df[name], name))
        kept = kept[:max_features]
    kept.sort()
    vocab = {name: i for i, name in enumerate(kept)}
    n = len(texts)
    idf = np.array([math.log((1 + n) / (1 + df[name])) + 1.0 for name in kept], dtype=np.float32)
    return docs, vocab, idf


def matrix_from_names(featurizer: Featurizer, docs: Iterable[list[str]]) -> sparse.csr_matrix:
    vocab = featurizer.vocab
    indptr = [0]
    indices: list[int] = []
    for names in docs:
        indices.extend(vocab[n] for n in names if n in vocab)
        indptr.append(len(indices))
    return featurizer.weigh(indptr, indices)


def fit_softmax(
    x: sparse.csr_matrix,
    y: np.ndarray,
    n_classes: int,
    *,
    l2: float = 1e-4,
    sample_weight: np.ndarray | None = None,
    max_iter: int = 300,
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, mean weighted log-loss + l2/2·|W|², by L-BFGS."""
    n, d = x.shape
    k = n_classes
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    sw = sw / sw.sum()
    x64 = x.astype(np.float64).tocsr()
    xt = x64.T.tocsr()
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: d * k].reshape(d, k)
        b = theta[d * k :]
        z = x64 @ w + b
        zmax = z.max(axis=1, keepdims=True)
        ez = np.exp(z - zmax)
        s = ez.sum(axis=1, keepdims=True)
        lse = np.log(s) + zmax
        loss = float(np.dot(sw, (lse[:, 0] - z[np.arange(n), y]))) + 0.5 * l2 * float(np.sum(w * w))
        g = (ez / s - onehot) * sw[:, None]
        gw = xt @ g + l2 * w
        gb = g.sum(axis=0)
        return loss, np.concatenate([gw.ravel(), gb])

    theta0 = np.zeros(d * k + k)
    res = optimize.minimize(
        loss_grad,
        theta0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "maxcor": 20},
    )
    theta = res.x
    return theta[: d * k].reshape(d, k).astype(np.float32), theta[d * k :].astype(np.float32)


def balanced_weights(y: np.ndarray, power: float = 0.5) -> np.ndarray:
    """Per-sample weights (n / (k·n_c))^power: between none (0) and fully balanced (1)."""
    counts = np.bincount(y)
    k = int((counts > 0).sum())
    per_class = np.where(counts > 0, (len(y) / (k * np.maximum(counts, 1))) ** power, 0.0)
    return per_class[y]


# ---------------------------------------------------------------------------
# own-rubric training


@dataclass
class TrainReport:
    labels: tuple[str, ...]
    n_train: int
    class_counts: dict[str, int]
    n_features: int
    seconds: float
    out: str
    validation: EvaluationReport | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        lines = [
            f"trained {len(self.labels)} categories on {self.n_train} texts "
            f"({self.n_features} features) in {self.seconds:.1f} s → {self.out}",
        ]
        for label in self.labels:
            lines.append(f"  {label}: {self.class_counts.get(label, 0)}")
        if self.validation is not None:
            lines.append("")
            lines.append("held-out validation:")
            lines.append(self.validation.render())
        return "\n".join(lines)


OWN_RUBRIC_PARAMS: dict[str, Any] = {
    "char_min": 2,
    "char_max": 5,
    "min_df": 2,
    "l2": 2e-5,
    "class_power": 0.5,
    "max_iter": 400,
}


def train_category_model(
    texts: Sequence[str],
    labels: Sequence[str],
    out: Path,
    *,
    validation: float = 0.0,
    seed: int = 0,
    params: dict[str, Any] | None = None,
) -> TrainReport:
    """Fit an own-rubric category model and write it to ``out`` (a safe ``.npz``).

    ``validation`` > 0 holds out that share of the texts (grouped by normalised
    text, so a copy-pasted appeal never lands on both sides) and reports on it;
    the written model is then trained on the rest.
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if len(set(labels)) < 2:
        raise ValueError("need at least two categories to train")
    p = {**OWN_RUBRIC_PARAMS, **(params or {})}
    t0 = time.perf_counter()
    texts = list(texts)
    labels = [str(x) for x in labels]
    train_idx = np.arange(len(texts))
    held_idx = np.array([], dtype=int)
    if validation > 0:
        train_idx, held_idx = grouped_split(texts, validation, seed)
    tr_texts = [texts[i] for i in train_idx]
    tr_labels = [labels[i] for i in train_idx]
    model = fit_category_model(tr_texts, tr_labels, p)
    model.meta.update({"kind": "own-rubric", "n_train": len(tr_texts)})
    save_model(Path(out), model)
    report = TrainReport(
        labels=model.category.labels,
        n_train=len(tr_texts),
        class_counts=dict(sorted(Counter(tr_labels).items())),
        n_features=len(model.featurizer.vocab),
        seconds=0.0,
        out=str(out),
        params=p,
    )
    if len(held_idx):
        held_texts = [texts[i] for i in held_idx]
        proba = model.category.proba(model.featurizer.transform(held_texts))
        pred = [model.category.labels[j] for j in proba.argmax(axis=1)]
        report.validation = evaluate([labels[i] for i in held_idx], pred)
    report.seconds = time.perf_counter() - t0
    return report


def fit_category_model(texts: Sequence[str], labels: Sequence[str], p: dict[str, Any]) -> ModelFile:
    config = FeatureConfig(char_min=int(p["char_min"]), char_max=int(p["char_max"]))
    lexicon = Lexicon.load(LEXICON_PATH)
    feat = Featurizer(config, lexicon)
    docs, vocab, idf = build_vocabulary(feat, texts, min_df=int(p["min_df"]))
    feat.vocab, feat.idf = vocab, idf
    x = matrix_from_names(feat, docs)
    classes = tuple(sorted(set(labels)))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[label] for label in labels])
    w, b = fit_softmax(
        x,
        y,
        len(classes),
        l2=float(p["l2"]),
        sample_weight=balanced_weights(y, float(p["class_power"])),
        max_iter=int(p["max_iter"]),
    )
    return ModelFile(
        featurizer=feat,
        category=LinearHead(classes, w, b),
        relevance=None,
        relevance_threshold=0.5,
        meta={"params": p, "labels": list(classes)},
    )


def _group_key(text: str) -> str:
    return " ".join(_tokens(text))


def grouped_split(
    texts: Sequence[str], share: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held-out); equal normalised texts stay on one side."""
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        groups.setdefault(_group_key(t), []).append(i)
    keys = sorted(groups)
    rng = np.random.default_rng(seed)
    rng.shuffle(keys)
    n_held = round(share * len(texts))
    held: list[int] = []
    train: list[int] = []
    for key in keys:
        (held if len(held) < n_held else train).extend(groups[key])
    return np.array(sorted(train), dtype=int), np.array(sorted(held), dtype=int)


# ---------------------------------------------------------------------------
# the bundled default model


DEFAULT_PARAMS: dict[str, Any] = {
    "char_min": 3,
    "char_max": 5,
    "min_df": 1,
    "l2_category": 3e-5,
    "l2_relevance": 3e-5,
    "class_power": 0.5,
    "max_iter": 400,
    # Chosen on the development set (tests/data/relevance_regression.jsonl) and the
    # development half of real Telegram posts; see docs/understanding.md.
    "relevance_threshold": 0.45,
    # The problem model's hits as features (P:<type>, P:cat:<code>, P:any): a plainly
    # worded complaint names a problem even in words no training text used.
    "problems": "incidents.domain.understanding.problems:cues",
    # Class weights of the relevance head, (n/(k·n_c))^power: 1 treats appeals,
    # non-appeals and signals as equally common.
    "relevance_class_power": 1.0,
    "grammar": True,
    "style": True,
    # Share of each code among the appeals of a regional portal, from general
    # knowledge of such portals (housing, yards, roads and waste dominate).
    # The examples are roughly balanced per code, so the fitted category head
    # assumes equal shares; adding prior_strength·log(share·k) to its biases
    # moves it part of the way to these shares (1 = the full correction).
    # It decides mostly the texts with little evidence («Очистить»,
    # «Повреждение») and keeps rare codes from taking common problems.
    "category_prior": {
        "housing": 0.22,
        "landscaping": 0.19,
        "roads": 0.14,
        "waste": 0.11,
        "utilities": 0.10,
        "healthcare": 0.04,
        "public_transport": 0.04,
        "education": 0.03,
        "social_support": 0.03,
        "other": 0.03,
        "safety": 0.03,
        "environment": 0.02,
        "stray_animals": 0.02,
    },
    "prior_strength": 0.3,
}


#: Classes of the default relevance head; column 1 is the appeal (as in two-class models).
RELEVANCE_LABELS: tuple[str, ...] = ("noise", "appeal", "signal")


def relevance_class(row: dict[str, Any]) -> int:
    """An example's relevance class: appeal, signal (``relevance: signal``) or noise."""
    if row["appeal"]:
        return 1
    return 2 if row.get("relevance") == "signal" else 0


def prior_offsets(classes: Sequence[str], prior: dict[str, float], strength: float) -> np.ndarray:
    """``strength·log(share·k)`` per class: bias offsets from balanced training to ``prior``."""
    if not prior or strength == 0:
        return np.zeros(len(classes), dtype=np.float32)
    missing = [c for c in classes if c not in prior]
    if missing:
        raise ValueError(f"category_prior has no share for {missing}")
    shares = np.array([float(prior[c]) for c in classes], dtype=np.float64)
    shares /= shares.sum()
    return (strength * np.log(shares * len(classes))).astype(np.float32)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def generate_examples(doc: dict[str, Any], seed: int = 20240601) -> list[dict[str, Any]]:
    """Expand ``templates.yaml`` into example rows, deterministically for a seed."""
    rng = random.Random(seed)
    per_category = int(doc.get("per_category", 260))
    openers, durations, requests = doc["openers"], doc["durations"], doc["requests"]
    places: dict[str, list[str]] = doc["places"]
    fix_frames: list[str] = doc.get("fix_frames", [])
    rows: list[dict[str, Any]] = []
    for category, spec in doc["categories"].items():
        problems = spec["problems"]
        portal = spec.get("portal", [])
        fixes = spec.get("fixes", [])
        pools = [places[name] for name in spec.get("places", ["town"])]
        for title in portal:
            rows.append({"text": title, "appeal": True, "category": category})
        for combo in spec.get("terse", []):
            pairs = [(i, a) for i in combo["issues"] for a in combo["at"]]
            for issue, at in rng.sample(pairs, min(len(pairs), 60)):
                text = f"{issue} {at}" if rng.random() < 0.75 else f"{at} {issue}"
                text = _cap(text) + rng.choice(
                    ["", "", ".", "!", ". Прошу убрать", ". Просьба устранить"]
                )
                rows.append({"text": text, "appeal": True, "category": category})
        for _ in range(len(fixes) * 3 if fix_frames else 0):
            fix, problem = rng.choice(fixes), rng.choice(problems)
            place = rng.choice(rng.choice(pools))
            text = rng.choice(fix_frames).format(
                fix=fix,
                Fix=_cap(fix),
                problem=problem,
                Problem=_cap(problem),
                place=place,
                Place=_cap(place),
            )
            text = " ".join(text.split()).replace(" .", ".").replace(" ,", ",")
            rows.append({"text": text, "appeal": True, "category": category})
        for _ in range(per_category):
            problem = rng.choice(problems)
            place = rng.choice(rng.choice(pools))
            dur, req, op = rng.choice(durations), rng.choice(requests), rng.choice(openers)
            shape = rng.randrange(7)
            if shape == 0:
                text = _join(op, _cap(_join(place, problem, dur)) + ".", req)
            elif shape == 1:
                text = _join(op, _cap(_join(problem, place)) + (f", {dur}." if dur else "."), req)
            elif shape == 2:
                text = _join(_cap(problem) + "!", req)
            elif shape == 3:
                text = _cap(_join(problem, place))
            elif shape == 4 and portal:
                text = _join(rng.choice(portal) + ".", _cap(_join(place, problem)) + ".", req)
            elif shape == 5 and portal:
                text = _join(rng.choice(portal), place)
            else:
                other = rng.choice(problems)
                text = _join(op, _cap(problem) + ",", _join(other, dur) + ".", req)
            text = text.replace(" ,", ",").replace(" .", ".").replace(",.", ".")
            rows.append({"text": text, "appeal": True, "category": category})
    non = doc["non_appeals"]
    fill: dict[str, list[str]] = non["fill"]
    per_template = int(non.get("per_template", 6))
    for template in non["templates"]:
        seen: set[str] = set()
        for _ in range(per_template):
            text = template.format(**{k: rng.choice(v) for k, v in fill.items()})
            if text not in seen:
                seen.add(text)
                rows.append({"text": text, "appeal": False})
    compose = non.get("compose")
    if compose:
        slots: dict[str, list[str]] = compose["slots"]
        seen_c: set[str] = set()
        for _ in range(int(compose.get("count", 500))):
            frame = rng.choice(compose["frames"])
            text = frame.format(**{k: rng.choice(v) for k, v in slots.items()})
            text = " ".join(text.split())
            if text not in seen_c:
                seen_c.add(text)
                rows.append({"text": text, "appeal": False})
    return rows


def read_example_lists(path: Path) -> list[dict[str, Any]]:
    """Plain example lists: ``appeals: {code: [text, ...]}``, ``non_appeals: {kind: [...]}``."""
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f) or {}
    rows: list[dict[str, Any]] = []
    for category, texts in (doc.get("appeals") or {}).items():
        for text in texts or []:
            rows.append({"text": str(text), "appeal": True, "category": str(category)})
    for kind, texts in (doc.get("non_appeals") or {}).items():
        for text in texts or []:
            rows.append({"text": str(text), "appeal": False, "kind": str(kind)})
    unknown = set(doc) - {"appeals", "non_appeals"}
    if unknown:
        raise ValueError(f"{path}: unknown sections {sorted(unknown)}")
    return rows


_OPENERS = ("", "", "", "Здравствуйте! ", "Добрый день. ", "Помогите! ", "Жители просят: ")
_CLOSERS = (
    "", "", "", " Уже неделю.", " Третий день так.", " Сколько можно?", " Просим принять меры.",
    " Примите меры!", " Когда исправят?", "!!!", " Дети ходят рядом.",
)  # fmt: skip


def problem_examples(
    path: Path = PROBLEMS_PATH, per_type: int = 8, seed: int = 7
) -> list[dict[str, Any]]:
    """Appeals written from the problem taxonomy (project-written): each type's examples,
    and short posts put together from its object, defect and place phrases, so the text
    model knows every problem the rules know, worded a few ways, with its category."""
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    lexicons = {k: [str(x) for x in v] for k, v in (doc.get("lexicons") or {}).items()}

    def expand(items: Any) -> list[str]:
        out: list[str] = []
        for item in items or ():
            item = str(item)
            if item.startswith("@"):
                out.extend(expand(lexicons.get(item[1:], ())))
            elif item != "ABSENT":
                out.append(item)
        return out

    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for spec in doc.get("types") or ():
        cat = spec["category"]
        for text in spec.get("examples") or ():
            rows.append({"text": text, "appeal": True, "category": cat})
        objects = expand(spec.get("object")) or expand(spec.get("alone"))
        defects = expand(spec.get("defect"))
        wheres = [w for w in expand(spec.get("where")) if len(w) > 2]
        for _ in range(per_type):
            obj = rng.choice(objects)
            parts = (
                [obj]
                if not defects
                else rng.choice(([obj, rng.choice(defects)], [rng.choice(defects), obj]))
            )
            if wheres and rng.random() < 0.7:
                where = rng.choice(wheres)
                parts = [where, *parts] if rng.random() < 0.5 else [*parts, where]
            body = " ".join(parts)
            text = rng.choice(_OPENERS) + body[:1].upper() + body[1:] + rng.choice(_CLOSERS)
            rows.append({"text": text, "appeal": True, "category": cat})
    return rows


def read_examples(directory: Path = EXAMPLES_DIR) -> list[dict[str, Any]]:
    """The self-written examples: JSONL rows {text, appeal: bool, category?}, templates,
    and appeals written from the problem taxonomy."""
    rows: list[dict[str, Any]] = problem_examples() if directory == EXAMPLES_DIR else []
    with open(directory / "templates.yaml", encoding="utf-8") as f:
        rows.extend(generate_examples(yaml.safe_load(f)))
    for path in sorted(directory.glob("*.yaml")):
        if path.name != "templates.yaml":
            rows.extend(read_example_lists(path))
    for path in sorted(directory.glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("//"):
                    continue
                row = json.loads(line)
                if "text" not in row or "appeal" not in row:
                    raise ValueError(f"{path}:{n}: needs text and appeal")
                if row["appeal"] and not row.get("category"):
                    raise ValueError(f"{path}:{n}: an appeal needs a category")
                rows.append(row)
    return rows


def default_sources_digest(params: dict[str, Any] | None = None) -> str:
    """A digest of everything the default model is built from (examples, lexicon, params)."""
    h = hashlib.sha256()
    p = {**DEFAULT_PARAMS, **(params or {})}
    h.update(json.dumps(p, sort_keys=True).encode())
    for path in [*sorted(EXAMPLES_DIR.glob("*")), LEXICON_PATH, PROBLEMS_PATH]:
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def build_default_model(
    out: Path = DEFAULT_MODEL_PATH, params: dict[str, Any] | None = None
) -> ModelFile:
    p = {**DEFAULT_PARAMS, **(params or {})}
    rows = read_examples()
    texts = [r["text"] for r in rows]
    config = FeatureConfig(
        char_min=int(p["char_min"]),
        char_max=int(p["char_max"]),
        grammar=bool(p["grammar"]),
        style=bool(p.get("style", False)),
        problems=p.get("problems"),
    )
    feat = Featurizer(config, Lexicon.load(LEXICON_PATH))
    docs, vocab, idf = build_vocabulary(feat, texts, min_df=int(p["min_df"]))
    feat.vocab, feat.idf = vocab, idf
    x = matrix_from_names(feat, docs)
    y_rel = np.array([relevance_class(r) for r in rows])
    w_rel, b_rel = fit_softmax(
        x,
        y_rel,
        len(RELEVANCE_LABELS),
        l2=float(p["l2_relevance"]),
        sample_weight=balanced_weights(y_rel, float(p["relevance_class_power"])),
        max_iter=int(p["max_iter"]),
    )
    cat_rows = [i for i, r in enumerate(rows) if r["appeal"]]
    classes = tuple(sorted({rows[i]["category"] for i in cat_rows}))
    index = {c: i for i, c in enumerate(classes)}
    y_cat = np.array([index[rows[i]["category"]] for i in cat_rows])
    w_cat, b_cat = fit_softmax(
        x[cat_rows],
        y_cat,
        len(classes),
        l2=float(p["l2_category"]),
        sample_weight=balanced_weights(y_cat, float(p["class_power"])),
        max_iter=int(p["max_iter"]),
    )
    b_cat = b_cat + prior_offsets(classes, p["category_prior"], float(p["prior_strength"]))
    model = ModelFile(
        featurizer=feat,
        category=LinearHead(classes, w_cat, b_cat),
        relevance=LinearHead(RELEVANCE_LABELS, w_rel, b_rel),
        relevance_threshold=float(p["relevance_threshold"]),
        meta={
            "kind": "default",
            "params": p,
            "n_examples": len(rows),
            "n_appeals": len(cat_rows),
            "labels": list(classes),
            "sources_digest": default_sources_digest(params),
        },
    )
    save_model(out, model)
    return model


def compare_models(a: Path, b: Path, atol: float = 1e-6) -> str:
    """'' when two model files hold the same arrays (floats within ``atol``), else what differs."""
    with np.load(a, allow_pickle=False) as za, np.load(b, allow_pickle=False) as zb:
        if sorted(za.files) != sorted(zb.files):
            return f"arrays {sorted(za.files)} vs {sorted(zb.files)}"
        for key in za.files:
            x, y = za[key], zb[key]
            if x.shape != y.shape:
                return f"{key}: shape {x.shape} vs {y.shape}"
            if x.dtype.kind == "f":
                if not np.allclose(x, y, atol=atol, rtol=0):
                    return f"{key}: max difference {float(np.abs(x - y).max())}"
            elif not (x == y).all():
                return f"{key} differs"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m incidents.evaluation.training")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build-default", help="rebuild the bundled default model from data/examples")
    b.add_argument("-o", "--out", type=Path, default=DEFAULT_MODEL_PATH)
    b.add_argument(
        "--check",
        action="store_true",
        help="rebuild into a temporary file and fail if it differs from --out",
    )
    t = sub.add_parser("train", help="train an own-rubric category model")
    t.add_argument("input", type=Path)
    t.add_argument("-o", "--out", type=Path, required=True)
    t.add_argument("--text-field", default="text")
    t.add_argument("--label-field", default="category")
    t.add_argument("--validation", type=float, default=0.0)
    args = parser.parse_args(argv)
    if args.cmd == "build-default" and args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / "model.npz"
            build_default_model(fresh)
            diff = compare_models(args.out, fresh)
        if diff:
            print(f"{args.out} differs from a fresh build: {diff}", file=sys.stderr)
            return 1
        print(f"{args.out} matches a fresh build")
        return 0
    if args.cmd == "build-default":
        t0 = time.perf_counter()
        model = build_default_model(args.out)
        print(
            f"default model: {model.meta['n_examples']} examples, "
            f"{len(model.featurizer.vocab)} features, {time.perf_counter() - t0:.1f} s → {args.out}"
        )
    else:
        texts, labels = read_labelled(args.input, args.text_field, args.label_field)
        report = train_category_model(texts, labels, args.out, validation=args.validation)
        print(report.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
