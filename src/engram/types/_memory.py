"""Long-term memory records: memories, their audit history, entities, relations, profiles.

A `Memory` is one remembered item (a fact, a preference, an episode, ...) about a scope
(tenant + user/agent/session). It carries its provenance (the ids of the messages it came
from) and two time axes:

- valid time: `valid_from`/`valid_to`, when it was true in the world;
- record time: `recorded_at`/`superseded_at`, when Engram learned it and when it retired it.

A contradiction never deletes: the old memory gets `valid_to` and `superseded_at` (and
`superseded_by`), and stays answerable "as of" an earlier time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from engram._exceptions import InvalidInputError
from engram._ids import new_id
from engram.types._conversation import DEFAULT_TENANT
from engram.types._time import parse_time, utcnow

__all__ = [
    "CHANGE_ACTIONS",
    "MEMORY_KINDS",
    "ChangeAction",
    "Entity",
    "Memory",
    "MemoryChange",
    "MemoryHit",
    "MemoryKind",
    "Relation",
    "ScoreParts",
    "UserProfile",
]

MemoryKind = Literal["fact", "preference", "episode", "profile", "event", "summary"]
MEMORY_KINDS: frozenset[str] = frozenset(get_args(MemoryKind))

ChangeAction = Literal["add", "update", "supersede", "merge", "delete", "restore"]
CHANGE_ACTIONS: frozenset[str] = frozenset(get_args(ChangeAction))


_REQUIRED: Any = object()
"""The default of a field `from_dict` cannot do without."""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _field(
    data: Mapping[str, Any],
    name: str,
    kinds: type | tuple[type, ...],
    what: str,
    default: Any = _REQUIRED,
) -> Any:
    """Field `name` of JSON data, an instance of `kinds` (a bool only if `kinds` is bool);
    a missing or null field is `default`.

    Raises:
        InvalidInputError: The field is of another type, or missing without a default.
    """
    value = data.get(name)
    if value is None:
        if default is _REQUIRED:
            raise InvalidInputError(f"{name} is missing")
        return default
    if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is not bool):
        raise InvalidInputError(f"{name} must be {what}, got {value!r}")
    return value


def _text(data: Mapping[str, Any], name: str, default: Any = _REQUIRED) -> Any:
    """A text field (`_field`)."""
    return _field(data, name, str, "a string", default)


def _time(data: Mapping[str, Any], name: str, default: Any = _REQUIRED) -> Any:
    """A time field: an ISO-8601 string or a datetime, naive meaning UTC (`parse_time`)."""
    value = _field(data, name, (str, datetime), "an ISO-8601 time", default)
    return None if value is None else parse_time(value, name)


def _strings(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """A list-of-strings field, as a tuple (missing: empty)."""
    values = _field(data, name, (list, tuple), "a list of strings", ())
    if not all(isinstance(value, str) for value in values):
        raise InvalidInputError(f"{name} must be a list of strings, got {values!r}")
    return tuple(values)


def _object(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A JSON-object field, as a dict (missing: empty)."""
    return dict(_field(data, name, Mapping, "an object", {}))


def _text_map(data: Mapping[str, Any], name: str) -> dict[str, str]:
    """An object field mapping names to non-empty text (missing: empty)."""
    values = _object(data, name)
    for key, value in values.items():
        if not isinstance(key, str) or not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"{name}[{key!r}] must be text, got {value!r}")
    return values


