"""Text → features for the appeal models: the featuriser, its configuration and the lexicon.

Features are pymorphy3 lemmas, lemma bigrams, character n-grams of the words (typos,
unseen inflections and compounds of social-media text), hits of a hand-written
lexicon (``data/lexicon.yaml``: one feature per category and per cue group, so a word
the training examples never used still counts), grammar and style cues, and the
problem model's hits through a hook (``FeatureConfig.problems``). They are TF-IDF
weighted; the heads that score them and the model files that hold them are in
:mod:`incidents.domain.understanding.classify`. Per-token work is cached, the rest is
vectorised per batch.
"""

from __future__ import annotations

import importlib
import itertools
import json
import re
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import sparse

from incidents.domain import DATA
from incidents.domain.text import morph

LEXICON_PATH = DATA / "lexicon.yaml"


# ---------------------------------------------------------------------------
# text normalisation (private; a shared normalize module may replace it)

_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w.-]+\.(?:ru|рф|com|org|net)(?:/\S*)?", re.I)
_TAG = re.compile(r"[#@][\w.]+")
_WORD = re.compile(r"[а-яёa-z0-9]+(?:-[а-яёa-z0-9]+)*")


_URL_HINTS = ("http", "www.", ".ru", ".рф", ".com", ".org", ".net")


def _normalize(text: str) -> str:
    """Lower case, ё→е, URLs and hashtags/mentions dropped; emojis fall out in tokenising.

    Each regex runs only when a substring every match must contain is there: the
    URL pattern costs ~40 µs on a 250-character post, a substring test well
    under 1 µs, and most posts have a full stop but no link.
    """
    lower = text.lower()
    if any(h in lower for h in _URL_HINTS):
        text = _URL.sub(" ", text)
        lower = text.lower()
    if "#" in text or "@" in text:
        lower = _TAG.sub(" ", lower)
    return lower.replace("ё", "е")


def _tokens(text: str) -> list[str]:
    return _WORD.findall(_normalize(text))


