"""A plain fact (no profile slot) said again lately is not idle: `max_idle` counted from when
it was first recorded, so "I'm training for a marathon", said in January and again last
week, was forgotten as if nobody had mentioned it since January."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory.forgetting import ForgettingPolicy

JANUARY = datetime(2026, 1, 5, 9, tzinfo=UTC)
TEXT = "I'm training for a marathon."


def test_a_plain_fact_said_again_lately_is_not_forgotten_as_idle(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with Engram(tmp_path / "idle.db", embedder=HashingEmbedder()) as mem:
        for at in (JANUARY, now - timedelta(days=7)):
            message = Message(role="user", content=TEXT, created_at=at)
            mem.memories.add(messages=[message], user_id="ana")
        [fact] = [m for m in mem.memories.get_all(user_id="ana") if m.kind != "episode"]
        assert fact.attribute is None and len(fact.source_ids) == 2
        policy = ForgettingPolicy(max_idle=timedelta(days=60))
        forgotten = mem.memories.forgettable(policy, user_id="ana")
        assert fact.id not in {f.memory_id for f in forgotten}
        # the January turn itself was said once, in January: idle
        assert any(m.kind == "episode" for m in mem.memories.get_all(user_id="ana"))
