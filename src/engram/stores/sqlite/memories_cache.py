"""The in-process caches of the SQLite memory store: partition matrices and partition rows.

A search for one user reads that user's partition: its vectors of one model (one sequential
range read, but still a few milliseconds per thousand vectors) and the columns ranking needs
(ids, kinds, event times, BM25 terms), then the candidates' full memories. The caches keep
what those reads decode, per partition, tagged with the partition's state, read in the
search's own transaction (one indexed row of `engram_memory_partitions`):

- `PartitionVectors`, by `(pid, model_no)`: the decoded matrix, valid while the partition's
  `generation` is unchanged. Every write to a partition changes its generation in the same
  transaction (also across processes sharing the file).
- `PartitionRows`, by `(pid,)`: the partition's row ids, memory ids, filter columns and BM25
  terms, plus each `Memory` once decoded (lazily: only candidates are ever decoded). Valid
  while `(generation, accessed)` is unchanged: `accessed` counts the recalls
  (`RecordAccess`) of the partition, which change access counts but no vector. A recall by
  this store patches the entry instead of dropping it.

Entries are evicted least recently used first beyond `max_bytes`, and at once when the
partition's memories are erased (erasure reaches caches too). Entries loaded inside a write
transaction are not kept (their state could be rolled back); a read-only batch keeps them.

Memories handed out from a `PartitionRows` entry are shared with the cache (they are frozen;
treat their metadata as read-only too), which is what makes a repeated search cheap.
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, NamedTuple, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from engram.memory import bm25
from engram.memory import vectors as vec
from engram.stores.sqlite import memories_base as base
from engram.types._copy import copy_record
from engram.types._memory import Memory

__all__ = [
    "PartitionCache",
    "PartitionRows",
    "PartitionState",
    "PartitionVectors",
    "RowCache",
    "load_partition_rows",
    "load_partition_vectors",
]

_RID_MASK = (1 << base.MODEL_SHIFT) - 1
_ROW_OVERHEAD = 1024
"""Bytes counted per cached row besides its arrays: its id, Python objects, and its decoded
`Memory` (an estimate; memories are decoded lazily but counted up front)."""


class PartitionState(NamedTuple):
    """A partition as its `engram_memory_partitions` row describes it."""

    pid: int
    tenant: str
    generation: int
    """Changed (randomly) by every write to the partition's memories or vectors."""
    accessed: int
    """Incremented by every recall (`RecordAccess`) of the partition's memories."""


# Entries.


@dataclass(frozen=True, slots=True)
class PartitionVectors:
    """The vectors of one model in one partition: `matrix[i]` belongs to row id `rids[i]`."""

    generation: int
    rids: NDArray[np.int64]
    """Ascending."""
    matrix: vec.Matrix
    spare: tuple[NDArray[np.int64], vec.Matrix] | None = None
    """Buffers `rids` and `matrix` are the first rows of, with room for appended rows (an
    entry only ever extended, never overwritten: the rows past it are free)."""

    @property
    def state(self) -> int:
        return self.generation

    @property
    def nbytes(self) -> int:
        rids, matrix = (self.rids, self.matrix) if self.spare is None else self.spare
        return int(rids.nbytes + matrix.nbytes)

    def extended(self, more: PartitionVectors) -> PartitionVectors:
        """This entry plus `more` (rows after all of its own), at `more`'s generation.

        Appends in place into spare room (grown by a quarter when full), so a run of adds
        costs what they add, not a copy of the partition each."""
        count, total = self.rids.size, self.rids.size + more.rids.size
        spare = self.spare
        if spare is None or spare[0].size < total:
            capacity = total + total // 4 + 8
            rids = np.empty(capacity, dtype=np.int64)
            matrix = np.empty((capacity, self.matrix.shape[1]), dtype=np.float32)
            rids[:count], matrix[:count] = self.rids, self.matrix
            spare = (rids, matrix)
        spare[0][count:total], spare[1][count:total] = more.rids, more.matrix
        return PartitionVectors(more.generation, spare[0][:total], spare[1][:total], spare)


