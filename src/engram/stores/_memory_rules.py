"""The backend-neutral rules of the memory-store contract, written once (pure, no I/O).

Validation and normalisation of what is written (times in UTC, JSON-round-tripped metadata,
unit vectors), the meaning of a `MemoryFilter` as a predicate (the reference the SQL backend's
WHERE clauses mirror), and the erasure rules (which history texts are blanked, which profile
fields go). The in-memory reference and the SQL backends share them so they cannot drift.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from engram._exceptions import InvalidInputError
from engram._validation import check_identifier, check_int, check_no_nul, check_tenants
from engram.memory import vectors as vec
from engram.memory.entities import fold
from engram.memory.texts import CONTEXT_KEY
from engram.memory.timeline import began
from engram.stores.memories import (
    DeleteScope,
    MemoryFilter,
    PutMemories,
    PutTombstones,
    VectorRecord,
)
from engram.types._copy import copy_record
from engram.types._memory import (
    CHANGE_ACTIONS,
    MEMORY_KINDS,
    Entity,
    Memory,
    MemoryChange,
    Relation,
    UserProfile,
)

__all__ = [
    "MAX_LIMIT",
    "NO_USER",
    "as_utc",
    "check_page",
    "check_put",
    "check_scope",
    "check_tenants",
    "check_user_id",
    "check_utf8",
    "checked_change",
    "checked_memory",
    "checked_entity",
    "checked_filter",
    "checked_profile",
    "checked_relation",
    "checked_tombstone",
    "checked_vector",
    "checked_vectors",
    "check_no_nul",
    "context_needles",
    "detached",
    "detached_json",
    "entity_has_name",
    "erased_change",
    "event_time",
    "exact_numbers",
    "filter_partition",
    "json_copy",
    "json_equal",
    "matches",
    "optional_utc",
    "profile_without",
    "relation_matches",
    "scope_filter",
    "sources_kept",
    "tombstone",
    "tombstones_to_put",
    "user_key",
    "without_quotes",
]

NO_USER = ""
"""The partition key of memories without a user."""

MAX_LIMIT = 100_000
"""The most results one store operation returns."""


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (a naive one is taken as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def optional_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def check_utf8(text: str) -> None:
    """Refuse `text` that UTF-8 cannot encode (a lone surrogate), as the databases do."""
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"text not encodable as UTF-8: {exc}") from exc


def json_copy(value: Any, what: str = "metadata") -> Any:
    """A detached copy of `value` as JSON would give it back (tuples become lists).

    Raises:
        InvalidInputError: `value` is not JSON-serialisable (or holds NaN/infinity).
    """
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise InvalidInputError(f"{what} is not JSON-serialisable: {exc}") from exc
    if not text.isascii():
        check_utf8(text)
    return json.loads(text)


def detached_json(value: Any) -> Any:
    """A copy of a stored JSON-like value (dicts and lists copied down, the rest shared)."""
    if isinstance(value, Mapping):
        return {key: detached_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [detached_json(item) for item in value]
    return value


def detached(memory: Memory) -> Memory:
    """`memory` as a store hands it out: a caller mutating its metadata changes no later read."""
    return copy_record(memory, metadata=detached_json(memory.metadata))


def user_key(user_id: str | None) -> str:
    """The partition a user's memories live in (`NO_USER` for memories without a user)."""
    return NO_USER if user_id is None else user_id


def filter_partition(filter: MemoryFilter) -> str | None:
    """The partition (`user_key`) the memories `filter` selects live in: its user's, the
    user-less one for `without_user`; None if they may be in any partition of the tenant."""
    return NO_USER if filter.without_user else filter.user_id


def event_time(memory: Memory) -> datetime:
    """When a memory's content happened or began: `valid_from`, else `recorded_at`."""
    return memory.valid_from if memory.valid_from is not None else memory.recorded_at


# Writes.


