"""The learner: multinomial logistic regression (L2, L-BFGS) over the TF-IDF features
of :mod:`incidents.domain.understanding.features`, and ``train_category_model``, an
own-rubric category model from a deployment's labelled history (``incidents train``).

Fast to train on tens of thousands of short texts, fast to apply in batches, and its
probabilities serve as confidences. numpy and scipy do the work; no model library is
needed.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, sparse

from incidents.domain.understanding.classify import LinearHead, ModelFile, save_model
from incidents.domain.understanding.features import (
    LEXICON_PATH,
    FeatureConfig,
    Featurizer,
    Lexicon,
    _tokens,
)
from incidents.evaluation.labelled import EvaluationReport, evaluate

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
