"""The memory-store conformance suite, run against every built-in backend and both APIs.

Backends: memory, SQLite file, SQLite `:memory:`; each through the sync API and through
`abatch` (`AsyncDrivenMemoryStore`). The SQLite store without its vector cache runs the suite
in test_memories_store_sqlite.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from engram._exceptions import InvalidInputError
from engram.stores.memories import BaseMemoryStore, MemoryFilter
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.stores.sqlite._internal import SqliteConnection
from engram.stores.sqlite.memories import SqliteMemoryStore
from engram.testing._memory_checks import TENANT, ids_of, memory, put
from engram.testing.memories import AsyncDrivenMemoryStore, MemoryStoreSpec


@pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory"])
def memory_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseMemoryStore]:
    """A fresh, empty memory store of each backend."""
    if request.param == "memory":
        yield InMemoryMemoryStore()
        return
    path = ":memory:" if request.param == "sqlite-memory" else tmp_path / "engram.db"
    conn = SqliteConnection(path)
    yield SqliteMemoryStore(conn, vector_cache_bytes=1 << 20)
    conn.close()


@pytest.fixture(params=["sync", "async"])
def memory_store(
    request: pytest.FixtureRequest, memory_backend: BaseMemoryStore
) -> BaseMemoryStore:
    """Each backend through its sync API, and through its async API (`abatch`)."""
    return AsyncDrivenMemoryStore(memory_backend) if request.param == "async" else memory_backend


class TestMemoryStore(MemoryStoreSpec):
    """Every spec of `engram.testing.memories`, per backend and API."""


# Metadata filters past the shared spec: every backend compares as `_memory_rules.json_equal`.

NUMBERS = {
    "big": 9007199254740993,  # 2**53 + 1: no float equals it
    "huge": 2**70,  # past 64 bits: SQLite reads it as a float, and cannot bind it
    "low": -(2**63) - 1,
    "float": 12345678901234567890.0,  # exactly 12345678901234567168
    "tenth": 0.1,
}


def check_metadata_numbers_compare_exactly(store: BaseMemoryStore) -> None:
    """Python's `==`: exact across int and float, at any size (was: PostgreSQL compared
    as float8, so 2**53 + 1 equalled 2.0**53; SQLite raised OverflowError past 64 bits)."""
    put(store, [memory(f"fact {key}", id=key, metadata={"n": n}) for key, n in NUMBERS.items()])
    expected: list[tuple[int | float, list[str]]] = [
        (9007199254740993, ["big"]),
        (9007199254740992.0, []),
        (9007199254740992, []),
        (2**70, ["huge"]),
        (2.0**70, ["huge"]),
        (2**70 + 1, []),
        (-(2**63) - 1, ["low"]),
        (-(2**63), []),
        (-(2.0**63), []),
        (12345678901234567168, ["float"]),
        (12345678901234567890, []),
        (0.1, ["tenth"]),
        (10**400, []),
    ]
    for wanted, ids in expected:
        found = store.list_memories(TENANT, MemoryFilter(user_id="u1", metadata={"n": wanted}))
        assert sorted(ids_of(found)) == ids, wanted


def check_nul_in_metadata_is_refused(store: BaseMemoryStore) -> None:
    """No store keeps U+0000 in metadata (was: PostgreSQL kept it, then every metadata
    filter over the user's memories failed; SQLite cut the string at it, so a filter for
    "a" found "a\\x00b")."""
    for metadata in ({"note": "a\x00b"}, {"nested": {"x": ["ok", "\x00"]}}, {"k\x00": 1}):
        with pytest.raises(InvalidInputError, match="NUL"):
            put(store, [memory("Ana drinks tea", metadata=metadata)])
    put(store, [memory("Ana drinks tea", id="tea", metadata={"note": "a"})])
    with pytest.raises(InvalidInputError, match="NUL"):
        store.list_memories(TENANT, MemoryFilter(user_id="u1", metadata={"note": "a\x00b"}))
    found = store.list_memories(TENANT, MemoryFilter(user_id="u1", metadata={"note": "a"}))
    assert ids_of(found) == ["tea"]


def test_metadata_numbers_compare_exactly(memory_store: BaseMemoryStore) -> None:
    check_metadata_numbers_compare_exactly(memory_store)


def test_nul_in_metadata_is_refused(memory_store: BaseMemoryStore) -> None:
    check_nul_in_metadata_is_refused(memory_store)


# Erasure past the shared spec.


def check_an_erased_turn_leaves_the_context_of_the_turns_after_it(store: BaseMemoryStore) -> None:
    """An episode keeps the turns before it as `metadata["context"]` (indexed with it for
    BM25); erasing one of those turns took it from nowhere else (was: its text stayed in
    the next turns' metadata, and a lexical search for it still found them)."""
    secret = "My secret code word is Zanzibarquux."
    long = "I keep " + " ".join(f"word{i}" for i in range(60)) + " and Xylophonequux."
    cut = long[:200].rsplit(" ", 1)[0] + " ..."
    episodes = [
        memory(secret, id="a", kind="episode", metadata={"speaker": "Ana"}),
        memory("Noted.", id="b", kind="episode", metadata={"context": [f"Ana: {secret}"]}),
        memory("Thanks!", id="c", kind="episode", metadata={"context": [secret, "Ben: Noted."]}),
        memory(long, id="d", kind="episode", session_id="s9"),
        memory("Sure.", id="e", kind="episode", metadata={"context": [f"Ana: {cut}", "x"]}),
        memory("Yes.", id="f", kind="episode", metadata={"context": ["I keep ...", "Ok"]}),
        memory("Fine.", id="g", kind="episode", metadata={"context": ["Ana: Noted"]}),
    ]
    put(store, episodes)
    assert ids_of(store.search_lexical(TENANT, "Zanzibarquux")) == ["a", "b", "c"]
    store.delete_memories(TENANT, ["a"])
    store.delete_scope(TENANT, session_id="s9")
    contexts = {m.id: m.metadata.get("context") for m in store.list_memories(TENANT)}
    assert contexts == {
        "b": None,
        "c": ["Ben: Noted."],
        "e": ["x"],
        "f": ["I keep ...", "Ok"],  # a turn of its own, not the long one cut short
        "g": ["Ana: Noted"],
    }
    assert store.search_lexical(TENANT, "Zanzibarquux Xylophonequux word7") == []
    assert store.get_memory(TENANT, "b") == replace(episodes[1], metadata={})


def test_an_erased_turn_leaves_the_context_of_the_turns_after_it(
    memory_store: BaseMemoryStore,
) -> None:
    check_an_erased_turn_leaves_the_context_of_the_turns_after_it(memory_store)
