"""The bundled default model: the examples the project wrote itself (JSONL, YAML
lists, templates and appeals written from the problem taxonomy), the parameters,
and ``build_default_model``, which fits both heads with
:mod:`incidents.evaluation.learner` and records a digest of its sources.

``python -m incidents.evaluation.training build-default`` rebuilds it (``--check``
compares a fresh build with the bundled file); ``... train`` trains an own-rubric
category model from a labelled file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from incidents.domain.understanding.classify import (
    DATA_DIR,
    DEFAULT_MODEL_PATH,
    LinearHead,
    ModelFile,
    save_model,
)
from incidents.domain.understanding.features import (
    LEXICON_PATH,
    FeatureConfig,
    Featurizer,
    Lexicon,
)
from incidents.evaluation.labelled import read_labelled
from incidents.evaluation.learner import (
    balanced_weights,
    build_vocabulary,
    fit_softmax,
    matrix_from_names,
    train_category_model,
)

EXAMPLES_DIR = DATA_DIR / "examples"
# The problem taxonomy feeds the P:* features: a change to it changes the model.
PROBLEMS_PATH = DATA_DIR / "problems.yaml"


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
