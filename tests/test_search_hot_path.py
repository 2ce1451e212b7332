"""The search's hot path: ranking builds the score parts of the hits it returns only, not of
every candidate of the pool (several times the limit)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import engram.memory.ranking.fusion as fusion
from engram.memory.ranking import rank_memories
from engram.types._memory import Memory

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def _pool(size: int) -> dict[str, Memory]:
    return {
        f"m{i:03d}": Memory(f"memory number {i}", id=f"m{i:03d}", user_id="ana")
        for i in range(size)
    }


def test_ranking_builds_the_parts_of_the_returned_hits_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[object] = []
    real = fusion.ScoreParts

    def counted(**fields: float) -> object:
        built.append(fields)
        return real(**fields)

    monkeypatch.setattr(fusion, "ScoreParts", counted)
    memories = _pool(60)
    dense = [(memory_id, 1.0 - i / 100) for i, memory_id in enumerate(memories)]
    hits = rank_memories(memories, dense, now=NOW, limit=10)
    assert [hit.memory.id for hit in hits] == list(memories)[:10]
    assert len(built) == 10  # not one per candidate (60)
