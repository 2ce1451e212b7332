"""Adding again what is stored, pinned, more important or with other metadata, pins, raises
or tags the stored memory (audited in its history): a later `forget` keeps the memory the
caller pinned, and the metadata of the later add is not lost."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engram import Engram
from engram.memory.forgetting import ForgettingPolicy

pytest_plugins = ["servers"]

TEXT = "Customer is a VIP: always escalate to tier 2."


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    return memory_engram


def test_a_pinned_duplicate_pins_the_memory_it_repeats(mem: Engram) -> None:
    [stored] = mem.memories.add(TEXT, user_id="fay", infer=False).added
    again = mem.memories.add(TEXT, user_id="fay", infer=False, pinned=True)
    assert again.added == () and [m.id for m in again.updated] == [stored.id]
    [kept] = mem.memories.get_all(user_id="fay")
    assert kept.id == stored.id and kept.pinned
    last = mem.memories.history(stored.id)[-1]
    assert last.action == "update" and "pinned" in (last.reason or "")
    assert mem.memories.forget(ForgettingPolicy(max_age=timedelta(0)), user_id="fay") is None
    assert [m.id for m in mem.memories.get_all(user_id="fay")] == [stored.id]
    plain = mem.memories.add(TEXT, user_id="fay", infer=False)  # asks nothing more: no write
    assert plain.updated == () and plain.unchanged == 1
    assert mem.memories.get(stored.id).pinned  # type: ignore[union-attr]
    assert len(mem.memories.history(stored.id)) == 2


def test_a_duplicate_raises_the_importance_never_lowers_it(mem: Engram) -> None:
    [stored] = mem.memories.add(TEXT, user_id="fay", infer=False, importance=0.6).added
    mem.memories.add(TEXT, user_id="fay", infer=False, importance=0.9)
    assert mem.memories.get(stored.id).importance == 0.9  # type: ignore[union-attr]
    assert "importance 0.6 -> 0.9" in (mem.memories.history(stored.id)[-1].reason or "")
    lower = mem.memories.add(TEXT, user_id="fay", infer=False, importance=0.2)
    assert lower.updated == () and lower.unchanged == 1
    assert mem.memories.get(stored.id).importance == 0.9  # type: ignore[union-attr]


def test_a_duplicate_with_other_metadata_tags_the_memory_it_repeats(mem: Engram) -> None:
    [stored] = mem.memories.add(TEXT, user_id="fay", infer=False, metadata={"source": "crm"}).added
    again = mem.memories.add(
        TEXT, user_id="fay", infer=False, metadata={"source": "import", "batch": 7}
    )
    assert again.added == () and [m.id for m in again.updated] == [stored.id]
    kept = mem.memories.get(stored.id)
    assert kept is not None and (kept.metadata["source"], kept.metadata["batch"]) == ("import", 7)
    assert "metadata batch, source" in (mem.memories.history(stored.id)[-1].reason or "")
    same = mem.memories.add(TEXT, user_id="fay", infer=False, metadata={"batch": 7})
    assert same.updated == () and same.unchanged == 1  # nothing new: no write
