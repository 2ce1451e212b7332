"""The SQLite memory store: memories, vectors, history, entities and profiles in one file.

Each batch is one SQLite transaction on the shared `SqliteConnection`: `BEGIN IMMEDIATE` if
it writes, a plain (snapshot) `BEGIN` if it only reads. The schema, the row encoding and the
filter compilation live in `memories_base.py`, the writes and erasure in `memories_write.py`,
the partition matrix cache in `memories_cache.py`; the rules shared with every backend in
`engram.stores._memory_rules`.

Searches are exact. A search for one user reads that user's partition only: the filter's
conditions run in SQL over the partition's row-id range, then BM25 (`engram.memory.bm25`)
scores the selected rows' stored term hashes, or a matrix-vector product scores their vectors
(read once per partition generation and kept in the cache). A search without `user_id`
scans every partition of the tenant the same way.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from engram._exceptions import InvalidInputError
from engram.memory import bm25
from engram.memory import vectors as vec
from engram.stores import _memory_rules as rules
from engram.stores.memories import (
    READ_OPS,
    BaseMemoryStore,
    CountMemories,
    DeleteEntities,
    DeleteMemories,
    DeleteScope,
    GetHistory,
    GetMemories,
    GetProfile,
    GetVectors,
    ListEntities,
    ListMemories,
    ListRelations,
    MemoryFilter,
    MemoryScore,
    Op,
    PutEntities,
    PutMemories,
    PutProfile,
    PutRelations,
    PutVectors,
    RecordAccess,
    ScanVectors,
    SearchLexical,
    SearchVector,
    VectorMatrix,
)
from engram.stores.sqlite import memories_base as base
from engram.stores.sqlite import memories_write as write
from engram.stores.sqlite._internal import Durability, SqliteConnection
from engram.stores.sqlite.memories_cache import (
    PartitionVectors,
    VectorCache,
    load_partition_vectors,
)
from engram.types._memory import Entity, Memory, MemoryChange, Relation, UserProfile

__all__ = ["DEFAULT_VECTOR_CACHE_BYTES", "SqliteMemoryStore"]

DEFAULT_VECTOR_CACHE_BYTES = 256 * 1024 * 1024
"""The default bound of the partition matrix cache (~170k 384-d vectors)."""


class _Scope(NamedTuple):
    """The WHERE clause selecting a filter's memories in one tenant."""

    where: str
    params: list[Any]
    generations: dict[int, int] | None
    """pid -> generation of the one partition a user filter reads; None: the tenant's."""


class _Context(NamedTuple):
    conn: sqlite3.Connection
    cache: VectorCache


_Handler = Callable[[_Context, Any], Any]


class SqliteMemoryStore(BaseMemoryStore):
    """Long-term memories in a SQLite database (a file, or `:memory:`).

    The constructor applies the `memories` migrations (idempotent) on the injected
    connection, which the store never closes. `from_path` opens and closes its own.

    Thread-safe: batches hold the connection's lock. `abatch` runs the batch on a worker
    thread (sqlite3 has no async I/O), so it never blocks the event loop.

    Args:
        conn: The connection to use; may be shared with Engram's other SQLite stores.
        vector_cache_bytes: Bound of the in-process cache of partition matrices (0: none).

    Raises:
        MigrationRequired: The file holds a newer memories schema than this code knows.

    Example:
        ```python
        with SqliteMemoryStore.from_path("engram.db") as store:
            store.put_memories("default", [Memory("Ana is vegetarian", user_id="ana")])
        ```
    """

    def __init__(
        self, conn: SqliteConnection, *, vector_cache_bytes: int = DEFAULT_VECTOR_CACHE_BYTES
    ) -> None:
        self.conn = conn
        self.cache = VectorCache(vector_cache_bytes)
        conn.migrate(base.COMPONENT, base.MIGRATIONS)

    @classmethod
    @contextmanager
    def from_path(
        cls,
        path: str | Path,
        *,
        durability: Durability = "normal",
        vector_cache_bytes: int = DEFAULT_VECTOR_CACHE_BYTES,
    ) -> Iterator[SqliteMemoryStore]:
        """Open a store on its own connection to `path`, closed when the block exits."""
        conn = SqliteConnection(path, durability=durability)
        try:
            yield cls(conn, vector_cache_bytes=vector_cache_bytes)
        finally:
            conn.close()

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order in one transaction; return their results in order."""
        reads_only = all(isinstance(op, READ_OPS) for op in ops)
        scope: AbstractContextManager[sqlite3.Connection] = (
            self.conn.snapshot() if reads_only else self.conn.transaction()
        )
        with scope as conn, _map_encoding_errors():
            context = _Context(conn, self.cache)
            return [_run(context, op) for op in ops]

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch`: the one place sqlite3 work leaves the event loop for a thread."""
        return await asyncio.to_thread(self.batch, ops)