@dataclass(frozen=True, slots=True)
class Memory:
    """One remembered item about a user (or agent, or session)."""

    text: str
    """The memory, as a self-contained sentence."""
    kind: MemoryKind = "fact"
    """fact (semantic), preference, episode (what happened), profile, event, summary."""
    id: str = field(default_factory=new_id)
    tenant: str = DEFAULT_TENANT
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    attribute: str | None = None
    """The slot it fills, e.g. `diet` or `home_city`: two current memories of one user never
    fill the same single-valued slot (a new value supersedes the old)."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    importance: float = 0.5
    """0..1; ranks memories and protects them from forgetting."""
    source_ids: tuple[str, ...] = ()
    """Provenance: the ids of the messages it was derived from."""
    entity_ids: tuple[str, ...] = ()
    """The entities it mentions."""
    valid_from: datetime | None = None
    """When it became true (None: unknown / always)."""
    valid_to: datetime | None = None
    """When it stopped being true (None: still true)."""
    recorded_at: datetime = field(default_factory=utcnow)
    """When Engram learned it."""
    superseded_at: datetime | None = None
    """When Engram retired it (None: current)."""
    superseded_by: str | None = None
    """The memory that replaced it."""
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    access_count: int = 0
    last_accessed_at: datetime | None = None
    pinned: bool = False
    """Pinned memories are never forgotten by a policy."""

    @property
    def is_current(self) -> bool:
        """Not retired by Engram (`superseded_at` unset). A memory with a past `valid_to` but
        never superseded (an episode with a known end) is still current knowledge."""
        return self.superseded_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "text": self.text,
            "kind": self.kind,
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "session_id": self.session_id,
            "attribute": self.attribute,
            "metadata": dict(self.metadata),
            "importance": self.importance,
            "source_ids": list(self.source_ids),
            "entity_ids": list(self.entity_ids),
            "valid_from": _iso(self.valid_from),
            "valid_to": _iso(self.valid_to),
            "recorded_at": self.recorded_at.isoformat(),
            "superseded_at": _iso(self.superseded_at),
            "superseded_by": self.superseded_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "access_count": self.access_count,
            "last_accessed_at": _iso(self.last_accessed_at),
            "pinned": self.pinned,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Memory:
        """Inverse of `to_dict()`; `InvalidInputError` names a field of the wrong type."""
        return cls(
            id=_text(data, "id"),
            tenant=_text(data, "tenant", DEFAULT_TENANT),
            text=_text(data, "text"),
            kind=_text(data, "kind", "fact"),
            user_id=_text(data, "user_id", None),
            agent_id=_text(data, "agent_id", None),
            session_id=_text(data, "session_id", None),
            attribute=_text(data, "attribute", None),
            metadata=_object(data, "metadata"),
            importance=float(_field(data, "importance", (int, float), "a number", 0.5)),
            source_ids=_strings(data, "source_ids"),
            entity_ids=_strings(data, "entity_ids"),
            valid_from=_time(data, "valid_from", None),
            valid_to=_time(data, "valid_to", None),
            recorded_at=_time(data, "recorded_at"),
            superseded_at=_time(data, "superseded_at", None),
            superseded_by=_text(data, "superseded_by", None),
            created_at=_time(data, "created_at"),
            updated_at=_time(data, "updated_at"),
            access_count=_field(data, "access_count", int, "an integer", 0),
            last_accessed_at=_time(data, "last_accessed_at", None),
            pinned=_field(data, "pinned", bool, "true or false", False),
        )


@dataclass(frozen=True, slots=True)
class MemoryChange:
    """One entry of a memory's audit history.

    After a deletion, the texts of every entry of that memory are erased; a tombstone
    (action `delete`, no text) remains.
    """

    memory_id: str
    action: ChangeAction
    old_text: str | None = None
    new_text: str | None = None
    reason: str | None = None
    """Why: `duplicate of ...`, `contradicted by ...`, `user request`, `policy: max_age`."""
    related_id: str | None = None
    """The other memory involved (the superseding one, the merge target)."""
    source_ids: tuple[str, ...] = ()
    id: str = field(default_factory=new_id)
    tenant: str = DEFAULT_TENANT
    at: datetime = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "memory_id": self.memory_id,
            "action": self.action,
            "old_text": self.old_text,
            "new_text": self.new_text,
            "reason": self.reason,
            "related_id": self.related_id,
            "source_ids": list(self.source_ids),
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemoryChange:
        """Inverse of `to_dict()`; `InvalidInputError` names a field of the wrong type."""
        return cls(
            id=_text(data, "id"),
            tenant=_text(data, "tenant", DEFAULT_TENANT),
            memory_id=_text(data, "memory_id"),
            action=_text(data, "action"),
            old_text=_text(data, "old_text", None),
            new_text=_text(data, "new_text", None),
            reason=_text(data, "reason", None),
            related_id=_text(data, "related_id", None),
            source_ids=_strings(data, "source_ids"),
            at=_time(data, "at"),
        )


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """Why a memory was recalled: each signal, and how they make its final score:
    `fused == base * boost`, the match (`base`: the dense and lexical signals fused) times
    what the rest of the signals make of it (`boost`)."""

    dense: float = 0.0
    """Cosine similarity of the query and memory embeddings."""
    lexical: float = 0.0
    """BM25 score of the query terms."""
    recency: float = 0.0
    """How recent the memory's time is: 1 at the query's time, 0.5 one half-life before."""
    importance: float = 0.0
    entity: float = 0.0
    """Share of the query's entities the memory mentions."""
    fused: float = 0.0
    """The final score the ranking sorts by."""
    time: float = 0.0
    """1 when the memory's time fits the query: it is dated in the period the query names,
    or the query asks "when" and the memory states a time."""
    session: float = 0.0
    """Its session's strength among the candidates, relative to the best session (0..1); 1.0
    for a memory of no session among memories of some (it is not demoted for want of one)."""
    decay: float = 0.0
    """How fresh it is in memory (`engram.memory.forgetting.decay`): 1 when just recorded
    or recalled, or pinned; 0.5 one half-life of disuse later."""
    slot: float = 0.0
    """1 when it is the user's fact holding the slot the query asks for (the home city for
    "Where does Ana live?"), true at the time asked about; else 0."""
    current: float = 1.0
    """1 when it holds at the time asked about; 0 when retired or ended; between for a turn
    that stated values Engram has since retired (the share of them still current: "I live
    in Porto" said before a move is 0)."""
    base: float = 0.0
    """The match: `dense` and `lexical` fused (each relative to the best of its candidate
    list, or by rank with reciprocal rank fusion), weighted as `RankingWeights` says."""
    filler: float = 0.0
    """1 when it is a chat turn with nothing to say ("Saved.", "Ok, thanks!", a bare
    question; `engram.memory.ranking.is_filler`), scored down by `RankingWeights.filler`;
    else 0."""
    echo: float = 0.0
    """1 when it is an earlier question asking nothing the query does not ("Where do I
    live?" recalled for "Where do I live?" again; `engram.memory.ranking.is_echo`), scored
    down by `RankingWeights.echo` on top of `filler`; else 0."""
    boost: float = 1.0
    """What the other signals make of the match: the product of `1 + weight * signal` over
    entity, slot, time, recency, importance, decay and session, times the penalty of what
    no longer holds (`RankingWeights.superseded ** (1 - current)`) and of a turn with
    nothing to say or restating the query (`RankingWeights.filler ** filler`,
    `RankingWeights.echo ** echo`), so that `fused == base * boost`."""


