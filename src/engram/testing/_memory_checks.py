"""Builders and reference computations of the memory-store conformance suite."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engram.stores import _memory_rules as rules
from engram.stores.memories import BaseMemoryStore, MemoryFilter, MemoryScore, Op, VectorRecord
from engram.types._memory import Memory, MemoryChange

__all__ = [
    "DIM",
    "MODEL",
    "OTHER_TENANT",
    "T0",
    "TENANT",
    "AsyncDrivenMemoryStore",
    "at",
    "brute_force_top",
    "ids_of",
    "memory",
    "put",
    "unit_vectors",
]

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
"""The suite's clock starts here; specs pass every time explicitly."""
TENANT = "acme"
OTHER_TENANT = "globex"
MODEL = "test-model"
DIM = 8


class AsyncDrivenMemoryStore(BaseMemoryStore):
    """Runs every call of the sync API through the wrapped store's `abatch`.

    Lets each sync spec also cover a backend's async path. Call it only from code without a
    running event loop: each batch runs in `asyncio.run`.
    """

    def __init__(self, inner: BaseMemoryStore) -> None:
        self.inner = inner

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        return asyncio.run(self.inner.abatch(ops))

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        return await self.inner.abatch(ops)

    def close(self) -> None:
        self.inner.close()


def at(days: float) -> datetime:
    """`days` after `T0`."""
    return T0 + timedelta(days=days)


def memory(text: str = "Ana drinks green tea", **fields: Any) -> Memory:
    """A memory of `TENANT`'s user `u1`, recorded (and created) at `T0` unless told."""
    fields.setdefault("tenant", TENANT)
    fields.setdefault("user_id", "u1")
    for name in ("recorded_at", "created_at", "updated_at"):
        fields.setdefault(name, T0)
    return Memory(text, **fields)


def unit_vectors(count: int, seed: int = 0, dim: int = DIM) -> NDArray[np.float32]:
    """`count` random unit vectors (rows), reproducible by `seed`."""
    matrix = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


def put(
    store: BaseMemoryStore,
    memories: Sequence[Memory],
    vectors: NDArray[np.float32] | None = None,
    *,
    history: bool = False,
) -> list[Memory]:
    """Store `memories` in `TENANT` (with `vectors[i]` for memory i, model `MODEL`)."""
    records = [] if vectors is None else [VectorRecord(MODEL, row) for row in vectors]
    changes = [
        MemoryChange(m.id, "add", new_text=m.text, tenant=m.tenant, at=m.recorded_at)
        for m in memories
    ]
    return store.put_memories(TENANT, memories, vectors=records, changes=changes if history else [])


def ids_of(items: Sequence[Any]) -> list[str]:
    """The ids of memories, or the memory ids of search results."""
    return [item.memory_id if isinstance(item, MemoryScore) else item.id for item in items]


def brute_force_top(
    memories: Sequence[Memory],
    matrix: NDArray[np.float32],
    query: NDArray[np.float32],
    selected: MemoryFilter,
    limit: int,
) -> list[tuple[str, float]]:
    """The exact top `limit` (id, cosine) among `memories` (row i of `matrix` is memory i's
    vector) that `selected` matches, best first, ties by id."""
    checked = rules.checked_filter(selected)
    unit = query / np.linalg.norm(query)
    scored = [
        (memory.id, float(matrix[index] @ unit))
        for index, memory in enumerate(memories)
        if rules.matches(rules.checked_memory(memory.tenant, memory), checked)
    ]
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored[:limit]
