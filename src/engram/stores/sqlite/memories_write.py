"""The writing half of the SQLite memory store: puts, access counts and erasure.

Each function runs inside the batch's `BEGIN IMMEDIATE` transaction. Every write to a
partition changes its `generation` (see `memories_base`), so cached entries go stale with
the same commit; erasure also drops the partition's cached entries at once. A recall
(`RecordAccess`) increments the partition's `accessed` instead and patches the cached rows
once the transaction has committed (`Batch.after_commit`).

A put costs one statement per kind of row it writes: the stored rows it replaces, one
partition update per partition (row and history sequence numbers and the generation
together), the memories, the vectors, the history entries.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from engram._exceptions import BackendError, ConflictError, InvalidInputError, NotFoundError
from engram.memory import vectors as vec
from engram.stores import _memory_rules as rules
from engram.stores._cache import BoundedCache
from engram.stores.memories import (
    DeleteEntities,
    DeleteMemories,
    DeleteScope,
    ErasureReport,
    PutMemories,
    PutTombstones,
    PutVectors,
    RecordAccess,
    VectorRecord,
)
from engram.stores.sqlite import memories_base as base
from engram.stores.sqlite.memories_cache import (
    PartitionCache,
    PartitionState,
    PartitionVectors,
    RowCache,
)
from engram.types._memory import Memory, MemoryChange, UserProfile
from engram.types._time import utcnow

__all__ = [
    "Batch",
    "Caches",
    "Growth",
    "delete_entities",
    "delete_memories",
    "delete_scope",
    "find_partition",
    "model_numbers",
    "put_memories",
    "put_tombstones",
    "put_vectors",
    "record_access",
    "tenant_partitions",
]

_INSERT_MEMORY = (
    f"INSERT INTO engram_memories (rid, {base.MEMORY_COLUMNS})"
    f" VALUES (?{', ?' * len(base.MEMORY_COLUMNS.split(','))})"
)
_UPDATE_MEMORY = (
    "UPDATE engram_memories SET "
    + ", ".join(f"{name.strip()} = ?" for name in base.MEMORY_COLUMNS.split(","))
    + " WHERE rid = ?"
)
_INSERT_CHANGE = (
    f"INSERT INTO engram_memory_history (hid, {base.CHANGE_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_VECTOR = "INSERT OR REPLACE INTO engram_memory_vectors (vrid, data) VALUES (?, ?)"
_DELETE_VECTORS = "DELETE FROM engram_memory_vectors WHERE vrid IN (SELECT value FROM json_each(?))"


class Growth(NamedTuple):
    """A committed write of this store that appended memories (and their vectors) to a
    partition and rewrote some of its rows in place, taking it from generation `old` to
    `new`: an entry cached at `old` is the entry at `new` less the rows from `first_rid`
    on and with rows `rewritten` stale (read those, not the whole partition)."""

    old: int
    new: int
    first_rid: int
    rewritten: frozenset[int] = frozenset()
    """Row ids of memories updated in place (a row id never changes owner)."""
    vectors_rewritten: bool = False
    """Whether a vector of a row already there was replaced or deleted."""


class Since(NamedTuple):
    """What this store's own writes did to a partition since a generation (see `Growth`)."""

    first_rid: int
    """The first row appended since."""
    rewritten: frozenset[int]
    """The rows rewritten in place since (some may be appended ones)."""
    vectors_rewritten: bool

    def then(self, step: Growth) -> Since:
        """These changes followed by `step`'s."""
        return Since(
            self.first_rid,
            self.rewritten | step.rewritten,
            self.vectors_rewritten or step.vectors_rewritten,
        )


_GROWTH_STEPS = 16
"""Consecutive appends remembered per partition."""


