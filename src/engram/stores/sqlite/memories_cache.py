"""The in-process cache of partition vector matrices of the SQLite memory store.

A vector search for one user reads that user's vectors of one model: with the rows packed per
partition that is one sequential range read, but still a few milliseconds per thousand
vectors. The cache keeps the decoded matrix per `(pid, model_no)`, tagged with the partition's
`generation`; every write to a partition changes its generation in the same transaction,
so one indexed read per search tells whether the entry is current (also across processes
sharing the file). Entries are evicted least recently used first beyond `max_bytes`, and at
once when the partition's memories are erased (erasure reaches caches too).
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engram.memory import vectors as vec
from engram.stores.sqlite import memories_base as base

__all__ = ["PartitionVectors", "VectorCache", "load_partition_vectors"]

_RID_MASK = (1 << base.MODEL_SHIFT) - 1


@dataclass(frozen=True, slots=True)
class PartitionVectors:
    """The vectors of one model in one partition: `matrix[i]` belongs to row id `rids[i]`."""

    generation: int
    rids: NDArray[np.int64]
    """Ascending."""
    matrix: vec.Matrix

    @property
    def nbytes(self) -> int:
        return int(self.rids.nbytes + self.matrix.nbytes)


def load_partition_vectors(
    conn: sqlite3.Connection, pid: int, model_no: int, dim: int, generation: int
) -> PartitionVectors:
    """Read partition `pid`'s vectors of model `model_no` (one range scan, row id order)."""
    low, high = base.vector_range(model_no, pid)
    rows = conn.execute(
        "SELECT vrid, data FROM engram_memory_vectors WHERE vrid BETWEEN ? AND ?", (low, high)
    ).fetchall()
    rids = np.fromiter((row[0] & _RID_MASK for row in rows), dtype=np.int64, count=len(rows))
    matrix = vec.stack_bytes([row[1] for row in rows], dim)
    return PartitionVectors(generation, rids, matrix)


class VectorCache:
    """Partition matrices by `(pid, model_no)`, bounded by `max_bytes` (0: no caching)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[int, int], PartitionVectors] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        """Lookups answered from the cache."""
        self.misses = 0
        """Lookups that had to read the partition from the file."""

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    @property
    def nbytes(self) -> int:
        """The bytes the cached matrices hold."""
        return self._bytes

    def get(self, key: tuple[int, int], generation: int) -> PartitionVectors | None:
        """The entry for `key` if it was loaded at `generation`, else None."""
        entry = self._entries.get(key)
        if entry is not None and entry.generation != generation:
            self._drop(key)
            entry = None
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[int, int], entry: PartitionVectors) -> None:
        if entry.nbytes > self.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = entry
        self._bytes += entry.nbytes
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def evict_partition(self, pid: int) -> None:
        """Forget every matrix of partition `pid`."""
        for key in [key for key in self._entries if key[0] == pid]:
            self._drop(key)

    def _drop(self, key: tuple[int, int]) -> None:
        self._bytes -= self._entries.pop(key).nbytes
