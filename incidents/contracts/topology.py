"""The pipeline's vocabulary, written once: stages, topics, incident statuses, categories.

Everything else derives from here: the worker's roles (incidents/config/settings.py), the
topics it creates and their configs (incidents/kafka/topics.py), which stage reads what
(the drained check in incidents/ops/probe.py, the decoders in incidents/stream/decoders.py),
the statuses that count as open (the desk, the console, the reports' SQL) and
the category codes (the problem taxonomy, the reports' labels, the sample).
The per-topic contracts for people (``incidents/contracts/topics/<topic>.yaml``) say the same
in prose; ``tests/contracts/test_topic_contracts.py`` holds the two together, and
``tests/project/test_layers.py`` fails when a list of these names is written out again
in the code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from incidents.contracts.models import IncidentStatus

# ------------------------------------------------------------------ stages
#: The stages of the stream worker, in pipeline order; a worker runs some or all of
#: them (INCIDENTS_WORKER_ROLES), each as one Faust agent.
Stage = Literal["enrich", "dedup", "group", "respond", "sink"]
STAGES: tuple[Stage, ...] = get_args(Stage)


# ------------------------------------------------------------------ topics
@dataclass(frozen=True)
class Topic:
    """One topic: its base name (a deployment may prepend a prefix) and its place in the flow."""

    base: str
    #: the attribute of incidents.kafka.topics.Topics holding the full name; "" for a table's
    #: changelog, which Faust creates and names itself
    attr: str
    #: what the key is (the contract's ``key.name``)
    key: str
    #: the stage that reads it; None when only readers outside the pipeline do
    consumer: Stage | None
    #: the stages that write it (producers outside the pipeline: ``from_outside``)
    producers: tuple[Stage, ...] = ()
    #: connectors, replays and operator consoles write it: invalid input there is
    #: theirs to fix, and the dead-letter limit flags the topic instead of stopping
    from_outside: bool = False
    #: only the pipeline reads and writes it (the contract's ``internal``)
    internal: bool = False
    #: the latest value per key is kept (offsets may have holes there)
    compacted: bool = False
    #: the setting of incidents.config.settings.TopicSettings that sets its retention
    retention_setting: Literal["raw_retention_hours", "retention_days"] | None = None
    #: a fixed retention, when no setting sets it
    retention_ms: int | None = None
    #: topics that must have the same partition count (a stage's table meets them)
    co_partitioned_with: tuple[str, ...] = ()

    @property
    def changelog(self) -> bool:
        """A Faust table's changelog: created by the worker, not by `incidents topics`."""
        return not self.attr


DAY_MS = 24 * 3_600_000

TOPICS: tuple[Topic, ...] = (
    Topic(
        "mentions.raw",
        "raw",
        "mention id",
        consumer="enrich",
        from_outside=True,
        retention_setting="raw_retention_hours",
    ),
    Topic(
        "mentions.dlq",
        "dlq",
        "original key",
        consumer="sink",
        producers=("enrich", "dedup", "group", "respond", "sink"),
        retention_ms=30 * DAY_MS,
    ),
    Topic(
        "mentions.enriched",
        "enriched",
        "dedup scope",
        consumer="dedup",
        producers=("enrich",),
        internal=True,
        retention_setting="retention_days",
        co_partitioned_with=("dedup.changelog",),
    ),
    Topic(
        "mentions.deduped",
        "deduped",
        "region",
        consumer="group",
        producers=("dedup",),
        internal=True,
        retention_setting="retention_days",
        co_partitioned_with=("desk.commands", "desk.changelog"),
    ),
    Topic(
        "mentions.resolved",
        "resolved",
        "region",
        consumer="sink",
        producers=("group",),
        retention_setting="retention_days",
    ),
    Topic(
        "incidents",
        "incidents",
        "incident id",
        consumer="sink",
        producers=("group",),
        compacted=True,
    ),
    Topic(
        "incidents.events",
        "events",
        "incident id",
        consumer="sink",
        producers=("group",),
        retention_setting="retention_days",
    ),
    Topic(
        "incidents.commands",
        "commands",
        "incident id",
        consumer="respond",
        from_outside=True,
        retention_setting="retention_days",
    ),
    Topic(
        "desk.commands",
        "desk_commands",
        "region",
        consumer="group",
        producers=("respond", "dedup", "group"),
        internal=True,
        retention_setting="retention_days",
        co_partitioned_with=("mentions.deduped", "desk.changelog"),
    ),
    Topic(
        "responses",
        "responses",
        "response id",
        consumer="respond",
        from_outside=True,
        retention_setting="retention_days",
    ),
    Topic(
        "replies.outbound",
        "replies",
        "mention id",
        consumer="sink",
        producers=("group",),
        retention_setting="retention_days",
    ),
    Topic(
        "replies.results",
        "reply_results",
        "mention id",
        consumer=None,
        retention_setting="retention_days",
    ),
    Topic(
        "desk.changelog",
        "",
        "desk store key",
        consumer="group",
        producers=("group",),
        internal=True,
        compacted=True,
        co_partitioned_with=("mentions.deduped", "desk.commands"),
    ),
    Topic(
        "dedup.changelog",
        "",
        "dedup store key",
        consumer="dedup",
        producers=("dedup",),
        internal=True,
        compacted=True,
        co_partitioned_with=("mentions.enriched",),
    ),
)

#: Topic base name → its description.
TOPIC: dict[str, Topic] = {t.base: t for t in TOPICS}
#: The topics `incidents topics` (and every worker at start) creates.
CREATED: tuple[Topic, ...] = tuple(t for t in TOPICS if not t.changelog)
#: Which stage consumes each created topic (base names): the drained check.
CONSUMERS: dict[str, Stage] = {t.base: t.consumer for t in CREATED if t.consumer is not None}


def inputs(stage: Stage) -> tuple[str, ...]:
    """The created topics a stage reads (base names), in the order above."""
    return tuple(t.base for t in CREATED if t.consumer == stage)


def outputs(stage: Stage) -> tuple[str, ...]:
    """The created topics a stage writes (base names), in the order above."""
    return tuple(t.base for t in CREATED if stage in t.producers)


# ---------------------------------------------------------------- statuses
INCIDENT_STATUSES: tuple[IncidentStatus, ...] = get_args(IncidentStatus)
#: An incident waits for someone in these; the others are done (answered for good,
#: closed, rejected, merged into another).
OPEN_STATUSES: tuple[IncidentStatus, ...] = ("new", "assigned", "in_progress", "answered_interim")


def sql_list(values: Iterable[str]) -> str:
    """``('a', 'b')``: a list of codes for SQL's ``IN`` (codes have no quotes)."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


# -------------------------------------------------------------- categories
#: The category codes of the bundled rubric and problem taxonomy: what an appeal is
#: about. A deployment's own model (`incidents train`) may bring other codes; labels
#: and the sample use these.
CATEGORIES: tuple[str, ...] = (
    "roads",
    "public_transport",
    "housing",
    "utilities",
    "landscaping",
    "waste",
    "healthcare",
    "education",
    "social_support",
    "environment",
    "stray_animals",
    "safety",
    "other",
)
#: The catch-all of the rubric: no specific category fits.
OTHER_CATEGORY = "other"
