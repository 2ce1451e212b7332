"""SQL, migrations, row encoding and filter compilation of the SQLite memory store (pure).

Layout (component `memories`). Rows that are read together are stored together: every user
(per tenant) is a *partition* with a small integer `pid`, and row ids are packed so that
a partition's rows are one contiguous range of the table's B-tree:

- `engram_memory_partitions`: `(tenant, user_key)` -> `pid` (AUTOINCREMENT: never reused),
  the last sequence numbers handed out, `generation`, a random number changed by every
  write to the partition (in the same transaction) so in-process caches know they are stale,
  and `accessed`, incremented by every recall (`RecordAccess`: access counts change, no
  vector does), so cached decoded memories know it too (see `memories_cache`).
- `engram_memories`: `rid = pid << 28 | seq`. Text, scope, times, JSON metadata, and `terms`:
  the BM25 terms of the memory's `texts.lexical_text` (an episode with its speaker and the
  turns before it) as 64-bit hashes (`engram.memory.bm25`). `event_at` is
  `coalesce(valid_from, recorded_at)`.
- `engram_memory_vectors`: `vrid = model_no << 56 | rid`, one float32 BLOB per memory and
  model: a user's vectors of a model are one range, read sequentially. (A WITHOUT ROWID table
  keyed by `(pid, model, rid)` would push each 1.5 KB vector to an overflow page.) Float32,
  not float16: search stays exact; float16 would halve the bytes but cost recall (0.9985
  recall@10 at 1M memories in bench/bench_memory_store.py).
- `engram_memory_models`: `model_id` -> `model_no` (1..127) and its dimension.
- `engram_memory_history`: `hid = pid << 28 | seq`: the audit entries of a user's memories
  (tombstones included) are one range too.
- `engram_memory_entities`, `engram_memory_relations`, `engram_memory_profiles`.

Times are integer microseconds since the Unix epoch (UTC), unlike the ISO text of the other
components: encoding one costs a fifth of `isoformat()` on the bulk-add path (seven times per
memory), and the rows are smaller.

There is no FTS5 table: FTS5 on this SQLite (3.40, no `secure-delete` option) keeps a
deleted document's terms in its index until a full merge, so erased text would stay in the
file. With `secure_delete` on (set by `SqliteConnection`), a deleted row's bytes are zeroed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from engram._validation import INT64_MAX, INT64_MIN
from engram.memory import bm25
from engram.memory.texts import lexical_text
from engram.stores import _memory_rules as rules
from engram.stores.memories import MemoryFilter
from engram.stores.sqlite.base import dumps
from engram.types._memory import Entity, Memory, MemoryChange, Relation, UserProfile

__all__ = [
    "CHANGE_COLUMNS",
    "COMPONENT",
    "ENTITY_COLUMNS",
    "MEMORY_COLUMNS",
    "MEMORY_FIELDS",
    "MIGRATIONS",
    "PARTITION_BITS",
    "PROFILE_COLUMNS",
    "RELATION_COLUMNS",
    "SEQ_LIMIT",
    "change_from_row",
    "assemble_memory",
    "change_row",
    "entity_from_row",
    "entity_row",
    "filter_sql",
    "from_micros",
    "memory_from_row",
    "memory_row",
    "micros",
    "optional_micros",
    "partition_range",
    "profile_from_row",
    "profile_row",
    "relation_from_row",
    "relation_row",
    "vector_range",
]

COMPONENT = "memories"
"""The name the migrations are recorded under in `engram_migrations`."""

PARTITION_BITS = 28
"""Row ids are `pid << 28 | seq`: up to 2**28 partitions, 2**28 rows each."""
SEQ_LIMIT = 1 << PARTITION_BITS
MODEL_SHIFT = 56
"""Vector row ids are `model_no << 56 | rid`."""
MAX_MODELS = 127

# Append-only: entry i is schema version i + 1. Never edit an entry; add one.
MIGRATIONS: list[str] = [
    """