class Caches(NamedTuple):
    """The store's in-process caches (see `memories_cache`)."""

    vectors: PartitionCache[PartitionVectors]
    rows: RowCache
    models: dict[str, tuple[int, int]]
    """Committed models, model id -> (model_no, dim): a model is never renumbered or
    removed, so an entry stays true (a model missing here may still exist)."""
    growth: BoundedCache[int, tuple[int, dict[int, Since]]]
    """pid -> the partition's generation after this store's latest writes, and what they
    changed since each generation they started from (see `Growth`)."""

    def evict_partition(self, pid: int) -> None:
        self.vectors.evict_partition(pid)
        self.rows.evict_partition(pid)
        self.growth.discard(pid)

    def note_growth(self, growth: dict[int, Growth]) -> None:
        """Record committed appends, chained onto the previous ones of the partition."""
        for pid, step in growth.items():
            known = self.growth.get(pid)
            starts = {} if known is None or known[0] != step.old else known[1]
            starts = {old: since.then(step) for old, since in starts.items() if old != step.new}
            starts[step.old] = Since(step.first_rid, step.rewritten, step.vectors_rewritten)
            while len(starts) > _GROWTH_STEPS:
                del starts[next(iter(starts))]
            self.growth.put(pid, (step.new, starts))

    def start_of_growth(self, pid: int, old: int, new: int) -> Since | None:
        """What changed in the partition since generation `old`, if this store's own
        appends and in-place rewrites are all that took it from `old` to `new`."""
        known = self.growth.get(pid)
        if known is None or known[0] != new:
            return None
        return known[1].get(old)


class Batch(NamedTuple):
    """What the operations of one batch share: its transaction and the caches."""

    conn: sqlite3.Connection
    caches: Caches
    keeps_rows: bool
    """Whether partition rows read in this batch may be cached: only when it writes nothing
    (what a write transaction reads after writing could still be rolled back)."""
    after_commit: list[Callable[[], None]]
    """Cache updates to apply once the transaction has committed (under the lock)."""
    seen: dict[object, PartitionState | None]
    """Partition states read in this batch, by pid or `(tenant, user_key)`: reused when the
    batch writes nothing (a read transaction sees one state of the file)."""

    def partition(self, tenant: str, user_key: str) -> PartitionState | None:
        """`find_partition`, read once per read-only batch."""
        if not self.keeps_rows:
            return find_partition(self.conn, tenant, user_key)
        key = (tenant, user_key)
        if key not in self.seen:
            found = self.seen[key] = find_partition(self.conn, tenant, user_key)
            if found is not None:
                self.seen[found.pid] = found
        return self.seen[key]

    def partitions(self, pids: Iterable[int]) -> dict[int, PartitionState]:
        """`partition_states`, each read once per read-only batch."""
        wanted = list(pids)
        if not self.keeps_rows:
            return partition_states(self.conn, wanted)
        unknown = [pid for pid in wanted if pid not in self.seen]
        if unknown:
            read = partition_states(self.conn, unknown)
            self.seen.update((pid, read.get(pid)) for pid in unknown)
        return {pid: state for pid in wanted if (state := self.seen[pid]) is not None}

    def models(self, wanted: Iterable[str] = ()) -> dict[str, tuple[int, int]]:
        """Every model (read) or, when the cache knows each of `wanted`, the known ones."""
        known = self.caches.models
        wanted = list(wanted)
        if wanted and all(model_id in known for model_id in wanted):
            return dict(known)
        models = model_numbers(self.conn)
        if self.keeps_rows:
            known.update(models)
        else:
            self.after_commit.append(lambda: known.update(models))
        return models


class _Stored(NamedTuple):
    rid: int
    user_id: str | None
    text: str


# Partitions and models.

_PARTITION_COLUMNS = "pid, tenant, generation, accessed"


def find_partition(conn: sqlite3.Connection, tenant: str, user_key: str) -> PartitionState | None:
    """The state of a partition, or None if it has no row."""
    row = conn.execute(
        f"SELECT {_PARTITION_COLUMNS} FROM engram_memory_partitions"
        " WHERE tenant = ? AND user_key = ?",
        (tenant, user_key),
    ).fetchone()
    return None if row is None else PartitionState(*row)


def tenant_partitions(conn: sqlite3.Connection, tenant: str) -> list[PartitionState]:
    """The states of every partition of `tenant`, by pid."""
    rows = conn.execute(
        f"SELECT {_PARTITION_COLUMNS} FROM engram_memory_partitions WHERE tenant = ? ORDER BY pid",
        (tenant,),
    )
    return [PartitionState(*row) for row in rows]


def partition_states(conn: sqlite3.Connection, pids: Iterable[int]) -> dict[int, PartitionState]:
    """pid -> state of the partitions that still exist."""
    rows = conn.execute(
        f"SELECT {_PARTITION_COLUMNS} FROM engram_memory_partitions"
        " WHERE pid IN (SELECT value FROM json_each(?))",
        (json.dumps(list(pids)),),
    )
    return {int(row[0]): PartitionState(*row) for row in rows}


