"""Consolidation: find clusters of near-duplicate memories, merge each into one, measure bloat.

Only current memories are compared (superseded ones are history), only within one scope
(tenant, user, agent), episodes only with episodes, and never two holders of one slot with
different values ("lives in Berlin" and "lives in Lisbon" are close in embedding space but
not duplicates). The similarity search is exact, blockwise NumPy over normalised vectors:
10,000 384-d memories of one user take ~3 s on one core here.

Example:
    ```python
    plan = plan_consolidation(memories, vectors, threshold=0.92, now=now)
    store.put_many(plan.updates); store.delete_many(plan.deletes); history.extend(plan.changes)
    ```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from engram._exceptions import InvalidInputError
from engram.memory.entities import fold
from engram.types._memory import Memory, MemoryChange
from engram.types._time import utcnow

__all__ = [
    "ConsolidationPlan",
    "Merge",
    "bloat",
    "check_threshold",
    "find_near_duplicates",
    "merge_cluster",
    "plan_consolidation",
]

Vectors = npt.NDArray[np.floating[Any]]
_BLOCK = 512  # rows per matrix product: 512 x 10,000 float32 similarities = 20 MB


def _group_key(memory: Memory) -> tuple[str, str | None, str | None, bool]:
    return memory.tenant, memory.user_id, memory.agent_id, memory.kind == "episode"


def _conflict(first: Memory, second: Memory) -> bool:
    """True if the two may not merge: different subjects, slots, or values of one slot."""
    if first.metadata.get("subject") != second.metadata.get("subject"):
        return True
    if first.attribute != second.attribute:
        return first.attribute is not None and second.attribute is not None
    if first.attribute is None:
        return False
    values = (first.metadata.get("value"), second.metadata.get("value"))
    return fold(str(values[0])) != fold(str(values[1]))


def _normalised(vectors: Vectors, rows: Sequence[int]) -> npt.NDArray[np.float32]:
    block = np.asarray(vectors[list(rows)], dtype=np.float32)
    norms = np.linalg.norm(block, axis=1, keepdims=True).astype(np.float32)
    norms[norms == 0] = 1.0
    normalised: npt.NDArray[np.float32] = block / norms
    return normalised


def _pairs(matrix: npt.NDArray[np.float32], threshold: float) -> list[tuple[int, int]]:
    """The index pairs (i < j) of rows whose cosine is at least `threshold`, blockwise."""
    found: list[tuple[int, int]] = []
    for start in range(0, len(matrix), _BLOCK):
        sims = matrix[start : start + _BLOCK] @ matrix[start:].T
        rows, cols = np.nonzero(sims >= threshold)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            if col > row:  # upper triangle of this block (col is offset by `start` too)
                found.append((start + row, start + col))
    return found


def _find(parent: list[int], item: int) -> int:
    while parent[item] != item:
        parent[item] = parent[parent[item]]
        item = parent[item]
    return item


def check_threshold(threshold: float) -> float:
    """`threshold` if it is a cosine that can mean "near-duplicate": within (0, 1].

    At 0 or below every pair of memories would be a duplicate and be merged into one.
    """
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold <= 1
    ):
        raise InvalidInputError(f"threshold must be a cosine within (0, 1], got {threshold!r}")
    return float(threshold)


def find_near_duplicates(
    memories: Sequence[Memory], vectors: Vectors, threshold: float = 0.92
) -> list[list[Memory]]:
    """Clusters of near-duplicate current memories (cosine >= `threshold`, transitively).

    Args:
        memories: Memories of any scopes.
        vectors: Their embeddings, row i for memory i.
        threshold: The cosine from which two memories are duplicates.

    Returns:
        The clusters of two or more memories, each in its input order.

    Raises:
        InvalidInputError: `vectors` does not have one row per memory.
    """
    check_threshold(threshold)
    if len(vectors) != len(memories):
        raise InvalidInputError(f"{len(memories)} memories but {len(vectors)} vectors")
    groups: dict[tuple[str, str | None, str | None, bool], list[int]] = {}
    for index, memory in enumerate(memories):
        if memory.superseded_at is None:
            groups.setdefault(_group_key(memory), []).append(index)
    parent = list(range(len(memories)))
    for rows in groups.values():
        if len(rows) < 2:
            continue
        for i, j in _pairs(_normalised(vectors, rows), threshold):
            first, second = rows[i], rows[j]
            if not _conflict(memories[first], memories[second]):
                parent[_find(parent, second)] = _find(parent, first)
    clusters: dict[int, list[Memory]] = {}
    for rows in groups.values():
        for index in rows:
            clusters.setdefault(_find(parent, index), []).append(memories[index])
    return [cluster for cluster in clusters.values() if len(cluster) > 1]


class Merge(NamedTuple):
    """One merged cluster: the memory kept, the ones to delete, the audit entries."""

    kept: Memory
    removed: tuple[Memory, ...]
    changes: tuple[MemoryChange, ...]


def _anchor_order(memory: Memory) -> tuple[bool, float, int, datetime]:
    return (not memory.pinned, -memory.importance, -memory.access_count, memory.created_at)


def merge_cluster(cluster: Sequence[Memory], *, now: datetime | None = None) -> Merge:
    """Merge near-duplicates into one memory that keeps all their provenance.

    The kept memory is the pinned, else most important, else most accessed, else oldest one;
    it takes the longest text, the union of sources and entities, the highest importance, the
    summed access count, the earliest `valid_from`, and is pinned if any was.

    Args:
        cluster: Two or more near-duplicate memories (one scope).
        now: The record time of the merge.

    Returns:
        The kept memory, the memories to delete, and the `merge` audit entries.

    Raises:
        InvalidInputError: The cluster is empty.
    """
    if not cluster:
        raise InvalidInputError("cannot merge an empty cluster")
    moment = now or utcnow()
    ordered = sorted(cluster, key=_anchor_order)
    anchor, others = ordered[0], ordered[1:]
    by_age = sorted(cluster, key=lambda memory: memory.created_at)
    starts = [memory.valid_from for memory in cluster if memory.valid_from is not None]
    accessed = [m.last_accessed_at for m in cluster if m.last_accessed_at is not None]
    metadata: dict[str, Any] = {}
    for memory in reversed(ordered):
        metadata.update(memory.metadata)
    metadata["merged_from"] = [memory.id for memory in others]
    kept = replace(
        anchor,
        text=max((memory.text for memory in ordered), key=len),
        metadata=metadata,
        importance=max(memory.importance for memory in cluster),
        source_ids=tuple(dict.fromkeys(s for memory in by_age for s in memory.source_ids)),
        entity_ids=tuple(dict.fromkeys(e for memory in by_age for e in memory.entity_ids)),
        valid_from=min(starts) if starts else None,
        access_count=sum(memory.access_count for memory in cluster),
        last_accessed_at=max(accessed) if accessed else None,
        pinned=any(memory.pinned for memory in cluster),
        updated_at=moment,
    )
    changes = [
        MemoryChange(
            memory_id=kept.id,
            action="merge",
            old_text=anchor.text,
            new_text=kept.text,
            reason=f"merged {len(others)} near-duplicate(s)",
            source_ids=kept.source_ids,
            tenant=kept.tenant,
            at=moment,
        )
    ]
    changes.extend(
        MemoryChange(
            memory_id=memory.id,
            action="merge",
            old_text=memory.text,
            related_id=kept.id,
            reason=f"merged into {kept.id}",
            tenant=memory.tenant,
            at=moment,
        )
        for memory in others
    )
    return Merge(kept, tuple(others), tuple(changes))


@dataclass(frozen=True, slots=True)
class ConsolidationPlan:
    """The writes of one consolidation run."""

    merges: tuple[Merge, ...]
    updates: tuple[Memory, ...]
    """The kept memories, rewritten."""
    deletes: tuple[str, ...]
    """Ids of the merged-away memories (their text lives on in the kept ones)."""
    changes: tuple[MemoryChange, ...]


def plan_consolidation(
    memories: Sequence[Memory],
    vectors: Vectors,
    threshold: float = 0.92,
    *,
    now: datetime | None = None,
) -> ConsolidationPlan:
    """Find the near-duplicate clusters of `memories` and plan their merges.

    Args:
        memories: The memories to consolidate (e.g. all of one user).
        vectors: Their embeddings, row i for memory i.
        threshold: The cosine from which two memories are duplicates.
        now: The record time of the merges.

    Returns:
        What to update, delete and record.
    """
    merges = tuple(
        merge_cluster(cluster, now=now)
        for cluster in find_near_duplicates(memories, vectors, threshold)
    )
    return ConsolidationPlan(
        merges=merges,
        updates=tuple(merge.kept for merge in merges),
        deletes=tuple(memory.id for merge in merges for memory in merge.removed),
        changes=tuple(change for merge in merges for change in merge.changes),
    )


def bloat(memories: Sequence[Memory], vectors: Vectors, threshold: float = 0.92) -> float:
    """The share of current memories that are redundant near-duplicates, over all scopes.

    A cluster of k near-duplicates counts k - 1 redundant memories (consolidation would remove
    them), so 0.0 means no duplicates and the value is comparable across users and sizes (a
    share of all n^2/2 pairs would always be tiny).

    Args:
        memories: Memories of one or more users.
        vectors: Their embeddings, row i for memory i.
        threshold: The cosine from which two memories are duplicates.

    Returns:
        Redundant memories / current memories (0.0 when there are none).
    """
    current = sum(1 for memory in memories if memory.superseded_at is None)
    if current == 0:
        return 0.0
    clusters = find_near_duplicates(memories, vectors, threshold)
    return sum(len(cluster) - 1 for cluster in clusters) / current
