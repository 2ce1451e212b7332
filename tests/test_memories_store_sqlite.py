"""SQLite memory store: what the conformance suite cannot see (schema, cache, query plans)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engram._exceptions import MigrationRequired
from engram.stores.memories import MemoryFilter, VectorRecord
from engram.stores.sqlite._internal import SqliteConnection
from engram.stores.sqlite.memories import SqliteMemoryStore
from engram.stores.sqlite.memories_base import MIGRATIONS, PARTITION_BITS
from engram.testing._memory_checks import MODEL, TENANT, at, memory, put, unit_vectors
from engram.testing.memories import MemoryStoreSpec
from engram.types._memory import Entity, MemoryChange, Relation, UserProfile

MINE = MemoryFilter(user_id="u1")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteMemoryStore]:
    with SqliteMemoryStore.from_path(tmp_path / "engram.db") as opened:
        yield opened


class TestWithoutVectorCache(MemoryStoreSpec):
    """The whole suite with the partition cache off: every search reads the file."""

    @pytest.fixture
    def memory_store(self, tmp_path: Path) -> Iterator[SqliteMemoryStore]:
        with SqliteMemoryStore.from_path(tmp_path / "engram.db", vector_cache_bytes=0) as opened:
            yield opened


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    conn = SqliteConnection(tmp_path / "engram.db")
    SqliteMemoryStore(conn)
    SqliteMemoryStore(conn)
    row = conn.conn.execute(
        "SELECT version FROM engram_migrations WHERE component = 'memories'"
    ).fetchone()
    assert row[0] == len(MIGRATIONS)
    conn.conn.execute("UPDATE engram_migrations SET version = 99 WHERE component = 'memories'")
    with pytest.raises(MigrationRequired):
        SqliteMemoryStore(conn)
    conn.close()


def test_cache_is_reused_until_the_partition_changes(store: SqliteMemoryStore) -> None:
    put(store, [memory(id="m1")], unit_vectors(1))
    query = unit_vectors(1, seed=1)[0]
    store.search_vector(TENANT, query, MODEL, MINE)
    store.search_vector(TENANT, query, MODEL, MINE)
    assert (store.cache.misses, store.cache.hits) == (1, 1)
    store.record_access(TENANT, ["m1"], at=at(1))  # not a change of the vectors
    store.search_vector(TENANT, query, MODEL, MINE)
    assert store.cache.hits == 2
    put(store, [memory("Bo", id="m2")], unit_vectors(1, seed=2))
    hits = store.search_vector(TENANT, query, MODEL, MINE)
    assert store.cache.misses == 2 and len(hits) == 2


def test_cache_follows_writes_of_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    with SqliteMemoryStore.from_path(path) as reader, SqliteMemoryStore.from_path(path) as writer:
        vectors = unit_vectors(3, seed=4)
        put(writer, [memory("a", id="m1"), memory("b", id="m2")], vectors[:2])
        assert [h.memory_id for h in reader.search_vector(TENANT, vectors[1], MODEL, MINE)] == [
            "m2",
            "m1",
        ]
        writer.delete_memories(TENANT, ["m2"], at=at(1))
        put(writer, [memory("c", id="m3")], vectors[2:])
        hits = reader.search_vector(TENANT, vectors[2], MODEL, MINE)
        assert [h.memory_id for h in hits] == ["m3", "m1"]


def test_erasure_evicts_the_partition_from_the_cache(store: SqliteMemoryStore) -> None:
    put(store, [memory(id="m1"), memory("Bo", id="m2")], unit_vectors(2))
    store.search_vector(TENANT, unit_vectors(1)[0], MODEL, MINE)
    assert store.cache.nbytes > 0
    store.delete_memories(TENANT, ["m1"], at=at(1))
    assert store.cache.nbytes == 0
    store.search_vector(TENANT, unit_vectors(1)[0], MODEL, MINE)
    store.delete_scope(TENANT, user_id="u1")
    assert store.cache.nbytes == 0


def test_cache_stays_within_its_bound(tmp_path: Path) -> None:
    one_partition = 3 * (4 * 8 + 8)  # 3 vectors of 8 floats and their row ids
    with SqliteMemoryStore.from_path(tmp_path / "e.db", vector_cache_bytes=one_partition) as store:
        for user in ("u1", "u2"):
            memories = [memory(f"{user} {i}", id=f"{user}-{i}", user_id=user) for i in range(3)]
            put(store, memories, unit_vectors(3))
            store.search_vector(TENANT, unit_vectors(1)[0], MODEL, MemoryFilter(user_id=user))
        assert store.cache.nbytes <= one_partition


def test_partition_ids_are_never_reused(store: SqliteMemoryStore) -> None:
    put(store, [memory(id="m1")])
    first = _rids(store)
    store.delete_scope(TENANT, user_id="u1")
    put(store, [memory(id="m1")])
    assert _rids(store)[0] >> PARTITION_BITS > first[0] >> PARTITION_BITS


def test_user_search_reads_the_partition_range(store: SqliteMemoryStore) -> None:
    put(store, [memory(id="m1")], unit_vectors(1))
    plan = store.conn.conn.execute(
        "EXPLAIN QUERY PLAN SELECT rid, id FROM engram_memories"
        " WHERE +tenant = ? AND rid BETWEEN ? AND ? AND superseded_at IS NULL",
        (TENANT, 1 << PARTITION_BITS, (2 << PARTITION_BITS) - 1),
    ).fetchall()
    assert "INTEGER PRIMARY KEY" in plan[0][3]


def test_delete_scope_leaves_no_row_mentioning_the_user(store: SqliteMemoryStore) -> None:
    user, text = "user-zq7", "zq7 loves jazz"
    mine = memory(text, id="zq7-m1", user_id=user, session_id="zq7-s")
    change = MemoryChange("zq7-m1", "add", new_text=text, tenant=TENANT)
    store.put_memories(
        TENANT, [mine], vectors=[VectorRecord(MODEL, unit_vectors(1)[0])], changes=[change]
    )
    store.put_memories(TENANT, [memory("other", id="o1", user_id="u2")])
    store.put_entities(TENANT, [Entity("zq7 band", id="zq7-e", tenant=TENANT, user_id=user)])
    store.put_relations(
        TENANT, [Relation("zq7-e", "plays", "x", id="zq7-r", tenant=TENANT, user_id=user)]
    )
    store.put_profile(UserProfile(user, tenant=TENANT, fields={"music": "zq7 jazz"}))
    assert _cells_containing(store, "zq7")
    store.delete_scope(TENANT, user_id=user)
    assert _cells_containing(store, "zq7") == []
    assert store.get_memory(TENANT, "o1") is not None


def _rids(store: SqliteMemoryStore) -> list[int]:
    return [row[0] for row in store.conn.conn.execute("SELECT rid FROM engram_memories")]


def _cells_containing(store: SqliteMemoryStore, needle: str) -> list[tuple[str, Any]]:
    """(table, cell) of every cell of every memory table whose value contains `needle`."""
    conn = store.conn.conn
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'engram_memor%'"
        )
    ]
    assert len(tables) == 8
    found = []
    for table in tables:
        for row in conn.execute(f"SELECT * FROM {table}"):
            for cell in row:
                raw = cell if isinstance(cell, bytes) else str(cell).encode()
                if needle.encode() in raw:
                    found.append((table, cell))
    return found


def test_vectors_round_trip_exactly(store: SqliteMemoryStore) -> None:
    vector = unit_vectors(1, seed=11)[0]
    put(store, [memory(id="m1")], vector[None, :])
    [got] = store.get_vectors(TENANT, ["m1"], MODEL)
    assert got is not None
    assert np.array_equal(got, vector / np.linalg.norm(vector))
