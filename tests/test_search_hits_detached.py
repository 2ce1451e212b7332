"""A search's hits are the caller's: changing one changes no later read, on every store
(the search ranks the store's own cached records, `GetMemories.shared`, and hands out
copies of the best)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engram import Engram
from engram.stores import InMemoryConversationStore
from engram.stores.memory_memories import InMemoryMemoryStore

pytest_plugins = ["servers"]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def mem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    if request.param == "memory":
        engram = Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore())
    elif request.param == "postgres":
        engram = Engram(request.getfixturevalue("postgres_clean_database"))
    else:
        engram = Engram(tmp_path / "m.db")
    with engram:
        yield engram


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