@dataclass(frozen=True, slots=True)
class MemoryHit:
    """A search result: the memory, its rank and the parts of its score."""

    memory: Memory
    score: float
    parts: ScoreParts
    rank: int


@dataclass(frozen=True, slots=True)
class Entity:
    """A person, organisation, place, ... mentioned in memories, with its aliases."""

    name: str
    kind: str = "other"
    """person, organisation, place, product, event, other."""
    aliases: tuple[str, ...] = ()
    id: str = field(default_factory=new_id)
    tenant: str = DEFAULT_TENANT
    user_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "name": self.name,
            "kind": self.kind,
            "aliases": list(self.aliases),
            "user_id": self.user_id,
            "metadata": dict(self.metadata),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entity:
        """Inverse of `to_dict()`; `InvalidInputError` names a field of the wrong type."""
        return cls(
            id=_text(data, "id"),
            tenant=_text(data, "tenant", DEFAULT_TENANT),
            name=_text(data, "name"),
            kind=_text(data, "kind", "other"),
            aliases=_strings(data, "aliases"),
            user_id=_text(data, "user_id", None),
            metadata=_object(data, "metadata"),
            created_at=_time(data, "created_at"),
            updated_at=_time(data, "updated_at"),
        )


@dataclass(frozen=True, slots=True)
class Relation:
    """A directed relation between two entities, true over an interval."""

    source_id: str
    relation: str
    """e.g. `partner_of`, `works_at`, `lives_in`."""
    target_id: str
    id: str = field(default_factory=new_id)
    tenant: str = DEFAULT_TENANT
    user_id: str | None = None
    memory_id: str | None = None
    """The memory that states it."""
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "source_id": self.source_id,
            "relation": self.relation,
            "target_id": self.target_id,
            "user_id": self.user_id,
            "memory_id": self.memory_id,
            "valid_from": _iso(self.valid_from),
            "valid_to": _iso(self.valid_to),
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Relation:
        """Inverse of `to_dict()`; `InvalidInputError` names a field of the wrong type."""
        return cls(
            id=_text(data, "id"),
            tenant=_text(data, "tenant", DEFAULT_TENANT),
            source_id=_text(data, "source_id"),
            relation=_text(data, "relation"),
            target_id=_text(data, "target_id"),
            user_id=_text(data, "user_id", None),
            memory_id=_text(data, "memory_id", None),
            valid_from=_time(data, "valid_from", None),
            valid_to=_time(data, "valid_to", None),
            created_at=_time(data, "created_at"),
        )


@dataclass(frozen=True, slots=True)
class UserProfile:
    """A user's structured profile: name, preferences and facts, kept current."""

    user_id: str
    tenant: str = DEFAULT_TENANT
    fields: Mapping[str, str] = field(default_factory=dict)
    """attribute -> current value, e.g. {"name": "Ana", "diet": "pescatarian"}."""
    sources: Mapping[str, str] = field(default_factory=dict)
    """attribute -> id of the memory the value comes from, or `"edited"` for a field set or
    removed by hand (a removed one has a source and no value)."""
    last_interaction_at: datetime | None = None
    updated_at: datetime = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "tenant": self.tenant,
            "fields": dict(self.fields),
            "sources": dict(self.sources),
            "last_interaction_at": _iso(self.last_interaction_at),
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UserProfile:
        """Inverse of `to_dict()`; `InvalidInputError` names a field of the wrong type (a
        field value that is not text, say)."""
        return cls(
            user_id=_text(data, "user_id"),
            tenant=_text(data, "tenant", DEFAULT_TENANT),
            fields=_text_map(data, "fields"),
            sources=_text_map(data, "sources"),
            last_interaction_at=_time(data, "last_interaction_at", None),
            updated_at=_time(data, "updated_at"),
        )
