"""The stateless stage: bytes → validated RawMention → enriched Mention.

validate → normalize → classify → priority → locate → route, plus the
pseudonymization of authors. Nothing here remembers earlier mentions (that is
the desk's job), so the stage scales by mention id and any worker can redo any
message with the same result.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import msgspec

from incidents.contracts.models import Author, GeoPoint, Mention, Place, RawMention, Relevance
from incidents.domain.places.gazetteer import Gazetteer
from incidents.domain.policy import DEV_PSEUDONYM_KEY, EnrichSettings
from incidents.domain.text.normalize import fingerprint, strip_and_split
from incidents.domain.understanding.classify import AppealClassifier, Classification
from incidents.domain.understanding.priority import assess_priority
from incidents.domain.understanding.problems import ProblemHit, Taxonomy
from incidents.domain.understanding.problems import urgencies as problem_urgencies
from incidents.domain.understanding.routing import RoutingTable
from incidents.domain.understanding.rubric import RubricMap

PIPELINE_VERSION = "1"
# A RawMention is at most 65,536 characters of text plus metadata; four bytes a
# character is the UTF-8 worst case. Anything larger is refused before parsing.
MAX_MESSAGE_BYTES = 4 * 65_536 + 64 * 1024
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


class InvalidInput(Exception):
    """An input a stage refuses; it goes to the dead-letter topic with this reason."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


_raw_decoder = msgspec.json.Decoder(RawMention)


def decode_json(value: bytes | None, decoder: msgspec.json.Decoder, what: str) -> object:
    """Decode and validate one message, mapping every failure to an error kind."""
    if value is None:
        raise InvalidInput("invalid_json", f"{what}: empty message (no value)")
    if len(value) > MAX_MESSAGE_BYTES:
        raise InvalidInput(
            "too_large", f"{what}: message of {len(value)} bytes exceeds {MAX_MESSAGE_BYTES}"
        )
    try:
        return decoder.decode(value)
    except UnicodeDecodeError:  # msgspec < 0.19 raised it for broken UTF-8
        _raise_if_not_utf8(value, what)
        raise
    except msgspec.ValidationError as e:
        kind, reason = _validation_error(str(e))
        raise InvalidInput(kind, f"{what}: {reason}") from None
    except msgspec.DecodeError as e:
        # Which exception a decoder raises for broken UTF-8 changed between msgspec
        # versions (0.23 says "Invalid UTF-8 encoded string", a DecodeError); the
        # encoding is checked here, on the failure path only, so the kind is ours.
        _raise_if_not_utf8(value, what)
        raise InvalidInput("invalid_json", f"{what}: {e}") from None


_UNKNOWN_REGION = re.compile(r"^Invalid enum value (.*) - at `\$\.region_hint`$")


def _validation_error(msg: str) -> tuple[str, str]:
    """The error kind of a failed validation, and its reason in a reader's words."""
    if "length <=" in msg and "$.text" in msg:
        return "too_large", msg
    m = _UNKNOWN_REGION.match(msg)
    if m:
        return "unknown_region", f"region_hint {m.group(1)} is not a known region"
    if msg.startswith("Expected `str` matching regex '\\\\S'") and msg.endswith("`$.text`"):
        return "schema", "text is blank (white space only)"
    return "schema", msg


def _raise_if_not_utf8(value: bytes, what: str) -> None:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as e:
        reason = f"{what}: not UTF-8 ({e.reason} at byte {e.start})"
        raise InvalidInput("invalid_encoding", reason) from None


def decode_raw_mention(value: bytes | None, now: datetime | None = None) -> RawMention:
    """A RawMention as the enrich stage accepts it: its contract (incidents/contracts/json/
    raw-mention.v1.schema.json, rules between fields included) and a plausible time."""
    raw = decode_json(value, _raw_decoder, "RawMention")
    assert isinstance(raw, RawMention)
    check_time(raw, now or datetime.now(UTC))
    return raw


def check_time(raw: RawMention, now: datetime) -> None:
    """The one rule a JSON Schema cannot say: created_at is not before 2000 nor more than a
    day ahead of the stage's clock (a post from the future would run every SLA clock of
    its region forward). Declared in incidents/contracts/topics/mentions.raw.yaml, `stage_rules`."""
    if raw.created_at < EARLIEST or raw.created_at > now + FUTURE_SLACK:
        raise InvalidInput(
            "schema",
            f"RawMention: created_at {raw.created_at.isoformat()} is outside "
            f"{EARLIEST.date()} .. now + {FUTURE_SLACK.days} day",
        )