@contextmanager
def _map_encoding_errors() -> Iterator[None]:
    # Text the sqlite3 driver cannot encode (lone surrogates) is bad input, not a backend fault.
    try:
        yield
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"text not encodable as UTF-8: {exc}") from exc


def _run(context: _Context, op: Op) -> Any:
    handler = _HANDLERS.get(type(op))
    if handler is None:
        raise InvalidInputError(f"unsupported operation: {type(op).__name__}")
    return handler(context, op)


def _json(values: Sequence[str]) -> str:
    return json.dumps(list(values))


# Selecting memories.


def _scope(conn: sqlite3.Connection, tenant: str, filter: MemoryFilter) -> _Scope | None:
    """The WHERE clause of `filter` in `tenant`, or None if it selects nothing."""
    checked = rules.checked_filter(filter)
    params: list[Any] = [tenant]
    if checked.user_id is None:
        where, generations = "tenant = ?", None
    else:
        found = write.find_partition(conn, tenant, checked.user_id)
        if found is None:
            return None
        # `+tenant`: scan the partition's row-id range, not the (tenant, id) index.
        where, generations = "+tenant = ? AND rid BETWEEN ? AND ?", {found[0]: found[1]}
        params.extend(base.partition_range(found[0]))
    return _Scope(where + base.filter_sql(checked, params), params, generations)