def _ensure_partition(conn: sqlite3.Connection, tenant: str, user_key: str) -> PartitionState:
    found = find_partition(conn, tenant, user_key)
    if found is None:
        conn.execute(
            "INSERT INTO engram_memory_partitions (tenant, user_key) VALUES (?, ?)",
            (tenant, user_key),
        )
        found = find_partition(conn, tenant, user_key)
        assert found is not None  # inserted just above, in this transaction
    if found.pid >= base.SEQ_LIMIT:
        raise BackendError("the memory store ran out of partition ids")
    return found


class _Allocated(NamedTuple):
    first_seq: int
    first_change: int
    generation: int
    """The partition's new generation."""


def _allocate(conn: sqlite3.Connection, pid: int, rows: int, changes: int) -> _Allocated:
    """Reserve `rows` memory and `changes` history sequence numbers in partition `pid`;
    the first of each.

    Also changes the partition's generation (this is a write to it)."""
    last_seq, last_change, generation = conn.execute(
        "UPDATE engram_memory_partitions SET last_seq = last_seq + ?,"
        " last_change = last_change + ?, generation = random()"
        " WHERE pid = ? RETURNING last_seq, last_change, generation",
        (rows, changes, pid),
    ).fetchone()
    if max(last_seq, last_change) >= base.SEQ_LIMIT:
        raise BackendError(f"partition {pid} ran out of row ids")
    return _Allocated(int(last_seq) - rows + 1, int(last_change) - changes + 1, int(generation))


def _bump(conn: sqlite3.Connection, pids: Iterable[int]) -> None:
    conn.executemany(
        "UPDATE engram_memory_partitions SET generation = random() WHERE pid = ?",
        [(pid,) for pid in set(pids)],
    )