def _check_scope_id(name: str, value: str | None) -> None:
    """None, or an id as `Engram` takes it (`check_identifier`): a store used on its own
    refuses what `Engram` would."""
    if value is not None:
        check_identifier(value, name)


_MEMORY_TIMES = (
    "valid_from",
    "valid_to",
    "recorded_at",
    "superseded_at",
    "created_at",
    "updated_at",
    "last_accessed_at",
)


def _check_memory(tenant: str, memory: Memory) -> None:
    check_identifier(memory.id, "memory id")
    if memory.tenant != tenant:
        raise InvalidInputError(
            f"memory {memory.id!r} is of tenant {memory.tenant!r}, not {tenant!r}"
        )
    if not isinstance(memory.text, str) or not memory.text.strip():
        raise InvalidInputError(f"memory {memory.id!r} has no text")
    if not memory.text.isascii():
        check_utf8(memory.text)
    if memory.kind not in MEMORY_KINDS:
        raise InvalidInputError(f"unknown memory kind {memory.kind!r}")
    for name in ("user_id", "agent_id", "session_id"):
        _check_scope_id(name, getattr(memory, name))
    importance = memory.importance
    if isinstance(importance, bool) or not isinstance(importance, int | float):
        raise InvalidInputError(f"importance must be a number, got {importance!r}")
    if not 0.0 <= importance <= 1.0:
        raise InvalidInputError(f"importance must be within 0..1, got {memory.importance}")
    if memory.access_count < 0:
        raise InvalidInputError("access_count must not be negative")
    if memory.metadata:
        check_no_nul(memory.metadata, f"memory {memory.id!r} metadata")


def _already_normal(memory: Memory) -> bool:
    """Whether normalising `memory` would change nothing (the common case, checked fast)."""
    return (
        memory.recorded_at.tzinfo is UTC
        and memory.created_at.tzinfo is UTC
        and memory.updated_at.tzinfo is UTC
        and (memory.valid_from is None or memory.valid_from.tzinfo is UTC)
        and (memory.valid_to is None or memory.valid_to.tzinfo is UTC)
        and (memory.superseded_at is None or memory.superseded_at.tzinfo is UTC)
        and (memory.last_accessed_at is None or memory.last_accessed_at.tzinfo is UTC)
        and type(memory.importance) is float
        and type(memory.source_ids) is tuple
        and type(memory.entity_ids) is tuple
        and type(memory.pinned) is bool
    )


def checked_memory(tenant: str, memory: Memory, *, detach: bool = True) -> Memory:
    """`memory` validated and normalised for storage: times in UTC, tuples, floats.

    With `detach`, its metadata is replaced by a JSON round-tripped copy (for stores that
    keep the object; a serialising store validates the JSON when it encodes it).
    """
    _check_memory(tenant, memory)
    if not detach and _already_normal(memory):
        return memory
    changes: dict[str, Any] = {}
    for name in _MEMORY_TIMES:
        moment = getattr(memory, name)
        if moment is not None and moment.tzinfo is not UTC:
            changes[name] = as_utc(moment)
    if detach:
        changes["metadata"] = json_copy(dict(memory.metadata)) if memory.metadata else {}
    if type(memory.importance) is not float:
        changes["importance"] = float(memory.importance)
    for name in ("source_ids", "entity_ids"):
        if type(getattr(memory, name)) is not tuple:
            changes[name] = tuple(getattr(memory, name))
    if type(memory.pinned) is not bool:
        changes["pinned"] = bool(memory.pinned)
    return replace(memory, **changes) if changes else memory


def checked_vectors(records: Sequence[VectorRecord | None]) -> list[VectorRecord | None]:
    """`records` with their vectors normalised to unit length (float32), in one pass per
    model."""
    groups: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        if record is not None:
            if not isinstance(record.model_id, str) or not record.model_id:
                raise InvalidInputError("a vector needs a non-empty model_id")
            groups.setdefault(record.model_id, []).append(index)
    checked: list[VectorRecord | None] = [None] * len(records)
    for model_id, indexes in groups.items():
        matrix = vec.normalize_rows([records[index].vector for index in indexes])  # type: ignore[union-attr]
        for row, index in enumerate(indexes):
            checked[index] = VectorRecord(model_id, matrix[row])
    return checked


