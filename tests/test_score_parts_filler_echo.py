"""`ScoreParts.filler` and `.echo`: a result shows why it was scored down, not only that
its boost is lower."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engram.memory.ranking import RankingWeights, rank_memories
from engram.types import Memory, ScoreParts

DAY = datetime(2026, 9, 1, tzinfo=UTC)
WHERE = "Where do I live?"


def turn(memory_id: str, text: str) -> Memory:
    return Memory(
        text=text, id=memory_id, kind="episode", recorded_at=DAY, metadata={"role": "user"}
    )


def test_parts_show_a_filler_turn_and_an_echo() -> None:
    memories = {
        m.id: m
        for m in (
            turn("echo", WHERE),
            turn("ack", "Ok, thanks!"),
            turn("move", "I moved to Faro last month."),
        )
    }
    dense = [("echo", 0.9), ("ack", 0.5), ("move", 0.4)]
    hits = rank_memories(memories, dense, [("echo", 3.0)], query=WHERE)
    parts = {hit.memory.id: hit.parts for hit in hits}
    assert (parts["echo"].filler, parts["echo"].echo) == (1.0, 1.0)
    assert (parts["ack"].filler, parts["ack"].echo) == (1.0, 0.0)
    assert (parts["move"].filler, parts["move"].echo) == (0.0, 0.0)
    weights = RankingWeights()
    unpenalised = rank_memories(
        memories, dense, [("echo", 3.0)], query=WHERE, weights=RankingWeights(filler=1, echo=1)
    )
    plain = {hit.memory.id: hit.parts for hit in unpenalised}
    for memory_id, part in parts.items():
        factor = weights.filler**part.filler * weights.echo**part.echo
        assert part.boost == pytest.approx(plain[memory_id].boost * factor)
        assert part.fused == pytest.approx(part.base * part.boost)


def test_parts_default_to_no_filler_and_no_echo() -> None:
    assert (ScoreParts().filler, ScoreParts().echo) == (0.0, 0.0)
