"""`incidents train` and `incidents evaluate`: own models from labelled history, and scores.

``train`` learns a category (or problem-type) model from labelled rows; ``evaluate``
scores the pipeline's categories, problem types, copies or grouping against labels.
A file with no usable labelled row is one line naming the field it looked for, not a
model or a score of zero.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console

from incidents.cli.files import input_lines, os_reason
from incidents.cli.models import load_model, offline_pipeline, rubric_map
from incidents.config.command import Failure, UsageError, add_command, argument_type
from incidents.config.settings import load_settings
from incidents.connectors.sources.file import read_lines
from incidents.contracts.models import RawMention, Source
from incidents.domain.understanding.problems import Taxonomy
from incidents.domain.understanding.rubric import main_types, score_problems
from incidents.evaluation import dedup as dedup_eval
from incidents.evaluation.grouping import incident_ids, score_labelled
from incidents.evaluation.labelled import evaluate, read_labelled

#: `--validation`: the share of rows held out, from 0 up to (not including) 1.
_share = argument_type(
    float,
    lambda v: 0 <= v < 1,
    "not a number: {text!r}",
    "must be from 0 up to 1, e.g. 0.1 (got {text})",
)


def register(sub: Any) -> None:
    sp = add_command(
        sub, "train", "train a category model for your own rubric from labelled history"
    )
    sp.add_argument("input", help="JSONL or CSV (.gz allowed) with a text and a label per row")
    sp.add_argument("-o", "--output", required=True, help="model file to write (.npz)")
    sp.add_argument(
        "--text-field", default="text", help="field (or CSV column) of the text (default: text)"
    )
    sp.add_argument(
        "--label-field",
        default="category",
        help="field (or CSV column) of the label (default: category)",
    )
    sp.add_argument(
        "--validation",
        type=_share,
        default=0.1,
        help="share of rows held out to report on, from 0 up to 1 (default 0.1)",
    )
    sp.add_argument(
        "--problems",
        action="store_true",
        help="learn problem types (docs/problems.md) instead of categories: labels are type "
        "codes, or rubric lines mapped by --rubric-map",
    )
    sp.add_argument("--rubric-map", help="YAML: your rubric lines → problem types")
    sp.set_defaults(fn=cmd_train)

    sp = add_command(
        sub,
        "evaluate",
        "score the pipeline on your labelled data",
        "Score the pipeline on your labelled data. A file with no usable labelled line is an "
        "error naming the field it looked for, not a score of zero.",
    )
    sp.add_argument(
        "what",
        choices=["categories", "problems", "dedup", "grouping"],
        help="categories: text + label rows; problems: text + rubric label rows (with "
        "--rubric-map); dedup: RawMention JSONL with `copy_of` (the id "
        "of the post a line copies) on the copies; grouping: RawMention JSONL with the "
        "problem of each post in `group` (--group-field)",
    )
    sp.add_argument("input", help="labelled JSONL or CSV (.gz allowed)")
    sp.add_argument("--model", help="a model from `incidents train` (default: the bundled rubric)")
    sp.add_argument(
        "--text-field",
        default="text",
        help="categories: field (or CSV column) of the text (default: text)",
    )
    sp.add_argument(
        "--label-field",
        default="category",
        help="categories: field (or CSV column) of the true category (default: category)",
    )
    sp.add_argument(
        "--group-field",
        default="group",
        help="grouping: field of the problem label (default: group)",
    )
    sp.add_argument("--rubric-map", help="problems: YAML mapping your rubric lines to types")
    sp.add_argument(
        "--problem-model", help="problems: a model from `incidents train --problems` as fallback"
    )
    sp.set_defaults(fn=cmd_evaluate)


def cmd_train(args: argparse.Namespace) -> int:
    from incidents.evaluation.learner import train_category_model  # lazy: numpy, scipy

    src = _labelled_file(args.input)
    if Path(args.output).is_dir():
        raise UsageError(f"-o {args.output} is a directory: name the model file (.npz)")
    err = Console(stderr=True)
    texts, labels = _read_labelled(src, args.text_field, args.label_field)
    if args.problems:
        texts, labels = _problem_labels(texts, labels, args)
    if len(set(labels)) < 2:
        raise UsageError(f"{src}: need at least two labels in `{args.label_field}`")
    with err.status(f"training on {len(texts):,} labelled texts, {len(set(labels))} categories…"):
        try:
            report = train_category_model(
                texts, labels, Path(args.output), validation=args.validation
            )
        except OSError as exc:
            raise Failure(f"cannot write {args.output}: {os_reason(exc)}") from None
    print(report.render())
    setting = "PROBLEM_MODEL" if args.problems else "CATEGORY_MODEL"
    err.print(f"model written to {args.output}; use it with INCIDENTS_ENRICH_{setting}=<that path>")
    return 0


def _problem_labels(
    texts: list[str], labels: list[str], args: argparse.Namespace
) -> tuple[list[str], list[str]]:
    """Rubric labels → their main problem type (through --rubric-map), rows without one
    dropped; labels that already are type codes are kept."""
    taxonomy = Taxonomy.load(load_settings().enrich.problems_file)
    rubric = rubric_map(args.rubric_map, taxonomy) if args.rubric_map else None
    mapped = main_types(labels, rubric, taxonomy)
    kept = [(t, m) for t, m in zip(texts, mapped, strict=True) if m]
    if not kept:
        hint = " (pass --rubric-map)" if rubric is None else ""
        raise UsageError(f"no label in `{args.label_field}` names a problem type{hint}")
    return [t for t, _ in kept], [m for _, m in kept]


def cmd_evaluate(args: argparse.Namespace) -> int:
    src = _labelled_file(args.input)
    if args.what == "categories":
        from incidents.domain.understanding.classify import AppealClassifier  # lazy: numpy, scipy

        texts, labels = _read_labelled(src, args.text_field, args.label_field)
        model = (
            load_model(Path(args.model), "--model") if args.model else AppealClassifier.default()
        )
        err = Console(stderr=True)
        with err.status(f"classifying {len(texts):,} texts…"):
            predicted = [c.category or "(none)" for c in model.classify(texts)]
        print(evaluate(labels, predicted).render())
        return 0
    if args.what == "problems":
        return _evaluate_problems(src, args)
    if args.what == "dedup":
        if input_lines(src) == 0:
            raise UsageError(f"{src} is empty: nothing to score")
        lines = list(read_lines(src))
        gold: list[dict[str, Any]] = []
        for n, line in enumerate(lines, 1):
            try:
                obj = msgspec.json.decode(line)
            except (msgspec.DecodeError, UnicodeDecodeError):
                raise UsageError(f"{src}:{n}: not JSON") from None
            if not isinstance(obj, dict) or "id" not in obj:
                raise UsageError(f"{src}:{n}: a labelled RawMention needs an `id`")
            gold.append(
                {"id": obj["id"], "copy_of": obj.get("copy_of"), "twin_of": obj.get("twin_of"),
                 "text_key": obj.get("text_key"), "kinds": obj.get("kinds")}
            )  # fmt: skip
        if not any(g["copy_of"] for g in gold):
            raise UsageError(
                f"{src}: no line carries a `copy_of` label (the id of the post it copies): "
                "nothing to score"
            )
        err = Console(stderr=True)
        with err.status(f"running {len(lines):,} mentions through enrich and dedup…"):
            results = list(offline_pipeline(load_settings()).run(lines))
        print(
            dedup_eval.score(
                gold, dedup_eval.decisions(results), dedup_eval.regions(results)
            ).render()
        )
        return 0
    if args.what == "grouping":
        if input_lines(src) == 0:
            raise UsageError(f"{src} is empty: nothing to score")
        lines = list(read_lines(src))
        groups: dict[str, str | None] = {}  # lines that are not JSON objects with an id: unscored
        for line in lines:
            try:
                obj = msgspec.json.decode(line)
            except (msgspec.DecodeError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict) and isinstance(obj.get("id"), str):
                label = obj.get(args.group_field)
                groups.setdefault(obj["id"], None if label in (None, "") else str(label))
        if not any(groups.values()):
            raise UsageError(f"{src}: no line carries a `{args.group_field}` label")
        err = Console(stderr=True)
        with err.status(f"running {len(lines):,} mentions through enrich and the desk…"):
            decided = incident_ids(offline_pipeline(load_settings()).run(lines))
        print(score_labelled([decided.get(i) for i in groups], list(groups.values())).render())
        return 0
    raise UsageError(f"unknown evaluation {args.what!r}")


def _evaluate_problems(src: Path, args: argparse.Namespace) -> int:
    """Problem types recognised in labelled texts against the rubric map's types."""
    from incidents.domain.enrichment import Enricher  # lazy: the models

    if not args.rubric_map:
        raise UsageError("evaluate problems needs --rubric-map (your rubric lines → types)")
    texts, labels = _read_labelled(src, args.text_field, args.label_field)
    settings = load_settings()
    enrich = settings.enrich
    if args.problem_model:
        load_model(Path(args.problem_model), "--problem-model")
        enrich = enrich.model_copy(update={"problem_model": Path(args.problem_model)})
    enricher = Enricher.from_settings(enrich)
    assert enricher.problems is not None
    rubric = rubric_map(args.rubric_map, enricher.problems)
    when = datetime.now(UTC)
    raws = [
        RawMention(id=f"other:{i}", platform="other", source=Source(id="eval"), text=t,
                   created_at=when)
        for i, t in enumerate(texts)
    ]  # fmt: skip
    err = Console(stderr=True)
    with err.status(f"recognising problems in {len(texts):,} texts…"):
        found = []
        for i in range(0, len(raws), 500):
            chunk = raws[i : i + 500]
            found.extend(enricher.find_problems(chunk, [r.text for r in chunk]))
    report = score_problems(
        labels,
        [[h.code for h in hits] for hits in found],
        rubric,
        enricher.problems,
        learned=[bool(hits and hits[0].learned) for hits in found],
    )
    print(report.render())
    return 0


def _labelled_file(name: str) -> Path:
    src = Path(name)
    if src.is_dir():
        raise UsageError(f"{src} is a directory: give a JSONL or CSV file")
    if not src.is_file():
        raise UsageError(f"no such file: {src}")
    return src


def _read_labelled(src: Path, text_field: str, label_field: str) -> tuple[list[str], list[str]]:

    try:
        return read_labelled(src, text_field, label_field)
    except (ValueError, OSError, EOFError) as exc:  # not JSON, not UTF-8, no usable row, bad .gz
        msg = os_reason(exc) if isinstance(exc, OSError) else str(exc)
        if isinstance(exc, UnicodeDecodeError):
            msg = f"not UTF-8 text (byte {exc.start}: {exc.reason}); is it a binary file?"
        raise UsageError(msg if msg.startswith(str(src)) else f"{src}: {msg}") from None
