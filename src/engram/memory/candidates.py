"""Candidate memories: what extraction proposes, before belief revision decides.

A `Candidate` is a would-be `Memory` without a scope: its text, kind, the slot it fills
(`attribute`/`value`), provenance, entities, relations and validity. `Candidate.to_memory()`
places it in a scope; `engram.memory.revision.decide()` then compares that memory with the
similar ones already stored.

Metadata keys Engram writes on memories derived from candidates are listed in
`MemoryMetadata`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple, TypedDict

from engram._ids import new_id
from engram.types._conversation import DEFAULT_TENANT
from engram.types._memory import Memory, MemoryKind
from engram.types._time import utcnow

__all__ = [
    "ENTITY_KINDS",
    "Candidate",
    "EntityKind",
    "ENGRAM_METADATA_KEYS",
    "EntityMention",
    "NO_VALUE",
    "MemoryMetadata",
    "RelationMention",
    "SLOT_RELATIONS",
    "TIED_SLOTS",
    "TIED_TO",
]

NO_VALUE = "none"
"""The slot value meaning "no current value" (`employer` after "I quit my job"): it retires
the old value (only the one it names in `negates`, if it names one: "I left Google"), and
profiles drop the field."""

TIED_TO = "tied_to"
"""Metadata key of a memory that holds only while a slot's value does ("I love living in
Porto": `home_city`, its value under `tied_value`); revision retires it with that value."""
TIED_SLOTS = frozenset({"home_city", "employer", "school", "relationship_status"})
"""The slots a memory may be tied to (`TIED_TO`)."""

EntityKind = Literal["person", "organisation", "place", "product", "event", "other"]
ENTITY_KINDS: frozenset[str] = frozenset(
    ("person", "organisation", "place", "product", "event", "other")
)


class EntityMention(NamedTuple):
    """A named entity found in a text."""

    name: str
    """The name as written (possessive `'s` removed), e.g. `Tomás Almeida`."""
    kind: EntityKind
    """person, organisation, place, product, event or other."""


class RelationMention(NamedTuple):
    """A relation stated in a text, by entity names (resolved to ids when stored)."""

    subject: str | None
    """The subject entity's name; None means the user the memory belongs to."""
    relation: str
    """e.g. `partner_of`, `works_at`, `lives_in`, `friend_of`, `has_sister`."""
    object: str
    """The object entity's name."""
    object_kind: EntityKind
    """The object entity's kind."""
    valid_from: datetime | None = None
    """When the relation started to hold, if known."""


SLOT_RELATIONS: dict[str, tuple[str, EntityKind]] = {
    "employer": ("works_at", "organisation"),
    "home_city": ("lives_in", "place"),
    "school": ("studies_at", "organisation"),
    "partner": ("partner_of", "person"),
}
"""Slot -> the relation its value stands in to the user, and the value's entity kind: what a
slot fact states as a relation, whoever extracted it (the rules or an LLM)."""


class MemoryMetadata(TypedDict, total=False):
    """The metadata keys Engram sets on memories built from candidates."""

    value: str
    """The slot value (`Lisbon` for attribute `home_city`)."""
    subject: str
    """Who the memory is about, when it is not the user (another speaker's name)."""
    confidence: float
    """How sure the extractor was, 0..1."""
    entities: list[str]
    """The names of the entities mentioned (for entity-aware ranking without a join)."""
    negates: str
    """For a negation ("no longer vegetarian"): the thing that stopped being true. On a slot
    memory, the slot value it ends or replaces ("Google" in "I left Google for Meta")."""
    guessed: bool
    """The memory's slot is a guess ("I switched from X to Y" may be a job, a diet, ...):
    revision files it under the slot whose current value it `negates`, or under none."""
    corrects: bool
    """A correction ("I meant Lisbon, not Porto"): the value it replaces never held, and the
    new one holds from when that one was said to."""
    plan: bool
    """A plan or wish ("I'm going to quit my job at Google"): it says what may come, nothing
    of what holds now, so it negates nothing, whatever its words ("quit")."""
    restated: dict[str, str]
    """A guessed change's text in the slots it may be filed under (`home_city`: "The user
    lives in Lisbon (switched from Porto to Lisbon)"): revision takes the one of the slot it
    files it under, and drops the key."""
    event_date: str
    """ISO date of the first time expression in the text, grounded at the message time."""
    event_end: str
    """ISO date just after that expression's interval (exclusive)."""
    event_granularity: str
    """day, week, weekend, month, season or year: the precision of `event_date` (an
    episode's) or, on a rule fact, of its grounded start (`valid_from`; "last year")."""
    said_at: str
    """ISO timestamp of the (last) source message."""
    speaker: str
    """The name of the message's author, when known."""
    role: str
    """The role of the source message: `user` or `assistant`."""
    extractor: str
    """`rules` (deterministic) or `llm`."""
    context: list[str]
    """An episode's previous turns, as `"Speaker: text"` lines (`texts.CONTEXT_KEY`)."""
    source_session: str
    """The session its source messages belong to (`texts.SESSION_KEY`)."""
    quantities: list[str]
    """An episode's numbers with their units, as written ("3 km")."""
    valid_to: str
    """ISO end of a period a rule fact says is over ("I lived in Dublin until 2019"): revision
    makes it the memory's `valid_to`."""
    introduces: str
    """The kin or partner a fact introduces unnamed ("I have a girlfriend now"), whom a
    following "Her name is Mia" names."""
    negates_pet: str
    """The species of the user's pet that died or was rehomed ("My cat died"): revision ends
    the user's one current pet of that kind."""
    tied_to: str
    """The slot whose value this memory holds only with (`TIED_TO`)."""
    tied_value: str
    """That slot's value ("Porto" for "I love living in Porto")."""
    merged_from: list[str]
    """The ids of the memories consolidation merged into this one."""
    _said_again: list[dict[str, Any]]
    """Later sayings of a slot fact's value (`timeline.SAID_AGAIN`)."""
    _last_said_at: str
    """The former format of `_said_again` (`timeline.LAST_SAID_AT`), still read."""
    _value_edited_at: str
    """When the user last edited a slot fact's value by hand (`timeline.EDITED_AT`)."""


