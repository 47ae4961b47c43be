"""Text normalization shared by signatures, fingerprints and grouping.

Monitoring sees one complaint in many wrappers: a city public reposts it with
"Подписчики пишут: «…»", a Telegram chat adds hashtags and emojis, a connector
re-polls it with a tracking URL. Everything here strips such noise so that two
copies of one text normalize to (nearly) the same string, while two different
complaints about the same kind of problem keep their differing words.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from incidents.domain.copies import speedups

_URL = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:ru|com|org|net|me|su|info|cc|ly|be|co|io)\b/?\S*"
    r"|\b[а-яё0-9-]+(?:\.[а-яё0-9-]+)*\.рф\b/?\S*",
    re.I,
)
_MENTION = re.compile(r"(?<!\w)@[\w.]+")
_HASHTAG = re.compile(r"(?<!\w)#\w+")
_VK_LINK = re.compile(r"\[(?:id|club|public)\d+\|([^\]]*)\]")
# Repost wrappers seen in city publics and chats, at the start of a post.
_WRAPPERS = re.compile(
    r"^\s*(?:"
    r"(?:подписчик(?:и|а)?|читател(?:и|ь)|жител(?:и|ь))\s+(?:пиш(?:ут|ет)|сообща(?:ют|ет)|жалу(?:ются|ется)|спрашива(?:ют|ет))"
    r"|пиш(?:ут|ет)\s+(?:подписчик(?:и|а)?|наш(?:и)?\s+читател(?:ь|и))"
    r"|(?:анонимно|из\s+предложки|предложка|репост|перепост|переслано|пересылаю|forwarded(?:\s+message)?|цитата|вопрос\s+от\s+подписчика|жалоба\s+подписчика|обращение\s+жителей)"
    r")\s*[:\-–—.!]*\s*",
    re.I,
)
# Emojis, pictographs, arrows, dingbats, variation selectors, joiners, keycaps.
_PICTO = re.compile(
    "[\u2190-\u21ff\u2300-\u23ff\u2460-\u27bf\u2900-\u297f\u2b00-\u2bff"
    "\U0001f000-\U0001faff\ufe00-\ufe0f\u200d\u20e3\ue000-\uf8ff]+"
)
# Latin letters that look Cyrillic, folded inside Cyrillic words ("Ленинa" with a Latin a).
HOMOGLYPHS = str.maketrans("aeopcxykmtbh", "аеорсхукмтвн")
_MIXED_HINT = re.compile(r"[а-яё][a-z]|[a-z][а-яё]")
_SPACE = re.compile(r"\s+")


_WORDS = re.compile(r"[^\W_]+", re.U)
_LATIN = re.compile(r"[a-z]")
# Link shorteners too: vk.cc, bit.ly, youtu.be, t.co; and Cyrillic domains (госуслуги.рф).
_DOMAINS = (".ru", ".com", ".org", ".net", ".me", ".su", ".info", ".cc", ".ly", ".be", ".co",
            ".io", ".рф")  # fmt: skip


def _strip_links(t: str, repl: str = " ") -> str:
    """Links, @mentions, hashtags and VK markup: each regex only when a substring says so.

    Python's re costs ~10-20 µs per pattern on a 250-character Cyrillic post,
    while a substring test costs well under 1 µs.
    """
    if "[" in t:
        t = _VK_LINK.sub(r"\1", t)
    low = t.lower()  # "T.ME/CITYCHAT/1" in a post written in capitals is a link too
    if "://" in t or "www." in low or any(d in low for d in _DOMAINS):
        t = _URL.sub(repl, t)
    if "@" in t:
        t = _MENTION.sub(repl, t)
    if "#" in t:
        t = _HASHTAG.sub(repl, t)
    return t


# What feeds append to a cut-off post: "… Показать полностью", "(читать далее)".
_TRUNCATION = re.compile(
    r"(?:\s*(?:…|\.\.\.))?[\s(\[]*(?:(?:читать\s+далее|читать\s+полностью|показать\s+полностью|показать\s+ещ[её]"
    r"|подробнее|далее)\b\s*(?:…|\.\.\.)?|…|\.\.\.)[\s)\].:…]*$",
    re.I,
)
_OPEN_QUOTES = "«\"“„'"
_CLOSE_QUOTES = "»\"”“'"


def _strip_wrappers(t: str) -> tuple[str, bool]:
    """Wrappers, quotes and a feed's cut marker removed; and whether there was a cut marker."""
    # A wrapper may be nested: "Репост: Подписчики пишут: «…»".
    for _ in range(3):
        stripped = _WRAPPERS.sub("", t, count=1)
        if stripped == t:
            break
        t = stripped
    # The quoted post itself: «…» around the whole text.
    if t[:1] in _OPEN_QUOTES:
        end = t.rstrip(" .!?")
        if len(end) > 1 and end[-1] in _CLOSE_QUOTES:
            t = end[1:-1].strip() + t[len(end) :]
    t = t.rstrip()
    if t.endswith(("…", "...", ")", ":", "]")) or "далее" in t[-20:] or "полностью" in t[-20:]:
        rest = _TRUNCATION.sub("", t)
        return rest, rest != t
    return t, False


def _nfkc(text: str) -> str:
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def strip_noise(text: str) -> str:
    """Remove links, mentions, hashtags, repost wrappers and emojis; keep case and words."""
    return strip_noise_cut(text)[0]


def strip_noise_cut(text: str) -> tuple[str, bool]:
    """strip_noise, and whether the post shows a feed's cut at its end (an ellipsis,
    «Показать полностью»): the text may stop mid-sentence, which dedup needs to know
    once the marker itself is gone."""
    t = _PICTO.sub(" ", _strip_links(_nfkc(text)))
    return _unwrap_cut(" ".join(t.split()))


