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

from engram._ids import new_id
from engram.types._conversation import DEFAULT_TENANT
from engram.types._time import parse_optional_time, parse_time, utcnow

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


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


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
        return cls(
            id=data["id"],
            tenant=data.get("tenant", DEFAULT_TENANT),
            text=data["text"],
            kind=data.get("kind", "fact"),
            user_id=data.get("user_id"),
            agent_id=data.get("agent_id"),
            session_id=data.get("session_id"),
            attribute=data.get("attribute"),
            metadata=dict(data.get("metadata") or {}),
            importance=float(data.get("importance", 0.5)),
            source_ids=tuple(data.get("source_ids") or ()),
            entity_ids=tuple(data.get("entity_ids") or ()),
            valid_from=parse_optional_time(data.get("valid_from")),
            valid_to=parse_optional_time(data.get("valid_to")),
            recorded_at=parse_time(data["recorded_at"]),
            superseded_at=parse_optional_time(data.get("superseded_at")),
            superseded_by=data.get("superseded_by"),
            created_at=parse_time(data["created_at"]),
            updated_at=parse_time(data["updated_at"]),
            access_count=int(data.get("access_count", 0)),
            last_accessed_at=parse_optional_time(data.get("last_accessed_at")),
            pinned=bool(data.get("pinned", False)),
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
        return cls(
            id=data["id"],
            tenant=data.get("tenant", DEFAULT_TENANT),
            memory_id=data["memory_id"],
            action=data["action"],
            old_text=data.get("old_text"),
            new_text=data.get("new_text"),
            reason=data.get("reason"),
            related_id=data.get("related_id"),
            source_ids=tuple(data.get("source_ids") or ()),
            at=parse_time(data["at"]),
        )


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """Why a memory was recalled: each signal's contribution to its final score."""

    dense: float = 0.0
    """Cosine similarity of the query and memory embeddings."""
    lexical: float = 0.0
    """BM25 score of the query terms."""
    recency: float = 0.0
    importance: float = 0.0
    entity: float = 0.0
    """Share of the query's entities the memory mentions."""
    fused: float = 0.0
    """The final score the ranking sorts by."""
    time: float = 0.0
    """1 when the memory's time fits the query: it is dated in the period the query names,
    or the query asks "when" and the memory states a time."""
    session: float = 0.0
    """Its session's strength among the candidates, relative to the best session (0..1)."""


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
        return cls(
            id=data["id"],
            tenant=data.get("tenant", DEFAULT_TENANT),
            name=data["name"],
            kind=data.get("kind", "other"),
            aliases=tuple(data.get("aliases") or ()),
            user_id=data.get("user_id"),
            metadata=dict(data.get("metadata") or {}),
            created_at=parse_time(data["created_at"]),
            updated_at=parse_time(data["updated_at"]),
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
        return cls(
            id=data["id"],
            tenant=data.get("tenant", DEFAULT_TENANT),
            source_id=data["source_id"],
            relation=data["relation"],
            target_id=data["target_id"],
            user_id=data.get("user_id"),
            memory_id=data.get("memory_id"),
            valid_from=parse_optional_time(data.get("valid_from")),
            valid_to=parse_optional_time(data.get("valid_to")),
            created_at=parse_time(data["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class UserProfile:
    """A user's structured profile: name, preferences and facts, kept current."""

    user_id: str
    tenant: str = DEFAULT_TENANT
    fields: Mapping[str, str] = field(default_factory=dict)
    """attribute -> current value, e.g. {"name": "Ana", "diet": "pescatarian"}."""
    sources: Mapping[str, str] = field(default_factory=dict)
    """attribute -> id of the memory the value comes from."""
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
        return cls(
            user_id=data["user_id"],
            tenant=data.get("tenant", DEFAULT_TENANT),
            fields=dict(data.get("fields") or {}),
            sources=dict(data.get("sources") or {}),
            last_interaction_at=parse_optional_time(data.get("last_interaction_at")),
            updated_at=parse_time(data["updated_at"]),
        )