def checked_vector(record: VectorRecord) -> VectorRecord:
    """`record` with its vector normalised to unit length (float32)."""
    if not isinstance(record.model_id, str) or not record.model_id:
        raise InvalidInputError("a vector needs a non-empty model_id")
    return VectorRecord(record.model_id, vec.normalize(record.vector))


def checked_change(tenant: str, change: MemoryChange) -> MemoryChange:
    """`change` validated, its time in UTC."""
    if change.tenant != tenant:
        raise InvalidInputError(f"change {change.id!r} is of tenant {change.tenant!r}")
    if change.action not in CHANGE_ACTIONS:
        raise InvalidInputError(f"unknown change action {change.action!r}")
    if change.at.tzinfo is UTC and type(change.source_ids) is tuple:
        return change
    return replace(change, at=as_utc(change.at), source_ids=tuple(change.source_ids))


def check_put(
    op: PutMemories, *, detach: bool = True
) -> tuple[list[Memory], list[VectorRecord | None], list[MemoryChange]]:
    """The op's memories, vectors (unit length) and changes, validated and normalised.

    Raises:
        InvalidInputError: Bad input (see `PutMemories`); a change naming a memory that is not
            in the op is checked by the backend, which knows what is stored.
    """
    memories = [checked_memory(op.tenant, memory, detach=detach) for memory in op.memories]
    ids = {memory.id for memory in memories}
    if len(ids) != len(memories):
        raise InvalidInputError("a memory id appears twice in one PutMemories")
    if op.vectors and len(op.vectors) != len(memories):
        raise InvalidInputError("vectors must be empty or hold one entry per memory")
    vectors: list[VectorRecord | None] = (
        checked_vectors(op.vectors) if op.vectors else [None] * len(memories)
    )
    changes = [checked_change(op.tenant, change) for change in op.changes]
    return memories, vectors, changes


def checked_entity(tenant: str, entity: Entity) -> Entity:
    if entity.tenant != tenant:
        raise InvalidInputError(f"entity {entity.id!r} is of tenant {entity.tenant!r}")
    check_identifier(entity.id, "entity id")
    if not entity.name.strip():
        raise InvalidInputError(f"entity {entity.id!r} has no name")
    _check_scope_id("user_id", entity.user_id)
    return replace(
        entity,
        aliases=tuple(entity.aliases),
        metadata=json_copy(dict(entity.metadata)),
        created_at=as_utc(entity.created_at),
        updated_at=as_utc(entity.updated_at),
    )


def checked_relation(tenant: str, relation: Relation) -> Relation:
    if relation.tenant != tenant:
        raise InvalidInputError(f"relation {relation.id!r} is of tenant {relation.tenant!r}")
    check_identifier(relation.id, "relation id")
    if not relation.relation:
        raise InvalidInputError(f"relation {relation.id!r} has no name")
    _check_scope_id("user_id", relation.user_id)
    return replace(
        relation,
        valid_from=optional_utc(relation.valid_from),
        valid_to=optional_utc(relation.valid_to),
        created_at=as_utc(relation.created_at),
    )


def checked_profile(tenant: str, profile: UserProfile) -> UserProfile:
    if profile.tenant != tenant:
        raise InvalidInputError(f"the profile is of tenant {profile.tenant!r}, not {tenant!r}")
    _check_scope_id("user_id", profile.user_id)
    return replace(
        profile,
        fields=json_copy(dict(profile.fields), "profile fields"),
        sources=json_copy(dict(profile.sources), "profile sources"),
        last_interaction_at=optional_utc(profile.last_interaction_at),
        updated_at=as_utc(profile.updated_at),
    )


