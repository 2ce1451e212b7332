"""How many statements a memory batch sends, and that batching them changes no result.

On PostgreSQL a run of `GetHistory` ops (an export's, an erasure's) is read in one query,
each op's result the same as if read alone (checked on every backend), and a batch of reads
runs each statement on its own (no `BEGIN`/`COMMIT` round trips) where its transactions are
READ COMMITTED anyway, and in one transaction where they are not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
import pytest
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus

from engram import Engram
from engram.stores import InMemoryConversationStore
from engram.stores.memories import (
    BaseMemoryStore,
    GetHistory,
    GetMemories,
    GetProfile,
    ListEntities,
    MemoryFilter,
    RecordAccess,
)
from engram.stores.postgres import PostgresMemoryStore
from engram.testing._memory_checks import TENANT, at, memory, put
from engram.types._memory import MemoryChange
from servers import fresh_store

pytest_plugins = ["servers"]


class Sent(NamedTuple):
    """A statement sent through a `CountingCursor`."""

    sql: str
    in_transaction: bool
    """Sent inside a transaction (not one of its own)."""


class CountingCursor(psycopg.Cursor[Any]):
    """Records every statement sent through it (psycopg's own BEGIN and COMMIT are not)."""

    sent: list[Sent] = []

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self._record(query)
        return super().execute(query, *args, **kwargs)

    def executemany(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self._record(query)
        return super().executemany(query, *args, **kwargs)

    def _record(self, query: Any) -> None:
        text = query.decode() if isinstance(query, bytes) else str(query)
        status = self.connection.info.transaction_status
        type(self).sent.append(Sent(text, status != TransactionStatus.IDLE))


@pytest.fixture
def sent() -> Iterator[list[Sent]]:
    CountingCursor.sent = []
    yield CountingCursor.sent


def counting_store(url: str, **connect: Any) -> tuple[psycopg.Connection[Any], BaseMemoryStore]:
    """A store on a connection of its own that counts the statements sent, once it has read
    (a connection's first read asks the server how its transactions are isolated)."""
    conn = psycopg.connect(url, autocommit=True, cursor_factory=CountingCursor, **connect)
    store = PostgresMemoryStore(conn)
    store.get_memory(TENANT, "none")
    return conn, store


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseMemoryStore]:
    with fresh_store(request, tmp_path, "MemoryStore") as fresh:
        yield fresh


def test_a_run_of_history_reads_gives_each_op_its_own_history(store: BaseMemoryStore) -> None:
    first, second = put(store, [memory("Ana drinks tea"), memory("Ana swims")], history=True)
    later = MemoryChange(first.id, "update", first.text, "Ana drinks mate", tenant=TENANT, at=at(2))
    store.put_memories(TENANT, [replace(first, text="Ana drinks mate")], changes=[later])
    other = memory("Bo runs", tenant="other")
    added = MemoryChange(other.id, "add", new_text=other.text, tenant="other", at=at(1))
    store.put_memories("other", [other], changes=[added])
    ops = [
        GetHistory(TENANT, first.id),
        GetHistory(TENANT, second.id),
        GetHistory(TENANT, "no-such-memory"),
        GetHistory(TENANT, first.id),
        GetHistory(TENANT, other.id),  # another tenant's memory: none of this one's
        GetHistory("other", other.id),
        GetMemories(TENANT, (second.id,)),
        GetHistory(TENANT, second.id),
    ]

    results = store.batch(ops)

    assert results == [store.batch([op])[0] for op in ops]
    assert [[change.action for change in history] for history in results[:6]] == [
        ["add", "update"],
        ["add"],
        [],
        ["add", "update"],
        [],
        ["add"],
    ]
    assert results[0] is not results[3]  # each op gets a list of its own


def test_an_export_sends_as_many_statements_for_many_memories_as_for_few(
    postgres_clean_database: str, sent: list[Sent]
) -> None:
    conn, store = counting_store(postgres_clean_database)
    with conn:
        engram = Engram(InMemoryConversationStore(), memory_store=store, tenant=TENANT)
        counts = []
        for user, size in (("few", 3), ("many", 60)):
            put(store, [memory(f"fact {i}", user_id=user) for i in range(size)], history=True)
            sent.clear()
            data = engram.memories.export(user_id=user)
            assert len(data["memories"]) == len(data["history"]) == size
            counts.append(len(sent))

    assert counts[0] == counts[1]


def test_a_read_batch_sends_its_statements_alone(
    postgres_clean_database: str, sent: list[Sent]
) -> None:
    conn, store = counting_store(postgres_clean_database)
    with conn:
        [stored] = put(store, [memory()], history=True)
        sent.clear()

        store.batch([GetMemories(TENANT, (stored.id,)), GetHistory(TENANT, stored.id)])
        store.batch([GetProfile(TENANT, "u1"), ListEntities(TENANT, "u1")])
        store.batch([RecordAccess(TENANT, (stored.id,), at(3))])

        assert len(sent) == 5
        assert not any(statement.in_transaction for statement in sent)
        assert store.get_memory(TENANT, stored.id).access_count == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "connect",
    [
        {"options": "-c default_transaction_isolation=repeatable\\ read"},
        {"options": "-c default_transaction_isolation=serializable"},
    ],
    ids=["server-default-repeatable-read", "server-default-serializable"],
)
def test_reads_share_one_snapshot_where_transactions_are_not_read_committed(
    postgres_clean_database: str, sent: list[Sent], connect: dict[str, Any]
) -> None:
    conn, store = counting_store(postgres_clean_database, **connect)
    with conn:
        [stored] = put(store, [memory()], history=True)
        sent.clear()

        found, history = store.batch(
            [GetMemories(TENANT, (stored.id,)), GetHistory(TENANT, stored.id)]
        )

        assert found == [stored]
        assert [change.action for change in history] == ["add"]
        reads = [statement for statement in sent if statement.sql.startswith("SELECT")]
        assert [statement.in_transaction for statement in reads] == [True, True]


def test_a_connection_of_its_own_isolation_reads_in_one_transaction(
    postgres_clean_database: str, sent: list[Sent]
) -> None:
    conn, store = counting_store(postgres_clean_database)
    with conn:
        put(store, [memory()])
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        sent.clear()

        assert store.count_memories(TENANT, MemoryFilter(user_id="u1")) == 1

        reads = [statement for statement in sent if statement.sql.startswith("SELECT")]
        assert [statement.in_transaction for statement in reads] == [True, True]