class Pseudonymizer:
    """Keyed HMAC of author ids: stable per deployment, useless without the key (152-FZ)."""

    def __init__(self, key: str) -> None:
        self._key = key.encode("utf-8")
        self.is_dev_key = key == DEV_PSEUDONYM_KEY

    @lru_cache(maxsize=100_000)  # noqa: B019 - one instance per process, bounded
    def pseudonym(self, platform: str, author_id: str) -> str:
        digest = hmac.new(self._key, f"{platform}:{author_id}".encode(), hashlib.sha256)
        return "ps:" + digest.hexdigest()[:24]

    def author(self, platform: str, author: Author | None) -> Author | None:
        if author is None:
            return None
        return Author(id=self.pseudonym(platform, author.id))


@dataclass(frozen=True, slots=True)
class RelevancePolicy:
    """How a deployment turns the model's scores into a decision (INCIDENTS_ENRICH_*)."""

    threshold: float | None = None  # None: the model's own
    review_margin: float = 0.1
    # Platforms whose posts a resident filed as appeals (a portal such as «Решаем
    # вместе»): appeals whatever the relevance model says of a terse or odd text.
    appeal_platforms: frozenset[str] = frozenset({"pos"})
    # Source kinds that never write appeals: their reports of a problem are signals.
    signal_kinds: frozenset[str] = frozenset({"media", "official"})

    def decide(
        self, raw: RawMention, verdict: Classification, model_threshold: float
    ) -> tuple[bool, Relevance, bool]:
        """(is_appeal, relevance, needs_review) of one post."""
        score = float(verdict.appeal_score)
        thr = model_threshold if self.threshold is None else self.threshold
        if raw.platform in self.appeal_platforms and raw.reply_to is None:
            return True, "appeal", False  # a comment under a portal post is judged as text
        noise = 1.0 - score - verdict.signal_score
        if raw.source.kind is not None and raw.source.kind in self.signal_kinds:
            # A channel or an office reporting a problem is context, not a resident asking.
            signal = score + verdict.signal_score >= max(noise, 0.5)
            return False, "signal" if signal else "noise", False
        review = self.review_margin > 0 and abs(score - thr) < self.review_margin
        if score >= thr:
            return True, "appeal", review
        return False, "signal" if verdict.signal_score > noise else "noise", review


