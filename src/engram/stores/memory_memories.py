"""The in-memory memory store: the executable reference of the memory-store contract.

Everything lives in process memory behind one lock; nothing survives the process. Records are
copied on the way in and out (metadata and profile mappings, vectors), so callers mutating
what they passed or got back never change what is stored.

Memories are grouped by partition, `(tenant, user_key)`, so a search for one user (or, with
`without_user`, for the memories of no user) looks at that partition only; vector and BM25
scoring are the shared NumPy functions of `engram.memory.vectors` and `engram.memory.bm25`,
so scores equal the SQLite backend's.

Atomicity: every write of a batch records how to undo itself; if an op raises, the undo
actions run newest first, so a failed batch leaves no trace.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

import numpy as np

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram.memory import bm25
from engram.memory import vectors as vec
from engram.memory.texts import lexical_text
from engram.stores import _memory_rules as rules
from engram.stores.memories import (
    BaseMemoryStore,
    CountMemories,
    CountUnembedded,
    DeleteEntities,
    DeleteMemories,
    DeleteScope,
    ErasureReport,
    GetHistory,
    GetMemories,
    GetProfile,
    GetVectors,
    ListEntities,
    ListMemories,
    ListRelations,
    ListTombstones,
    ListUsers,
    MemoryFilter,
    MemoryScore,
    Op,
    PutEntities,
    PutMemories,
    PutProfile,
    PutRelations,
    PutTombstones,
    PutVectors,
    RecordAccess,
    ScanVectors,
    SearchLexical,
    SearchVector,
    VectorMatrix,
    VectorRecord,
)
from engram.types._memory import Entity, Memory, MemoryChange, Relation, UserProfile
from engram.types._time import utcnow

__all__ = ["InMemoryMemoryStore"]

_Key = tuple[str, str]
"""(tenant, id) of a record, or (tenant, user key) of a partition."""
_V = TypeVar("_V")
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class _Row:
    """One stored memory with what is derived from its text."""

    memory: Memory
    terms: bytes
    """Its BM25 terms (`bm25.term_bytes` of `texts.lexical_text`)."""
    vectors: Mapping[str, vec.Vector]
    """model id -> unit vector."""


@dataclass(frozen=True, slots=True)
class _History:
    """A memory's audit history; `user_key` is its partition (it outlives the memory)."""

    user_key: str
    changes: tuple[MemoryChange, ...]


class _Counts:
    """Mutable tallies of an erasure, turned into an `ErasureReport` at the end."""

    def __init__(self) -> None:
        self.values = dict.fromkeys(ErasureReport._fields, 0)

    def add(self, field: str, count: int = 1) -> None:
        self.values[field] += count

    def report(self) -> ErasureReport:
        return ErasureReport(**self.values)