ENGRAM_METADATA_KEYS: frozenset[str] = MemoryMetadata.__optional_keys__
"""The metadata keys Engram sets and reads on memories (`MemoryMetadata`). What they say
steers revision, ranking and the indexes, so an add's own `metadata` may not set them, nor an
update's (but for `value`, a slot fact's value): the caller's keys need other names."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A memory proposed by extraction, not yet placed in a scope nor revised."""

    text: str
    """A self-contained sentence, third person about the user ("Ana is vegetarian")."""
    kind: MemoryKind = "fact"
    """fact, preference, episode, profile or event."""
    attribute: str | None = None
    """The single-valued slot it fills (`diet`, `home_city`, `employer`, `partner`, `name`,
    `preference:sushi`, ...); None for multi-valued facts and episodes."""
    value: str | None = None
    """The slot value, e.g. `vegetarian`."""
    importance: float = 0.5
    """0..1."""
    source_ids: tuple[str, ...] = ()
    """Provenance: ids of the messages it was derived from."""
    entities: tuple[EntityMention, ...] = ()
    relations: tuple[RelationMention, ...] = ()
    valid_from: datetime | None = None
    """When it became true: the grounded event time if stated, else the message time."""
    confidence: float = 0.7
    """How sure the extractor is, 0..1."""
    subject: str | None = None
    """Who it is about when that is not the user (e.g. the other speaker); None: the user."""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_memory(
        self,
        *,
        tenant: str = DEFAULT_TENANT,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        entity_ids: Sequence[str] = (),
        id: str | None = None,
        now: datetime | None = None,
    ) -> Memory:
        """This candidate as a new `Memory` of the given scope.

        Args:
            tenant: The tenant.
            user_id: The user it is about.
            agent_id: The agent that remembers it.
            session_id: The session it came from.
            entity_ids: The ids of its entities, once resolved.
            id: The memory id (a new UUIDv7 by default).
            now: Its record time (`recorded_at`, `created_at`, `updated_at`); default: now.

        Returns:
            The memory; slot value, subject, confidence and entity names go to its metadata.
        """
        moment = now or utcnow()
        return Memory(
            text=self.text,
            kind=self.kind,
            id=id or new_id(),
            tenant=tenant,
            user_id=user_id,
            agent_id=agent_id,
            session_id=session_id,
            attribute=self.attribute,
            metadata=self.memory_metadata(),
            importance=min(1.0, max(0.0, self.importance)),
            source_ids=self.source_ids,
            entity_ids=tuple(entity_ids),
            valid_from=self.valid_from,
            recorded_at=moment,
            created_at=moment,
            updated_at=moment,
        )

    def memory_metadata(self) -> dict[str, Any]:
        """The metadata of the memory built from this candidate."""
        data: dict[str, Any] = dict(self.metadata)
        if self.value is not None:
            data["value"] = self.value
        if self.subject is not None:
            data["subject"] = self.subject
        if self.entities:
            data["entities"] = [entity.name for entity in self.entities]
        data["confidence"] = round(min(1.0, max(0.0, self.confidence)), 3)
        return data