# Reads.


def check_page(limit: int, offset: int = 0) -> None:
    """`InvalidInputError` unless 0 <= limit <= 100,000 and 0 <= offset < 2**63, both integers."""
    check_int(limit, "limit", 0, MAX_LIMIT)
    check_int(offset, "offset", 0)


def checked_filter(filter: MemoryFilter) -> MemoryFilter:
    """`filter` with UTC times; `InvalidInputError` for an empty scope id, a `user_id` with
    `without_user`, or a non-scalar metadata value."""
    for name in ("user_id", "agent_id", "session_id"):
        _check_scope_id(name, getattr(filter, name))
    if filter.without_user and filter.user_id is not None:
        raise InvalidInputError(
            f"a filter without_user selects no user's memories: user_id {filter.user_id!r} given"
        )
    for key, value in (filter.metadata or {}).items():
        if not isinstance(key, str):
            raise InvalidInputError(f"metadata filter keys must be strings, got {key!r}")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InvalidInputError(f"metadata filter on {key!r}: only JSON scalars compare")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInputError(f"metadata filter on {key!r}: not a finite number")
        if "\x00" in key or (isinstance(value, str) and "\x00" in value):
            raise InvalidInputError(f"metadata filter on {key!r}: contains a NUL character")
    return filter._replace(
        as_of=optional_utc(filter.as_of),
        valid_at=optional_utc(filter.valid_at),
        after=optional_utc(filter.after),
        before=optional_utc(filter.before),
    )


def exact_numbers(value: int | float) -> tuple[float | None, int | None]:
    """A filter number as the float a stored float must equal and the integer a stored
    integer must equal, each None when no stored number of that kind can equal it: Python's
    `==` between int and float is exact (9007199254740993 is not 9007199254740992.0)."""
    if isinstance(value, int):
        try:
            as_float = float(value)
        except OverflowError:
            return None, value
        return (as_float if int(as_float) == value else None), value
    return value, (int(value) if value.is_integer() else None)


def json_equal(stored: Any, wanted: Any) -> bool:
    """JSON equality of a stored metadata value and a filter scalar (true is not 1)."""
    if wanted is None or isinstance(wanted, bool):
        return stored is wanted
    if isinstance(wanted, int | float):
        return isinstance(stored, int | float) and not isinstance(stored, bool) and stored == wanted
    return isinstance(stored, str) and stored == wanted


VALID_AT_SQL = (
    "(COALESCE({p}valid_from, {p}recorded_at) <= {x} OR ({p}valid_from IS NULL"
    " AND {p}superseded_at IS NULL AND {p}valid_to <= {p}recorded_at))"
    " AND ({p}valid_to IS NULL OR {p}valid_to > {x})"
)
"""The SQL stores' condition for `valid_at` (`{p}`: the table's prefix, `{x}`: the driver's
placeholder; two parameters, both the moment): `_valid_at`, as `timeline.began` reads a
memory's start."""


def valid_at_sql(prefix: str, placeholder: str) -> str:
    """`VALID_AT_SQL` for a table prefix ("" or "m.") and a placeholder ("?" or "%s")."""
    return VALID_AT_SQL.format(p=prefix, x=placeholder)


def _valid_at(memory: Memory, moment: datetime) -> bool:
    """True at `moment` by all we know now: from its start (`timeline.began`: if unknown,
    from when it was recorded, or from the beginning if it ended by then) to its end."""
    return began(memory) <= moment and (memory.valid_to is None or memory.valid_to > moment)


def _believed_true_at(memory: Memory, moment: datetime) -> bool:
    """True at `moment` as Engram believed then (the memory is known at `moment`).

    A retired memory's `valid_to` is taken to have been learned when it was retired (a
    contradiction sets both), so before its retirement it counts as open-ended.
    """
    return (memory.valid_from is None or memory.valid_from <= moment) and (
        memory.valid_to is None or memory.valid_to > moment or memory.superseded_at is not None
    )


