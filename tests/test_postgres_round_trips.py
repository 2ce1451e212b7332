"""How many statements a PostgreSQL conversation or event-log batch sends, and whether in a
transaction.

A batch that only reads (an export's session, messages and summary; a stream, its events
and snapshot) sends each statement on its own, with no `BEGIN`/`COMMIT` round trips, where
its transactions are READ COMMITTED anyway, and runs in one transaction where they are not;
so does a read of a session that extends its expiry (`touch`, every `context()`), whose one
write is its last statement. Sync and async stores alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, NamedTuple

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from engram import Message
from engram.stores.conversation import (
    AppendMessages,
    BaseConversationStore,
    GetSession,
    GetSummary,
    ListMessages,
    ListSessions,
)
from engram.stores.events import BaseEventLog, GetSnapshot, GetStream, ReadEvents
from engram.stores.postgres import (
    AsyncPostgresConversationStore,
    AsyncPostgresEventLog,
    PostgresConversationStore,
    PostgresEventLog,
)
from engram.types import Event, Session
from engram.types._conversation import utcnow

pytest_plugins = ["servers"]

TENANT = "t"


class Sent(NamedTuple):
    """A statement sent through a counting cursor."""

    sql: str
    in_transaction: bool
    """Sent inside a transaction (not one of its own)."""


SENT: list[Sent] = []
"""What the counting cursors sent (psycopg's own COMMIT is not sent through a cursor)."""


def _record(cursor: Any, query: Any) -> None:
    text = query.decode() if isinstance(query, bytes) else str(query)
    status = cursor.connection.info.transaction_status
    SENT.append(Sent(text, status != TransactionStatus.IDLE))


class CountingCursor(psycopg.Cursor[Any]):
    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        _record(self, query)
        return super().execute(query, *args, **kwargs)


class AsyncCountingCursor(psycopg.AsyncCursor[Any]):
    async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        _record(self, query)
        return await super().execute(query, *args, **kwargs)


@pytest.fixture
def sent() -> Iterator[list[Sent]]:
    SENT.clear()
    yield SENT
    SENT.clear()


def fill(store: BaseConversationStore) -> None:
    """A session that never expires ("s1", two messages) and one that does ("s2"); then a
    read of several ops, as a connection's first one asks how its transactions are
    isolated."""
    now = utcnow()
    store.create_session(Session(id="s1", tenant=TENANT, user_id="u1"))
    store.create_session(Session(id="s2", tenant=TENANT, user_id="u1", ttl_seconds=60))
    messages = (Message(role="user", content="hi"), Message(role="assistant", content="hello"))
    store.batch([AppendMessages(TENANT, "s1", messages, now)])
    store.batch([GetSession(TENANT, "s1", now), GetSummary(TENANT, "s1", now)])


def export_ops() -> list[Any]:
    now = utcnow()
    return [
        GetSession(TENANT, "s1", now),
        ListMessages(TENANT, "s1", now=now),
        GetSummary(TENANT, "s1", now),
        ListSessions(TENANT, now, "u1"),
    ]


def check_reads(store: BaseConversationStore, sent: list[Sent]) -> None:
    """An export's reads, a read of a session, a touch of one that never expires and of
    one that does: each statement alone, the touch's write kept."""
    sent.clear()
    session, messages, summary, sessions = store.batch(export_ops())
    assert session.message_count == 2
    assert [m.content for m in messages] == ["hi", "hello"]
    assert summary is None
    assert {s.id for s in sessions} == {"s1", "s2"}
    assert len(sent) == 4

    later = utcnow() + timedelta(seconds=30)
    assert store.get_session(TENANT, "s1", now=later) is not None
    assert store.get_session(TENANT, "s1", now=later, touch=True) is not None
    touched = store.get_session(TENANT, "s2", now=later, touch=True)
    assert touched is not None and touched.expires_at == later + timedelta(seconds=60)
    stored = store.get_session(TENANT, "s2", now=later)
    assert stored is not None and stored.expires_at == touched.expires_at

    assert [s.sql.split()[0] for s in sent[4:]] == [
        "SELECT",
        "SELECT",
        "SELECT",
        "UPDATE",
        "SELECT",
    ]
    assert "synchronous_commit" in sent[7].sql  # committed asynchronously, as in a transaction
    assert len(sent) == 9
    assert not any(statement.in_transaction for statement in sent)


def test_reads_send_their_statements_alone(postgres_clean_database: str, sent: list[Sent]) -> None:
    conn = psycopg.connect(postgres_clean_database, autocommit=True, cursor_factory=CountingCursor)
    with conn:
        store = PostgresConversationStore(conn)
        fill(store)
        check_reads(store, sent)


def test_async_reads_send_their_statements_alone(
    postgres_clean_database: str, sent: list[Sent]
) -> None:
    async def main() -> None:
        conn = await psycopg.AsyncConnection.connect(
            postgres_clean_database, autocommit=True, cursor_factory=AsyncCountingCursor
        )
        async with conn:
            store = AsyncPostgresConversationStore(conn)
            await store.amigrate()
            # The sync face of the async store runs on its loop: from a worker thread here.
            await asyncio.to_thread(fill, store)
            await asyncio.to_thread(check_reads, store, sent)

    asyncio.run(main())


def test_reads_share_one_transaction_where_transactions_are_not_read_committed(
    postgres_clean_database: str, sent: list[Sent]
) -> None:
    """READ COMMITTED: alone; REPEATABLE READ (the server's default for the connection): in
    one transaction, as before, so the reads share one snapshot."""
    for isolation, alone in (("read\\ committed", True), ("repeatable\\ read", False)):
        options = f"-c default_transaction_isolation={isolation}"
        conn = psycopg.connect(
            postgres_clean_database,
            autocommit=True,
            cursor_factory=CountingCursor,
            options=options,
        )
        with conn:
            store = PostgresConversationStore(conn)
            conn.execute("TRUNCATE engram_sessions, engram_messages CASCADE")
            fill(store)
            sent.clear()

            store.batch(export_ops())
            store.get_session(TENANT, "s2", now=utcnow(), touch=True)

            statements = [s for s in sent if s.sql.startswith(("SELECT", "UPDATE"))]
            assert len(statements) == 6
            assert all(s.in_transaction is not alone for s in statements), isolation


def check_event_reads(log: BaseEventLog, sent: list[Sent]) -> None:
    """A stream's reads, together and alone, each statement on its own; an append still in
    one transaction."""
    log.append(TENANT, "task", [Event.thought("plan"), Event.thought("act")])
    log.batch([GetStream(TENANT, "task"), GetSnapshot(TENANT, "task")])  # learns isolation
    sent.clear()

    stream, events, snapshot = log.batch(
        [GetStream(TENANT, "task"), ReadEvents(TENANT, "task"), GetSnapshot(TENANT, "task")]
    )
    assert stream is not None and stream.version == 2
    assert [event.version for event in events] == [1, 2]
    assert snapshot is None
    assert [event.version for event in log.read(TENANT, "task", from_version=2)] == [2]
    assert len(sent) == 4
    assert not any(statement.in_transaction for statement in sent)

    log.append(TENANT, "task", [Event.thought("done")], expected_version=2)
    assert any(statement.in_transaction for statement in sent[4:])


def test_event_reads_send_their_statements_alone(
    postgres_clean_database: str, sent: list[Sent]
) -> None:
    conn = psycopg.connect(postgres_clean_database, autocommit=True, cursor_factory=CountingCursor)
    with conn:
        check_event_reads(PostgresEventLog(conn), sent)


def test_async_event_reads_send_their_statements_alone(
    postgres_clean_database: str, sent: list[Sent]
) -> None:
    async def main() -> None:
        conn = await psycopg.AsyncConnection.connect(
            postgres_clean_database, autocommit=True, cursor_factory=AsyncCountingCursor
        )
        async with conn:
            log = AsyncPostgresEventLog(conn)
            await log.amigrate()
            await asyncio.to_thread(check_event_reads, log, sent)

    asyncio.run(main())