CREATE TABLE engram_memory_partitions (
    pid INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    user_key TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    last_change INTEGER NOT NULL DEFAULT 0,
    generation INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant, user_key)
);
CREATE TABLE engram_memories (
    rid INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT,
    agent_id TEXT,
    session_id TEXT,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    attribute TEXT,
    metadata TEXT NOT NULL,
    importance REAL NOT NULL,
    source_ids TEXT NOT NULL,
    entity_ids TEXT NOT NULL,
    valid_from INTEGER,
    valid_to INTEGER,
    recorded_at INTEGER NOT NULL,
    superseded_at INTEGER,
    superseded_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    access_count INTEGER NOT NULL,
    last_accessed_at INTEGER,
    pinned INTEGER NOT NULL,
    event_at INTEGER NOT NULL,
    terms BLOB NOT NULL
);
CREATE UNIQUE INDEX engram_memories_id ON engram_memories (tenant, id);
CREATE INDEX engram_memories_agent ON engram_memories (tenant, agent_id)
    WHERE agent_id IS NOT NULL;
CREATE INDEX engram_memories_session ON engram_memories (tenant, session_id)
    WHERE session_id IS NOT NULL;
CREATE TABLE engram_memory_models (
    model_no INTEGER PRIMARY KEY,
    model_id TEXT NOT NULL UNIQUE,
    dim INTEGER NOT NULL
);
CREATE TABLE engram_memory_vectors (
    vrid INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE engram_memory_history (
    hid INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    memory_id TEXT NOT NULL,
    id TEXT NOT NULL,
    action TEXT NOT NULL,
    old_text TEXT,
    new_text TEXT,
    reason TEXT,
    related_id TEXT,
    source_ids TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX engram_memory_history_memory ON engram_memory_history (tenant, memory_id);
CREATE TABLE engram_memory_entities (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    aliases TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX engram_memory_entities_user ON engram_memory_entities (tenant, user_id);
CREATE TABLE engram_memory_relations (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT,
    source_id TEXT NOT NULL,
    relation TEXT NOT NULL,
    target_id TEXT NOT NULL,
    memory_id TEXT,
    valid_from INTEGER,
    valid_to INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX engram_memory_relations_user ON engram_memory_relations (tenant, user_id);
CREATE INDEX engram_memory_relations_source ON engram_memory_relations (tenant, source_id);
CREATE INDEX engram_memory_relations_target ON engram_memory_relations (tenant, target_id);
CREATE INDEX engram_memory_relations_memory ON engram_memory_relations (tenant, memory_id)
    WHERE memory_id IS NOT NULL;
CREATE TABLE engram_memory_profiles (
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    fields TEXT NOT NULL,
    sources TEXT NOT NULL,
    last_interaction_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, user_id)
);
""",
    """
ALTER TABLE engram_memory_partitions ADD COLUMN accessed INTEGER NOT NULL DEFAULT 0;
""",
]


def partition_range(pid: int) -> tuple[int, int]:
    """The first and last row id of partition `pid` (memories and history)."""
    return pid << PARTITION_BITS, ((pid + 1) << PARTITION_BITS) - 1


def vector_range(model_no: int, pid: int) -> tuple[int, int]:
    """The first and last vector row id of partition `pid` for model `model_no`."""
    low, high = partition_range(pid)
    return (model_no << MODEL_SHIFT) | low, (model_no << MODEL_SHIFT) | high


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """A time as integer microseconds since the Unix epoch (a naive time is taken as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


def optional_micros(moment: datetime | None) -> int | None:
    return None if moment is None else micros(moment)


def from_micros(value: int) -> datetime:
    """Inverse of `micros`: an aware UTC datetime."""
    return _EPOCH + timedelta(0, 0, value)


def _optional_time(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


def _json_list(values: Sequence[str]) -> str:
    return dumps(list(values)) if values else "[]"


def _json_object(value: Mapping[str, Any]) -> str:
    return dumps(value) if value else "{}"


# Memories.

MEMORY_COLUMNS = (
    "tenant, id, user_id, agent_id, session_id, kind, text, attribute, metadata, importance,"
    " source_ids, entity_ids, valid_from, valid_to, recorded_at, superseded_at, superseded_by,"
    " created_at, updated_at, access_count, last_accessed_at, pinned, event_at, terms"
)


def memory_row(memory: Memory) -> tuple[Any, ...]:
    """The values of `MEMORY_COLUMNS` for `memory` (validated, times in UTC)."""
    recorded_at = micros(memory.recorded_at)
    valid_from = optional_micros(memory.valid_from)
    return (
        memory.tenant,
        memory.id,
        memory.user_id,
        memory.agent_id,
        memory.session_id,
        memory.kind,
        memory.text,
        memory.attribute,
        _json_object(memory.metadata),
        memory.importance,
        _json_list(memory.source_ids),
        _json_list(memory.entity_ids),
        valid_from,
        optional_micros(memory.valid_to),
        recorded_at,
        optional_micros(memory.superseded_at),
        memory.superseded_by,
        micros(memory.created_at),
        micros(memory.updated_at),
        memory.access_count,
        optional_micros(memory.last_accessed_at),
        int(memory.pinned),
        recorded_at if valid_from is None else valid_from,
        bm25.term_bytes(lexical_text(memory)),
    )


def _object(text: str) -> Any:
    return {} if text == "{}" else json.loads(text)


def _strings(text: str) -> tuple[str, ...]:
    return () if text == "[]" else tuple(json.loads(text))


MEMORY_FIELDS = (
    "tenant",
    "id",
    "user_id",
    "agent_id",
    "session_id",
    "kind",
    "text",
    "attribute",
    "metadata",
    "importance",
    "source_ids",
    "entity_ids",
    "valid_from",
    "valid_to",
    "recorded_at",
    "superseded_at",
    "superseded_by",
    "created_at",
    "updated_at",
    "access_count",
    "last_accessed_at",
    "pinned",
)
"""Every field of `Memory`, in the order of `MEMORY_COLUMNS` (what `assemble_memory` takes)."""

_SETTERS = tuple(getattr(Memory, name).__set__ for name in MEMORY_FIELDS)
_BY_SLOTS = {item.name for item in fields(Memory)} == set(MEMORY_FIELDS) and not hasattr(
    Memory, "__post_init__"
)
_new = object.__new__


def assemble_memory(values: Sequence[Any]) -> Memory:
    """`Memory(**dict(zip(MEMORY_FIELDS, values)))` for values already normal (decoded rows).

    Sets the slots directly: the frozen dataclass's `__init__` (one `object.__setattr__` per
    field) costs twice as much, and memories are built in bulk on the search path. Falls
    back to the constructor if `Memory` gains fields this module does not know, or a
    `__post_init__`.
    """
    if not _BY_SLOTS:
        return Memory(**dict(zip(MEMORY_FIELDS, values, strict=True)))
    memory: Memory = _new(Memory)
    for setter, value in zip(_SETTERS, values, strict=True):
        setter(memory, value)
    return memory


def memory_from_row(row: sqlite3.Row | Sequence[Any]) -> Memory:
    """A `Memory` from the first 22 values of `MEMORY_COLUMNS`.

    Runs for every candidate a search ranks (before caching): the usual empty JSON values
    and equal times are decoded once.
    """
    recorded, created, updated = row[14], row[17], row[18]
    recorded_at = from_micros(recorded)
    created_at = recorded_at if created == recorded else from_micros(created)
    updated_at = created_at if updated == created else from_micros(updated)
    return assemble_memory(
        (
            *row[:8],
            _object(row[8]),
            row[9],
            _strings(row[10]),
            _strings(row[11]),
            _optional_time(row[12]),
            _optional_time(row[13]),
            recorded_at,
            _optional_time(row[15]),
            row[16],
            created_at,
            updated_at,
            row[19],
            _optional_time(row[20]),
            bool(row[21]),
        )
    )


# History.

CHANGE_COLUMNS = (
    "tenant, memory_id, id, action, old_text, new_text, reason, related_id, source_ids, at"
)


def change_row(change: MemoryChange) -> tuple[Any, ...]:
    return (
        change.tenant,
        change.memory_id,
        change.id,
        change.action,
        change.old_text,
        change.new_text,
        change.reason,
        change.related_id,
        _json_list(change.source_ids),
        micros(change.at),
    )


def change_from_row(row: sqlite3.Row | Sequence[Any]) -> MemoryChange:
    return MemoryChange(
        tenant=row[0],
        memory_id=row[1],
        id=row[2],
        action=row[3],
        old_text=row[4],
        new_text=row[5],
        reason=row[6],
        related_id=row[7],
        source_ids=tuple(json.loads(row[8])),
        at=from_micros(row[9]),
    )


# Entities, relations, profiles.

ENTITY_COLUMNS = "tenant, id, user_id, name, kind, aliases, metadata, created_at, updated_at"
RELATION_COLUMNS = (
    "tenant, id, user_id, source_id, relation, target_id, memory_id, valid_from, valid_to,"
    " created_at"
)
PROFILE_COLUMNS = "tenant, user_id, fields, sources, last_interaction_at, updated_at"


def entity_row(entity: Entity) -> tuple[Any, ...]:
    return (
        entity.tenant,
        entity.id,
        entity.user_id,
        entity.name,
        entity.kind,
        dumps(list(entity.aliases)),
        dumps(entity.metadata),
        micros(entity.created_at),
        micros(entity.updated_at),
    )


def entity_from_row(row: sqlite3.Row | Sequence[Any]) -> Entity:
    return Entity(
        tenant=row[0],
        id=row[1],
        user_id=row[2],
        name=row[3],
        kind=row[4],
        aliases=tuple(json.loads(row[5])),
        metadata=json.loads(row[6]),
        created_at=from_micros(row[7]),
        updated_at=from_micros(row[8]),
    )


def relation_row(relation: Relation) -> tuple[Any, ...]:
    return (
        relation.tenant,
        relation.id,
        relation.user_id,
        relation.source_id,
        relation.relation,
        relation.target_id,
        relation.memory_id,
        optional_micros(relation.valid_from),
        optional_micros(relation.valid_to),
        micros(relation.created_at),
    )


def relation_from_row(row: sqlite3.Row | Sequence[Any]) -> Relation:
    return Relation(
        tenant=row[0],
        id=row[1],
        user_id=row[2],
        source_id=row[3],
        relation=row[4],
        target_id=row[5],
        memory_id=row[6],
        valid_from=_optional_time(row[7]),
        valid_to=_optional_time(row[8]),
        created_at=from_micros(row[9]),
    )


def profile_row(profile: UserProfile) -> tuple[Any, ...]:
    return (
        profile.tenant,
        profile.user_id,
        dumps(profile.fields),
        dumps(profile.sources),
        optional_micros(profile.last_interaction_at),
        micros(profile.updated_at),
    )


def profile_from_row(row: sqlite3.Row | Sequence[Any]) -> UserProfile:
    return UserProfile(
        tenant=row[0],
        user_id=row[1],
        fields=json.loads(row[2]),
        sources=json.loads(row[3]),
        last_interaction_at=_optional_time(row[4]),
        updated_at=from_micros(row[5]),
    )


# Filters.


def _in_json(column: str, values: Sequence[str], params: list[Any]) -> str:
    params.append(json.dumps(list(values)))
    return f"{column} IN (SELECT value FROM json_each(?))"


_INT64 = range(INT64_MIN, INT64_MAX + 1)


def _number_sql(key: str, value: int | float, params: list[Any]) -> str:
    """A number equality as Python's `==` has it (`_memory_rules.json_equal`): exact across
    int and float. SQLite compares a stored integer and a float exactly, but reads an
    integer past 64 bits as a rounded float, and cannot bind one: such a filter integer is
    found as its exact text, `"key":digits` then `,` or `}` (metadata is compact JSON)."""
    as_float, as_int = rules.exact_numbers(value)
    conditions = []
    if as_float is not None:
        conditions.append("(m.type = 'real' AND m.value = ?)")
        params.append(as_float)
    if as_int is not None and as_int in _INT64:
        conditions.append("(m.type = 'integer' AND typeof(m.value) = 'integer' AND m.value = ?)")
        params.append(as_int)
    elif as_int is not None:
        conditions.append(
            "(m.type = 'integer' AND typeof(m.value) = 'real'"
            " AND (instr(metadata, ?) > 0 OR instr(metadata, ?) > 0))"
        )
        text = f"{dumps(key)}:{as_int}"
        params.extend([f"{text},", f"{text}}}"])
    return "(" + " OR ".join(conditions) + ")" if conditions else "0"


def _metadata_sql(key: str, value: Any, params: list[Any]) -> str:
    """One metadata equality as SQL: the key is present with an equal JSON scalar (a filter
    holds scalars only: `rules.checked_filter`).

    A text value is first looked for as its compact JSON text, `"key":"value"`, in the
    metadata (written compact, `_json_object`): a cheap test that spares `json_each` most
    rows (an add reads the turns before it by `source_session`)."""
    if isinstance(value, str):
        params.extend([f"{dumps(key)}:{dumps(value)}", key, value])
        return (
            "(instr(metadata, ?) > 0 AND EXISTS (SELECT 1 FROM json_each(metadata) AS m"
            " WHERE m.key = ? AND m.type = 'text' AND m.value = ?))"
        )
    params.append(key)
    if value is None:
        condition = "m.type = 'null'"
    elif isinstance(value, bool):
        condition = f"m.type = '{'true' if value else 'false'}'"
    else:
        condition = _number_sql(key, value, params)
    return f"EXISTS (SELECT 1 FROM json_each(metadata) AS m WHERE m.key = ? AND {condition})"


def _temporal_sql(filter: MemoryFilter, params: list[Any]) -> list[str]:
    conditions = []
    if filter.as_of is not None:
        moment = micros(filter.as_of)
        conditions.append(
            "(valid_from IS NULL OR valid_from <= ?)"
            " AND (valid_to IS NULL OR valid_to > ? OR superseded_at IS NOT NULL)"
            " AND recorded_at <= ? AND (superseded_at IS NULL OR superseded_at > ?)"
        )
        params.extend([moment] * 4)
    if filter.valid_at is not None:
        conditions.append(rules.valid_at_sql("", "?"))
        params.extend([micros(filter.valid_at)] * 2)
    if filter.as_of is None and filter.valid_at is None and not filter.include_superseded:
        conditions.append("superseded_at IS NULL")
    if filter.after is not None:
        conditions.append("event_at >= ?")
        params.append(micros(filter.after))
    if filter.before is not None:
        conditions.append("event_at < ?")
        params.append(micros(filter.before))
    return conditions


def filter_sql(filter: MemoryFilter, params: list[Any]) -> str:
    """The conditions of `filter` (its times in UTC) except tenant and user (`user_id` and
    `without_user` choose the partition read), as ` AND ...` text (possibly empty); their
    parameters are appended to `params`.

    Mirrors `engram.stores._memory_rules.matches`.
    """
    conditions: list[str] = []
    for column in ("agent_id", "session_id"):
        value = getattr(filter, column)
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if filter.kinds is not None:
        conditions.append(_in_json("kind", filter.kinds, params))
    if filter.ids is not None:
        conditions.append(_in_json("id", filter.ids, params))
    if filter.attributes is not None:
        conditions.append(_in_json("attribute", filter.attributes, params))
    if filter.entity_ids is not None:
        inner = _in_json("e.value", filter.entity_ids, params)
        conditions.append(f"EXISTS (SELECT 1 FROM json_each(entity_ids) AS e WHERE {inner})")
    conditions.extend(_temporal_sql(filter, params))
    for key, value in (filter.metadata or {}).items():
        conditions.append(_metadata_sql(key, value, params))
    return "".join(f" AND {condition}" for condition in conditions)