class InMemoryMemoryStore(BaseMemoryStore):
    """Long-term memories in process memory.

    Thread-safe: batches run one at a time. `abatch` runs the batch directly (there is no I/O
    to wait for).

    Example:
        ```python
        store = InMemoryMemoryStore()
        store.put_memories("default", [Memory("Ana is vegetarian", user_id="ana")])
        store.search_lexical("default", "vegetarian", MemoryFilter(user_id="ana"))
        ```
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._undo: list[Callable[[], None]] = []
        self._rows: dict[_Key, _Row] = {}
        self._partitions: dict[_Key, dict[str, None]] = {}
        """(tenant, user key) -> the ids of its memories."""
        self._history: dict[_Key, _History] = {}
        self._history_users: dict[_Key, dict[str, None]] = {}
        """(tenant, user key) -> the ids of the memories with history there."""
        self._models: dict[str, int] = {}
        """model id -> dimension."""
        self._entities: dict[_Key, Entity] = {}
        self._relations: dict[_Key, Relation] = {}
        self._profiles: dict[_Key, UserProfile] = {}

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order, atomically; return their results in order."""
        rules.check_tenants(ops)
        with self._lock:
            self._undo = []
            try:
                return [self._run(op) for op in ops]
            except BaseException:
                for undo in reversed(self._undo):
                    undo()
                raise
            finally:
                self._undo = []

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch` (runs it directly: nothing to await)."""
        return self.batch(ops)

    def _run(self, op: Op) -> Any:
        handler = _HANDLERS.get(type(op))
        if handler is None:
            raise InvalidInputError(f"unsupported operation: {type(op).__name__}")
        return handler(self, op)

    # Journaled primitives: every mutation goes through one of these.

    def _set(self, table: dict[Any, _V], key: Any, value: _V) -> None:
        previous = table.get(key, _MISSING)
        table[key] = value

        def undo() -> None:
            if previous is _MISSING:
                del table[key]
            else:
                table[key] = previous

        self._undo.append(undo)

    def _pop(self, table: dict[Any, _V], key: Any) -> _V:
        value = table.pop(key)

        def undo() -> None:
            table[key] = value

        self._undo.append(undo)
        return value

    def _member(self, index: dict[_Key, dict[str, None]], key: _Key, item: str) -> None:
        members = index.get(key)
        if members is None:
            members = {}
            self._set(index, key, members)
        if item not in members:
            self._set(members, item, None)

    def _unmember(self, index: dict[_Key, dict[str, None]], key: _Key, item: str) -> None:
        members = index[key]
        self._pop(members, item)
        if not members:
            self._pop(index, key)

    # Reading.

    def _partition_rows(self, tenant: str, user_key: str | None) -> Iterator[_Row]:
        """The rows of partition `user_key` of `tenant`; None: of all its partitions."""
        if user_key is not None:
            keys: Iterable[_Key] = [(tenant, user_key)]
        else:
            keys = [key for key in self._partitions if key[0] == tenant]
        for key in keys:
            for memory_id in self._partitions.get(key, {}):
                yield self._rows[(tenant, memory_id)]

    def _select(self, tenant: str, filter: MemoryFilter) -> list[_Row]:
        checked = rules.checked_filter(filter)
        if checked.ids is not None:
            rows: Iterable[_Row] = [
                self._rows[(tenant, memory_id)]
                for memory_id in dict.fromkeys(checked.ids)
                if (tenant, memory_id) in self._rows
            ]
        else:
            rows = self._partition_rows(tenant, rules.filter_partition(checked))
        return [row for row in rows if rules.matches(row.memory, checked)]

    def _check_dim(self, model_id: str, dim: int) -> None:
        known = self._models.get(model_id)
        if known is None:
            self._set(self._models, model_id, dim)
        elif known != dim:
            raise InvalidInputError(f"model {model_id!r} has {known}-d vectors, not {dim}-d")

    # Memories.

    def _put_memories(self, op: PutMemories) -> list[Memory]:
        memories, vectors, changes = rules.check_put(op)
        for memory, record in zip(memories, vectors, strict=True):
            self._put_row(op.tenant, memory, record)
        for change in changes:
            self._append_change(op.tenant, change)
        return [rules.detached(memory) for memory in memories]

    def _put_row(self, tenant: str, memory: Memory, record: VectorRecord | None) -> None:
        key = (tenant, memory.id)
        existing = self._rows.get(key)
        if existing is not None and existing.memory.user_id != memory.user_id:
            raise ConflictError(f"memory {memory.id!r} belongs to another user_id")
        same_text = existing is not None and existing.memory.text == memory.text
        vectors = dict(existing.vectors) if existing is not None and same_text else {}
        terms = existing.terms if existing is not None and same_text else None
        if record is not None:
            self._check_dim(record.model_id, record.dim)
            vectors[record.model_id] = record.vector
        if terms is None:
            terms = bm25.term_bytes(lexical_text(memory))
        self._set(self._rows, key, _Row(memory, terms, vectors))
        self._member(self._partitions, (tenant, rules.user_key(memory.user_id)), memory.id)

    def _append_change(
        self, tenant: str, change: MemoryChange, user_key: str | None = None
    ) -> None:
        key = (tenant, change.memory_id)
        row = self._rows.get(key)
        history = self._history.get(key)
        if user_key is not None:
            pass
        elif row is not None:
            user_key = rules.user_key(row.memory.user_id)
        elif history is not None:
            user_key = history.user_key
        else:
            raise InvalidInputError(f"change {change.id!r} names an unknown memory")
        changes = () if history is None else history.changes
        self._set(self._history, key, _History(user_key, (*changes, change)))
        self._member(self._history_users, (tenant, user_key), change.memory_id)

    def _get_memories(self, op: GetMemories) -> list[Memory | None]:
        rows = [self._rows.get((op.tenant, memory_id)) for memory_id in op.ids]
        hand_out = (lambda memory: memory) if op.shared else rules.detached
        return [None if row is None else hand_out(row.memory) for row in rows]

    def _list_memories(self, op: ListMemories) -> list[Memory]:
        rules.check_page(op.limit, op.offset)
        memories = [row.memory for row in self._select(op.tenant, op.filter)]
        memories.sort(
            key=lambda memory: (rules.event_time(memory), memory.id), reverse=op.order != "oldest"
        )
        return [rules.detached(memory) for memory in memories[op.offset : op.offset + op.limit]]

    def _count_memories(self, op: CountMemories) -> int:
        return len(self._select(op.tenant, op.filter))

    def _list_users(self, op: ListUsers) -> list[str]:
        rules.check_page(op.limit, op.offset)
        every = self._select(op.tenant, MemoryFilter(include_superseded=True))
        named = sorted({row.memory.user_id for row in every if row.memory.user_id is not None})
        return named[op.offset : op.offset + op.limit]

    def _record_access(self, op: RecordAccess) -> int:
        at = rules.as_utc(op.at)
        found = 0
        for memory_id in dict.fromkeys(op.ids):
            row = self._rows.get((op.tenant, memory_id))
            if row is None:
                continue
            memory = row.memory
            accessed = replace(memory, access_count=memory.access_count + 1, last_accessed_at=at)
            self._set(self._rows, (op.tenant, memory_id), replace(row, memory=accessed))
            found += 1
        return found

    def _get_history(self, op: GetHistory) -> list[MemoryChange]:
        history = self._history.get((op.tenant, op.memory_id))
        if history is None:
            return []
        return sorted(history.changes, key=lambda change: (change.at, change.id))

    def _list_tombstones(self, op: ListTombstones) -> list[MemoryChange]:
        rules.check_user_id(op.user_id)
        found = [
            change
            for memory_id in self._history_users.get((op.tenant, op.user_id), {})
            if (op.tenant, memory_id) not in self._rows
            for change in self._history[(op.tenant, memory_id)].changes
            if change.action == "delete"
        ]
        return sorted(found, key=lambda change: (change.at, change.id))

    def _put_tombstones(self, op: PutTombstones) -> int:
        changes = rules.tombstones_to_put(op)
        for change in changes:
            if (op.tenant, change.memory_id) in self._rows:
                raise ConflictError(f"memory {change.memory_id!r} is stored: erase it instead")
        written = 0
        for change in changes:
            history = self._history.get((op.tenant, change.memory_id))
            if history is None or all(known.id != change.id for known in history.changes):
                self._append_change(op.tenant, change, op.user_id)
                written += 1
        return written

    # Search and vectors.

    def _search_lexical(self, op: SearchLexical) -> list[MemoryScore]:
        rules.check_page(op.limit)
        rows = self._select(op.tenant, op.filter)
        flat, lengths = bm25.join_documents([row.terms for row in rows])
        scores = bm25.bm25_scores(flat, lengths, bm25.term_hashes(op.query))
        hits = np.flatnonzero(scores > 0)
        ids = [rows[index].memory.id for index in hits]
        best = vec.top_k(scores[hits], ids, op.limit)
        return [MemoryScore(ids[index], float(scores[hits[index]])) for index in best]

    def _search_vector(self, op: SearchVector) -> list[MemoryScore]:
        rules.check_page(op.limit)
        query = vec.normalize(op.vector)
        dim = self._models.get(op.model_id)
        if dim is not None and dim != query.size:
            raise InvalidInputError(f"model {op.model_id!r} has {dim}-d vectors")
        rows = [row for row in self._select(op.tenant, op.filter) if op.model_id in row.vectors]
        if not rows:
            return []
        scores = vec.similarities(np.stack([row.vectors[op.model_id] for row in rows]), query)
        ids = [row.memory.id for row in rows]
        return [MemoryScore(ids[i], float(scores[i])) for i in vec.top_k(scores, ids, op.limit)]

    def _get_vectors(self, op: GetVectors) -> list[vec.Vector | None]:
        found: list[vec.Vector | None] = []
        for memory_id in op.ids:
            row = self._rows.get((op.tenant, memory_id))
            vector = None if row is None else row.vectors.get(op.model_id)
            found.append(None if vector is None else vector.copy())
        return found

    def _put_vectors(self, op: PutVectors) -> None:
        if len(op.ids) != len(op.vectors):
            raise InvalidInputError("PutVectors needs one vector per id")
        for memory_id, record in zip(op.ids, op.vectors, strict=True):
            checked = rules.checked_vector(record)
            row = self._rows.get((op.tenant, memory_id))
            if row is None:
                raise NotFoundError(f"no memory {memory_id!r} in tenant {op.tenant!r}")
            self._check_dim(checked.model_id, checked.dim)
            vectors = {**row.vectors, checked.model_id: checked.vector}
            self._set(self._rows, (op.tenant, memory_id), replace(row, vectors=vectors))

    def _scan_vectors(self, op: ScanVectors) -> VectorMatrix:
        rows = [row for row in self._select(op.tenant, op.filter) if op.model_id in row.vectors]
        rows.sort(key=lambda row: row.memory.id)
        if not rows:
            dim = self._models.get(op.model_id, 0)
            return VectorMatrix((), np.zeros((0, dim), dtype=np.float32))
        matrix = np.stack([row.vectors[op.model_id] for row in rows]).astype(np.float32)
        return VectorMatrix(tuple(row.memory.id for row in rows), matrix)

    def _count_unembedded(self, op: CountUnembedded) -> int:
        return sum(op.model_id not in row.vectors for row in self._select(op.tenant, op.filter))

    # Erasure.

    def _delete_memories(self, op: DeleteMemories) -> ErasureReport:
        counts = _Counts()
        at = utcnow() if op.at is None else op.at
        for memory_id in dict.fromkeys(op.ids):
            row = self._rows.get((op.tenant, memory_id))
            if row is not None:
                self._erase(op.tenant, row, op.reason, at, counts)
        return counts.report()

    def _erase(
        self, tenant: str, row: _Row, reason: str | None, at: datetime, counts: _Counts
    ) -> None:
        memory = row.memory
        user_key = rules.user_key(memory.user_id)
        self._pop(self._rows, (tenant, memory.id))
        self._unmember(self._partitions, (tenant, user_key), memory.id)
        counts.add("memories")
        counts.add("vectors", len(row.vectors))
        texts = self._blank_history(tenant, memory, user_key, counts)
        self._append_change(tenant, rules.tombstone(tenant, memory.id, reason, at), user_key)
        self._unquote(tenant, user_key, texts)
        for key, relation in list(self._relations.items()):
            if key[0] == tenant and relation.memory_id == memory.id:
                self._pop(self._relations, key)
                counts.add("relations")
        for memory_id in self._partitions.get((tenant, user_key), {}):
            kept = self._rows[(tenant, memory_id)]
            if kept.memory.superseded_by == memory.id:  # retired by it: no dangling link
                unlinked = replace(kept.memory, superseded_by=None)
                self._set(self._rows, (tenant, memory_id), replace(kept, memory=unlinked))
        self._drop_profile_fields(tenant, memory, counts)

    def _blank_history(
        self, tenant: str, memory: Memory, user_key: str, counts: _Counts
    ) -> set[str]:
        """Blank the memory's texts in its partition's history (`_erase` took it out of
        the partition); return those no memory left there holds (a copy of one it holds is
        no trace of the erased memory: an add keeps a fact said in two sessions in each, and
        a merge keeps the text of what it merges)."""
        own = self._history.get((tenant, memory.id))
        texts = {memory.text}
        for change in () if own is None else own.changes:
            texts.update(text for text in (change.old_text, change.new_text) if text)
        for memory_id in self._partitions.get((tenant, user_key), {}):
            texts.discard(self._rows[(tenant, memory_id)].memory.text)
        for memory_id in list(self._history_users.get((tenant, user_key), {})):
            history = self._history[(tenant, memory_id)]
            erased = memory_id == memory.id
            blanked = tuple(rules.erased_change(c, erased, texts) for c in history.changes)
            changed = sum(a != b for a, b in zip(blanked, history.changes, strict=True))
            if changed:
                self._set(self._history, (tenant, memory_id), replace(history, changes=blanked))
                counts.add("history", changed)
        return texts

    def _unquote(self, tenant: str, user_key: str, texts: set[str]) -> None:
        """Drop the erased `texts` from the context of the partition's episodes."""
        for memory_id in self._partitions.get((tenant, user_key), {}):
            row = self._rows[(tenant, memory_id)]
            unquoted = rules.without_quotes(row.memory, texts)
            if unquoted is not None:
                terms = bm25.term_bytes(lexical_text(unquoted))
                self._set(
                    self._rows, (tenant, memory_id), replace(row, memory=unquoted, terms=terms)
                )

    def _drop_profile_fields(self, tenant: str, memory: Memory, counts: _Counts) -> None:
        if memory.user_id is None:
            return
        profile = self._profiles.get((tenant, memory.user_id))
        if profile is None or memory.id not in profile.sources.values():
            return
        self._set(
            self._profiles, (tenant, memory.user_id), rules.profile_without(profile, {memory.id})
        )
        counts.add("profiles")

    def _delete_scope(self, op: DeleteScope) -> ErasureReport:
        rules.check_scope(op)
        if op.agent_id is None and op.session_id is None and op.user_id is not None:
            return self._delete_user(op.tenant, op.user_id)
        counts = _Counts()
        at = utcnow()
        for row in self._select(op.tenant, rules.scope_filter(op)):
            self._erase(op.tenant, row, "scope erased", at, counts)
        for memory_id in op.spared:
            self._blank_older_texts(op.tenant, memory_id, counts)
        for memory_id in op.unsourced:
            self._unsource(op.tenant, memory_id, set(op.erased_sources))
        return counts.report()

    def _unsource(self, tenant: str, memory_id: str, erased: set[str]) -> None:
        """Take the `erased` message ids out of the memory's history
        (`DeleteScope.erased_sources`)."""
        history = self._history.get((tenant, memory_id))
        if history is None or not erased:
            return
        changes = []
        for change in history.changes:
            kept = rules.sources_kept(change.source_ids, erased)
            changes.append(change if kept is None else replace(change, source_ids=tuple(kept)))
        if changes != list(history.changes):
            self._set(self._history, (tenant, memory_id), replace(history, changes=tuple(changes)))

    def _blank_older_texts(self, tenant: str, memory_id: str, counts: _Counts) -> None:
        """Blank every text of the memory's history but its current one
        (`DeleteScope.spared`)."""
        row, history = self._rows.get((tenant, memory_id)), self._history.get((tenant, memory_id))
        if row is None or history is None:
            return
        text = row.memory.text
        blanked = tuple(
            replace(
                change,
                old_text=change.old_text if change.old_text == text else None,
                new_text=change.new_text if change.new_text == text else None,
            )
            for change in history.changes
        )
        changed = sum(a != b for a, b in zip(blanked, history.changes, strict=True))
        if changed:
            self._set(self._history, (tenant, memory_id), replace(history, changes=blanked))
            counts.add("history", changed)

    def _delete_user(self, tenant: str, user_id: str) -> ErasureReport:
        counts = _Counts()
        partition = (tenant, user_id)
        memory_ids = set(self._partitions.get(partition, {}))
        for memory_id in memory_ids:
            row = self._pop(self._rows, (tenant, memory_id))
            counts.add("memories")
            counts.add("vectors", len(row.vectors))
        if partition in self._partitions:
            self._pop(self._partitions, partition)
        for memory_id in self._history_users.get(partition, {}):
            counts.add("history", len(self._pop(self._history, (tenant, memory_id)).changes))
        if partition in self._history_users:
            self._pop(self._history_users, partition)
        gone = self._delete_where(self._entities, tenant, lambda e: e.user_id == user_id)
        counts.add("entities", len(gone))
        counts.add("relations", self._delete_relations(tenant, user_id, gone, memory_ids))
        if partition in self._profiles:
            self._pop(self._profiles, partition)
            counts.add("profiles")
        return counts.report()

    def _delete_where(
        self, table: dict[_Key, _V], tenant: str, predicate: Callable[[_V], bool]
    ) -> set[str]:
        keys = [key for key, item in table.items() if key[0] == tenant and predicate(item)]
        for key in keys:
            self._pop(table, key)
        return {key[1] for key in keys}

    def _delete_relations(
        self,
        tenant: str,
        user_id: str | None,
        entity_ids: set[str],
        memory_ids: set[str] | None = None,
    ) -> int:
        """Delete the relations of `user_id`, touching `entity_ids` or stated by `memory_ids`."""

        def doomed(relation: Relation) -> bool:
            return (
                (user_id is not None and relation.user_id == user_id)
                or relation.source_id in entity_ids
                or relation.target_id in entity_ids
                or (memory_ids is not None and relation.memory_id in memory_ids)
            )

        return len(self._delete_where(self._relations, tenant, doomed))

    # Entities, relations, profiles.

    def _put_entities(self, op: PutEntities) -> list[Entity]:
        entities = [rules.checked_entity(op.tenant, entity) for entity in op.entities]
        for entity in entities:
            self._set(self._entities, (op.tenant, entity.id), entity)
        return [
            replace(entity, metadata=rules.detached_json(entity.metadata)) for entity in entities
        ]

    def _list_entities(self, op: ListEntities) -> list[Entity]:
        found = [
            entity
            for (tenant, entity_id), entity in self._entities.items()
            if tenant == op.tenant
            and (op.user_id is None or entity.user_id == op.user_id)
            and (op.ids is None or entity_id in op.ids)
            and (op.name_or_alias is None or rules.entity_has_name(entity, op.name_or_alias))
        ]
        found.sort(key=lambda entity: (entity.created_at, entity.id))
        return [replace(entity, metadata=rules.detached_json(entity.metadata)) for entity in found]

    def _delete_entities(self, op: DeleteEntities) -> ErasureReport:
        wanted = set(op.ids)
        gone = self._delete_where(self._entities, op.tenant, lambda e: e.id in wanted)
        return ErasureReport(
            entities=len(gone), relations=self._delete_relations(op.tenant, None, gone)
        )

    def _put_relations(self, op: PutRelations) -> list[Relation]:
        relations = [rules.checked_relation(op.tenant, relation) for relation in op.relations]
        for relation in relations:
            self._set(self._relations, (op.tenant, relation.id), relation)
        return relations

    def _list_relations(self, op: ListRelations) -> list[Relation]:
        as_of = rules.optional_utc(op.as_of)
        found = [
            relation
            for (tenant, _), relation in self._relations.items()
            if tenant == op.tenant
            and (op.user_id is None or relation.user_id == op.user_id)
            and rules.relation_matches(relation, op.entity_id, as_of)
        ]
        return sorted(found, key=lambda relation: (relation.created_at, relation.id))

    def _get_profile(self, op: GetProfile) -> UserProfile | None:
        profile = self._profiles.get((op.tenant, op.user_id))
        if profile is None:
            return None
        return replace(profile, fields=dict(profile.fields), sources=dict(profile.sources))

    def _put_profile(self, op: PutProfile) -> UserProfile:
        profile = rules.checked_profile(op.tenant, op.profile)
        self._set(self._profiles, (op.tenant, profile.user_id), profile)
        return replace(profile, fields=dict(profile.fields), sources=dict(profile.sources))


_HANDLERS: dict[type, Callable[[InMemoryMemoryStore, Any], Any]] = {
    PutMemories: InMemoryMemoryStore._put_memories,
    GetMemories: InMemoryMemoryStore._get_memories,
    ListMemories: InMemoryMemoryStore._list_memories,
    CountMemories: InMemoryMemoryStore._count_memories,
    ListUsers: InMemoryMemoryStore._list_users,
    SearchLexical: InMemoryMemoryStore._search_lexical,
    SearchVector: InMemoryMemoryStore._search_vector,
    GetVectors: InMemoryMemoryStore._get_vectors,
    PutVectors: InMemoryMemoryStore._put_vectors,
    ScanVectors: InMemoryMemoryStore._scan_vectors,
    CountUnembedded: InMemoryMemoryStore._count_unembedded,
    RecordAccess: InMemoryMemoryStore._record_access,
    GetHistory: InMemoryMemoryStore._get_history,
    ListTombstones: InMemoryMemoryStore._list_tombstones,
    PutTombstones: InMemoryMemoryStore._put_tombstones,
    DeleteMemories: InMemoryMemoryStore._delete_memories,
    DeleteScope: InMemoryMemoryStore._delete_scope,
    PutEntities: InMemoryMemoryStore._put_entities,
    ListEntities: InMemoryMemoryStore._list_entities,
    DeleteEntities: InMemoryMemoryStore._delete_entities,
    PutRelations: InMemoryMemoryStore._put_relations,
    ListRelations: InMemoryMemoryStore._list_relations,
    GetProfile: InMemoryMemoryStore._get_profile,
    PutProfile: InMemoryMemoryStore._put_profile,
}
"""One handler per op type."""