def load_partition_vectors(
    conn: sqlite3.Connection,
    pid: int,
    model_no: int,
    dim: int,
    generation: int,
    first_rid: int | None = None,
) -> PartitionVectors:
    """Read partition `pid`'s vectors of model `model_no` (one range scan, row id order),
    from row id `first_rid` on if given."""
    low, high = base.vector_range(model_no, pid)
    if first_rid is not None:
        low = (model_no << base.MODEL_SHIFT) | first_rid
    rows = conn.execute(
        "SELECT vrid, data FROM engram_memory_vectors WHERE vrid BETWEEN ? AND ?", (low, high)
    ).fetchall()
    rids = np.fromiter((row[0] & _RID_MASK for row in rows), dtype=np.int64, count=len(rows))
    matrix = vec.stack_bytes([row[1] for row in rows], dim)
    return PartitionVectors(generation, rids, matrix)


@dataclass(slots=True)
class PartitionRows:
    """What search and ranking read of one partition's memories, row `i` being `rids[i]`.

    The filter columns mirror `memories_base.filter_sql` for the conditions `select` can
    evaluate; the terms are `bm25.join_documents` of the rows' stored terms.
    """

    state: tuple[int, int]
    """`(generation, accessed)` when loaded (or last patched)."""
    tenant: str
    rids: NDArray[np.int64]
    """Ascending."""
    ids: list[str]
    positions: dict[str, int]
    """Memory id -> row."""
    kinds: NDArray[np.str_]
    agent_ids: NDArray[np.object_]
    session_ids: NDArray[np.object_]
    current: NDArray[np.bool_]
    """`superseded_at IS NULL`."""
    event_at: NDArray[np.int64]
    terms: bm25.TermHashes
    lengths: NDArray[np.int64]
    owners: NDArray[np.int64]
    """The row of each of `terms`."""
    memories: dict[int, Memory] = field(default_factory=dict)
    """Row -> its decoded memory (filled on demand)."""

    @property
    def nbytes(self) -> int:
        arrays = (self.rids, self.event_at, self.terms, self.lengths, self.owners, self.kinds)
        return sum(int(array.nbytes) for array in arrays) + _ROW_OVERHEAD * len(self.ids)

    def terms_of(self, rows: NDArray[np.intp]) -> tuple[bm25.TermHashes, NDArray[np.int64]]:
        """The flat terms and lengths of `rows` (ascending), as `bm25.join_documents` gives."""
        if rows.size == len(self.ids):
            return self.terms, self.lengths
        keep = np.zeros(len(self.ids), dtype=np.bool_)
        keep[rows] = True
        return self.terms[keep[self.owners]], self.lengths[rows]

    def extended(self, more: PartitionRows) -> PartitionRows:
        """This entry plus `more` (rows after all of its own), at `more`'s state; the
        memories decoded so far are kept."""
        offset = len(self.ids)
        positions = dict(self.positions)
        positions.update((memory_id, offset + row) for memory_id, row in more.positions.items())
        return PartitionRows(
            state=more.state,
            tenant=self.tenant,
            rids=np.concatenate([self.rids, more.rids]),
            ids=self.ids + more.ids,
            positions=positions,
            kinds=np.concatenate([self.kinds, more.kinds]),
            agent_ids=np.concatenate([self.agent_ids, more.agent_ids]),
            session_ids=np.concatenate([self.session_ids, more.session_ids]),
            current=np.concatenate([self.current, more.current]),
            event_at=np.concatenate([self.event_at, more.event_at]),
            terms=np.concatenate([self.terms, more.terms]),
            lengths=np.concatenate([self.lengths, more.lengths]),
            owners=np.concatenate([self.owners, more.owners + offset]),
            memories=dict(self.memories),
        )

    def patched(self, more: PartitionRows) -> PartitionRows | None:
        """This entry with its rows `more.rids` replaced by `more`'s (memories rewritten in
        place), at `more`'s state; the other memories decoded so far are kept. None if a row
        of `more` is not in this entry."""
        rows = np.searchsorted(self.rids, more.rids)
        if rows.size and (rows[-1] >= self.rids.size or (self.rids[rows] != more.rids).any()):
            return None
        if [self.ids[row] for row in rows.tolist()] != more.ids:
            return None
        keep = ~np.isin(self.owners, rows)
        owners = np.concatenate([self.owners[keep], rows[more.owners]])
        order = np.argsort(owners, kind="stable")  # each row's terms stay in their order
        replaced = set(rows.tolist())
        return PartitionRows(
            state=more.state,
            tenant=self.tenant,
            rids=self.rids,
            ids=self.ids,
            positions=self.positions,
            kinds=_assigned(self.kinds, rows, more.kinds),
            agent_ids=_assigned(self.agent_ids, rows, more.agent_ids),
            session_ids=_assigned(self.session_ids, rows, more.session_ids),
            current=_assigned(self.current, rows, more.current),
            event_at=_assigned(self.event_at, rows, more.event_at),
            terms=np.concatenate([self.terms[keep], more.terms])[order],
            lengths=_assigned(self.lengths, rows, more.lengths),
            owners=owners[order],
            memories={row: m for row, m in self.memories.items() if row not in replaced},
        )

    def patch_access(self, counts: Iterable[tuple[int, str, int]], at: datetime) -> None:
        """Apply a recall: `(rid, id, access count)` of each recalled memory."""
        for rid, memory_id, count in counts:
            row = self.positions.get(memory_id, -1)
            memory = self.memories.get(row)
            if memory is not None and self.rids[row] == rid:
                self.memories[row] = copy_record(memory, access_count=count, last_accessed_at=at)


