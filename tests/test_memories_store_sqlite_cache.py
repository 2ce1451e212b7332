"""SQLite memory store: the partition row cache (decoded memories) stays exact.

What a search reads of a partition (rows, decoded memories, the matrix) is cached per
partition state; these tests change that state every way there is (own recalls, own
appends, own updates, another connection's writes and recalls) and check that reads still
return what the file holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engram.stores.memories import MemoryFilter
from engram.stores.sqlite._internal import SqliteConnection
from engram.stores.sqlite.memories import SqliteMemoryStore
from engram.stores.sqlite.memories_base import MIGRATIONS
from engram.testing._memory_checks import MODEL, TENANT, at, ids_of, memory, put, unit_vectors

MINE = MemoryFilter(user_id="u1")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteMemoryStore]:
    with SqliteMemoryStore.from_path(tmp_path / "engram.db") as opened:
        yield opened


def _search(store: SqliteMemoryStore, query: np.ndarray, where: MemoryFilter = MINE) -> list[str]:
    return ids_of(store.search_vector(TENANT, query, MODEL, where, limit=10))


def test_decoded_memories_are_reused_and_follow_recalls(store: SqliteMemoryStore) -> None:
    vectors = unit_vectors(2)
    put(store, [memory("a", id="m1"), memory("b", id="m2")], vectors)
    _search(store, vectors[0])  # caches the partition's rows
    first = store.get_memory(TENANT, "m1")
    again = store.get_memory(TENANT, "m1")  # from the decoded row, as a copy of it
    assert again == first and again is not first
    assert store.record_access(TENANT, ["m1", "m1", "absent"], at=at(2)) == 1
    recalled = store.get_memory(TENANT, "m1")
    assert recalled is not None and first is not None
    assert (recalled.access_count, recalled.last_accessed_at) == (1, at(2))
    assert recalled.text == first.text and store.rows.hits > 0


def test_appends_of_this_store_extend_the_cached_partition(store: SqliteMemoryStore) -> None:
    vectors = unit_vectors(6, seed=3)
    put(store, [memory("first", id="m0")], vectors[:1])
    assert _search(store, vectors[0]) == ["m0"]
    for index in range(1, 6):
        put(store, [memory(f"next {index}", id=f"m{index}")], vectors[index : index + 1])
        assert _search(store, vectors[index])[0] == f"m{index}"
    assert sorted(_search(store, vectors[0])) == [f"m{index}" for index in range(6)]
    lexical = store.search_lexical(TENANT, "next", MINE)
    assert sorted(ids_of(lexical)) == [f"m{index}" for index in range(1, 6)]
    assert store.count_memories(TENANT, MINE) == 6


def test_updates_and_deletes_reach_the_cached_rows(store: SqliteMemoryStore) -> None:
    vectors = unit_vectors(3, seed=5)
    put(store, [memory("tea", id="m1"), memory("coffee", id="m2")], vectors[:2])
    assert _search(store, vectors[1])[0] == "m2"
    assert ids_of(store.search_lexical(TENANT, "tea", MINE)) == ["m1"]
    old = store.get_memory(TENANT, "m1")
    assert old is not None
    put(store, [memory("cocoa", id="m1", kind="preference")], vectors[2:])
    assert ids_of(store.search_lexical(TENANT, "tea", MINE)) == []
    assert ids_of(store.search_lexical(TENANT, "cocoa", MINE)) == ["m1"]
    assert _search(store, vectors[2], MINE._replace(kinds=("preference",))) == ["m1"]
    updated = store.get_memory(TENANT, "m1")
    assert updated is not None and (updated.text, updated.kind) == ("cocoa", "preference")
    store.delete_memories(TENANT, ["m2"], at=at(1))
    assert store.get_memory(TENANT, "m2") is None
    assert _search(store, vectors[1]) == ["m1"]


def test_another_connection_writes_and_recalls_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    with SqliteMemoryStore.from_path(path) as reader, SqliteMemoryStore.from_path(path) as writer:
        vectors = unit_vectors(3, seed=7)
        put(writer, [memory("a", id="m1"), memory("b", id="m2")], vectors[:2])
        assert _search(reader, vectors[0])[0] == "m1"
        assert reader.get_memory(TENANT, "m1") is not None
        writer.record_access(TENANT, ["m1"], at=at(3))
        recalled = reader.get_memory(TENANT, "m1")
        assert recalled is not None and recalled.access_count == 1
        put(writer, [memory("c", id="m3")], vectors[2:])
        put(reader, [memory("b, edited", id="m2")], vectors[1:2])
        assert _search(reader, vectors[2])[0] == "m3"
        edited = reader.get_memory(TENANT, "m2")
        assert edited is not None and edited.text == "b, edited"
        assert ids_of(writer.search_lexical(TENANT, "edited", MINE)) == ["m2"]


def test_a_rolled_back_batch_leaves_the_cache_exact(store: SqliteMemoryStore) -> None:
    vectors = unit_vectors(2, seed=9)
    put(store, [memory("a", id="m1")], vectors[:1])
    _search(store, vectors[0])
    with pytest.raises(Exception, match="another user_id"):
        put(store, [memory("b", id="m2"), memory("a", id="m1", user_id="u2")], vectors)
    assert _search(store, vectors[1]) == ["m1"]
    assert store.get_memory(TENANT, "m2") is None


def test_files_of_the_first_schema_are_migrated(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    conn = SqliteConnection(path)
    conn.migrate("memories", MIGRATIONS[:1])  # a file written before `accessed` existed
    conn.conn.execute(
        "INSERT INTO engram_memory_partitions (tenant, user_key) VALUES (?, ?)", (TENANT, "u1")
    )
    store = SqliteMemoryStore(conn)
    put(store, [memory(id="m1")], unit_vectors(1))
    store.record_access(TENANT, ["m1"], at=at(1))
    assert _search(store, unit_vectors(1)[0]) == ["m1"]
    conn.close()


@pytest.mark.parametrize(
    "where",
    [
        MINE._replace(after=at(10), before=at(13), metadata={"topic": "tea"}),
        MINE._replace(kinds=("episode",), before=at(4)),
        MINE._replace(session_id="s1", include_superseded=True, after=at(30)),
        MINE._replace(as_of=at(20.5), after=at(15)),  # retired since: found as of then
        MINE._replace(valid_at=at(7.5), before=at(9)),
        MINE._replace(after=at(100)),  # the cached rows select nothing
        MINE._replace(after=at(0)),  # every row: a scan of the partition
    ],
)
def test_a_listing_narrowed_by_the_cached_rows_reads_what_a_scan_reads(
    tmp_path: Path, where: MemoryFilter
) -> None:
    """A user's listing reads only the rows the cached partition selects (a day of a big
    partition): the same memories, order and count as a scan of a cold store."""
    memories = [
        memory(
            f"turn {index} about {'tea' if index % 3 else 'coffee'}",
            id=f"m{index:02d}",
            kind="episode" if index % 2 else "fact",
            session_id=f"s{index % 4}",
            metadata={"topic": "tea" if index % 3 else "coffee"},
            recorded_at=at(index),
            superseded_at=at(index + 1) if index % 5 == 0 else None,
        )
        for index in range(40)
    ]
    with SqliteMemoryStore.from_path(tmp_path / "engram.db") as warm:
        put(warm, memories, unit_vectors(40, seed=9))
        _search(warm, unit_vectors(1, seed=1)[0])  # caches the partition's rows
        listed = warm.list_memories(TENANT, where, limit=100)
        counted = warm.count_memories(TENANT, where)
        newest = warm.list_memories(TENANT, where, limit=2)
    with SqliteMemoryStore.from_path(tmp_path / "engram.db") as cold:
        assert [m.id for m in listed] == [m.id for m in cold.list_memories(TENANT, where)]
        assert counted == cold.count_memories(TENANT, where) == len(listed)
        assert [m.id for m in newest] == [m.id for m in listed[:2]]
    assert bool(listed) == (where.after != at(100))