def _known_at(memory: Memory, moment: datetime) -> bool:
    return memory.recorded_at <= moment and (
        memory.superseded_at is None or memory.superseded_at > moment
    )


def _temporal_match(memory: Memory, filter: MemoryFilter) -> bool:
    if filter.as_of is not None and not (
        _known_at(memory, filter.as_of) and _believed_true_at(memory, filter.as_of)
    ):
        return False
    if filter.valid_at is not None and not _valid_at(memory, filter.valid_at):
        return False
    current_only = filter.as_of is None and filter.valid_at is None
    if current_only and not filter.include_superseded and memory.superseded_at is not None:
        return False
    moment = event_time(memory)
    if filter.after is not None and moment < filter.after:
        return False
    return filter.before is None or moment < filter.before


def _scope_match(memory: Memory, filter: MemoryFilter) -> bool:
    return (
        (filter.user_id is None or memory.user_id == filter.user_id)
        and (not filter.without_user or memory.user_id is None)
        and (filter.agent_id is None or memory.agent_id == filter.agent_id)
        and (filter.session_id is None or memory.session_id == filter.session_id)
        and (filter.kinds is None or memory.kind in filter.kinds)
        and (filter.ids is None or memory.id in filter.ids)
        and (filter.attributes is None or memory.attribute in filter.attributes)
        and (filter.entity_ids is None or not set(filter.entity_ids).isdisjoint(memory.entity_ids))
    )


def _metadata_match(memory: Memory, wanted: Mapping[str, Any] | None) -> bool:
    if not wanted:
        return True
    stored = memory.metadata
    return all(key in stored and json_equal(stored[key], value) for key, value in wanted.items())


def matches(memory: Memory, filter: MemoryFilter) -> bool:
    """Whether `memory` is one `filter` selects (its times already in UTC)."""
    return (
        _scope_match(memory, filter)
        and _temporal_match(memory, filter)
        and _metadata_match(memory, filter.metadata)
    )


def entity_has_name(entity: Entity, name: str) -> bool:
    """Whether `name` is the entity's name or one of its aliases, compared as entity
    resolution compares names (`fold`: case, accents and spacing aside)."""
    wanted = fold(name)
    return any(fold(known) == wanted for known in (entity.name, *entity.aliases))


def relation_matches(relation: Relation, entity_id: str | None, as_of: datetime | None) -> bool:
    """Whether `relation` touches `entity_id` (if given) and is valid at `as_of` (if given)."""
    if entity_id is not None and entity_id not in (relation.source_id, relation.target_id):
        return False
    if as_of is None:
        return True
    return (relation.valid_from is None or relation.valid_from <= as_of) and (
        relation.valid_to is None or relation.valid_to > as_of
    )


# Erasure.


def check_scope(op: DeleteScope) -> None:
    if op.user_id is None and op.agent_id is None and op.session_id is None:
        raise InvalidInputError("DeleteScope needs a user_id, agent_id or session_id")


def scope_filter(op: DeleteScope) -> MemoryFilter:
    """Every memory (current or retired) of the scope `op` erases."""
    return MemoryFilter(
        user_id=op.user_id,
        agent_id=op.agent_id,
        session_id=op.session_id,
        include_superseded=True,
    )


def sources_kept(said: Sequence[str], erased: Collection[str]) -> list[str] | None:
    """The message ids of a history entry (`said`) but the `erased` ones, in order; None
    when it names none of them (`DeleteScope.erased_sources`)."""
    kept = [source for source in said if source not in erased]
    return None if len(kept) == len(said) else kept


def erased_change(change: MemoryChange, erased: bool, texts: Iterable[str]) -> MemoryChange:
    """`change` with the erased texts blanked.

    Args:
        change: A history entry in the partition of an erased memory.
        erased: The entry is the erased memory's own: all its texts and its reason go.
        texts: The erased memory's texts: any copy of one in another entry goes too.
    """
    if erased:
        return replace(change, old_text=None, new_text=None, reason=None)
    gone = set(texts)
    return replace(
        change,
        old_text=None if change.old_text in gone else change.old_text,
        new_text=None if change.new_text in gone else change.new_text,
    )


