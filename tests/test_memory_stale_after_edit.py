"""An edit of a slot fact's value marks the turns that stated the old value stale, as the
same change said in a message or made to the profile does: "I live in Porto" reads
"(since changed)" once its fact was edited to Madrid."""

from __future__ import annotations

import pytest

from engram import Engram
from engram.types._memory import MemoryHit

pytest_plugins = ["servers"]


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    return memory_engram


def _turn(mem: Engram, user: str, text: str) -> MemoryHit:
    hits = mem.memories.search("Where do I live?", user_id=user, record_access=False)
    return next(hit for hit in hits if hit.memory.kind == "episode" and hit.memory.text == text)


def _home_fact(mem: Engram, user: str) -> str:
    facts = mem.memories.get_all(user_id=user, kinds=["profile"])
    return next(m.id for m in facts if m.attribute == "home_city")


def test_the_turn_stating_the_value_an_edit_replaced_is_stale(mem: Engram) -> None:
    mem.memories.add("I live in Porto", user_id="ana")
    home = _home_fact(mem, "ana")
    mem.memories.update(home, "The user is based in Porto", importance=0.9)  # value kept
    assert _turn(mem, "ana", "I live in Porto").parts.current == 1.0
    mem.memories.update(home, "The user lives in Madrid")
    assert mem.memories.profile("ana").fields == {"home_city": "Madrid"}
    assert _turn(mem, "ana", "I live in Porto").parts.current == 0.0
    session = mem.session("s1", user_id="ana")
    session.add("user", "Where do I live?")
    block = session.context(model="gpt-4o", budget=2000, recall=5).messages[0].text
    assert "I live in Porto (since changed)" in block
    mem.memories.update(home, "The user lives in Porto")  # corrected back: the turn holds
    assert _turn(mem, "ana", "I live in Porto").parts.current == 1.0


def test_a_turn_stating_an_edited_value_and_a_kept_one_is_half_stale(mem: Engram) -> None:
    mem.memories.add("I live in Porto. I work at Google.", user_id="bo")
    mem.memories.update(_home_fact(mem, "bo"), "The user lives in Madrid")
    assert _turn(mem, "bo", "I live in Porto. I work at Google.").parts.current == 0.5