def _tuples(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows as plain tuples (cheaper than the connection's `sqlite3.Row`s in bulk)."""
    cursor = conn.cursor()
    cursor.row_factory = None
    rows: list[tuple[Any, ...]] = cursor.execute(sql, params).fetchall()
    return rows


def _select(
    conn: sqlite3.Connection, tenant: str, filter: MemoryFilter, columns: str, tail: str = ""
) -> tuple[_Scope | None, list[tuple[Any, ...]]]:
    scope = _scope(conn, tenant, filter)
    if scope is None:
        return None, []
    sql = f"SELECT {columns} FROM engram_memories WHERE {scope.where}{tail}"
    return scope, _tuples(conn, sql, scope.params)


def _ranked(
    conn: sqlite3.Connection, scores: np.ndarray, rids: Sequence[int], limit: int
) -> list[MemoryScore]:
    """The best `limit` rows, ties by memory id (read for the contenders only)."""
    chosen = vec.contenders(scores, limit)
    wanted = [rids[index] for index in chosen]
    rows = _tuples(
        conn,
        "SELECT rid, id FROM engram_memories WHERE rid IN (SELECT value FROM json_each(?))",
        (json.dumps(wanted),),
    )
    ids = dict(rows)
    best = vec.rank(chosen, scores, [ids[rid] for rid in wanted])[:limit]
    return [MemoryScore(ids[rids[index]], float(scores[index])) for index in best]


def _get_memories(context: _Context, op: GetMemories) -> list[Memory | None]:
    rows = context.conn.execute(
        f"SELECT {base.MEMORY_COLUMNS} FROM engram_memories"
        " WHERE tenant = ? AND id IN (SELECT value FROM json_each(?))",
        (op.tenant, _json(op.ids)),
    )
    found = {row[1]: base.memory_from_row(row) for row in rows}
    return [found.get(memory_id) for memory_id in op.ids]


def _list_memories(context: _Context, op: ListMemories) -> list[Memory]:
    rules.check_page(op.limit, op.offset)
    direction = "ASC" if op.order == "oldest" else "DESC"
    tail = f" ORDER BY event_at {direction}, id {direction} LIMIT ? OFFSET ?"
    scope = _scope(context.conn, op.tenant, op.filter)
    if scope is None:
        return []
    sql = f"SELECT {base.MEMORY_COLUMNS} FROM engram_memories WHERE {scope.where}{tail}"
    rows = context.conn.execute(sql, [*scope.params, op.limit, op.offset])
    return [base.memory_from_row(row) for row in rows]


def _count_memories(context: _Context, op: CountMemories) -> int:
    _, rows = _select(context.conn, op.tenant, op.filter, "count(*)")
    return int(rows[0][0]) if rows else 0


def _get_history(context: _Context, op: GetHistory) -> list[MemoryChange]:
    rows = context.conn.execute(
        f"SELECT {base.CHANGE_COLUMNS} FROM engram_memory_history"
        " WHERE tenant = ? AND memory_id = ? ORDER BY at, id",
        (op.tenant, op.memory_id),
    )
    return [base.change_from_row(row) for row in rows]


# Search and vectors.


def _search_lexical(context: _Context, op: SearchLexical) -> list[MemoryScore]:
    rules.check_page(op.limit)
    _, rows = _select(context.conn, op.tenant, op.filter, "rid, terms")
    flat, lengths = bm25.join_documents([row[1] for row in rows])
    scores = bm25.bm25_scores(flat, lengths, bm25.term_hashes(op.query))
    hits = np.flatnonzero(scores > 0)
    return _ranked(context.conn, scores[hits], [rows[index][0] for index in hits], op.limit)


def _partition_vectors(
    context: _Context, pid: int, model: tuple[int, int], generation: int
) -> PartitionVectors:
    key = (pid, model[0])
    entry = context.cache.get(key, generation)
    if entry is None:
        entry = load_partition_vectors(context.conn, pid, model[0], model[1], generation)
        context.cache.put(key, entry)
    return entry


def _generations(conn: sqlite3.Connection, pids: Sequence[int]) -> dict[int, int]:
    rows = conn.execute(
        "SELECT pid, generation FROM engram_memory_partitions"
        " WHERE pid IN (SELECT value FROM json_each(?))",
        (json.dumps(list(pids)),),
    )
    return {int(row[0]): int(row[1]) for row in rows}


def _vector_candidates(
    context: _Context, tenant: str, filter: MemoryFilter, model: tuple[int, int]
) -> Iterator[tuple[PartitionVectors, np.ndarray, np.ndarray]]:
    """Per partition: its matrix, and the matrix rows and row ids of the selected memories."""
    scope, rows = _select(context.conn, tenant, filter, "rid", " ORDER BY rid")
    if scope is None or not rows:
        return
    all_rids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    pids = all_rids >> base.PARTITION_BITS
    cuts = np.flatnonzero(np.diff(pids)) + 1
    generations = scope.generations or _generations(context.conn, np.unique(pids).tolist())
    for rids in np.split(all_rids, cuts):
        pid = int(rids[0]) >> base.PARTITION_BITS
        entry = _partition_vectors(context, pid, model, generations[pid])
        if entry.rids.size == 0:
            continue
        positions = np.searchsorted(entry.rids, rids)
        inside = positions < entry.rids.size
        found = inside & (entry.rids[np.minimum(positions, entry.rids.size - 1)] == rids)
        yield entry, positions[found], rids[found]


def _model(context: _Context, model_id: str) -> tuple[int, int] | None:
    return write.model_numbers(context.conn).get(model_id)


def _search_vector(context: _Context, op: SearchVector) -> list[MemoryScore]:
    rules.check_page(op.limit)
    query = vec.normalize(op.vector)
    model = _model(context, op.model_id)
    if model is None:
        return []
    if model[1] != query.size:
        raise InvalidInputError(f"model {op.model_id!r} has {model[1]}-d vectors")
    parts, rids = [], []
    for entry, positions, found in _vector_candidates(context, op.tenant, op.filter, model):
        parts.append((entry.matrix @ query)[positions])
        rids.append(found)
    if not parts:
        return []
    return _ranked(context.conn, np.concatenate(parts), np.concatenate(rids).tolist(), op.limit)


def _scan_vectors(context: _Context, op: ScanVectors) -> VectorMatrix:
    model = _model(context, op.model_id)
    if model is None:
        return VectorMatrix((), np.zeros((0, 0), dtype=np.float32))
    parts, rids = [], []
    for entry, positions, found in _vector_candidates(context, op.tenant, op.filter, model):
        parts.append(entry.matrix[positions])
        rids.extend(found.tolist())
    if not parts:
        return VectorMatrix((), np.zeros((0, model[1]), dtype=np.float32))
    ids = dict(
        _tuples(
            context.conn,
            "SELECT rid, id FROM engram_memories WHERE rid IN (SELECT value FROM json_each(?))",
            (json.dumps(rids),),
        )
    )
    order = sorted(range(len(rids)), key=lambda index: ids[rids[index]])
    matrix = np.concatenate(parts)[order]
    return VectorMatrix(tuple(ids[rids[index]] for index in order), matrix)


def _get_vectors(context: _Context, op: GetVectors) -> list[vec.Vector | None]:
    model = _model(context, op.model_id)
    if model is None:
        return [None] * len(op.ids)
    rows = context.conn.execute(
        "SELECT m.id, v.data FROM engram_memories AS m JOIN engram_memory_vectors AS v"
        " ON v.vrid = (? << 56) | m.rid"
        " WHERE m.tenant = ? AND m.id IN (SELECT value FROM json_each(?))",
        (model[0], op.tenant, _json(op.ids)),
    )
    found = {row[0]: vec.from_bytes(row[1], model[1]) for row in rows}
    return [None if found.get(i) is None else found[i].copy() for i in op.ids]


# Entities, relations, profiles.


def _put_entities(context: _Context, op: PutEntities) -> list[Entity]:
    entities = [rules.checked_entity(op.tenant, entity) for entity in op.entities]
    context.conn.executemany(
        f"INSERT OR REPLACE INTO engram_memory_entities ({base.ENTITY_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [base.entity_row(entity) for entity in entities],
    )
    return entities


def _list_entities(context: _Context, op: ListEntities) -> list[Entity]:
    sql = f"SELECT {base.ENTITY_COLUMNS} FROM engram_memory_entities WHERE tenant = ?"
    params: list[Any] = [op.tenant]
    if op.user_id is not None:
        sql += " AND user_id = ?"
        params.append(op.user_id)
    if op.ids is not None:
        sql += " AND id IN (SELECT value FROM json_each(?))"
        params.append(_json(op.ids))
    rows = context.conn.execute(sql + " ORDER BY created_at, id", params)
    entities = [base.entity_from_row(row) for row in rows]
    if op.name_or_alias is None:
        return entities
    return [entity for entity in entities if rules.entity_has_name(entity, op.name_or_alias)]


def _put_relations(context: _Context, op: PutRelations) -> list[Relation]:
    relations = [rules.checked_relation(op.tenant, relation) for relation in op.relations]
    context.conn.executemany(
        f"INSERT OR REPLACE INTO engram_memory_relations ({base.RELATION_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [base.relation_row(relation) for relation in relations],
    )
    return relations


def _list_relations(context: _Context, op: ListRelations) -> list[Relation]:
    sql = f"SELECT {base.RELATION_COLUMNS} FROM engram_memory_relations WHERE tenant = ?"
    params: list[Any] = [op.tenant]
    if op.user_id is not None:
        sql += " AND user_id = ?"
        params.append(op.user_id)
    if op.entity_id is not None:
        sql += " AND (source_id = ? OR target_id = ?)"
        params.extend([op.entity_id, op.entity_id])
    if op.as_of is not None:
        moment = base.micros(op.as_of)
        sql += " AND (valid_from IS NULL OR valid_from <= ?) AND (valid_to IS NULL OR valid_to > ?)"
        params.extend([moment, moment])
    rows = context.conn.execute(sql + " ORDER BY created_at, id", params)
    return [base.relation_from_row(row) for row in rows]


def _get_profile(context: _Context, op: GetProfile) -> UserProfile | None:
    row = context.conn.execute(
        f"SELECT {base.PROFILE_COLUMNS} FROM engram_memory_profiles"
        " WHERE tenant = ? AND user_id = ?",
        (op.tenant, op.user_id),
    ).fetchone()
    return None if row is None else base.profile_from_row(row)


def _put_profile(context: _Context, op: PutProfile) -> UserProfile:
    profile = rules.checked_profile(op.tenant, op.profile)
    context.conn.execute(
        f"INSERT OR REPLACE INTO engram_memory_profiles ({base.PROFILE_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?)",
        base.profile_row(profile),
    )
    return profile


_HANDLERS: dict[type, _Handler] = {
    PutMemories: lambda context, op: write.put_memories(context.conn, op),
    GetMemories: _get_memories,
    ListMemories: _list_memories,
    CountMemories: _count_memories,
    SearchLexical: _search_lexical,
    SearchVector: _search_vector,
    GetVectors: _get_vectors,
    PutVectors: lambda context, op: write.put_vectors(context.conn, op),
    ScanVectors: _scan_vectors,
    RecordAccess: lambda context, op: write.record_access(context.conn, op),
    GetHistory: _get_history,
    DeleteMemories: lambda context, op: write.delete_memories(context.conn, context.cache, op),
    DeleteScope: lambda context, op: write.delete_scope(context.conn, context.cache, op),
    PutEntities: _put_entities,
    ListEntities: _list_entities,
    DeleteEntities: lambda context, op: write.delete_entities(context.conn, op),
    PutRelations: _put_relations,
    ListRelations: _list_relations,
    GetProfile: _get_profile,
    PutProfile: _put_profile,
}
"""One handler per op type; each runs inside the batch's transaction."""
