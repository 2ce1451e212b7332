"""The SQLite memory store: memories, vectors, history, entities and profiles in one file.

Each batch is one SQLite transaction on the shared `SqliteConnection`: `BEGIN IMMEDIATE` if
it writes, a plain (snapshot) `BEGIN` if it only reads. The schema, the row encoding and the
filter compilation live in `memories_base.py`, the writes and erasure in `memories_write.py`,
the in-process partition caches in `memories_cache.py`; the rules shared with every backend
in `engram.stores._memory_rules`.

Searches are exact. A search for one user reads that user's partition only (one
`without_user`, that of the memories without a user): its rows (ids, filter columns, BM25
term hashes) and its matrix, each decoded once per partition state and kept in the caches;
the filter selects rows with NumPy (or, for metadata, entity, attribute and bi-temporal
conditions, in SQL over the partition's row-id range), then BM25 (`engram.memory.bm25`)
scores the selected rows' terms, or a matrix-vector product their vectors. A search
without either scans every partition of the tenant the same way. Reading the candidates by
id (`GetMemories`, `GetVectors`) takes the memories decoded for an earlier search from the
cached rows, after one read of their partition's state.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from engram._exceptions import InvalidInputError
from engram.memory import bm25
from engram.memory import vectors as vec
from engram.stores import _memory_rules as rules
from engram.stores._cache import BoundedCache
from engram.stores.memories import (
    READ_OPS,
    BaseMemoryStore,
    CountMemories,
    CountUnembedded,
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
)
from engram.stores.scope_locks import NoHold, ScopeHold
from engram.stores.sqlite import memories_base as base
from engram.stores.sqlite import memories_write as write
from engram.stores.sqlite._internal import Durability, SqliteConnection
from engram.stores.sqlite._scope_locks import FileScopeHold
from engram.stores.sqlite.memories_cache import (
    PartitionCache,
    PartitionRows,
    PartitionState,
    PartitionVectors,
    RowCache,
    load_partition_rows,
    load_partition_vectors,
)
from engram.types._memory import Entity, Memory, MemoryChange, Relation, UserProfile

__all__ = ["DEFAULT_ROW_CACHE_BYTES", "DEFAULT_VECTOR_CACHE_BYTES", "SqliteMemoryStore"]

DEFAULT_VECTOR_CACHE_BYTES = 256 * 1024 * 1024
"""The default bound of the partition matrix cache (~170k 384-d vectors)."""
DEFAULT_ROW_CACHE_BYTES = 128 * 1024 * 1024
"""The default bound of the partition row cache (~120k memories)."""


_GROWTH_RECORDS = 65_536
"""Partitions whose latest appends by this store are remembered (see `write.Growth`)."""

_Handler = Callable[[write.Batch, Any], Any]


class SqliteMemoryStore(BaseMemoryStore):
    """Long-term memories in a SQLite database (a file, or `:memory:`).

    The constructor applies the `memories` migrations (idempotent) on the injected
    connection, which the store never closes. `from_path` opens and closes its own.

    Thread-safe: batches hold the connection's lock. `abatch` runs the batch on a worker
    thread (sqlite3 has no async I/O), so it never blocks the event loop.

    Args:
        conn: The connection to use; may be shared with Engram's other SQLite stores.
        vector_cache_bytes: Bound of the in-process cache of partition matrices (0: none).
        row_cache_bytes: Bound of the in-process cache of partition rows and decoded
            memories (0: none).

    Raises:
        MigrationRequired: The file holds a newer memories schema than this code knows.

    Example:
        ```python
        with SqliteMemoryStore.from_path("engram.db") as store:
            store.put_memories("default", [Memory("Ana is vegetarian", user_id="ana")])
        ```
    """

    def __init__(
        self,
        conn: SqliteConnection,
        *,
        vector_cache_bytes: int = DEFAULT_VECTOR_CACHE_BYTES,
        row_cache_bytes: int = DEFAULT_ROW_CACHE_BYTES,
    ) -> None:
        self.conn = conn
        self.cache = PartitionCache[PartitionVectors](vector_cache_bytes)
        """Partition matrices."""
        self.rows = RowCache(row_cache_bytes)
        """Partition rows and decoded memories."""
        self._caches = write.Caches(self.cache, self.rows, {}, BoundedCache(_GROWTH_RECORDS))
        # The file's real path, resolved now: a later os.chdir must not move its lock file.
        memory = conn.path == ":memory:"
        self._database = None if memory else os.path.realpath(conn.path)
        conn.migrate(base.COMPONENT, base.MIGRATIONS)

    @classmethod
    @contextmanager
    def from_path(
        cls,
        path: str | Path,
        *,
        durability: Durability = "normal",
        vector_cache_bytes: int = DEFAULT_VECTOR_CACHE_BYTES,
        row_cache_bytes: int = DEFAULT_ROW_CACHE_BYTES,
    ) -> Iterator[SqliteMemoryStore]:
        """Open a store on its own connection to `path`, closed when the block exits."""
        conn = SqliteConnection(path, durability=durability)
        try:
            yield cls(conn, vector_cache_bytes=vector_cache_bytes, row_cache_bytes=row_cache_bytes)
        finally:
            conn.close()

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order in one transaction; return their results in order."""
        rules.check_tenants(ops)
        reads_only = all(isinstance(op, READ_OPS) for op in ops)
        with self.conn.lock:
            scope: AbstractContextManager[sqlite3.Connection] = (
                self.conn.snapshot() if reads_only else self.conn.transaction()
            )
            with scope as conn:
                batch = write.Batch(conn, self._caches, reads_only, [], {})
                results = [_run(batch, op) for op in ops]
            for apply in batch.after_commit:
                apply()
        if any(isinstance(op, _ERASURES) for op in ops):
            self.conn.wipe_log()  # erased text leaves the -wal file too
        return results

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch`: the one place sqlite3 work leaves the event loop for a thread."""
        return await asyncio.to_thread(self.batch, ops)

    def hold(self) -> ScopeHold:
        """A flow's scope locks: byte-range locks on a file beside the database, which
        every process using the file takes (see `engram.stores.sqlite._scope_locks`)."""
        if self._database is None:
            return NoHold()
        return FileScopeHold(self._database)


_ERASURES = (DeleteMemories, DeleteScope, DeleteEntities)


def _run(batch: write.Batch, op: Op) -> Any:
    handler = _HANDLERS.get(type(op))
    if handler is None:
        raise InvalidInputError(f"unsupported operation: {type(op).__name__}")
    return handler(batch, op)


def _json(values: Sequence[str | int]) -> str:
    return json.dumps(list(values))


def _tuples(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows as plain tuples (cheaper than the connection's `sqlite3.Row`s in bulk)."""
    cursor = conn.cursor()
    cursor.row_factory = None
    rows: list[tuple[Any, ...]] = cursor.execute(sql, params).fetchall()
    return rows


# Selecting memories in SQL (listing, counting, and the filters the cached rows cannot
# evaluate).


def _where(batch: write.Batch, tenant: str, filter: MemoryFilter) -> tuple[str, list[Any]] | None:
    """The WHERE clause of `filter` in `tenant` and its parameters, or None if it selects
    nothing. (`filter` is checked.)"""
    params: list[Any] = [tenant]
    user_key = rules.filter_partition(filter)
    if user_key is None:
        where = "tenant = ?"
    else:
        found = batch.partition(tenant, user_key)
        if found is None:
            return None
        picked = _picked_rids(batch, found, filter)
        # `+tenant`: read the partition's rows by row id, not by the (tenant, id) index.
        if picked is None:
            where = "+tenant = ? AND rid BETWEEN ? AND ?"
            params.extend(base.partition_range(found.pid))
        elif picked:
            where = "+tenant = ? AND rid IN (SELECT value FROM json_each(?))"
            params.append(_json(picked))
        else:
            return None
    return where + base.filter_sql(filter, params), params


_FEW = 4
"""A user's filter reads only the rows its partition's cached rows select when they are at
most 1/`_FEW` of the partition (a day of a session among a year of memories); else it scans
the partition."""


def _picked_rids(
    batch: write.Batch, partition: PartitionState, filter: MemoryFilter
) -> list[int] | None:
    """The row ids of `partition` the cached rows select of `filter` (the rest of it still
    applies in SQL), if the rows are cached and select few of them."""
    rows = _cached_rows(batch, partition)
    if rows is None:
        return None
    positions = np.flatnonzero(_mask(rows, filter))
    if positions.size * _FEW > rows.rids.size:
        return None
    picked: list[int] = rows.rids[positions].tolist()
    return picked


def _list_memories(batch: write.Batch, op: ListMemories) -> list[Memory]:
    rules.check_page(op.limit, op.offset)
    direction = "ASC" if op.order == "oldest" else "DESC"
    tail = f" ORDER BY event_at {direction}, id {direction} LIMIT ? OFFSET ?"
    where = _where(batch, op.tenant, rules.checked_filter(op.filter))
    if where is None:
        return []
    sql = f"SELECT {base.MEMORY_COLUMNS} FROM engram_memories WHERE {where[0]}{tail}"
    rows = _tuples(batch.conn, sql, [*where[1], op.limit, op.offset])
    return [base.memory_from_row(row) for row in rows]


def _list_users(batch: write.Batch, op: ListUsers) -> list[str]:
    rules.check_page(op.limit, op.offset)
    bits = base.PARTITION_BITS  # a partition's rows: rids pid << bits up to (pid + 1) << bits
    sql = (
        "SELECT p.user_key FROM engram_memory_partitions AS p WHERE p.tenant = ?"
        " AND p.user_key <> ? AND EXISTS (SELECT 1 FROM engram_memories AS m"
        f" WHERE m.rid >= p.pid << {bits} AND m.rid < (p.pid + 1) << {bits})"
        " ORDER BY p.user_key LIMIT ? OFFSET ?"
    )
    rows = _tuples(batch.conn, sql, [op.tenant, rules.NO_USER, op.limit, op.offset])
    return [str(row[0]) for row in rows]


def _count_memories(batch: write.Batch, op: CountMemories) -> int:
    where = _where(batch, op.tenant, rules.checked_filter(op.filter))
    if where is None:
        return 0
    sql = f"SELECT count(*) FROM engram_memories WHERE {where[0]}"
    return int(_tuples(batch.conn, sql, where[1])[0][0])


def _get_history(batch: write.Batch, op: GetHistory) -> list[MemoryChange]:
    rows = batch.conn.execute(
        f"SELECT {base.CHANGE_COLUMNS} FROM engram_memory_history"
        " WHERE tenant = ? AND memory_id = ? ORDER BY at, id",
        (op.tenant, op.memory_id),
    )
    return [base.change_from_row(row) for row in rows]


def _list_tombstones(batch: write.Batch, op: ListTombstones) -> list[MemoryChange]:
    rules.check_user_id(op.user_id)
    found = batch.partition(op.tenant, op.user_id)
    if found is None:
        return []
    rows = batch.conn.execute(
        f"SELECT {base.CHANGE_COLUMNS} FROM engram_memory_history AS h"
        " WHERE h.hid BETWEEN ? AND ? AND h.tenant = ? AND h.action = ? AND NOT EXISTS"
        " (SELECT 1 FROM engram_memories AS m WHERE m.tenant = h.tenant AND m.id = h.memory_id)"
        " ORDER BY h.at, h.id",
        (*base.partition_range(found.pid), op.tenant, "delete"),
    )
    return [base.change_from_row(row) for row in rows]


# Selecting memories from the cached partition rows (search).


class _Selected(NamedTuple):
    """The memories a filter selects in one partition: rows `positions` (ascending)."""

    partition: PartitionState
    rows: PartitionRows
    positions: NDArray[np.intp]


_SQL_ONLY = ("attributes", "entity_ids", "as_of", "valid_at", "metadata")
"""Filter fields the cached rows do not hold: such a filter selects in SQL."""


def _partition_rows(batch: write.Batch, partition: PartitionState) -> PartitionRows:
    """The partition's rows: cached, or the cached ones patched with what this store
    appended and rewrote since, or read whole."""
    entry = _cached_rows(batch, partition)
    if entry is None:
        entry = load_partition_rows(batch.conn, partition)
        if batch.keeps_rows:
            batch.caches.rows.put((partition.pid,), entry)
    return entry


def _cached_rows(batch: write.Batch, partition: PartitionState) -> PartitionRows | None:
    """The partition's rows if cached, or cached but for the rows this store appended or
    rewrote in place since (those read and cached now); None if they would have to be read
    whole."""
    key, cache = (partition.pid,), batch.caches.rows
    entry = cache.get(key, (partition.generation, partition.accessed), drop_stale=False)
    if entry is not None:
        return entry
    stale = cache.peek(key)
    if stale is None or stale.state[1] != partition.accessed:
        return None
    since = batch.caches.start_of_growth(partition.pid, stale.state[0], partition.generation)
    if since is None:
        return None
    rewritten = [rid for rid in since.rewritten if rid < since.first_rid]
    if rewritten:
        patched = stale.patched(load_partition_rows(batch.conn, partition, rids=rewritten))
        if patched is None:
            return None
        stale = patched
    entry = stale.extended(load_partition_rows(batch.conn, partition, since.first_rid))
    if batch.keeps_rows:
        cache.put(key, entry)
    return entry


def _selection(batch: write.Batch, tenant: str, filter: MemoryFilter) -> list[_Selected]:
    """Per partition `filter` reaches (one, with a `user_id` or `without_user`): the rows
    it selects."""
    checked = rules.checked_filter(filter)
    user_key = rules.filter_partition(checked)
    if user_key is None:
        partitions = write.tenant_partitions(batch.conn, tenant)
    else:
        found = batch.partition(tenant, user_key)
        partitions = [] if found is None else [found]
    entries = [_partition_rows(batch, partition) for partition in partitions]
    if any(getattr(checked, name) is not None for name in _SQL_ONLY):
        return _selected_in_sql(batch, tenant, checked, partitions, entries)
    return [
        _Selected(partition, entry, np.flatnonzero(_mask(entry, checked)))
        for partition, entry in zip(partitions, entries, strict=True)
    ]


def _mask(rows: PartitionRows, filter: MemoryFilter) -> NDArray[np.bool_]:
    """The rows `filter` selects; mirrors `memories_base.filter_sql` (without `_SQL_ONLY`)."""
    mask = np.ones(len(rows.ids), dtype=np.bool_)
    if filter.agent_id is not None:
        mask &= rows.agent_ids == filter.agent_id
    if filter.session_id is not None:
        mask &= rows.session_ids == filter.session_id
    if filter.kinds is not None:
        mask &= np.isin(rows.kinds, np.array(filter.kinds, dtype=np.str_))
    if filter.ids is not None:
        wanted = np.zeros_like(mask)
        found = [rows.positions[i] for i in filter.ids if i in rows.positions]
        wanted[found] = True
        mask &= wanted
    if not filter.include_superseded and filter.as_of is None and filter.valid_at is None:
        mask &= rows.current
    if filter.after is not None:
        mask &= rows.event_at >= base.micros(filter.after)
    if filter.before is not None:
        mask &= rows.event_at < base.micros(filter.before)
    return mask


def _selected_in_sql(
    batch: write.Batch,
    tenant: str,
    filter: MemoryFilter,
    partitions: Sequence[PartitionState],
    entries: Sequence[PartitionRows],
) -> list[_Selected]:
    where = _where(batch, tenant, filter)
    if where is None:
        return []
    sql = f"SELECT rid FROM engram_memories WHERE {where[0]} ORDER BY rid"
    rows = _tuples(batch.conn, sql, where[1])
    rids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    selected = []
    for partition, entry in zip(partitions, entries, strict=True):
        low, high = base.partition_range(partition.pid)
        mine = rids[np.searchsorted(rids, low) : np.searchsorted(rids, high, side="right")]
        selected.append(_Selected(partition, entry, np.searchsorted(entry.rids, mine)))
    return selected


def _ids_at(selected: Sequence[_Selected], indexes: Sequence[int]) -> list[str]:
    """The memory ids of candidates `indexes` (positions in the selections, concatenated)."""
    if len(selected) == 1:
        rows, positions = selected[0].rows, selected[0].positions
        return [rows.ids[positions[index]] for index in indexes]
    offsets = np.cumsum([0] + [part.positions.size for part in selected])
    parts = np.searchsorted(offsets, indexes, side="right") - 1
    return [
        selected[part].rows.ids[selected[part].positions[index - offsets[part]]]
        for index, part in zip(indexes, parts.tolist(), strict=True)
    ]


def _best(
    selected: Sequence[_Selected], indexes: NDArray[np.intp], scores: np.ndarray, limit: int
) -> list[MemoryScore]:
    """The best `limit` candidates (`indexes[i]` scored `scores[i]`), ties by memory id."""
    chosen = vec.contenders(scores, limit)
    keys = _ids_at(selected, indexes[chosen].tolist())
    key_of = dict(zip(chosen, keys, strict=True))
    return [
        MemoryScore(key_of[index], float(scores[index]))
        for index in vec.rank(chosen, scores, keys)[:limit]
    ]


def _search_lexical(batch: write.Batch, op: SearchLexical) -> list[MemoryScore]:
    rules.check_page(op.limit)
    selected = _selection(batch, op.tenant, op.filter)
    if not selected:
        return []
    documents = [part.rows.terms_of(part.positions) for part in selected]
    flat = np.concatenate([terms for terms, _ in documents])
    lengths = np.concatenate([counts for _, counts in documents])
    scores = bm25.bm25_scores(flat, lengths, bm25.term_hashes(op.query))
    hits = np.flatnonzero(scores > 0)
    return _best(selected, hits, scores[hits], op.limit)


# Vectors.


def _model(batch: write.Batch, model_id: str) -> tuple[int, int] | None:
    return batch.models([model_id]).get(model_id)


def _partition_vectors(
    batch: write.Batch, pid: int, model: tuple[int, int], generation: int
) -> PartitionVectors:
    """The partition's matrix: cached, or the cached one plus the vectors this store
    appended since, or read whole."""
    key, cache = (pid, model[0]), batch.caches.vectors
    entry = cache.get(key, generation, drop_stale=False)
    if entry is not None:
        return entry
    stale = cache.peek(key)
    first_rid = None
    if stale is not None:
        since = batch.caches.start_of_growth(pid, stale.generation, generation)
        if since is not None and not since.vectors_rewritten:
            first_rid = since.first_rid
    entry = load_partition_vectors(batch.conn, pid, model[0], model[1], generation, first_rid)
    if stale is not None and first_rid is not None:
        entry = stale.extended(entry)
    cache.put(key, entry)
    return entry


def _vector_candidates(
    batch: write.Batch, selected: Sequence[_Selected], model: tuple[int, int]
) -> Iterator[tuple[PartitionVectors, NDArray[np.intp], NDArray[np.intp]]]:
    """Per selection: its partition's matrix, the matrix rows of the selected memories that
    have a vector, and their indexes among all the selections' positions, in order (what
    `_best` and `_ids_at` take)."""
    offset = 0
    for part in selected:
        entry = _partition_vectors(batch, part.partition.pid, model, part.partition.generation)
        rids = part.rows.rids[part.positions]
        if entry.rids.size == 0 or rids.size == 0:
            yield entry, np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        else:
            rows = np.searchsorted(entry.rids, rids)
            found = entry.rids[np.minimum(rows, entry.rids.size - 1)] == rids
            yield entry, rows[found], np.flatnonzero(found) + offset
        offset += part.positions.size


def _search_vector(batch: write.Batch, op: SearchVector) -> list[MemoryScore]:
    rules.check_page(op.limit)
    query = vec.normalize(op.vector)
    model = _model(batch, op.model_id)
    if model is None:
        return []
    if model[1] != query.size:
        raise InvalidInputError(f"model {op.model_id!r} has {model[1]}-d vectors")
    selected = _selection(batch, op.tenant, op.filter)
    scores, indexes = [], []
    for entry, rows, found in _vector_candidates(batch, selected, model):
        scores.append(vec.similarities(entry.matrix, query)[rows])
        indexes.append(found)
    if not scores:
        return []
    return _best(selected, np.concatenate(indexes), np.concatenate(scores), op.limit)


def _scan_vectors(batch: write.Batch, op: ScanVectors) -> VectorMatrix:
    model = _model(batch, op.model_id)
    if model is None:
        return VectorMatrix((), np.zeros((0, 0), dtype=np.float32))
    selected = _selection(batch, op.tenant, op.filter)
    parts, indexes = [], []
    for entry, rows, found in _vector_candidates(batch, selected, model):
        parts.append(entry.matrix[rows])
        indexes.extend(found.tolist())
    if not indexes:
        return VectorMatrix((), np.zeros((0, model[1]), dtype=np.float32))
    ids = _ids_at(selected, indexes)
    order = sorted(range(len(ids)), key=ids.__getitem__)
    matrix = np.concatenate(parts)[order]
    return VectorMatrix(tuple(ids[index] for index in order), matrix)


def _count_unembedded(batch: write.Batch, op: CountUnembedded) -> int:
    """The selected rows less those the model's matrices hold (the cached ones a search of
    the scope reads next)."""
    selected = _selection(batch, op.tenant, op.filter)
    total = sum(part.positions.size for part in selected)
    model = _model(batch, op.model_id)
    if model is None or total == 0:
        return int(total)
    embedded = sum(found.size for _, _, found in _vector_candidates(batch, selected, model))
    return int(total - embedded)


# Reading memories and vectors by id: from the cached rows when they are current.


def _cached(
    batch: write.Batch, tenant: str, ids: Sequence[str]
) -> dict[str, tuple[PartitionState, PartitionRows, int]]:
    """memory id -> its partition, cached rows and row, for the ids of `tenant` held by a
    current cached partition (one indexed read of the partitions' states)."""
    cache = batch.caches.rows
    by_pid: dict[int, list[str]] = {}
    for memory_id in ids:
        pid = cache.owners.get((tenant, memory_id))
        if pid is not None:
            by_pid.setdefault(pid, []).append(memory_id)
    if not by_pid:
        return {}
    found = {}
    for pid, state in batch.partitions(by_pid).items():
        entry = cache.get((pid,), (state.generation, state.accessed))
        if entry is None or entry.tenant != tenant:
            continue
        for memory_id in by_pid[pid]:
            row = entry.positions.get(memory_id)
            if row is not None:
                found[memory_id] = (state, entry, row)
    return found


def _get_memories(batch: write.Batch, op: GetMemories) -> list[Memory | None]:
    cached = _cached(batch, op.tenant, op.ids)
    found: dict[str, Memory] = {}
    for memory_id, (_, entry, row) in cached.items():
        memory = entry.memories.get(row)
        if memory is not None:
            found[memory_id] = memory if op.shared else rules.detached(memory)
    missing = [memory_id for memory_id in dict.fromkeys(op.ids) if memory_id not in found]
    if missing:
        rows = _tuples(
            batch.conn,
            f"SELECT {base.MEMORY_COLUMNS}, rid FROM engram_memories"
            " WHERE tenant = ? AND id IN (SELECT value FROM json_each(?))",
            (op.tenant, _json(missing)),
        )
        for values in rows:
            memory = found[values[1]] = base.memory_from_row(values)
            place = cached.get(values[1])
            if place is not None and batch.keeps_rows and place[1].rids[place[2]] == values[-1]:
                place[1].memories[place[2]] = rules.detached(memory)
    return [found.get(memory_id) for memory_id in op.ids]


def _get_vectors(batch: write.Batch, op: GetVectors) -> list[vec.Vector | None]:
    model = _model(batch, op.model_id)
    if model is None:
        return [None] * len(op.ids)
    found: dict[str, vec.Vector | None] = {}
    by_pid: dict[int, list[tuple[str, int]]] = {}
    for memory_id, (state, entry, row) in _cached(batch, op.tenant, op.ids).items():
        by_pid.setdefault(state.pid, []).append((memory_id, int(entry.rids[row])))
    for pid, wanted in by_pid.items():
        state = batch.partitions([pid])[pid]
        vectors = _partition_vectors(batch, pid, model, state.generation)
        rids = np.array([rid for _, rid in wanted], dtype=np.int64)
        rows = np.minimum(np.searchsorted(vectors.rids, rids), max(vectors.rids.size - 1, 0))
        inside = (vectors.rids[rows] == rids).tolist() if vectors.rids.size else [False] * len(rids)
        for (memory_id, _), row, has in zip(wanted, rows.tolist(), inside, strict=True):
            found[memory_id] = vectors.matrix[row] if has else None
    missing = [memory_id for memory_id in op.ids if memory_id not in found]
    if missing:
        cursor = batch.conn.execute(
            "SELECT m.id, v.data FROM engram_memories AS m JOIN engram_memory_vectors AS v"
            " ON v.vrid = (? << 56) | m.rid"
            " WHERE m.tenant = ? AND m.id IN (SELECT value FROM json_each(?))",
            (model[0], op.tenant, _json(missing)),
        )
        found.update((row[0], vec.from_bytes(row[1], model[1])) for row in cursor)
    return [None if (vector := found.get(i)) is None else vector.copy() for i in op.ids]


# Entities, relations, profiles.


def _put_entities(batch: write.Batch, op: PutEntities) -> list[Entity]:
    entities = [rules.checked_entity(op.tenant, entity) for entity in op.entities]
    batch.conn.executemany(
        f"INSERT OR REPLACE INTO engram_memory_entities ({base.ENTITY_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [base.entity_row(entity) for entity in entities],
    )
    return entities


def _list_entities(batch: write.Batch, op: ListEntities) -> list[Entity]:
    sql = f"SELECT {base.ENTITY_COLUMNS} FROM engram_memory_entities WHERE tenant = ?"
    params: list[Any] = [op.tenant]
    if op.user_id is not None:
        sql += " AND user_id = ?"
        params.append(op.user_id)
    if op.ids is not None:
        sql += " AND id IN (SELECT value FROM json_each(?))"
        params.append(_json(op.ids))
    rows = batch.conn.execute(sql + " ORDER BY created_at, id", params)
    entities = [base.entity_from_row(row) for row in rows]
    if op.name_or_alias is None:
        return entities
    return [entity for entity in entities if rules.entity_has_name(entity, op.name_or_alias)]


def _put_relations(batch: write.Batch, op: PutRelations) -> list[Relation]:
    relations = [rules.checked_relation(op.tenant, relation) for relation in op.relations]
    batch.conn.executemany(
        f"INSERT OR REPLACE INTO engram_memory_relations ({base.RELATION_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [base.relation_row(relation) for relation in relations],
    )
    return relations


def _list_relations(batch: write.Batch, op: ListRelations) -> list[Relation]:
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
    rows = batch.conn.execute(sql + " ORDER BY created_at, id", params)
    return [base.relation_from_row(row) for row in rows]


def _get_profile(batch: write.Batch, op: GetProfile) -> UserProfile | None:
    row = batch.conn.execute(
        f"SELECT {base.PROFILE_COLUMNS} FROM engram_memory_profiles"
        " WHERE tenant = ? AND user_id = ?",
        (op.tenant, op.user_id),
    ).fetchone()
    return None if row is None else base.profile_from_row(row)


def _put_profile(batch: write.Batch, op: PutProfile) -> UserProfile:
    profile = rules.checked_profile(op.tenant, op.profile)
    batch.conn.execute(
        f"INSERT OR REPLACE INTO engram_memory_profiles ({base.PROFILE_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?)",
        base.profile_row(profile),
    )
    return profile


_HANDLERS: dict[type, _Handler] = {
    PutMemories: write.put_memories,
    GetMemories: _get_memories,
    ListMemories: _list_memories,
    CountMemories: _count_memories,
    ListUsers: _list_users,
    SearchLexical: _search_lexical,
    SearchVector: _search_vector,
    GetVectors: _get_vectors,
    PutVectors: lambda batch, op: write.put_vectors(batch.conn, op),
    ScanVectors: _scan_vectors,
    CountUnembedded: _count_unembedded,
    RecordAccess: write.record_access,
    GetHistory: _get_history,
    ListTombstones: _list_tombstones,
    PutTombstones: lambda batch, op: write.put_tombstones(batch.conn, op),
    DeleteMemories: lambda batch, op: write.delete_memories(batch.conn, batch.caches, op),
    DeleteScope: lambda batch, op: write.delete_scope(batch.conn, batch.caches, op),
    PutEntities: _put_entities,
    ListEntities: _list_entities,
    DeleteEntities: lambda batch, op: write.delete_entities(batch.conn, op),
    PutRelations: _put_relations,
    ListRelations: _list_relations,
    GetProfile: _get_profile,
    PutProfile: _put_profile,
}
"""One handler per op type; each runs inside the batch's transaction."""
