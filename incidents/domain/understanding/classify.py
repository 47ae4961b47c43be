"""Relevance and category of a mention: is it a resident's appeal, and about what.

One featuriser (:mod:`incidents.domain.understanding.features`: lemmas, lemma bigrams,
character n-grams, lexicon hits, TF-IDF weighted) and two linear heads, scored by
softmax-linear models: a relevance head (appeal or not) and a category head (the
rubric).

The bundled default model (``data/default_model.npz``) is trained only on
examples the project wrote itself (``data/examples/``), rebuilt
deterministically by ``python -m incidents.evaluation.training build-default``.
Own-rubric models (``incidents train``) hold only a category head; relevance
still comes from the default model.

Models are numpy ``.npz`` files of arrays (vocabulary as a string array,
weights as floats) loaded with ``allow_pickle=False``: a model file cannot run
code. Per-token work is cached, the rest is vectorised per batch, so a batch of
a few hundred texts costs tens of microseconds per text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from incidents.contracts.topology import CATEGORIES
from incidents.domain import DATA
from incidents.domain.understanding.features import FeatureConfig, Featurizer, Lexicon

DATA_DIR = DATA
DEFAULT_MODEL_PATH = DATA_DIR / "default_model.npz"
MODEL_FORMAT = "incidents-appeal-model/1"

#: The bundled model's category codes (a model of one's own may have others).
DEFAULT_LABELS: tuple[str, ...] = CATEGORIES


# ---------------------------------------------------------------------------
# models


@dataclass(frozen=True, slots=True)
class Classification:
    is_appeal: bool
    appeal_score: float  # 0..1
    category: str | None  # a rubric code; None allowed when not an appeal
    confidence: float  # 0..1
    # How much the text reads as news or an announcement about a local problem (a
    # media report: not an appeal, but linkable to one); 0 for models without it.
    signal_score: float = 0.0


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


@dataclass(slots=True)
class LinearHead:
    """Softmax over ``X @ W + b``; for relevance column 1 is the appeal.

    A relevance head has two classes (other, appeal) or three (noise, appeal,
    signal: a media report or announcement about a local problem).
    """

    labels: tuple[str, ...]
    W: np.ndarray  # (n_features, n_classes) float32
    b: np.ndarray  # (n_classes,) float32

    def proba(self, x: sparse.csr_matrix) -> np.ndarray:
        z = np.asarray(x @ self.W, dtype=np.float64) + self.b
        return _softmax(z)


@dataclass(slots=True)
class ModelFile:
    """The arrays of one model file; see :func:`save_model` for the layout."""

    featurizer: Featurizer
    category: LinearHead
    relevance: LinearHead | None
    relevance_threshold: float
    meta: dict[str, Any]


def save_model(path: Path, model: ModelFile) -> None:
    """Write a model as plain arrays (no pickle) so loading it cannot run code."""
    feat = model.featurizer
    vocab = sorted(feat.vocab, key=feat.vocab.__getitem__)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(MODEL_FORMAT),
        "meta": np.array(json.dumps(model.meta, ensure_ascii=False, sort_keys=True)),
        "feature_config": np.array(feat.config.to_json()),
        "vocab": np.array(vocab, dtype=str),
        "idf": np.asarray(feat.idf, dtype=np.float32),
        "category_labels": np.array(model.category.labels, dtype=str),
        "category_W": model.category.W.astype(np.float32),
        "category_b": model.category.b.astype(np.float32),
    }
    if feat.lexicon is not None:
        arrays["lexicon_phrases"] = np.array(
            [
                "\t".join((" ".join(p), ",".join(g)))
                for p, g in sorted(feat.lexicon.phrases.items())
            ],
            dtype=str,
        )
        arrays["lexicon_prefixes"] = np.array(
            [f"{p}\t{g}" for p, g in feat.lexicon.prefixes], dtype=str
        )
    if model.relevance is not None:
        arrays["relevance_labels"] = np.array(model.relevance.labels, dtype=str)
        arrays["relevance_W"] = model.relevance.W.astype(np.float32)
        arrays["relevance_b"] = model.relevance.b.astype(np.float32)
        arrays["relevance_threshold"] = np.array(model.relevance_threshold, dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]


def load_model(path: Path) -> ModelFile:
    with np.load(path, allow_pickle=False) as z:
        fmt = str(z["format"])
        if fmt != MODEL_FORMAT:
            raise ValueError(f"{path}: not an appeal model ({fmt!r}, expected {MODEL_FORMAT!r})")
        config = FeatureConfig.from_json(str(z["feature_config"]))
        lexicon = None
        if "lexicon_phrases" in z:
            phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
            for line in z["lexicon_phrases"].tolist():
                p, g = line.split("\t")
                phrases[tuple(p.split(" "))] = tuple(g.split(","))
            prefixes: tuple[tuple[str, str], ...] = tuple(
                (p, g) for p, g in (line.split("\t") for line in z["lexicon_prefixes"].tolist())
            )
            max_len = max((len(p) for p in phrases), default=1)
            lexicon = Lexicon(phrases, prefixes, max_len)
        vocab = {name: i for i, name in enumerate(z["vocab"].tolist())}
        feat = Featurizer(config, lexicon, vocab, z["idf"].astype(np.float32))
        category = LinearHead(
            tuple(z["category_labels"].tolist()),
            z["category_W"].astype(np.float32),
            z["category_b"].astype(np.float32),
        )
        relevance = None
        threshold = 0.5
        if "relevance_W" in z:
            labels = ("other", "appeal")
            if "relevance_labels" in z:
                labels = tuple(z["relevance_labels"].tolist())
            relevance = LinearHead(
                labels,
                z["relevance_W"].astype(np.float32),
                z["relevance_b"].astype(np.float32),
            )
            threshold = float(z["relevance_threshold"])
        meta = json.loads(str(z["meta"]))
    return ModelFile(feat, category, relevance, threshold, meta)


# ---------------------------------------------------------------------------
# the classifier


class AppealClassifier:
    """Relevance from the default model, category from the default or an own rubric."""

    def __init__(self, relevance_model: ModelFile, category_model: ModelFile | None = None):
        if relevance_model.relevance is None:
            raise ValueError("the relevance model has no relevance head")
        self._rel = relevance_model
        self._cat = category_model
        self.labels: tuple[str, ...] = (category_model or relevance_model).category.labels

    @classmethod
    def default(cls) -> AppealClassifier:
        """The bundled default rubric; built once per process."""
        return _default_classifier()

    @classmethod
    def load(cls, path: Path) -> AppealClassifier:
        """An own-rubric model written by ``train_category_model``; relevance from the default."""
        own = load_model(Path(path))
        return cls(_default_model(), own)

    @property
    def threshold(self) -> float:
        """The appeal threshold the relevance model was built with."""
        return self._rel.relevance_threshold

    @property
    def meta(self) -> dict[str, Any]:
        return (self._cat or self._rel).meta

    def featurizers(self) -> list[Featurizer]:
        return [m.featurizer for m in (self._rel, self._cat) if m is not None]

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        if not texts:
            return []
        rel = self._rel
        x = rel.featurizer.transform(texts)
        assert rel.relevance is not None
        p_rel = rel.relevance.proba(x)
        p_appeal = p_rel[:, 1]
        p_signal = p_rel[:, 2] if p_rel.shape[1] > 2 else np.zeros(len(texts))
        if self._cat is None:
            p_cat = rel.category.proba(x)
            labels = rel.category.labels
        else:
            p_cat = self._cat.category.proba(self._cat.featurizer.transform(texts))
            labels = self._cat.category.labels
        best = p_cat.argmax(axis=1)
        conf = p_cat[np.arange(len(best)), best]
        thr = rel.relevance_threshold
        out = []
        for i in range(len(texts)):
            score = float(p_appeal[i])
            out.append(
                Classification(
                    is_appeal=score >= thr,
                    appeal_score=round(score, 4),
                    category=labels[best[i]],
                    confidence=round(float(conf[i]), 4),
                    signal_score=round(float(p_signal[i]), 4),
                )
            )
        return out


@lru_cache(maxsize=1)
def category_labels(path: Path | None = None) -> tuple[str, ...]:
    """The category codes of a model (default: the bundled one), without loading the rest."""
    with np.load(path or DEFAULT_MODEL_PATH, allow_pickle=False) as z:
        return tuple(z["category_labels"].tolist())


def _default_model() -> ModelFile:
    return load_model(DEFAULT_MODEL_PATH)


@lru_cache(maxsize=1)
def _default_classifier() -> AppealClassifier:
    return AppealClassifier(_default_model())


__all__ = [
    "DEFAULT_LABELS",
    "AppealClassifier",
    "Classification",
    "LinearHead",
    "ModelFile",
    "load_model",
    "save_model",
]
