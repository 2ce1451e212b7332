"""A search's hits are the caller's: changing one changes no later read, on every store
(the search ranks the store's own cached records, `GetMemories.shared`, and hands out
copies of the best)."""

from __future__ import annotations

import pytest

from engram import Engram

pytest_plugins = ["servers"]


@pytest.fixture
def mem(every_memory_engram: Engram) -> Engram:
    """An Engram on each memory backend."""
    return every_memory_engram


def test_changing_a_hit_changes_no_later_read(mem: Engram) -> None:
    added = mem.memories.add(
        "Ana likes green tea", user_id="ana", infer=False, metadata={"tags": ["drink"]}
    )
    [stored] = added.added
    kept = dict(stored.metadata)
    for mark in ("first", "second"):  # the second search reads what the first may have cached
        [hit] = mem.memories.search("green tea", user_id="ana")
        hit.memory.metadata["tags"].append(mark)
        hit.memory.metadata["new"] = mark
        assert mem.memories.get(stored.id).metadata == kept
    [again] = mem.memories.search("green tea", user_id="ana")
    assert again.memory.metadata == kept
    assert kept["tags"] == ["drink"]
