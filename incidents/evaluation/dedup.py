"""Scoring near-duplicate detection on labelled mentions, and writing copies to score it with.

`incidents evaluate dedup FILE` reads RawMention JSONL in which every line may
carry `copy_of`: the id of the post it copies (null for an original). The
lines go through the very enrich + desk code of the pipeline, in file order,
and each decision is scored:

- a copy is found when its `duplicate_of` is the original it copies (or that
  original's own original: the root of its family); given each line's region
  as the pipeline put it, a found copy is also counted as *placed* when it
  carries its original's region (a copy takes its original's place, whatever
  region its own source or text suggested);
- a decision "duplicate of X" is right when X is in the same family, or when
  X's text is the same as the true original's (`text_key`: several people or
  one person posted the very same text; the spec links a copy to the first
  mention seen with that content, and nothing in a copy tells them apart); an
  original linked to another original is wrong unless both carry the same
  `twin_of` label (the same complaint posted twice).

The rewrites below are what monitoring sees: repost wrappers, hashtags and
emojis, cut-off tails, case changes, typos, links, Latin look-alike letters.
They are written here; texts to apply them to come from the caller (in this
project's evaluation, St Petersburg portal appeals from ../shared/data, which
are never shipped).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

WRAPPERS = [
    "Подписчики пишут: «{}»",
    "Репост: {}",
    "Пишет подписчик: {}",
    "Анонимно. {}",
    "Из предложки: {}",
    "Жители жалуются: «{}»",
    "{}",
]
HASHTAGS = ["#ЖКХ", "#благоустройство", "#дороги", "#проблема", "#жалоба", "#город", "#помогите"]
EMOJIS = ["😡", "🤬", "❗️", "‼️", "🙏", "😢", "👉", "🔥", "📢"]
_LATIN = {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y"}


def _typo(text: str, rng: random.Random) -> str:
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(letters) < 8:
        return text
    i = rng.choice(letters)
    kind = rng.random()
    if kind < 0.4:  # drop a letter
        return text[:i] + text[i + 1 :]
    if kind < 0.7 and i + 1 < len(text):  # swap two letters
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + text[i] * 2 + text[i + 1 :]  # double a letter


def _cut_tail(text: str, rng: random.Random, markers: Sequence[str]) -> str:
    """A feed's cut: 60-85 % of the words (at least 6) and its marker; short texts stay."""
    words = text.split()
    if len(words) <= 8:
        return text
    keep = max(6, int(len(words) * rng.uniform(0.6, 0.85)))
    return " ".join(words[:keep]) + rng.choice(markers)


def rewrite(text: str, rng: random.Random) -> tuple[str, list[str]]:
    """One copy of a text with 1-3 of the rewrites monitoring sees; returns (copy, kinds)."""
    kinds = rng.sample(
        ["wrapper", "hashtags", "emoji", "cut_tail", "case", "typo", "link", "homoglyph", "spaces"],
        k=rng.randint(1, 3),
    )
    t = text
    for kind in kinds:
        if kind == "cut_tail":
            t = _cut_tail(t, rng, ["…", "...", " (читать далее)"])
        elif kind == "case":
            t = rng.choice([t.upper(), t.lower(), t.capitalize()])
        elif kind == "typo":
            t = _typo(t, rng)
        elif kind == "link":
            t = t + rng.choice(
                [
                    " https://vk.com/wall-12345_678",
                    " подробнее: t.me/citychat/1234",
                    " https://ok.ru/group/1/topic/2",
                ]
            )
        elif kind == "homoglyph":
            chars = list(t)
            idx = [i for i, ch in enumerate(chars) if ch in _LATIN]
            for i in rng.sample(idx, k=min(len(idx), 2)):
                chars[i] = _LATIN[chars[i]]
            t = "".join(chars)
        elif kind == "spaces":
            t = "  ".join(t.split(" "))
        elif kind == "hashtags":
            tags = " ".join(rng.sample(HASHTAGS, k=rng.randint(1, 3)))
            t = f"{tags} {t}" if rng.random() < 0.5 else f"{t} {tags}"
        elif kind == "emoji":
            t = f"{rng.choice(EMOJIS)} {t} {rng.choice(EMOJIS) * rng.randint(1, 3)}"
    if "wrapper" in kinds:
        t = rng.choice(WRAPPERS[:-1]).format(t)
    return t, kinds