@dataclass
class Enricher:
    gazetteer: Gazetteer
    classifier: AppealClassifier
    routing: RoutingTable
    pseudonymizer: Pseudonymizer
    # What is wrong with what (docs/problems.md); None: no problem model.
    problems: Taxonomy | None = None
    # A recognised problem type decides the category (the default rubric's codes).
    problem_categories: bool = True
    # The deployment's rubric lines → problem types (a portal post's own topic).
    rubric: RubricMap | None = None
    # A problem-type model learned from the deployment's history, asked where the rules
    # recognise nothing, and how sure it must be.
    problem_model: AppealClassifier | None = None
    problem_model_min_confidence: float = 0.5
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Platforms whose posts a resident filed as appeals (a portal such as «Решаем
    # вместе»): appeals whatever the relevance model says of a terse or odd text.
    appeal_platforms: frozenset[str] = frozenset({"pos"})
    relevance: RelevancePolicy | None = None  # None: defaults with appeal_platforms

    @classmethod
    def from_settings(cls, s: EnrichSettings) -> Enricher:
        taxonomy = Taxonomy.load(s.problems_file)
        classifier = (
            AppealClassifier.load(s.category_model)
            if s.category_model
            else AppealClassifier.default()
        )
        return cls(
            gazetteer=Gazetteer.default(),
            classifier=classifier,
            routing=RoutingTable.load(s.routing_file),
            pseudonymizer=Pseudonymizer(s.pseudonym_key.get_secret_value()),
            problems=taxonomy,
            rubric=RubricMap.load(s.rubric_map, taxonomy) if s.rubric_map else None,
            problem_model=AppealClassifier.load(s.problem_model) if s.problem_model else None,
            problem_model_min_confidence=s.problem_model_min_confidence,
            # An own rubric's codes are not the taxonomy's: its model keeps the category.
            problem_categories=s.problem_categories and not s.category_model,
            appeal_platforms=frozenset(s.appeal_platforms),
            relevance=RelevancePolicy(
                threshold=s.appeal_threshold,
                review_margin=s.review_margin,
                appeal_platforms=frozenset(s.appeal_platforms),
                signal_kinds=frozenset(s.signal_source_kinds),
            ),
        )

    def __post_init__(self) -> None:
        if self.relevance is None:
            self.relevance = RelevancePolicy(appeal_platforms=self.appeal_platforms)

    def decode(self, value: bytes | None) -> RawMention:
        return decode_raw_mention(value, self.now())

    def enrich(self, raws: Sequence[RawMention]) -> list[Mention]:
        """Enrich a batch; the classifiers run once for the whole batch."""
        if not raws:
            return []
        verdicts = self.classifier.classify([r.text for r in raws])
        cleaned = [strip_and_split(r.text) for r in raws]
        # The text model has just recognised problems in the same texts (its P:* features):
        # asked the same way, the taxonomy answers from its memory.
        found = self.find_problems(raws, [r.text for r in raws])
        return [
            self._one(r, v, c, p) for r, v, c, p in zip(raws, verdicts, cleaned, found, strict=True)
        ]

    def find_problems(
        self, raws: Sequence[RawMention], clean: Sequence[str]
    ) -> list[list[ProblemHit]]:
        """The problem types of each post, main first.

        A post its source classed itself (``source_topic``) takes its rubric line's
        types from the deployment's rubric map; otherwise the rules recognise them in
        the text; where they find none, a model learned from the deployment's history
        (``incidents train --problems``) may name one it is sure enough of.
        """
        tax = self.problems
        if tax is None:
            return [[] for _ in raws]
        out: list[list[ProblemHit]] = []
        for raw, text in zip(raws, clean, strict=True):
            mapped = self.rubric.types_of(raw.source_topic) if self.rubric else ()
            if mapped:
                out.append([ProblemHit(code, 9.0, -1) for code in mapped])
            else:
                out.append(tax.recognise(text))
        if self.problem_model is not None:
            unknown = [i for i, hits in enumerate(out) if not hits]
            if unknown:
                verdicts = self.problem_model.classify([clean[i] for i in unknown])
                for i, v in zip(unknown, verdicts, strict=True):
                    code = v.category
                    if code in tax.types and v.confidence >= self.problem_model_min_confidence:
                        out[i] = [ProblemHit(code, v.confidence, -1, learned=True)]
        return out

    def _one(
        self,
        raw: RawMention,
        verdict: Classification,
        cleaned: tuple[str, Any, list[str]],
        hits: list[ProblemHit],
    ) -> Mention:
        geo = raw.geo
        # Repost wrappers and hashtags removed first: "Подписчики пишут: «Ржев, ул. …»"
        # must be placed like "Ржев, ул. …", or a copy lands in another region.
        clean, _, words = cleaned
        loc = self.gazetteer.locate(
            clean,
            region_hint=raw.region_hint,
            lat=geo.lat if geo else None,
            lon=geo.lon if geo else None,
        )
        types = [self.problems.types[h.code] for h in hits] if self.problems else []
        # A problem spoken of as possible or past gives no urgency of its own.
        urgencies = problem_urgencies(self.problems, hits) if self.problems else []
        assert self.relevance is not None
        is_appeal, relevance, review = self.relevance.decide(
            raw, verdict, self.classifier.threshold
        )
        guess = verdict.category
        if types and self.problem_categories and guess not in types[0].acceptable:
            # The problem bounds the categories that make sense for it; within them the
            # text model's choice stands (it knows how a rubric words things), outside
            # them the problem's own code wins («фонари у школы» is no education matter).
            guess = types[0].category
        # Only appeals carry a category: chatter, news and signals would otherwise swell
        # the category statistics (the guess still informs the priority cues).
        category = guess if is_appeal else None
        engagement = msgspec.structs.asdict(raw.metrics) if raw.metrics else None
        priority = assess_priority(raw.text, guess, engagement, problems=urgencies)
        agency = (
            self.routing.route(
                category,
                loc.region,
                loc.municipality,
                problem=types[0].code if types else None,
                agency_kind=types[0].agency if types else None,
            )
            if is_appeal
            else None
        )
        place = Place(
            region=loc.region,
            region_source=loc.region_source,
            municipality=loc.municipality,
            municipality_source=loc.municipality_source,
            oktmo=loc.oktmo,
            address=loc.address,
            geo=GeoPoint(lat=geo.lat, lon=geo.lon) if geo else None,
        )
        return Mention(
            id=raw.id,
            platform=raw.platform,
            source=raw.source,
            text=raw.text,
            created_at=raw.created_at,
            fingerprint=fingerprint(" ".join(words)),
            is_appeal=is_appeal,
            appeal_score=round(float(verdict.appeal_score), 4),
            category=category,
            category_confidence=round(float(verdict.confidence), 4) if is_appeal else 0.0,
            priority=priority.level,
            priority_cues=list(priority.cues),
            place=place,
            agency=agency,
            author=self.pseudonymizer.author(raw.platform, raw.author),
            url=raw.url,
            reply_to=raw.reply_to,
            metrics=raw.metrics,
            pipeline_version=PIPELINE_VERSION,
            source_topic=raw.source_topic,
            problems=[t.code for t in types],
            relevance=relevance,
            needs_review=review,
            origin=raw.origin,
            edited_at=raw.edited_at,
        )