_NEEDLE = 12
"""Characters of an erased text looked for in episodes' metadata (`context_needles`)."""
_CUT_AT_LEAST = 100
"""How long the start of a text a context line cut short (`...`) must keep to quote it."""


def context_needles(texts: Iterable[str]) -> list[str]:
    """What the compact JSON metadata (`ensure_ascii=False`) of an episode whose context
    quotes one of `texts` (see `without_quotes`) holds: a cheap filter for SQL stores."""
    return sorted({json.dumps(text[:_NEEDLE], ensure_ascii=False)[1:-1] for text in texts})


def _quotes(line: Any, texts: Collection[str]) -> bool:
    """Whether a context line (`"Speaker: text"` or the text alone, cut with `...` when
    long) is one of `texts`."""
    if not isinstance(line, str):
        return False
    bodies = [line, line.split(": ", 1)[1]] if ": " in line else [line]
    for body in bodies:
        if body in texts:
            return True
        cut = body.removesuffix(" ...")
        if len(cut) >= _CUT_AT_LEAST and cut != body:
            if any(len(text) > len(cut) and text.startswith(cut) for text in texts):
                return True
    return False


def without_quotes(memory: Memory, texts: Collection[str]) -> Memory | None:
    """An episode without the lines of its context (`metadata["context"]`: the turns before
    it, indexed with it for BM25) that quote an erased text; None if it quotes none.

    An erased turn's text must not survive in the context of the turns after it."""
    lines = memory.metadata.get(CONTEXT_KEY)
    if memory.kind != "episode" or not isinstance(lines, list) or not lines:
        return None
    kept = [line for line in lines if not _quotes(line, texts)]
    if len(kept) == len(lines):
        return None
    metadata = dict(memory.metadata)
    if kept:
        metadata[CONTEXT_KEY] = kept
    else:
        del metadata[CONTEXT_KEY]
    return replace(memory, metadata=metadata)


def tombstone(tenant: str, memory_id: str, reason: str | None, at: datetime) -> MemoryChange:
    """The history entry a deletion leaves: action `delete`, no text."""
    return MemoryChange(memory_id, "delete", reason=reason, tenant=tenant, at=as_utc(at))


def check_user_id(user_id: str) -> None:
    """`InvalidInputError` unless `user_id` is an id as `Engram` takes it (an op naming
    one user: "" would name the memories without a user)."""
    check_identifier(user_id, "user_id")


def checked_tombstone(tenant: str, change: MemoryChange) -> MemoryChange:
    """`change` validated as a tombstone (action `delete`, no `old_text` or `new_text`),
    its time in UTC."""
    checked = checked_change(tenant, change)
    if checked.action != "delete" or (checked.old_text, checked.new_text) != (None, None):
        raise InvalidInputError(
            f"change {change.id!r} is not a tombstone (action 'delete', no text)"
        )
    return checked


def tombstones_to_put(op: PutTombstones) -> list[MemoryChange]:
    """The op's tombstones, validated (see `PutTombstones`), times in UTC, each id once."""
    check_user_id(op.user_id)
    checked: dict[str, MemoryChange] = {}
    for change in op.changes:
        checked.setdefault(change.id, checked_tombstone(op.tenant, change))
    return list(checked.values())


def profile_without(profile: UserProfile, memory_ids: Sequence[str] | set[str]) -> UserProfile:
    """`profile` without the fields whose source is one of `memory_ids`."""
    gone = {attr for attr, source in profile.sources.items() if source in memory_ids}
    return replace(
        profile,
        fields={key: value for key, value in profile.fields.items() if key not in gone},
        sources={key: value for key, value in profile.sources.items() if key not in gone},
    )
