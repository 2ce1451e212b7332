"""The memory-store conformance suite on PostgreSQL + pgvector, and what it cannot see.

Modes (fixture params): the sync store over one connection, through its sync API and through
`abatch`; the sync store over a pool; the async store over an async pool (on its own loop,
`servers.LoopThread`). Each test gets an empty database (`postgres_clean_database`); tests
that build HNSW indexes get a brand-new one (`postgres_database`), since indexes outlive the
emptying of a recycled database.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from engram._exceptions import MigrationRequired
from engram.memory.queries import lexical_query
from engram.stores.memories import (
    BaseMemoryStore,
    CountMemories,
    DeleteScope,
    ListMemories,
    MemoryFilter,
    Op,
    PutMemories,
    SearchLexical,
    SearchVector,
    VectorRecord,
)
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.stores.postgres import AsyncPostgresMemoryStore, PostgresMemoryStore
from engram.stores.postgres.base import Statement
from engram.stores.postgres.memories import SearchSettings, VectorIndexReport, memory_work
from engram.stores.postgres.memories_base import MIGRATIONS, index_name
from engram.testing._memory_checks import MODEL, TENANT, at, ids_of, memory, put, unit_vectors
from engram.testing.memories import AsyncDrivenMemoryStore, MemoryStoreSpec
from servers import LoopThread
from test_memories_store_conformance import (
    check_an_erased_turn_leaves_the_context_of_the_turns_after_it,
    check_metadata_numbers_compare_exactly,
    check_nul_in_metadata_is_refused,
)

pytest_plugins = ["servers"]

MODES = ["conn", "conn-abatch", "pool", "async-pool"]


class LoopBoundMemoryStore(BaseMemoryStore):
    """An async memory store used from any thread and loop: its own loop runs every batch."""

    def __init__(self, inner: BaseMemoryStore, loop: LoopThread) -> None:
        self.inner, self._loop = inner, loop

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        return self.inner.batch(ops)

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        future = asyncio.run_coroutine_threadsafe(self.inner.abatch(ops), self._loop.loop)
        return await asyncio.wrap_future(future)


@pytest.fixture(params=MODES)
def postgres_memory_store(
    request: pytest.FixtureRequest, postgres_clean_database: str
) -> Iterator[BaseMemoryStore]:
    """A fresh PostgreSQL memory store per mode."""
    url, mode = postgres_clean_database, request.param
    if mode.startswith("conn"):
        with psycopg.connect(url, autocommit=True) as conn:
            store = PostgresMemoryStore(conn)
            yield AsyncDrivenMemoryStore(store) if mode == "conn-abatch" else store
        return
    if mode == "pool":
        pool = ConnectionPool(url, min_size=4, max_size=4, kwargs={"autocommit": True}, open=False)
        with pool:
            # filled first: a connection opened later calls random(), refused mid-draw by hypothesis
            pool.wait()
            yield PostgresMemoryStore(pool)
        return
    loop = LoopThread()
    apool = AsyncConnectionPool(
        url, min_size=4, max_size=4, kwargs={"autocommit": True}, open=False
    )

    async def build() -> AsyncPostgresMemoryStore:
        # filled first: a connection opened later calls random(), refused mid-draw by hypothesis
        await apool.open(wait=True)
        store = AsyncPostgresMemoryStore(apool)
        await store.amigrate()
        return store

    try:
        yield LoopBoundMemoryStore(loop.run(build()), loop)
    finally:
        loop.run(apool.close())
        loop.close()


class TestPostgresMemoryStore(MemoryStoreSpec):
    """Every spec of `engram.testing.memories`, per connection mode."""

    @pytest.fixture
    def memory_store(self, postgres_memory_store: BaseMemoryStore) -> BaseMemoryStore:
        return postgres_memory_store


# PostgreSQL specifics.


@pytest.fixture
def conn(postgres_database: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgres_database, autocommit=True) as opened:
        yield opened


def test_migrations_are_idempotent_and_versioned(conn: psycopg.Connection[Any]) -> None:
    PostgresMemoryStore(conn)
    assert PostgresMemoryStore(conn).migrate() == len(MIGRATIONS)
    conn.execute("UPDATE engram_migrations SET version = 99 WHERE component = 'memories'")
    with pytest.raises(MigrationRequired):
        PostgresMemoryStore(conn)


def _big_user(store: PostgresMemoryStore, count: int, seed: int = 1) -> None:
    """`count` memories of u1 (every 7th superseded, kinds alternating) and 40 of u2."""
    matrix = unit_vectors(count + 40, seed=seed, dim=16)
    memories = [
        memory(
            f"fact {i}",
            id=f"m{i:04d}",
            user_id="u1" if i < count else "u2",
            kind=("fact", "episode")[i % 2],
            superseded_at=at(1) if i % 7 == 0 else None,
        )
        for i in range(count + 40)
    ]
    records = [VectorRecord(MODEL, row) for row in matrix]
    store.put_memories(TENANT, memories, vectors=records)


def _last_plan(conn: psycopg.Connection[Any], op: Op, settings: SearchSettings) -> str:
    """The plan of the last statement `op` runs, after running the ones before it, in one
    transaction (a search's `set_config` lasts for it)."""
    work = memory_work([op], settings)
    ran: list[Statement] = []
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        try:
            statement: Statement = next(work)
            while True:
                ran.append(statement)
                cursor.execute(statement.sql, statement.params)
                rows = cursor.fetchall() if cursor.description else []
                one = rows[0] if rows else None
                statement = work.send(one if statement.fetch == "one" else rows)
        except StopIteration:
            pass
        cursor.execute("EXPLAIN " + ran[-1].sql, ran[-1].params)
        return "\n".join(row["QUERY PLAN"] for row in cursor.fetchall())


def test_a_users_reads_do_not_scan_the_tenant_when_statistics_are_stale(
    conn: psycopg.Connection[Any],
) -> None:
    """Before the first ANALYZE (a bulk load) the planner believes the table small; a plan
    that also scans the tenant's `(tenant, id)` entries would grow with the tenant."""
    store = PostgresMemoryStore(conn)
    conn.execute("ALTER TABLE engram_memories SET (autovacuum_enabled = off)")
    put(store, [memory("Ana hikes in the Alps")])
    others = [
        memory(f"fact {i} about hiking", id=f"o{i}", user_id=f"u{i % 50 + 2}") for i in range(5000)
    ]
    store.put_memories(TENANT, others)
    mine = MemoryFilter(user_id="u1")
    for op in (
        ListMemories(TENANT, mine),
        CountMemories(TENANT, mine),
        SearchLexical(TENANT, lexical_query("hiking"), mine),
    ):
        plan = _last_plan(conn, op, store.search_settings)
        assert "engram_memories_id" not in plan, plan


def test_large_partition_gets_its_own_hnsw_index(conn: psycopg.Connection[Any]) -> None:
    store = PostgresMemoryStore(conn, index_min_vectors=300)
    _big_user(store, 400)
    report = store.index_vectors()
    assert report.created == (index_name(1, 1),) and report.dropped == ()
    assert store.index_vectors().created == ()  # idempotent
    mine = MemoryFilter(user_id="u1")
    query = unit_vectors(1, seed=9, dim=16)[0]
    assert index_name(1, 1) in _last_plan(
        conn, SearchVector(TENANT, query, MODEL, mine), store.search_settings
    )
    exact = PostgresMemoryStore(conn, search=SearchSettings(use_indexes=False))
    for seed in range(5):
        query = unit_vectors(1, seed=100 + seed, dim=16)[0]
        got = store.search_vector(TENANT, query, MODEL, mine, limit=10)
        expected = exact.search_vector(TENANT, query, MODEL, mine, limit=10)
        assert ids_of(got) == ids_of(expected)
        np.testing.assert_allclose([h.score for h in got], [h.score for h in expected], atol=1e-6)
        assert all(int(h.memory_id[1:]) % 7 for h in got)  # superseded ones are not current


def test_narrow_filters_never_use_the_index(conn: psycopg.Connection[Any]) -> None:
    store = PostgresMemoryStore(conn, index_min_vectors=300)
    _big_user(store, 400)
    store.index_vectors()
    query = unit_vectors(1, seed=9, dim=16)[0]
    for narrow in (
        MemoryFilter(user_id="u1", kinds=("episode",)),
        MemoryFilter(user_id="u1", as_of=at(2)),
        MemoryFilter(),
    ):
        plan = _last_plan(conn, SearchVector(TENANT, query, MODEL, narrow), store.search_settings)
        assert "hnsw" not in plan, narrow
    episodes = store.search_vector(
        TENANT, query, MODEL, MemoryFilter(user_id="u1", kinds=("episode",)), limit=50
    )
    assert len(episodes) == 50 and all(int(h.memory_id[1:]) % 2 for h in episodes)


def test_erased_users_indexes_are_dropped(conn: psycopg.Connection[Any]) -> None:
    store = PostgresMemoryStore(conn, index_min_vectors=300)
    _big_user(store, 300)
    store.index_vectors()
    assert store.delete_scope(TENANT, user_id="u1").vectors == 300
    assert store.index_vectors() == VectorIndexReport(created=(), dropped=(index_name(1, 1),))
    indexes = conn.execute(
        "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'engram_memory_hnsw_%'"
    ).fetchone()
    assert indexes == (0,)


def test_scores_equal_the_reference_store(postgres_clean_database: str) -> None:
    reference = InMemoryMemoryStore()
    texts = [
        "Ana loves hiking in the Alps",
        "Ana's café serves hiking guides",
        "Bo went hiking twice, hiking is fun",
        "The sea is calm",
    ]
    memories = [memory(text, id=f"m{i}") for i, text in enumerate(texts)]
    matrix = unit_vectors(len(texts), seed=3)
    with psycopg.connect(postgres_clean_database, autocommit=True) as connection:
        store = PostgresMemoryStore(connection)
        for one in (store, reference):
            put(one, memories, matrix)
        query = unit_vectors(1, seed=4)[0]
        for search in (
            lambda s: s.search_lexical(TENANT, "hiking café Alps"),
            lambda s: s.search_vector(TENANT, query, MODEL, MemoryFilter(user_id="u1")),
        ):
            got, expected = search(store), search(reference)
            assert ids_of(got) == ids_of(expected)
            np.testing.assert_allclose(
                [h.score for h in got], [h.score for h in expected], rtol=1e-6
            )


def test_erased_text_leaves_no_lexeme(postgres_clean_database: str) -> None:
    with psycopg.connect(postgres_clean_database, autocommit=True) as connection:
        store = PostgresMemoryStore(connection)
        put(store, [memory("Ana's secret is pistachio", id="m1")], history=True)
        store.delete_memories(TENANT, ["m1"])
        rows = connection.execute(
            "SELECT count(*) FROM engram_memories WHERE text LIKE '%pistachio%'"
        ).fetchone()
        history = connection.execute(
            "SELECT count(*) FROM engram_memory_history"
            " WHERE coalesce(old_text, '') || coalesce(new_text, '') LIKE '%pistachio%'"
        ).fetchone()
        assert rows == (0,) and history == (0,)
        assert store.search_lexical(TENANT, "pistachio") == []


def test_metadata_numbers_compare_exactly(postgres_memory_store: BaseMemoryStore) -> None:
    check_metadata_numbers_compare_exactly(postgres_memory_store)


def test_nul_in_metadata_is_refused(postgres_memory_store: BaseMemoryStore) -> None:
    check_nul_in_metadata_is_refused(postgres_memory_store)


def test_an_erased_turn_leaves_the_context_of_the_turns_after_it(
    postgres_memory_store: BaseMemoryStore,
) -> None:
    check_an_erased_turn_leaves_the_context_of_the_turns_after_it(postgres_memory_store)


def test_a_memory_with_more_terms_than_a_tsvector_holds(postgres_clean_database: str) -> None:
    """70,000 distinct terms (550 KB, within the 1 MB a text may take) were 1.1 MB of
    lexemes: "string is too long for tsvector". Such a memory holds term buckets, found by
    a search as the others are, with the reference's scores."""
    reference = InMemoryMemoryStore()
    texts = [" ".join(f"w{i}x" for i in range(70_000)), "w5x and w7x are here", "a zebra"]
    memories = [memory(text, id=f"m{i}") for i, text in enumerate(texts)]
    with psycopg.connect(postgres_clean_database, autocommit=True) as connection:
        store = PostgresMemoryStore(connection)
        for one in (store, reference):
            put(one, memories)
        for query in ("w5x", "w69999x", "zebra w7x"):
            got, expected = (
                store.search_lexical(TENANT, query),
                reference.search_lexical(TENANT, query),
            )
            assert ids_of(got) == ids_of(expected) != [], query
            np.testing.assert_allclose(
                [h.score for h in got], [h.score for h in expected], rtol=1e-6
            )
        assert store.search_lexical(TENANT, "w70000x") == []


def _steps(conn: psycopg.Connection[Any], op: Op) -> Iterator[str]:
    """Run `op` in a transaction of `conn`, one statement per step (yields its SQL)."""
    work = memory_work([op], SearchSettings())
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        try:
            statement: Statement = next(work)
            while True:
                if statement.many:
                    cursor.executemany(statement.sql, statement.params)
                else:
                    cursor.execute(statement.sql, statement.params)
                rows = cursor.fetchall() if cursor.description else []
                result: Any = rows
                if statement.fetch == "one":
                    result = rows[0] if rows else None
                elif statement.fetch == "rowcount":
                    result = cursor.rowcount
                yield statement.sql
                statement = work.send(result)
        except StopIteration:
            pass


def test_a_put_racing_the_erasure_of_its_user_leaves_no_orphan(
    postgres_clean_database: str,
) -> None:
    """A put that had found the user's partition when `DeleteScope(user_id=...)` erased it
    and committed went on to add its memory to the deleted partition: stored, yet never
    listed, searched, or erased by the next `delete_scope` (its user has a new partition).
    Now the erasure waits for the put, and takes its memory too."""
    url = postgres_clean_database
    with (
        psycopg.connect(url, autocommit=True) as main,
        psycopg.connect(url, autocommit=True) as putting,
        psycopg.connect(url, autocommit=True) as erasing,
    ):
        store = PostgresMemoryStore(main)
        put(store, [memory("Ana likes tea", id="old")])
        steps = _steps(putting, PutMemories(TENANT, (memory("Ana likes coffee", id="new"),)))
        while "engram_memory_partitions" not in next(steps):
            pass  # the put has found the user's partition
        erasure = threading.Thread(target=lambda: list(_steps(erasing, DeleteScope(TENANT, "u1"))))
        erasure.start()
        erasure.join(timeout=0.5)  # the old code erased meanwhile; the new one waits
        list(steps)
        erasure.join(timeout=10)
        assert not erasure.is_alive()
        orphans = main.execute(
            "SELECT m.id FROM engram_memories AS m WHERE NOT EXISTS"
            " (SELECT 1 FROM engram_memory_partitions AS p WHERE p.pid = m.pid)"
        ).fetchall()
        assert orphans == []
        assert store.get_memory(TENANT, "new") is None
        assert store.list_memories(TENANT, MemoryFilter(user_id="u1")) == []