A = TypeVar("A", bound=np.generic)


def _assigned(array: NDArray[A], rows: NDArray[np.intp], values: NDArray[A]) -> NDArray[A]:
    """A copy of `array` with `values` at `rows` (widened to hold them: strings)."""
    copy = array.astype(np.result_type(array, values))
    copy[rows] = values
    return copy


_ROW_COLUMNS = "rid, id, kind, agent_id, session_id, superseded_at IS NULL, event_at, terms"


def load_partition_rows(
    conn: sqlite3.Connection,
    partition: PartitionState,
    first_rid: int | None = None,
    *,
    rids: Iterable[int] | None = None,
) -> PartitionRows:
    """Read the search columns of every memory of `partition` (one range scan), from row id
    `first_rid` on if given, or of its rows `rids` only."""
    low, high = base.partition_range(partition.pid)
    cursor = conn.cursor()
    cursor.row_factory = None
    if rids is None:
        cursor.execute(
            f"SELECT {_ROW_COLUMNS} FROM engram_memories WHERE rid BETWEEN ? AND ?",
            (low if first_rid is None else first_rid, high),
        )
    else:
        cursor.execute(
            f"SELECT {_ROW_COLUMNS} FROM engram_memories"
            " WHERE rid IN (SELECT value FROM json_each(?)) ORDER BY rid",
            (json.dumps(sorted(rids)),),
        )
    rows = cursor.fetchall()
    columns: list[tuple[object, ...]] = list(zip(*rows, strict=True)) or [()] * 8
    count = len(rows)
    ids: list[str] = list(columns[1])  # type: ignore[arg-type]
    terms, lengths = bm25.join_documents(columns[7])  # type: ignore[arg-type]
    return PartitionRows(
        state=(partition.generation, partition.accessed),
        tenant=partition.tenant,
        rids=np.fromiter(columns[0], dtype=np.int64, count=count),
        ids=ids,
        positions={memory_id: row for row, memory_id in enumerate(ids)},
        kinds=np.array(columns[2], dtype=np.str_),
        agent_ids=np.array(columns[3], dtype=np.object_),
        session_ids=np.array(columns[4], dtype=np.object_),
        current=np.fromiter(columns[5], dtype=np.bool_, count=count),
        event_at=np.fromiter(columns[6], dtype=np.int64, count=count),
        terms=terms,
        lengths=lengths,
        owners=np.repeat(np.arange(count, dtype=np.int64), lengths),
    )