# A second set of rewrites, written apart from the normalizer's own lists, to see how
# dedup does on forms it was not tuned on (`scripts/eval_dedup.py --style other`):
# other wrappers and sign-offs, letter substitutions and glued words, other
# truncation markers, emoji sequences, Latin hashtags and short links.
OTHER_WRAPPERS = [
    "Нам пишут: {}",
    "Пишет подписчица: «{}»",
    "Сообщение от подписчика:\n{}",
    "Жалоба от жительницы: {}",
    "Публикуем по просьбе подписчика. {}",
    "Вопрос читателя: {}",
    "{}\n\n(с) подписчик",
    "Поступило обращение: „{}“",
    "{} — пишет наш читатель",
    "Прислали в личку: {}",
]
OTHER_TAILS = [" … ещё", "… Показать ещё", " ... Читать продолжение", "…"]
OTHER_EMOJIS = ["🚧", "🗑", "⚠️", "😤", "🤦\u200d♀️", "👎🏻", "🆘"]
OTHER_TAGS = ["#spb_news", "#СПб_жалобы", "#наш_район", "#ЖКХ_СПб", "#подслушано"]
OTHER_LINKS = [
    " https://t.me/spb_chat/98765?single",
    " vk.cc/cAbC12",
    " https://vk.com/wall-1_2?w=x",
]
OTHER_SIGNOFFS = [" Примите меры!", " Куда смотрит администрация?!", " Помогите!!!"]
_NEIGHBOURS = {"а": "в", "о": "л", "е": "н", "и": "т", "н": "г", "т": "ь", "р": "о", "с": "м"}


def rewrite_other(text: str, rng: random.Random) -> tuple[str, list[str]]:
    """Like rewrite, with forms the normalizer was not written for."""
    kinds = rng.sample(
        ["wrapper", "hashtags", "emoji", "cut_tail", "case", "typo", "link", "signoff",
         "lines"],
        k=rng.randint(1, 3),
    )  # fmt: skip
    t = text
    for kind in kinds:
        if kind == "cut_tail":
            t = _cut_tail(t, rng, OTHER_TAILS)
        elif kind == "case":
            t = rng.choice([t.upper(), t.lower(), t.title()])
        elif kind == "typo":
            idx = [i for i, ch in enumerate(t) if ch.lower() in _NEIGHBOURS]
            spaces = [i for i, ch in enumerate(t) if ch == " "]
            if rng.random() < 0.6 and idx:  # a neighbouring key
                i = rng.choice(idx)
                t = t[:i] + _NEIGHBOURS[t[i].lower()] + t[i + 1 :]
            elif spaces:  # two words glued together
                i = rng.choice(spaces)
                t = t[:i] + t[i + 1 :]
        elif kind == "link":
            t = t + rng.choice(OTHER_LINKS)
        elif kind == "hashtags":
            tags = " ".join(rng.sample(OTHER_TAGS, k=rng.randint(1, 2)))
            t = f"{tags}\n{t}" if rng.random() < 0.5 else f"{t}\n{tags}"
        elif kind == "emoji":
            pair = rng.choice(OTHER_EMOJIS) + rng.choice(OTHER_EMOJIS)
            t = f"{pair} {t} {rng.choice(OTHER_EMOJIS)}"
        elif kind == "signoff":
            t = t.rstrip() + rng.choice(OTHER_SIGNOFFS)
        elif kind == "lines":
            t = t.replace(". ", ".\n\n")
    if "wrapper" in kinds:
        t = rng.choice(OTHER_WRAPPERS).format(t)
    return t, kinds