def model_numbers(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """model id -> (model_no, dim) of every model with stored vectors (ever)."""
    rows = conn.execute("SELECT model_id, model_no, dim FROM engram_memory_models")
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


def _ensure_model(
    conn: sqlite3.Connection, models: dict[str, tuple[int, int]], record: VectorRecord
) -> int:
    known = models.get(record.model_id)
    if known is not None:
        if known[1] != record.dim:
            raise InvalidInputError(
                f"model {record.model_id!r} has {known[1]}-d vectors, not {record.dim}-d"
            )
        return known[0]
    model_no = 1 + max((number for number, _ in models.values()), default=0)
    if model_no > base.MAX_MODELS:
        raise InvalidInputError(f"at most {base.MAX_MODELS} embedding models per database")
    conn.execute(
        "INSERT INTO engram_memory_models (model_no, model_id, dim) VALUES (?, ?, ?)",
        (model_no, record.model_id, record.dim),
    )
    models[record.model_id] = (model_no, record.dim)
    return model_no


def _vector_ids(models: dict[str, tuple[int, int]], rids: Iterable[int]) -> str:
    """Every possible vector row id of `rids` (all models), as a JSON list."""
    numbers = [number for number, _ in models.values()]
    return json.dumps([(number << base.MODEL_SHIFT) | rid for rid in rids for number in numbers])


# Memories.


def _stored(conn: sqlite3.Connection, tenant: str, ids: Sequence[str]) -> dict[str, _Stored]:
    rows = conn.execute(
        "SELECT id, rid, user_id, text FROM engram_memories"
        " WHERE tenant = ? AND id IN (SELECT value FROM json_each(?))",
        (tenant, json.dumps(list(ids))),
    )
    return {row[0]: _Stored(row[1], row[2], row[3]) for row in rows}


def put_memories(batch: Batch, op: PutMemories) -> list[Memory]:
    conn = batch.conn
    memories, records, changes = rules.check_put(op, detach=False)
    stored = _stored(conn, op.tenant, [memory.id for memory in memories])
    before: dict[int, PartitionState] = {}  # the partitions of new memories, before this put
    owners = _owners(conn, op.tenant, memories, stored, before)
    history = _changes_by_partition(conn, op.tenant, changes, owners)
    fresh: dict[int, list[int]] = defaultdict(list)
    for index, memory in enumerate(memories):
        if memory.id not in stored:
            fresh[owners[memory.id]].append(index)
    rids = [0 if memory.id not in stored else stored[memory.id].rid for memory in memories]
    touched = list(dict.fromkeys([*owners.values(), *history]))
    before.update(partition_states(conn, [pid for pid in touched if pid not in before]))
    rewritten, stale_vectors = _rewrites(memories, records, stored)
    first_change, growth = {}, {}
    for pid in touched:
        indexes = fresh.get(pid, [])
        allocated = _allocate(conn, pid, len(indexes), len(history.get(pid, ())))
        first_change[pid] = allocated.first_change
        first_rid = (pid << base.PARTITION_BITS) | allocated.first_seq
        for offset, index in enumerate(indexes):
            rids[index] = first_rid + offset
        if pid in before:
            mine = frozenset(rewritten.get(pid, ()))
            growth[pid] = Growth(
                before[pid].generation, allocated.generation, first_rid, mine, pid in stale_vectors
            )
    batch.after_commit.append(lambda: batch.caches.note_growth(growth))
    inserts, updates, stale = [], [], []
    for memory, rid in zip(memories, rids, strict=True):
        old = stored.get(memory.id)
        if old is None:
            inserts.append((rid, *base.memory_row(memory)))
            continue
        updates.append((*base.memory_row(memory), rid))
        if old.text != memory.text:
            stale.append(rid)
    conn.executemany(_INSERT_MEMORY, inserts)
    if updates:
        conn.executemany(_UPDATE_MEMORY, updates)
    written = {record.model_id for record in records if record is not None}
    if stale or written:
        # Deleting stale vectors takes every model; writing vectors, those written.
        models = batch.models(() if stale else written)
        if stale:
            conn.execute(_DELETE_VECTORS, (_vector_ids(models, stale),))
        conn.executemany(_UPSERT_VECTOR, _vector_rows(conn, models, records, rids))
    for pid, group in history.items():
        _write_changes(conn, pid, first_change[pid], group)
    return memories


def _rewrites(
    memories: Sequence[Memory], records: Sequence[VectorRecord | None], stored: dict[str, _Stored]
) -> tuple[dict[int, list[int]], set[int]]:
    """The rows a put rewrites in place, by partition, and the partitions where it replaces
    or deletes a vector of such a row (a new vector, or a changed text's stale ones)."""
    rewritten: dict[int, list[int]] = defaultdict(list)
    vectors_rewritten = set()
    for memory, record in zip(memories, records, strict=True):
        old = stored.get(memory.id)
        if old is None:
            continue
        pid = old.rid >> base.PARTITION_BITS
        rewritten[pid].append(old.rid)
        if record is not None or old.text != memory.text:
            vectors_rewritten.add(pid)
    return rewritten, vectors_rewritten


def _owners(
    conn: sqlite3.Connection,
    tenant: str,
    memories: Sequence[Memory],
    stored: dict[str, _Stored],
    fresh: dict[int, PartitionState],
) -> dict[str, int]:
    """memory id -> its partition: the stored row's, or its user's (created if new; its
    state is put in `fresh`)."""
    owners: dict[str, int] = {}
    partitions: dict[str, int] = {}
    for memory in memories:
        old = stored.get(memory.id)
        if old is None:
            key = rules.user_key(memory.user_id)
            if key not in partitions:
                state = _ensure_partition(conn, tenant, key)
                partitions[key], fresh[state.pid] = state.pid, state
            owners[memory.id] = partitions[key]
        elif old.user_id != memory.user_id:
            raise ConflictError(f"memory {memory.id!r} belongs to another user_id")
        else:
            owners[memory.id] = old.rid >> base.PARTITION_BITS
    return owners


def _vector_rows(
    conn: sqlite3.Connection,
    models: dict[str, tuple[int, int]],
    records: Sequence[VectorRecord | None],
    rids: Sequence[int],
) -> list[tuple[int, bytes]]:
    """The `(vrid, data)` rows of `records`, checked by `rules.checked_vectors` (so the
    vectors of one model have one dimension: each model is looked up once, not per vector)."""
    shifted: dict[str, int] = {}
    rows = []
    for record, rid in zip(records, rids, strict=True):
        if record is None:
            continue
        high = shifted.get(record.model_id)
        if high is None:
            high = _ensure_model(conn, models, record) << base.MODEL_SHIFT
            shifted[record.model_id] = high
        rows.append((high | rid, vec.to_bytes(record.vector)))
    return rows


def _owner(conn: sqlite3.Connection, tenant: str, memory_id: str) -> int:
    """The partition of a stored memory, or of the history of a deleted one."""
    row = conn.execute(
        "SELECT rid FROM engram_memories WHERE tenant = ? AND id = ?", (tenant, memory_id)
    ).fetchone()
    if row is None:
        row = conn.execute(
            "SELECT hid FROM engram_memory_history WHERE tenant = ? AND memory_id = ? LIMIT 1",
            (tenant, memory_id),
        ).fetchone()
    if row is None:
        raise InvalidInputError(f"a change names an unknown memory {memory_id!r}")
    return int(row[0]) >> base.PARTITION_BITS


def _changes_by_partition(
    conn: sqlite3.Connection, tenant: str, changes: Sequence[MemoryChange], owners: dict[str, int]
) -> dict[int, list[MemoryChange]]:
    """`changes` grouped by the partition of their memory (`owners`, else looked up)."""
    by_pid: dict[int, list[MemoryChange]] = defaultdict(list)
    for change in changes:
        pid = owners.get(change.memory_id)
        if pid is None:
            pid = owners[change.memory_id] = _owner(conn, tenant, change.memory_id)
        by_pid[pid].append(change)
    return by_pid


def _write_changes(
    conn: sqlite3.Connection, pid: int, first: int, changes: Sequence[MemoryChange]
) -> None:
    rows = [
        ((pid << base.PARTITION_BITS) | (first + offset), *base.change_row(change))
        for offset, change in enumerate(changes)
    ]
    conn.executemany(_INSERT_CHANGE, rows)


def _insert_changes(
    conn: sqlite3.Connection, tenant: str, changes: Sequence[MemoryChange], owners: dict[str, int]
) -> None:
    for pid, group in _changes_by_partition(conn, tenant, changes, owners).items():
        _write_changes(conn, pid, _allocate(conn, pid, 0, len(group)).first_change, group)


def put_tombstones(conn: sqlite3.Connection, op: PutTombstones) -> int:
    """Write the op's tombstones but those stored already, in the user's partition."""
    changes = rules.tombstones_to_put(op)
    ids = list(dict.fromkeys(change.memory_id for change in changes))
    if held := _stored(conn, op.tenant, ids):
        raise ConflictError(f"memory {next(iter(held))!r} is stored: erase it instead")
    rows = conn.execute(
        "SELECT id FROM engram_memory_history"
        " WHERE tenant = ? AND memory_id IN (SELECT value FROM json_each(?))",
        (op.tenant, json.dumps(ids)),
    )
    known = {row[0] for row in rows}
    new = [change for change in changes if change.id not in known]
    if new:
        pid = _ensure_partition(conn, op.tenant, op.user_id).pid
        _write_changes(conn, pid, _allocate(conn, pid, 0, len(new)).first_change, new)
    return len(new)


def put_vectors(conn: sqlite3.Connection, op: PutVectors) -> None:
    if len(op.ids) != len(op.vectors):
        raise InvalidInputError("PutVectors needs one vector per id")
    records = [rules.checked_vector(record) for record in op.vectors]
    stored = _stored(conn, op.tenant, op.ids)
    models = model_numbers(conn)
    rows = []
    for memory_id, record in zip(op.ids, records, strict=True):
        if memory_id not in stored:
            raise NotFoundError(f"no memory {memory_id!r} in tenant {op.tenant!r}")
        rid = stored[memory_id].rid
        model_no = _ensure_model(conn, models, record)
        rows.append(((model_no << base.MODEL_SHIFT) | rid, vec.to_bytes(record.vector)))
    conn.executemany(_UPSERT_VECTOR, rows)
    _bump(conn, [old.rid >> base.PARTITION_BITS for old in stored.values()])


def record_access(batch: Batch, op: RecordAccess) -> int:
    """Count a recall. No generation change (no vector changes): `accessed` is incremented
    instead, and the cached rows of this store are patched after the commit."""
    counted = batch.conn.execute(
        "UPDATE engram_memories SET access_count = access_count + 1, last_accessed_at = ?"
        " WHERE tenant = ? AND id IN (SELECT value FROM json_each(?))"
        " RETURNING rid, id, access_count",
        (base.micros(op.at), op.tenant, json.dumps(list(op.ids))),
    ).fetchall()
    if not counted:
        return 0
    by_pid: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    for rid, memory_id, count in counted:
        by_pid[rid >> base.PARTITION_BITS].append((rid, memory_id, count))
    states = batch.conn.execute(
        "UPDATE engram_memory_partitions SET accessed = accessed + 1"
        " WHERE pid IN (SELECT value FROM json_each(?)) RETURNING pid, generation, accessed",
        (json.dumps(list(by_pid)),),
    ).fetchall()
    at = base.from_micros(base.micros(op.at))
    rows = batch.caches.rows

    def patch() -> None:
        for pid, generation, accessed in states:
            entry = rows.peek((pid,))
            if entry is not None and entry.state == (generation, accessed - 1):
                entry.patch_access(by_pid[pid], at)
                entry.state = (generation, accessed)

    batch.after_commit.append(patch)
    return len(counted)


# Erasure.


class _Counts:
    def __init__(self) -> None:
        self.values = dict.fromkeys(ErasureReport._fields, 0)
        self.quoted: dict[int, set[str]] = {}
        """pid -> the erased texts to drop from the context of its episodes (`_unquote`,
        once per partition when the erasure is done)."""

    def add(self, field: str, count: int) -> None:
        self.values[field] += max(count, 0)

    def report(self) -> ErasureReport:
        return ErasureReport(**self.values)


def delete_memories(conn: sqlite3.Connection, cache: Caches, op: DeleteMemories) -> ErasureReport:
    counts = _Counts()
    at = utcnow() if op.at is None else op.at
    stored = _stored(conn, op.tenant, list(dict.fromkeys(op.ids)))
    models = model_numbers(conn)
    for memory_id in dict.fromkeys(op.ids):
        if memory_id in stored:
            _erase(
                conn, cache, models, op.tenant, memory_id, stored[memory_id], op.reason, at, counts
            )
    _unquote(conn, op.tenant, counts)
    return counts.report()


def _erase(
    conn: sqlite3.Connection,
    cache: Caches,
    models: dict[str, tuple[int, int]],
    tenant: str,
    memory_id: str,
    stored: _Stored,
    reason: str | None,
    at: datetime,
    counts: _Counts,
) -> None:
    pid = stored.rid >> base.PARTITION_BITS
    texts = _blank_history(conn, tenant, memory_id, pid, stored.text, counts)
    counts.add(
        "vectors", conn.execute(_DELETE_VECTORS, (_vector_ids(models, [stored.rid]),)).rowcount
    )
    conn.execute("DELETE FROM engram_memories WHERE rid = ?", (stored.rid,))
    counts.add("memories", 1)
    low, high = base.partition_range(pid)
    conn.execute(  # the memories it retired keep no link to it
        "UPDATE engram_memories SET superseded_by = NULL"
        " WHERE rid BETWEEN ? AND ? AND superseded_by = ?",
        (low, high, memory_id),
    )
    _insert_changes(
        conn, tenant, [rules.tombstone(tenant, memory_id, reason, at)], {memory_id: pid}
    )
    counts.quoted.setdefault(pid, set()).update(texts)
    deleted = conn.execute(
        "DELETE FROM engram_memory_relations WHERE tenant = ? AND memory_id = ?",
        (tenant, memory_id),
    )
    counts.add("relations", deleted.rowcount)
    if stored.user_id is not None:
        _drop_profile_fields(conn, tenant, stored.user_id, memory_id, counts)
    cache.evict_partition(pid)


def _unquote(conn: sqlite3.Connection, tenant: str, counts: _Counts) -> None:
    """Drop the erased texts from the context of their partitions' episodes (their lexical
    terms are written again with it; the erasure's tombstones changed the partitions'
    generations, and `_erase` evicted their cached rows)."""
    for pid, texts in sorted(counts.quoted.items()):
        low, high = base.partition_range(pid)
        rows = conn.execute(
            f"SELECT rid, {base.MEMORY_COLUMNS} FROM engram_memories"
            " WHERE rid BETWEEN ? AND ? AND tenant = ? AND kind = 'episode'"
            " AND instr(metadata, '\"context\":') > 0"
            " AND EXISTS (SELECT 1 FROM json_each(?) AS n WHERE instr(metadata, n.value) > 0)",
            (low, high, tenant, json.dumps(rules.context_needles(texts))),
        ).fetchall()
        updates = []
        for row in rows:
            unquoted = rules.without_quotes(base.memory_from_row(row[1:]), texts)
            if unquoted is not None:
                updates.append((*base.memory_row(unquoted), row[0]))
        conn.executemany(_UPDATE_MEMORY, updates)


def _blank_history(
    conn: sqlite3.Connection, tenant: str, memory_id: str, pid: int, text: str, counts: _Counts
) -> set[str]:
    """Blank the memory's texts in its partition's history; return those no other memory
    of the partition holds (a copy of one it holds is no trace of the erased memory: an add
    keeps a fact said in two sessions in each, and a merge keeps the text of what it merges)."""
    own = conn.execute(
        "SELECT old_text, new_text FROM engram_memory_history WHERE tenant = ? AND memory_id = ?",
        (tenant, memory_id),
    ).fetchall()
    stated = {text} | {value for row in own for value in row if value}
    gone = _not_held(conn, pid, memory_id, stated)
    texts = json.dumps(sorted(gone))
    blanked = conn.execute(
        "UPDATE engram_memory_history SET old_text = NULL, new_text = NULL, reason = NULL"
        " WHERE tenant = ? AND memory_id = ?"
        " AND (old_text IS NOT NULL OR new_text IS NOT NULL OR reason IS NOT NULL)",
        (tenant, memory_id),
    )
    counts.add("history", blanked.rowcount)
    low, high = base.partition_range(pid)
    erased = "IN (SELECT value FROM json_each(:texts))"
    copies = conn.execute(
        f"UPDATE engram_memory_history SET"
        f" old_text = CASE WHEN old_text {erased} THEN NULL ELSE old_text END,"
        f" new_text = CASE WHEN new_text {erased} THEN NULL ELSE new_text END"
        f" WHERE hid BETWEEN :low AND :high AND memory_id != :id"
        f" AND (old_text {erased} OR new_text {erased})",
        {"texts": texts, "low": low, "high": high, "id": memory_id},
    )
    counts.add("history", copies.rowcount)
    return gone


def _not_held(conn: sqlite3.Connection, pid: int, memory_id: str, texts: set[str]) -> set[str]:
    """Those of `texts` no memory of partition `pid` but `memory_id` has as its text."""
    low, high = base.partition_range(pid)
    held = conn.execute(
        "SELECT text FROM engram_memories WHERE rid BETWEEN ? AND ? AND id != ?"
        " AND text IN (SELECT value FROM json_each(?))",
        (low, high, memory_id, json.dumps(sorted(texts))),
    )
    return texts - {row[0] for row in held}


def _drop_profile_fields(
    conn: sqlite3.Connection, tenant: str, user_id: str, memory_id: str, counts: _Counts
) -> None:
    row = conn.execute(
        f"SELECT {base.PROFILE_COLUMNS} FROM engram_memory_profiles"
        " WHERE tenant = ? AND user_id = ?",
        (tenant, user_id),
    ).fetchone()
    if row is None:
        return
    profile = base.profile_from_row(row)
    if memory_id not in profile.sources.values():
        return
    _upsert_profile(conn, rules.profile_without(profile, {memory_id}))
    counts.add("profiles", 1)


def _upsert_profile(conn: sqlite3.Connection, profile: UserProfile) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO engram_memory_profiles ({base.PROFILE_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?)",
        base.profile_row(profile),
    )


def delete_scope(conn: sqlite3.Connection, cache: Caches, op: DeleteScope) -> ErasureReport:
    rules.check_scope(op)
    if op.agent_id is None and op.session_id is None and op.user_id is not None:
        return _delete_user(conn, cache, op.tenant, op.user_id)
    conditions, params = ["tenant = ?"], [op.tenant]
    for column in ("user_id", "agent_id", "session_id"):
        if getattr(op, column) is not None:
            conditions.append(f"{column} = ?")
            params.append(getattr(op, column))
    rows = conn.execute(
        f"SELECT id, rid, user_id, text FROM engram_memories WHERE {' AND '.join(conditions)}",
        params,
    ).fetchall()
    counts = _Counts()
    models = model_numbers(conn)
    at = utcnow()
    for row in rows:
        stored = _Stored(row[1], row[2], row[3])
        _erase(conn, cache, models, op.tenant, row[0], stored, "scope erased", at, counts)
    _unquote(conn, op.tenant, counts)
    _blank_older_texts(conn, op.tenant, op.spared, counts)
    _unsource(conn, op.tenant, op.unsourced, op.erased_sources)
    return counts.report()


def _unsource(
    conn: sqlite3.Connection, tenant: str, ids: Sequence[str], erased: Sequence[str]
) -> None:
    """Take the `erased` message ids out of the history of memories `ids`
    (`DeleteScope.erased_sources`)."""
    if not ids or not erased:
        return
    gone = set(erased)
    rows = conn.execute(
        "SELECT hid, source_ids FROM engram_memory_history"
        " WHERE tenant = ? AND memory_id IN (SELECT value FROM json_each(?))"
        " AND EXISTS (SELECT 1 FROM json_each(source_ids) AS s"
        " WHERE s.value IN (SELECT value FROM json_each(?)))",
        (tenant, json.dumps(list(ids)), json.dumps(list(erased))),
    ).fetchall()
    for hid, said in rows:
        kept = rules.sources_kept(json.loads(said), gone)
        if kept is not None:
            conn.execute(
                "UPDATE engram_memory_history SET source_ids = ? WHERE hid = ?",
                (json.dumps(kept), hid),
            )


def _blank_older_texts(
    conn: sqlite3.Connection, tenant: str, ids: Sequence[str], counts: _Counts
) -> None:
    """Blank every text of the history of memories `ids` but their current one
    (`DeleteScope.spared`)."""
    if not ids:
        return
    now = (
        "(SELECT m.text FROM engram_memories AS m"
        " WHERE m.tenant = engram_memory_history.tenant"
        " AND m.id = engram_memory_history.memory_id)"
    )
    blanked = conn.execute(
        f"UPDATE engram_memory_history SET"
        f" old_text = CASE WHEN old_text = {now} THEN old_text END,"
        f" new_text = CASE WHEN new_text = {now} THEN new_text END"
        f" WHERE tenant = ? AND memory_id IN (SELECT value FROM json_each(?))"
        f" AND (old_text != {now} OR new_text != {now})",
        (tenant, json.dumps(list(ids))),
    )
    counts.add("history", blanked.rowcount)


def _delete_user(
    conn: sqlite3.Connection, cache: Caches, tenant: str, user_id: str
) -> ErasureReport:
    counts = _Counts()
    memory_ids: list[str] = []
    partition = find_partition(conn, tenant, user_id)
    if partition is not None:
        pid = partition[0]
        low, high = base.partition_range(pid)
        memory_ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM engram_memories WHERE rid BETWEEN ? AND ?", (low, high)
            )
        ]
        for model_no, _ in model_numbers(conn).values():
            deleted = conn.execute(
                "DELETE FROM engram_memory_vectors WHERE vrid BETWEEN ? AND ?",
                base.vector_range(model_no, pid),
            )
            counts.add("vectors", deleted.rowcount)
        for table, key in (("engram_memories", "rid"), ("engram_memory_history", "hid")):
            deleted = conn.execute(f"DELETE FROM {table} WHERE {key} BETWEEN ? AND ?", (low, high))
            counts.add("memories" if key == "rid" else "history", deleted.rowcount)
        conn.execute("DELETE FROM engram_memory_partitions WHERE pid = ?", (pid,))
        cache.evict_partition(pid)
    entities = [
        row[0]
        for row in conn.execute(
            "DELETE FROM engram_memory_entities WHERE tenant = ? AND user_id = ? RETURNING id",
            (tenant, user_id),
        ).fetchall()
    ]
    counts.add("entities", len(entities))
    counts.add("relations", _delete_relations(conn, tenant, user_id, entities, memory_ids))
    deleted = conn.execute(
        "DELETE FROM engram_memory_profiles WHERE tenant = ? AND user_id = ?", (tenant, user_id)
    )
    counts.add("profiles", deleted.rowcount)
    return counts.report()


