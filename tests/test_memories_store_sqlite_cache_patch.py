"""SQLite memory store: this store's in-place rewrites patch the cached partition.

An add of the memory flows appends an episode and often rewrites an existing memory (its
provenance, a supersession). The cached rows and matrix must follow by reading the rows
written, not the whole partition (which made every add cost a read of the user's memories),
and stay exactly what a cold store reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram.stores.memories import MemoryFilter, VectorRecord
from engram.stores.sqlite import memories as sqlite_memories
from engram.stores.sqlite.memories import SqliteMemoryStore
from engram.testing._memory_checks import MODEL, TENANT, at, ids_of, memory, put, unit_vectors

MINE = MemoryFilter(user_id="u1")
WORDS = ["tea", "coffee", "cocoa", "juice", "water"]
KINDS = ["fact", "episode", "preference"]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Any]]]:
    """Every partition read of the store: ("rows", first_rid or the rids), ("vectors",
    first_rid); None for a read of the whole partition."""
    seen: list[tuple[str, Any]] = []
    load_rows = sqlite_memories.load_partition_rows
    load_vectors = sqlite_memories.load_partition_vectors

    def rows(conn: Any, partition: Any, first_rid: Any = None, **more: Any) -> Any:
        seen.append(("rows", more.get("rids", first_rid)))
        return load_rows(conn, partition, first_rid, **more)

    def vectors(conn: Any, pid: int, model_no: int, dim: int, gen: int, first: Any = None) -> Any:
        seen.append(("vectors", first))
        return load_vectors(conn, pid, model_no, dim, gen, first)

    monkeypatch.setattr(sqlite_memories, "load_partition_rows", rows)
    monkeypatch.setattr(sqlite_memories, "load_partition_vectors", vectors)
    yield seen


def test_an_add_that_rewrites_a_memory_reads_only_the_rows_written(
    tmp_path: Path, reads: list[tuple[str, Any]]
) -> None:
    vectors = unit_vectors(4, seed=11)
    with SqliteMemoryStore.from_path(tmp_path / "engram.db") as store:
        put(store, [memory("tea", id="m1"), memory("coffee", id="m2")], vectors[:2])
        assert ids_of(store.search_vector(TENANT, vectors[0], MODEL, MINE, limit=1)) == ["m1"]
        reads.clear()
        # What an add does: a new episode, and an old memory superseded (same text).
        retired = memory("coffee", id="m2", superseded_at=at(1), kind="preference")
        episode = memory("I drink cocoa now", id="m3", kind="episode")
        store.put_memories(
            TENANT, [episode, retired], vectors=[VectorRecord(MODEL, vectors[2]), None]
        )
        found = store.search_vector(TENANT, vectors[1], MODEL, MINE, limit=3)
        assert sorted(ids_of(found)) == ["m1", "m3"]  # m2 retired
        assert ids_of(store.search_lexical(TENANT, "coffee", MINE)) == []
        assert reads and all(first is not None for _, first in reads)


def _cold_results(path: Path, query: np.ndarray, word: str) -> tuple[list[Any], ...]:
    with SqliteMemoryStore.from_path(path, vector_cache_bytes=0, row_cache_bytes=0) as cold:
        return _results(cold, query, word)


def _results(store: SqliteMemoryStore, query: np.ndarray, word: str) -> tuple[list[Any], ...]:
    found = []
    for where in (MINE, MINE._replace(kinds=("preference",)), MINE._replace(session_id="s1")):
        found.append(store.search_vector(TENANT, query, MODEL, where, limit=50))
        found.append(store.search_lexical(TENANT, word, where, limit=50))
    return tuple(found)


_step = st.tuples(
    st.integers(0, 11),  # the memory written (new or rewritten)
    st.sampled_from(WORDS),
    st.sampled_from(KINDS),
    st.sampled_from([None, "s1", "s2"]),
    st.booleans(),  # superseded
    st.booleans(),  # written with a vector
    st.booleans(),  # with a new episode in the same put (what an add does)
    st.booleans(),  # searched after (else the next step's changes chain onto this one's)
)


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(_step, min_size=1, max_size=12), seed=st.integers(0, 10**6))
def test_searches_after_appends_and_rewrites_match_a_cold_store(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[Any, ...]], seed: int
) -> None:
    path = tmp_path_factory.mktemp("patch") / "engram.db"
    vectors = unit_vectors(len(steps) + 1, seed=seed)
    with SqliteMemoryStore.from_path(path) as store:
        put(store, [memory("water " * 3, id="m0")], vectors[:1])
        for index, step in enumerate(steps):
            number, word, kind, session, superseded, with_vector, with_episode, searched = step
            rewritten = memory(
                f"{word} {number}",
                id=f"m{number}",
                kind=kind,
                session_id=session,
                superseded_at=at(index + 1) if superseded else None,
            )
            written = [rewritten]
            records = [VectorRecord(MODEL, vectors[index + 1]) if with_vector else None]
            if with_episode:
                written.append(memory(f"{word} said", id=f"e{index}", kind="episode"))
                records.append(VectorRecord(MODEL, vectors[index]))
            store.put_memories(TENANT, written, vectors=records)
            if searched or index == len(steps) - 1:
                query, asked = vectors[index], WORDS[index % len(WORDS)]
                assert _results(store, query, asked) == _cold_results(path, query, asked)