@dataclass
class DedupScore:
    copies: int = 0
    found: int = 0  # copies linked to their family
    predicted: int = 0  # decisions "duplicate of X"
    right: int = 0  # of which X is in the right family
    false_links: list[tuple[str, str]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [copies, found]
    placed: int | None = None  # found copies carrying their original's region (when known)
    misplaced: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.right / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.copies if self.copies else 1.0

    @property
    def placed_recall(self) -> float:
        """Copies found *and* carrying their original's region, over all copies."""
        return (self.placed or 0) / self.copies if self.copies else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def render(self) -> str:
        lines = [
            f"copies {self.copies}  found {self.found}  "
            f"predicted duplicates {self.predicted}  right {self.right}",
            f"precision {self.precision:.4f}  recall {self.recall:.4f}  F1 {self.f1:.4f}",
        ]
        if self.placed is not None:
            lines.append(
                f"found with their original's region {self.placed}  recall {self.placed_recall:.4f}"
            )
        if self.by_kind:
            lines.append("")
            lines.append(f"{'rewrite':<12} {'copies':>7} {'found':>7} {'recall':>7}")
            for kind, (n, f) in sorted(self.by_kind.items()):
                lines.append(f"{kind:<12} {n:>7} {f:>7} {f / n if n else 1:>7.3f}")
        return "\n".join(lines)


def score(
    labels: Sequence[dict[str, Any]],
    decided: dict[str, str | None],
    placed: dict[str, str | None] | None = None,
) -> DedupScore:
    """labels: {id, copy_of, twin_of?, text_key?, kinds?} per line; decided: id -> duplicate_of;
    placed (optional): id -> the region the pipeline gave the line."""
    family: dict[str, str] = {}
    twin: dict[str, str] = {}
    text_key = {lab["id"]: lab.get("text_key") for lab in labels}
    for lab in labels:
        parent = lab.get("copy_of")
        family[lab["id"]] = family.get(parent, parent) if parent else lab["id"]
        if lab.get("twin_of"):
            twin[lab["id"]] = str(lab["twin_of"])
    s = DedupScore(placed=0 if placed is not None else None)
    for lab in labels:
        mid = lab["id"]
        if mid not in decided:
            continue
        got = decided[mid]
        key = text_key.get(family[mid])

        def same_text(x: str | None, key: str | None = key) -> bool:
            return x is not None and key is not None and text_key.get(family.get(x, x)) == key

        if lab.get("copy_of"):
            s.copies += 1
            ok = got is not None and (family.get(got, got) == family[mid] or same_text(got))
            s.found += ok
            if ok and placed is not None:
                if placed.get(mid) == placed.get(lab["copy_of"]):
                    s.placed = (s.placed or 0) + 1
                else:
                    s.misplaced.append(mid)
            for kind in lab.get("kinds") or ():  # the rewrites, when the file names them
                n_f = s.by_kind.setdefault(kind, [0, 0])
                n_f[0] += 1
                n_f[1] += ok
            if not ok:
                s.missed.append(mid)
        if got is not None:
            s.predicted += 1
            same_family = family.get(got, got) == family[mid]
            twins = twin.get(mid) is not None and twin.get(mid) == twin.get(got)
            if same_family or twins or (lab.get("copy_of") and same_text(got)):
                s.right += 1
            else:
                s.false_links.append((mid, got))
    return s


def regions(results: Iterable[Any]) -> dict[str, str | None]:
    """id -> region from `OfflinePipeline.run` results (redeliveries excluded)."""
    return {
        r.id: r.region
        for r in results
        if r.id is not None and r.status != "rejected" and not r.redelivery
    }


def decisions(results: Iterable[Any]) -> dict[str, str | None]:
    """id -> duplicate_of from `OfflinePipeline.run` results (redeliveries excluded)."""
    out: dict[str, str | None] = {}
    for r in results:
        if r.id is None or r.status == "rejected" or r.redelivery:
            continue
        out[r.id] = r.duplicate_of if r.status == "duplicate" else None
    return out
