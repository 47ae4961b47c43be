"""Relevance on social-media traffic: appeals, media signals and chatter.

    python scripts/eval_relevance.py                      # the bundled model, every set
    python scripts/eval_relevance.py --model m.npz --sets dev
    python scripts/eval_relevance.py --telegram DIR       # also real Telegram channel posts

Sets (labels appeal / signal / noise):
- ``dev``: tests/data/relevance_regression.jsonl, hard cases the model is tuned on
  (never trained on);
- ``heldout``: scripts/data/social_heldout.jsonl, written before any tuning and
  never tuned on: the figures in docs/understanding.md;
- ``telegram``: real posts of 24 Russian Telegram news channels (CC BY 4.0, the
  NKTKLN/telegram-news-classifier data set; not shipped), read from --telegram
  DIR (its data/raw/*.json). Every one is a channel's post, so none is an appeal:
  it measures the share flagged. Posts are split in two by a hash of their ids:
  ``telegram-dev`` (looked at) and ``telegram-heldout`` (only counted).

Writes nothing. The numbers are quoted in docs/understanding.md.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from incidents.domain.understanding.classify import AppealClassifier, load_model  # noqa: E402

SETS = {
    "dev": ROOT / "tests" / "data" / "relevance_regression.jsonl",
    "heldout": ROOT / "scripts" / "data" / "social_heldout.jsonl",
}
# Appeals to non-appeals in a keyword-filtered social stream; F1 is reported at each.
RATIOS = (1.0, 1 / 3, 1 / 10)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip() and not line.startswith("//")]


def telegram(directory: Path, part: str) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(glob.glob(str(directory / "*.json"))):
        with open(name, encoding="utf-8") as f:
            for m in json.load(f):
                text = (m.get("text") or "").strip()
                if len(text) < 15:
                    continue
                h = zlib.crc32(f"{m['sender_id']}:{m['message_id']}".encode()) % 2
                if (h == 0) == (part == "dev"):
                    rows.append({"text": text, "label": "noise", "kind": m.get("category", "?")})
    return rows


def f1_at(recall: float, fpr: float, ratio: float) -> float:
    """F1 when appeals are `ratio` times as many as non-appeals."""
    tp, fp = recall * ratio, fpr
    precision = tp / (tp + fp) if tp + fp else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def report(
    name: str, rows: list[dict[str, Any]], clf: AppealClassifier, thr: float, show: int
) -> None:
    scores = []
    for i in range(0, len(rows), 500):
        scores.extend(clf.classify([r["text"] for r in rows[i : i + 500]]))
    by_kind: Counter[tuple[str, str]] = Counter()
    flagged: Counter[tuple[str, str]] = Counter()
    errors = []
    for r, c in zip(rows, scores, strict=True):
        key = (r["label"], r["kind"])
        by_kind[key] += 1
        hit = c.appeal_score >= thr
        flagged[key] += hit
        if hit != (r["label"] == "appeal"):
            errors.append((c.appeal_score, r["label"], r["kind"], r["text"]))
    pos = [k for k in by_kind if k[0] == "appeal"]
    neg = [k for k in by_kind if k[0] != "appeal"]
    n_pos, n_neg = sum(by_kind[k] for k in pos), sum(by_kind[k] for k in neg)
    tp, fp = sum(flagged[k] for k in pos), sum(flagged[k] for k in neg)
    print(f"\n== {name}: {n_pos} appeals, {n_neg} non-appeals, threshold {thr:.2f}")
    if n_pos:
        recall = tp / n_pos
        plain = [k for k in pos if k[1] == "plain"]
        n_plain = sum(by_kind[k] for k in plain)
        line = f"recall {recall:.3f}"
        if n_plain:
            line += (
                f" (plainly worded: {sum(flagged[k] for k in plain) / n_plain:.3f} of {n_plain})"
            )
        print(line)
    if n_neg:
        fpr = fp / n_neg
        print(f"non-appeals flagged {fpr:.3f} ({fp} of {n_neg})")
        signals = [k for k in neg if k[0] == "signal"]
        if signals:
            n_sig = sum(by_kind[k] for k in signals)
            print(f"  of them media signals flagged {sum(flagged[k] for k in signals)} of {n_sig}")
    if n_pos and n_neg:
        print(
            "F1 at appeals:non-appeals "
            + ", ".join(f"1:{1 / r:.0f} {f1_at(recall, fpr, r):.3f}" for r in RATIOS)
            + f"; as mixed here ({n_pos}:{n_neg}) {f1_at(recall, fpr, n_pos / n_neg):.3f}"
        )
    print(
        "by kind (flagged / all): "
        + ", ".join(
            f"{lab}/{kind} {flagged[(lab, kind)]}/{n}" for (lab, kind), n in sorted(by_kind.items())
        )
    )
    for score, label, kind, text in sorted(errors, key=lambda e: -abs(e[0] - thr))[:show]:
        print(f"   {'FP' if label != 'appeal' else 'FN'} {score:.2f} {label}/{kind}: {text[:110]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", type=Path, help="a model file (default: the bundled one)")
    ap.add_argument("--threshold", type=float, help="appeal threshold (default: the model's)")
    ap.add_argument(
        "--sets", nargs="*", default=["dev", "heldout", "telegram-dev", "telegram-heldout"]
    )
    ap.add_argument("--telegram", type=Path, help="directory of the Telegram channel JSON files")
    ap.add_argument("--show", type=int, default=0, help="print this many errors per set")
    args = ap.parse_args()
    clf = AppealClassifier(load_model(args.model)) if args.model else AppealClassifier.default()
    thr = args.threshold if args.threshold is not None else clf.threshold
    for name in args.sets:
        if name in SETS:
            # The held-out set is only counted: its errors are not printed to tune on.
            show = args.show if name == "dev" else 0
            report(name, read_jsonl(SETS[name]), clf, thr, show)
        elif name.startswith("telegram-"):
            if args.telegram is None or not args.telegram.is_dir():
                print(f"\n== {name}: skipped (no --telegram directory)")
                continue
            part = name.removeprefix("telegram-")
            show = args.show if part == "dev" else 0  # held-out sets are only counted
            report(name, telegram(args.telegram, part), clf, thr, show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