def _unwrap_cut(t: str) -> tuple[str, bool]:
    """The end of strip_noise_cut: wrappers, quotes and cut marker off a text whose
    links, tags and emojis are gone and whose spaces are collapsed."""
    clean, marked = _strip_wrappers(t)
    return clean, marked or "…" in clean[-40:] or "..." in clean[-40:]


def strip_and_split(text: str) -> tuple[str, bool, list[str]]:
    """strip_noise_cut and clean_words in one step: the text without noise, whether
    it shows a cut, and its normalized words. Compiled for the common text; a
    wrapper («Подписчики пишут: …»), a quoted post or a cut marker is stripped
    here from what the compiled step made, and the compiled step splits the rest."""
    fast = speedups.compiled
    if fast is not None:
        got: tuple[str, bool, list[str] | None] | None = fast.clean_words(text)
        if got is not None:
            if got[2] is not None:
                return got  # type: ignore[return-value]
            clean, cut = _unwrap_cut(got[0])
            words: list[str] | None = fast.words(clean)
            return clean, cut, clean_words(clean) if words is None else words
    clean, cut = strip_noise_cut(text)
    return clean, cut, clean_words(clean)


def normalized_words(text: str) -> list[str]:
    """Lower-case words without noise, ё→е, Latin look-alikes folded in Cyrillic words."""
    return clean_words(strip_noise(text))


# Punctuation that sticks to a word's edges ("дом,", "«мусор»"): stripped without a regex.
_EDGE_PUNCT = ".,!?:;\"'«»()[]-—–…"


def _split_words(low: str) -> list[str]:
    r"""_WORDS.findall(low), a fifth cheaper (13 against 16 µs on a 250-character post).

    [^\W_] is exactly str.isalnum(), and whitespace never joins a word, so a
    token that is alphanumeric once its edge punctuation is gone is a word; any
    other token goes through the regex. A property test holds the two equal.
    """
    words: list[str] = []
    append = words.append
    for tok in low.split():
        if not tok.isalnum():
            tok = tok.strip(_EDGE_PUNCT)
            if not tok.isalnum():
                words.extend(_WORDS.findall(tok))
                continue
        append(tok)
    return words


def clean_words(clean: str) -> list[str]:
    """normalized_words of a text already passed through strip_noise.

    The enrich stage strips noise once for the place lookup and reuses it here.
    Emojis and punctuation need no pass of their own: they are not word characters.
    """
    low = clean.lower().replace("ё", "е")
    words = _split_words(low)
    if _LATIN.search(low):  # after lower(): "МEШАEТ" hides a Latin E in capitals
        words = _fold_homoglyphs(words)
    return words


def _fold_homoglyphs(words: list[str]) -> list[str]:
    return [w.translate(HOMOGLYPHS) if _MIXED_HINT.search(w) else w for w in words]


# What ends a sentence, a quote or a line: the seam between a repost's own words
# and the text it carries. A lone hyphen joins words ("северо-западный"); with
# spaces around it, it is a dash.
_LINK_MARK = "\x00"  # where words_and_breaks removed a link, a hashtag or an @mention
_BREAK = re.compile(r"[.!?:;…«»\"“”„()\[\]\n—–\x00]|\s-|-\s")
_LABEL_END = re.compile(r"\s*:[\s/]*\x00")  # «подробнее: t.me/…», «смотри: httpps://…»
_WORD_RUNS = re.compile(r"([^\W_]+)")


def words_and_breaks(text: str) -> tuple[list[str], list[bool]]:
    """A post's normalized words, wrappers kept, and where a sentence or quote breaks.

    ``breaks[i]`` says whether a sentence end, a colon, a quote, a dash, a line
    break, an emoji, a link or hashtag, or a capital letter after a word not in
    capitals ("газоне Примите", "2к3 Куда"; in a text not written mostly in
    capitals) separates word i-1 from word
    i; ``breaks[0]`` and ``breaks[-1]`` (the text's edges) are True. The word
    before a colon that introduces a link («подробнее: t.me/…») is the link's
    label and stands apart too. Used to tell a few words a repost added
    around a short text («Нам пишут: мусор на газоне. Помогите!», «мусор на
    газоне Примите меры») from the same words written into one sentence by
    somebody else («мусор на газоне у школы»).
    """
    t = _PICTO.sub("\n", _strip_links(_nfkc(text), _LINK_MARK))
    parts = _WORD_RUNS.split(t)
    cased, seps = parts[1::2], parts[0::2]
    capitals = sum(1 for w in cased if w[0].isupper())
    by_case = 3 * capitals <= len(cased)  # not "ВСЁ КАПСОМ" or "Каждое Слово С Большой"
    breaks = [True]
    for i in range(1, len(cased)):
        breaks.append(
            bool(_BREAK.search(seps[i]))
            or (by_case and cased[i][0].isupper() and not cased[i - 1].isupper())
            or bool(_LABEL_END.match(seps[i + 1]))  # the word is a link's label
        )
    breaks.append(True)
    words = [w.lower().replace("ё", "е") for w in cased]
    if _LATIN.search(t.lower()):
        words = _fold_homoglyphs(words)
    return words, breaks[: len(words) + 1]


def normalize_text(text: str) -> str:
    """The form signatures and fingerprints are built on: words joined by single spaces."""
    return " ".join(normalized_words(text))


def fingerprint(normalized: str) -> str:
    """Exact-content print: equal normalized texts, equal prints (16 hex chars)."""
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=8).hexdigest()
