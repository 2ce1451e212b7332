"""Forgetting keeps what the prompts use: a profile field a context sends counts its memory
as used, the per-user cap evicts the least important current memories (retired history is
not counted), and a policy without a rule is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram import Engram, InvalidInputError, Message
from engram.memory.forgetting import ForgettingPolicy, plan_forgetting
from engram.types._memory import Memory

pytest_plugins = ["servers"]

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    return memory_engram


def test_a_profile_field_a_context_sends_counts_its_memory_as_used(mem: Engram) -> None:
    said = Message(role="user", content="I live in Austin.", created_at=datetime.now(UTC))
    mem.memories.add(messages=[said], user_id="mo", session_id="t-1")
    [home] = [m for m in mem.memories.get_all(user_id="mo") if m.kind == "profile"]
    assert mem.memories.profile("mo").sources["home_city"] == home.id
    for turn in range(3):
        session = mem.session(f"t-{turn + 2}", user_id="mo")
        session.add("user", "What is my printer model?")
        [block, _] = session.context(model="gpt-4o", budget=2000, recall=5).messages
        assert "home city: Austin" in block.text or "I live in Austin." in block.text
    used = mem.memories.get(home.id)
    assert used is not None and used.access_count == 3 and used.last_accessed_at is not None
    crowded = mem.session("t-9", user_id="mo")
    crowded.add("user", "Hello " * 30)
    result = crowded.context(model="gpt-4o", budget=200, recall=5, recall_share=0.01)
    assert result.report.profile_dropped == ("home_city",)  # not sent, so not used
    assert mem.memories.get(home.id).access_count == 3  # type: ignore[union-attr]
    policy = ForgettingPolicy(max_age=timedelta(0), min_access=3)
    assert home.id not in {f.memory_id for f in mem.memories.forgettable(policy, user_id="mo")}


def _memory(text: str, importance: float, **fields: object) -> Memory:
    return Memory(text, user_id="u", importance=importance, **fields)  # type: ignore[arg-type]


def test_the_cap_evicts_the_least_important_current_memories_and_no_history() -> None:
    long_ago = NOW - timedelta(days=150)
    name = _memory("The user's name is Robert", 0.9, kind="profile", recorded_at=long_ago)
    home = _memory("The user lives in Austin", 0.8, kind="profile", recorded_at=long_ago)
    sold = _memory("The user sold their Roomba", 0.6, recorded_at=long_ago, last_accessed_at=NOW)
    said = _memory("I sold my Roomba.", 0.6, kind="episode", recorded_at=long_ago)
    moved = _memory(
        "The user lives in Denver", 0.8, kind="profile", recorded_at=long_ago, superseded_at=NOW
    )
    forgotten = plan_forgetting(
        [name, home, sold, said, moved], ForgettingPolicy(max_per_user=3), NOW
    )
    # Equally important: the one never used goes first; the retired home is not counted.
    assert forgotten == [(said.id, "policy: max_per_user")]
    two = plan_forgetting([name, home, sold, said, moved], ForgettingPolicy(max_per_user=2), NOW)
    assert [f.memory_id for f in two] == [said.id, sold.id]


@pytest.mark.parametrize(
    "policy", [ForgettingPolicy(), ForgettingPolicy(min_access=1, keep_pinned=False)]
)
def test_forget_refuses_a_policy_without_a_rule(policy: ForgettingPolicy) -> None:
    with Engram() as mem:
        mem.memories.add("Ana likes tea.", user_id="ana", infer=False)
        with pytest.raises(InvalidInputError, match="give a rule"):
            mem.memories.forget(policy, user_id="ana")
        with pytest.raises(InvalidInputError, match="give a rule"):
            mem.memories.forgettable(policy, user_id="ana")
        assert len(mem.memories.get_all(user_id="ana")) == 1