# ---------------------------------------------------------------------------
# lexicon


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Phrases (tuples of lemmas) → feature groups; prefixes of surface tokens too."""

    phrases: dict[tuple[str, ...], tuple[str, ...]]
    prefixes: tuple[tuple[str, str], ...]  # (surface prefix, group)
    max_len: int

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Lexicon:
        groups: dict[str, list[str]] = {}
        for cat, words in (doc.get("categories") or {}).items():
            groups[f"cat:{cat}"] = list(words or [])
        for key, words in doc.items():
            if key != "categories" and isinstance(words, list):
                groups[key] = list(words)
        phrases: dict[tuple[str, ...], set[str]] = {}
        prefixes: list[tuple[str, str]] = []
        for group, words in groups.items():
            for w in words:
                w = str(w).lower().replace("ё", "е").strip()
                if w.endswith("*") and " " not in w:
                    prefixes.append((w[:-1], group))
                    continue
                lemmas = tuple(morph.lemma(t) for t in morph.tokens(w))
                if lemmas:
                    phrases.setdefault(lemmas, set()).add(group)
        frozen = {p: tuple(sorted(g)) for p, g in phrases.items()}
        max_len = max((len(p) for p in frozen), default=1)
        return cls(frozen, tuple(sorted(prefixes)), max_len)

    @classmethod
    def load(cls, path: Path = LEXICON_PATH) -> Lexicon:
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(yaml.safe_load(f) or {})


@lru_cache(maxsize=4)
def _lexicon(path: str = str(LEXICON_PATH)) -> Lexicon:
    return Lexicon.load(Path(path))


# ---------------------------------------------------------------------------
# featuriser


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    char_min: int = 3
    char_max: int = 5
    bigrams: bool = True
    lexicon: bool = True
    grammar: bool = False  # grammeme features (imperative, 1st person, ...); see _GRAMMEMES
    style: bool = False  # how the post is written: hashtags, laughter, links, caps, length; _style
    # Problem-model hits as features ``P:<name>``: "module:function" of a ProblemCues
    # (see :data:`ProblemCues`), resolved when the model loads; None for none.
    problems: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "char_min": self.char_min,
                "char_max": self.char_max,
                "bigrams": self.bigrams,
                "lexicon": self.lexicon,
                "grammar": self.grammar,
                "style": self.style,
                "problems": self.problems,
            }
        )

    @classmethod
    def from_json(cls, s: str) -> FeatureConfig:
        d = json.loads(s)
        return cls(
            int(d["char_min"]),
            int(d["char_max"]),
            bool(d["bigrams"]),
            bool(d["lexicon"]),
            bool(d.get("grammar", False)),
            bool(d.get("style", False)),
            d.get("problems"),
        )


# Grammemes of the most probable parse that tell a resident's request from a
# report: imperatives and first person («уберите», «прошу», «мы») against
# third-person futures and past plurals of news («отремонтируют»,
# «завершили»); short participles («сломан», «не убран», «будет отключена»).
_GRAMMEMES: tuple[tuple[str, str], ...] = (
    ("impr", "g:impr"),
    ("1per", "g:1per"),
    ("2per", "g:2per"),
    ("3per", "g:3per"),
    ("past", "g:past"),
    ("futr", "g:futr"),
    ("PRTS", "g:prts"),
    ("INFN", "g:infn"),
)


@lru_cache(maxsize=100_000)
def _grammar_names(token: str) -> tuple[str, ...]:
    if not ("а" <= token[0] <= "я"):
        return ()
    parse = morph.first_parse(token)
    if parse is None:
        return ()
    tag = parse.tag.grammemes  # a frozenset: `in` on the tag object costs ~1 µs a test
    names = [name for gram, name in _GRAMMEMES if gram in tag]
    if "VERB" in tag and "past" in tag and "plur" in tag:
        names.append("g:past_plur")
    return tuple(names)


# How a post is written, as document-level features (``s:...``). They tell hashtag
# chatter, memes and channel news from a resident's report whatever the words:
# hashtags, laughter, links and channel footers, all-caps, a question, an
# exclamation, a street with a house number, and the length in words. They are
# computed on the raw text (the word features see it without tags and links).
_HASHTAG = re.compile(r"#[\w]")
_LAUGH = re.compile(r"[😂🤣😄😅😆😁😹🙃🤡😏🙄😎]|\b(?:а?ха(?:ха)+|хех|лол|ржу|ору)\b|\){2,}", re.I)
_EMOJI = re.compile(r"[\u2600-\u27bf\U0001f300-\U0001faff]")
_ADDRESS = re.compile(r"[А-ЯЁ][а-яё-]{2,},?\s+(?:д\.\s*)?\d{1,3}(?:[а-я]|/\d{1,3})?(?![\d:.,]\d)\b")
_QUESTION_END = re.compile(r"\?[\s\W]*$")
_LENGTHS = ((3, "s:len3"), (8, "s:len8"), (20, "s:len20"), (50, "s:len50"))


def _style(text: str, n_tokens: int) -> list[str]:
    """Names of the style features of one raw text (a few regex scans, ~5 µs)."""
    out = []
    tags = len(_HASHTAG.findall(text)) if "#" in text else 0
    if tags:
        out.append("s:tag" if tags == 1 else "s:tags")
    if _LAUGH.search(text):
        out.append("s:laugh")
    elif _EMOJI.search(text):
        out.append("s:emoji")
    if "http" in text or "t.me/" in text or "@" in text:
        out.append("s:link")
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) > 0.7 * len(letters):
        out.append("s:caps")
    if _QUESTION_END.search(text):
        out.append("s:question")
    if "!" in text:
        out.append("s:exclaim")
    if "«" in text or '"' in text:
        out.append("s:quote")
    if _ADDRESS.search(text):
        out.append("s:address")
    for limit, name in _LENGTHS:
        if n_tokens <= limit:
            out.append(name)
            break
    else:
        out.append("s:long")
    return out


#: A problem model's hook: one text → names of the problems it recognises («не горит
#: фонарь» → "street_light_out"). Each name becomes a feature ``P:<name>``, and any hit
#: also ``P:any``; the hook is named in FeatureConfig.problems.
ProblemCues = Callable[[str], Iterable[str]]


#: Where a hook's module lives now, for models trained before the package move (the
#: shipped model and any a deployment trained name the old path; they load unchanged).
MOVED_MODULES = {"streams.domain.problems": "incidents.domain.understanding.problems"}


def resolve_problem_cues(spec: str | None) -> ProblemCues | None:
    """The function a "module:function" spec names (a model trained with a hook needs it)."""
    if not spec:
        return None
    module, _, name = spec.partition(":")
    module = MOVED_MODULES.get(module, module)
    fn = getattr(importlib.import_module(module), name)
    if not callable(fn):
        raise ValueError(f"problem cues {spec!r} is not callable")
    return fn


_TOKEN_CACHE_MAX = 300_000
_ID_BYTES = array("i").itemsize


class Featurizer:
    """Text → feature names (training) or TF-IDF rows over a fixed vocabulary (inference)."""

    def __init__(
        self,
        config: FeatureConfig,
        lexicon: Lexicon | None,
        vocab: dict[str, int] | None = None,
        idf: np.ndarray | None = None,
    ) -> None:
        self.config = config
        self.lexicon = lexicon if config.lexicon else None
        self.vocab = vocab or {}
        self.idf = idf
        self.problem_cues = resolve_problem_cues(config.problems)
        # token → (lemma, its feature ids as packed int32, names a topic word): a batch's
        # ids are joined as bytes and read by numpy without a per-id conversion.
        self._token_cache: dict[str, tuple[str, bytes, bool]] = {}
        self._bigram_ids: dict[tuple[str, str], int] | None = None
        self._phrase_starts: dict[str, list[Any]] | None = None
        self._index_of: dict[str, int] | None = None

    # -- names ------------------------------------------------------------
    def _token_names(self, token: str) -> tuple[str, list[str]]:
        """The lemma of one token and its token-level feature names."""
        if token.isdigit():
            return "0", ["w:0"]
        lem = morph.lemma(token)
        names = [f"w:{lem}"]
        cfg = self.config
        if cfg.grammar:
            names.extend(_grammar_names(token))
        if cfg.char_max >= cfg.char_min > 0 and len(token) > 1:
            padded = f"<{token}>"
            n_chars = len(padded)
            for n in range(cfg.char_min, cfg.char_max + 1):
                for i in range(n_chars - n + 1):
                    names.append(f"c:{padded[i : i + n]}")
        if self.lexicon is not None:
            one = self.lexicon.phrases.get((lem,))
            if one:
                names.extend(f"L:{g}" for g in one)
            for prefix, group in self.lexicon.prefixes:
                if token.startswith(prefix):
                    names.append(f"L:{group}")
        return lem, names

    def _doc_names(self, lemmas: list[str]) -> list[str]:
        """Document-level names: lemma bigrams and multi-word lexicon phrases."""
        out: list[str] = []
        if self.config.bigrams:
            out.extend(f"b:{a} {b}" for a, b in itertools.pairwise(lemmas))
        lex = self.lexicon
        if lex is not None and lex.max_len > 1:
            n = len(lemmas)
            phrases = lex.phrases
            for k in range(2, lex.max_len + 1):
                for i in range(n - k + 1):
                    groups = phrases.get(tuple(lemmas[i : i + k]))
                    if groups:
                        out.extend(f"L:{g}" for g in groups)
        return out

    def _text_names(
        self, text: str, tokens: Sequence[str], lemmas: Sequence[str], topics: int
    ) -> list[str]:
        """Names that need the whole text: style, topic-word count, problem-model hits."""
        out: list[str] = []
        if self.config.style:
            out.extend(_style(text, len(tokens)))
            out.append("s:topic0" if not topics else "s:topic1" if topics == 1 else "s:topic2")
        if self.problem_cues is not None:
            hits = [f"P:{name}" for name in self.problem_cues(text)]
            if hits:
                out.extend(hits)
                out.append("P:any")
        return out

    def names(self, text: str) -> list[str]:
        """Every feature name of one text, repeated as often as it occurs."""
        lemmas: list[str] = []
        out: list[str] = []
        topics = 0
        tokens = _tokens(text)
        for tok in tokens:
            lem, names = self._token_names(tok)
            lemmas.append(lem)
            out.extend(names)
            topics += any(n.startswith("L:cat:") for n in names)
        out.extend(self._doc_names(lemmas))
        out.extend(self._text_names(text, tokens, lemmas, topics))
        return out

    # -- vectors ----------------------------------------------------------
    def _token_ids(self, token: str) -> tuple[str, bytes, bool]:
        hit = self._token_cache.get(token)
        if hit is None:
            lem, names = self._token_names(token)
            ids = array("i", [j for j in map(self.vocab.get, names) if j is not None])
            hit = (lem, ids.tobytes(), any(n.startswith("L:cat:") for n in names))
            if len(self._token_cache) >= _TOKEN_CACHE_MAX:
                self._token_cache.clear()
            self._token_cache[token] = hit
        return hit

    def _doc_index(self) -> tuple[dict[tuple[str, str], int], dict[str, list[Any]]]:
        """Lookup tables for the document-level features, built once per vocabulary.

        Bigrams are found by their lemma pair (no string formatting per text);
        lexicon phrases by their first lemma (most tokens start none).
        """
        if self._index_of is not self.vocab:
            self._index_of = self.vocab
            self._token_cache.clear()
            self._bigram_ids = self._phrase_starts = None
        if self._bigram_ids is None or self._phrase_starts is None:
            bigrams: dict[tuple[str, str], int] = {}
            if self.config.bigrams:
                for name, j in self.vocab.items():
                    if name.startswith("b:"):
                        a, _, b = name[2:].partition(" ")
                        bigrams[(a, b)] = j
            starts: dict[str, list[Any]] = {}
            lex = self.lexicon
            if lex is not None:
                for phrase, groups in lex.phrases.items():
                    if len(phrase) < 2:
                        continue
                    ids = tuple(self.vocab[f"L:{g}"] for g in groups if f"L:{g}" in self.vocab)
                    if ids:
                        starts.setdefault(phrase[0], []).append((phrase[1:], ids))
            self._bigram_ids, self._phrase_starts = bigrams, starts
        return self._bigram_ids, self._phrase_starts

    def transform(self, texts: Iterable[str]) -> sparse.csr_matrix:
        """TF-IDF rows (sublinear tf, L2-normalised) for a batch of texts."""
        bigrams, starts = self._doc_index()
        bigram_get = bigrams.get
        start_get = starts.get
        token_cache = self._token_cache
        token_ids = self._token_ids
        indptr = [0]
        chunks: list[bytes] = []
        add = chunks.append
        pos = 0
        # Words the process has not seen are analysed first, together: one morphology
        # pass over the batch's new words keeps pymorphy3's dictionaries warm in the
        # CPU cache (measured ~15 % cheaper per word than interleaving them).
        texts = list(texts)
        token_lists = [_tokens(text) for text in texts]
        for tok in set().union(*token_lists).difference(token_cache):
            token_ids(tok)
        whole = self.config.style or self.problem_cues is not None
        vocab_get = self.vocab.get
        # Comprehensions and map() over C-level dict lookups: this loop runs for
        # every token of every post, so interpreter overhead is most of its cost.
        for text, toks in zip(texts, token_lists, strict=True):
            hits = [token_cache.get(t) or token_ids(t) for t in toks]
            lemmas = [h[0] for h in hits]
            blob = b"".join([h[1] for h in hits])
            doc: list[int] = []
            if whole:
                names = self._text_names(text, toks, lemmas, sum(h[2] for h in hits))
                doc = [j for j in map(vocab_get, names) if j is not None]
            if bigrams and len(lemmas) > 1:
                doc.extend(j for j in map(bigram_get, itertools.pairwise(lemmas)) if j is not None)
            if starts:
                n = len(lemmas)
                for i, cands in enumerate(map(start_get, lemmas)):
                    if cands:
                        for rest, ids in cands:
                            k = len(rest)
                            if i + k < n and tuple(lemmas[i + 1 : i + 1 + k]) == rest:
                                doc.extend(ids)
            if doc:
                blob += array("i", doc).tobytes()
            add(blob)
            pos += len(blob)
            indptr.append(pos // _ID_BYTES)
        return self.weigh(indptr, np.frombuffer(bytearray(b"".join(chunks)), dtype=np.int32))

    def weigh(
        self, indptr: Sequence[int], indices: Sequence[int] | np.ndarray
    ) -> sparse.csr_matrix:
        """Feature ids per document (with repeats) → sublinear TF-IDF rows, L2-normalised."""
        n_docs = len(indptr) - 1
        n_feat = len(self.vocab)
        if isinstance(indices, np.ndarray):
            idx = indices.astype(np.int32, copy=False)
        else:
            idx = np.fromiter(indices, dtype=np.int32, count=len(indices))
        data = np.ones(len(idx), dtype=np.float32)
        x = sparse.csr_matrix(
            (data, idx, np.asarray(indptr, dtype=np.int64)),
            shape=(n_docs, n_feat),
        )
        x.sum_duplicates()
        np.log(x.data, out=x.data)
        x.data += 1.0
        if self.idf is not None:
            x.data *= self.idf[x.indices]
        # Row norms straight from the data (a diagonal matrix product costs more).
        counts = np.diff(x.indptr)
        sq = np.zeros(n_docs, dtype=np.float64)
        nonempty = counts > 0
        if x.nnz:
            sq[nonempty] = np.add.reduceat(
                np.square(x.data, dtype=np.float64), x.indptr[:-1][nonempty]
            )
        norms = np.sqrt(sq)
        norms[norms == 0] = 1.0
        x.data *= np.repeat((1.0 / norms).astype(np.float32), counts)
        return x


__all__ = ["FeatureConfig", "Featurizer", "ProblemCues"]