# Caches.


class _Entry(Protocol):
    @property
    def state(self) -> object: ...

    @property
    def nbytes(self) -> int: ...


E = TypeVar("E", bound=_Entry)


class PartitionCache(Generic[E]):
    """Entries keyed by tuples whose first item is the pid, bounded by `max_bytes`
    (0: no caching). An entry is returned only for the state it was loaded at."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[int, ...], E] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        """Lookups answered from the cache."""
        self.misses = 0
        """Lookups that had to read the partition from the file."""

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    @property
    def nbytes(self) -> int:
        """The bytes the cached entries hold (an estimate for rows)."""
        return self._bytes

    def peek(self, key: tuple[int, ...]) -> E | None:
        """The entry for `key` whatever its state (no hit counted, no reordering)."""
        return self._entries.get(key)

    def get(self, key: tuple[int, ...], state: object, *, drop_stale: bool = True) -> E | None:
        """The entry for `key` if it was loaded at `state`, else None (and an entry of
        another state is dropped, unless `drop_stale` is false: see `peek`)."""
        entry = self._entries.get(key)
        if entry is not None and entry.state != state:
            if drop_stale:
                self._drop(key)
            entry = None
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[int, ...], entry: E) -> None:
        """Store `entry` (replacing the entry of `key`, if any)."""
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.nbytes
        if entry.nbytes > self.max_bytes:
            if old is not None:
                self._dropped(key, old)
            return
        self._entries[key] = entry
        self._bytes += entry.nbytes
        if old is None:
            self._added(key, entry)
        else:
            self._replaced(key, old, entry)
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def evict_partition(self, pid: int) -> None:
        """Forget every entry of partition `pid`."""
        for key in [key for key in self._entries if key[0] == pid]:
            self._drop(key)

    def _drop(self, key: tuple[int, ...]) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.nbytes
        self._dropped(key, entry)

    def _added(self, key: tuple[int, ...], entry: E) -> None:
        """Hook: `entry` was stored."""

    def _dropped(self, key: tuple[int, ...], entry: E) -> None:
        """Hook: `entry` left the cache."""

    def _replaced(self, key: tuple[int, ...], old: E, new: E) -> None:
        """Hook: `new` took the place of `old`."""
        self._dropped(key, old)
        self._added(key, new)


class RowCache(PartitionCache[PartitionRows]):
    """`PartitionRows` by `(pid,)`, plus which cached partition holds a memory id (a hint:
    `GetMemories` names ids, not partitions)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self.owners: dict[tuple[str, str], int] = {}
        """(tenant, memory id) -> pid of the cached partition holding it."""

    def _added(self, key: tuple[int, ...], entry: PartitionRows) -> None:
        tenant, pid = entry.tenant, key[0]
        self.owners.update(((tenant, memory_id), pid) for memory_id in entry.ids)

    def _dropped(self, key: tuple[int, ...], entry: PartitionRows) -> None:
        tenant, pid, owners = entry.tenant, key[0], self.owners
        for memory_id in entry.ids:
            if owners.get((tenant, memory_id)) == pid:
                del owners[(tenant, memory_id)]

    def _replaced(self, key: tuple[int, ...], old: PartitionRows, new: PartitionRows) -> None:
        count = len(old.ids)
        if new.tenant == old.tenant and new.ids[:count] == old.ids:  # `extended`
            tenant, pid = new.tenant, key[0]
            self.owners.update(((tenant, memory_id), pid) for memory_id in new.ids[count:])
        else:
            super()._replaced(key, old, new)
