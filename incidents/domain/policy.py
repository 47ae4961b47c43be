"""The policies domain code runs by: frozen, handed in, never read from the environment.

The settings tree (incidents/config/settings.py) is where values come from (``INCIDENTS_*``
variables, a YAML file, the defaults); its sections for the domain are these
classes, so a stage or the offline pipeline builds the settings once and hands
``settings.enrich``, ``settings.dedup``, ``settings.grouping`` and ``settings.sla`` to
the Enricher, the Deduplicator and the Desk. Domain modules import from here, not
from the settings tree: they see only their own policy, and cannot change it
(frozen: ``model_copy(update=...)`` makes a changed copy, for experiments).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from incidents.contracts.models import Platform

#: The pseudonym key of the defaults; a worker warns while it is in use.
DEV_PSEUDONYM_KEY = "dev-only-pseudonym-key-change-me"
FROZEN = ConfigDict(frozen=True)

#: A list the environment spells comma-separated (``INCIDENTS_SLA_WEEKEND=5,6``):
#: not JSON-decoded by pydantic-settings, split by :func:`comma_list`.
CommaList = NoDecode


def comma_list(v: Any) -> Any:
    """``"a, b,"`` → ``["a", "b"]``; anything else (a YAML list) as it is."""
    if isinstance(v, str):
        return [p.strip() for p in v.split(",") if p.strip()]
    return v


def _portal_platforms() -> list[Platform]:
    return ["pos"]


class EnrichSettings(BaseModel):
    model_config = FROZEN

    pseudonym_key: SecretStr = Field(
        SecretStr(DEV_PSEUDONYM_KEY), description="HMAC key for author pseudonyms (secret; set it!)"
    )
    routing_file: Path | None = Field(None, description="YAML routing table; default bundled")
    category_model: Path | None = Field(None, description="model from `incidents train`")
    problems_file: Path | None = Field(
        None,
        description="problem taxonomy YAML (what is wrong with what); default bundled "
        "(docs/problems.md)",
    )
    rubric_map: Path | None = Field(
        None,
        description="YAML mapping the deployment's rubric lines to problem types "
        "(docs/problems.md): a portal post's own topic (`source_topic`) then names its problem",
    )
    problem_model: Path | None = Field(
        None,
        description="problem-type model from `incidents train --problems`, asked when the "
        "rules recognise no problem in a text",
    )
    problem_model_min_confidence: float = Field(
        0.5, ge=0, le=1, description="how sure the learned problem model must be to name a type"
    )
    problem_categories: bool = Field(
        True,
        description="a recognised problem type decides the category (its default code); "
        "false: the text classifier (or an own rubric) always does",
    )
    appeal_platforms: Annotated[list[Platform], CommaList] = Field(
        default_factory=_portal_platforms,
        description="platforms whose posts are appeals by construction (a resident filed them "
        "on an appeals portal): taken as appeals whatever the relevance model says; "
        "comma-separated, empty for none",
    )

    appeal_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="appeal_score from which a post is an appeal; empty for the model's own "
        "(0.45 for the bundled one); raise it for a noisy feed, lower it to miss fewer",
    )
    review_margin: float = Field(
        0.1,
        ge=0,
        le=0.5,
        description="posts whose appeal_score lies within this distance of the threshold "
        "are marked needs_review for an operator; 0 for none",
    )
    signal_source_kinds: Annotated[list[str], CommaList] = Field(
        default_factory=lambda: ["media", "official"],
        description="source kinds (RawMention source.kind) whose posts are never appeals: "
        "a report of theirs about a local problem is a signal; comma-separated",
    )

    _platforms = field_validator("appeal_platforms", mode="before")(comma_list)
    _kinds = field_validator("signal_source_kinds", mode="before")(comma_list)


class DedupSettings(BaseModel):
    model_config = FROZEN

    window_days: float = Field(7.0, gt=0, description="how long (event time) a post can be copied")
    threshold: float = Field(
        0.6,
        gt=0,
        le=1,
        description="Jaccard of the character-shingle sets from which a text is a copy",
    )
    containment: float = Field(
        0.9, gt=0, le=1, description="or: share of the shorter text found in the longer (cut tails)"
    )
    word_containment: float = Field(
        1.0,
        gt=0,
        le=1,
        description="and: share of the shorter text's words in the longer (typos forgiven)",
    )
    aligned_containment: float = Field(
        0.6,
        gt=0,
        le=1,
        description="or, lower: share of the shorter text's shingles in the longer when "
        "the words align as a repost's (edges added, tail cut, typos)",
    )
    num_perm: int = Field(64, ge=16, le=512, description="MinHash permutations")
    shingle_chars: int = Field(5, ge=2, le=8, description="characters per shingle")
    candidate_threshold: float = Field(
        0.4, gt=0, le=1, description="LSH retrieval threshold (below `threshold`, for recall)"
    )
    min_words: int = Field(
        5, ge=1, description="shorter texts are copies only when identical and at the same place"
    )
    sentence_words: int = Field(
        10,
        ge=0,
        description="a text of this many words or fewer (about a sentence) is a copy only "
        "with its words in order, typos being non-words",
    )
    max_distance_m: float = Field(
        50.0, gt=0, description="two posts with coordinates further apart are never copies"
    )
    short_repost_hours: float = Field(
        72.0,
        ge=0,
        description="a short text is a copy of the same text posted this recently elsewhere",
    )


class GroupingSettings(BaseModel):
    model_config = FROZEN

    window_hours: float = Field(
        72.0, gt=0, description="an appeal joins incidents active this recently"
    )
    radius_m: float = Field(
        30.0, gt=0, description="same place when coordinates are this close (one building)"
    )
    min_similarity: float = Field(
        0.25, ge=0, le=1, description="half the stem overlap needed without place evidence"
    )
    min_terms: int = Field(
        4,
        ge=0,
        description="without a place in common, words alone group two posts only when each "
        "has this many content words",
    )
    words_alone_max_population: int = Field(
        100_000,
        ge=0,
        description="words alone group two posts only in a municipality of at most this "
        "many inhabitants (0: never)",
    )
    max_span_hours: float = Field(
        0.0,
        ge=0,
        description="an incident takes posts only this long after it opened; a later post "
        "about the same problem opens one that follows it, `reopened_from` (0: no limit)",
    )
    max_mentions_per_incident: int = Field(
        1000, ge=1, description="posts kept per incident for replies (the count goes on)"
    )
    source_topics: bool = Field(
        True,
        description="never group two posts that their source classed differently "
        "(`source_topic`: a portal's own category or reason)",
    )
    problems: bool = Field(
        True,
        description="posts join one incident only when their problem types are compatible "
        "(docs/problems.md); false: category and place alone decide, as before the model",
    )
    unknown_problem: Literal["join", "words", "never"] = Field(
        "words",
        description="when a post or an incident has no recognised problem: join on place "
        "alone, join only when the words agree too (`unknown_similarity`), or never",
    )
    unknown_similarity: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Jaccard of content stems a post of unknown problem needs with the incident",
    )


class SlaSettings(BaseModel):
    model_config = FROZEN

    workday_start: str = Field("09:00", pattern=r"^\d{2}:\d{2}$", description="local time")
    workday_end: str = Field("18:00", pattern=r"^\d{2}:\d{2}$", description="local time")
    weekend: Annotated[list[int], CommaList] = Field(
        default_factory=lambda: [5, 6], description="0=Monday; comma-separated in the env"
    )
    holidays: Annotated[list[str], CommaList] = Field(
        default_factory=list, description="YYYY-MM-DD, comma-separated in the env"
    )
    first_reaction_hours: dict[str, float] = Field(
        default_factory=lambda: {"critical": 4.0, "high": 4.0, "normal": 9.0},
        description="first reaction target per priority (JSON in the env)",
    )
    first_reaction_working_time: dict[str, bool] = Field(
        default_factory=lambda: {"critical": False, "high": False, "normal": True},
        description="count those hours in working time (else around the clock)",
    )
    final_answer_working_days: float = Field(
        7.0, gt=0, description="final answer due this many working days after an interim one"
    )
    allowed_lateness_s: float = Field(
        900.0,
        ge=0,
        description="an SLA timer fires only when event time is this far past its deadline, "
        "so answers that arrive a little out of order still count",
    )
    parked_response_ttl_s: float = Field(
        7 * 86_400.0,
        gt=0,
        description="how long (event time) an answer waits for a mention that has not arrived",
    )
    answer_lookup_days: float = Field(
        365.0,
        ge=0,
        description="an answer addressed to a post still finds it this long (event time) after "
        "the post: posts of incidents and of `pos` keep a slim record after the dedup window",
    )
    tick_interval_s: float = Field(
        0.0,
        ge=0,
        description="wall-clock ticks that advance quiet regions' clocks; 0 = event time only "
        "(replays of history), 60 in live deployments",
    )
    tick_lateness_s: float = Field(
        300.0, ge=0, description="how far behind the wall clock ticks run"
    )

    _lists = field_validator("weekend", "holidays", mode="before")(comma_list)