def _delete_relations(
    conn: sqlite3.Connection,
    tenant: str,
    user_id: str | None,
    entity_ids: Sequence[str],
    memory_ids: Sequence[str] = (),
) -> int:
    """Delete the relations of `user_id`, touching `entity_ids` or stated by `memory_ids`."""
    entities, memories = json.dumps(list(entity_ids)), json.dumps(list(memory_ids))
    deleted = conn.execute(
        "DELETE FROM engram_memory_relations WHERE tenant = :tenant AND ("
        " (:user_id IS NOT NULL AND user_id = :user_id)"
        " OR source_id IN (SELECT value FROM json_each(:entities))"
        " OR target_id IN (SELECT value FROM json_each(:entities))"
        " OR memory_id IN (SELECT value FROM json_each(:memories)))",
        {"tenant": tenant, "user_id": user_id, "entities": entities, "memories": memories},
    )
    return int(deleted.rowcount)


def delete_entities(conn: sqlite3.Connection, op: DeleteEntities) -> ErasureReport:
    deleted = conn.execute(
        "DELETE FROM engram_memory_entities"
        " WHERE tenant = ? AND id IN (SELECT value FROM json_each(?)) RETURNING id",
        (op.tenant, json.dumps(list(op.ids))),
    ).fetchall()
    entities = [row[0] for row in deleted]
    relations = _delete_relations(conn, op.tenant, None, entities)
    return ErasureReport(entities=len(entities), relations=relations)
