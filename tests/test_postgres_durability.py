"""The `durability` setting of the PostgreSQL stores: `SET LOCAL`, never the state of a session
the application lent (Engram's own connections, from `from_conn_string`, set it for theirs).

A trigger on each store's table of record (messages, events, checkpoints, memories) records
`current_setting('synchronous_commit')` as a row is written: the setting inside the store's
own transaction, or inside the one statement of a checkpoint put to a known thread (which
commits on its own). The application's connections run with the session setting `local`, a
value neither Engram nor the test server uses (the server runs with synchronous_commit off),
so `"full"` (keep the server's / session's setting) is told apart from `"normal"` (`off`),
and the session is checked unchanged after Engram used the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from engram import Message
from engram._exceptions import ConfigError
from engram.stores.conversation import AppendMessages
from engram.stores.postgres import (
    AsyncPostgresCheckpointer,
    AsyncPostgresConversationStore,
    AsyncPostgresEventLog,
    AsyncPostgresMemoryStore,
    PostgresCheckpointer,
    PostgresConversationStore,
    PostgresEventLog,
    PostgresMemoryStore,
)
from engram.types import Event, Memory, Session
from engram.types._conversation import utcnow

pytest_plugins = ["servers"]

SESSION = "local"
"""The application's own session setting."""
EXPECTED = {"normal": "off", "full": SESSION}
TABLES = ("engram_messages", "engram_events", "engram_checkpoints", "engram_memories")
PROBE = """
CREATE TABLE durability_probe (table_name text, setting text);
CREATE FUNCTION durability_probe() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO durability_probe VALUES (TG_TABLE_NAME, current_setting('synchronous_commit'));
    RETURN NULL;
END $$
"""


@pytest.fixture
def probed(postgres_clean_database: str) -> Iterator[psycopg.Connection[Any]]:
    """An admin connection to a database with every store's tables and the probe triggers
    (removed after: the database is recycled)."""
    with psycopg.connect(postgres_clean_database, autocommit=True) as conn:
        for store in (PostgresConversationStore, PostgresEventLog, PostgresCheckpointer):
            store(conn)
        PostgresMemoryStore(conn)
        conn.execute(PROBE)
        for table in TABLES:
            conn.execute(
                f"CREATE TRIGGER durability_probe AFTER INSERT ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION durability_probe()"
            )
        try:
            yield conn
        finally:
            conn.execute("DROP TABLE durability_probe")
            conn.execute("DROP FUNCTION durability_probe() CASCADE")


def seen(admin: psycopg.Connection[Any]) -> dict[str, set[str]]:
    """The settings the probe recorded, per table."""
    settings: dict[str, set[str]] = {}
    for table, setting in admin.execute("SELECT table_name, setting FROM durability_probe"):
        settings.setdefault(table, set()).add(setting)
    return settings


def write_everything(conn: Any, durability: Any) -> None:
    """One write to each sync store over `conn`, and two checkpoint puts (a new thread: a
    transaction; then a known one: a statement committed on its own)."""
    conversations = PostgresConversationStore(conn, migrate=False, durability=durability)
    conversations.create_session(Session(id="s"))
    message = Message(role="user", content="hello")
    conversations.batch([AppendMessages("default", "s", (message,), utcnow())])
    log = PostgresEventLog(conn, migrate=False, durability=durability)
    log.append("default", "stream", [Event.thought("plan")])
    checkpointer = PostgresCheckpointer(conn, migrate=False, durability=durability)
    checkpointer.put("default", "thread", {"step": 1})
    checkpointer.put("default", "thread", {"step": 2})
    memories = PostgresMemoryStore(conn, migrate=False, durability=durability)
    memories.put_memories("default", [Memory("Ana is vegetarian", user_id="ana")])


async def awrite_everything(conn: Any, durability: Any) -> None:
    """`write_everything` through the async stores."""
    conversations = AsyncPostgresConversationStore(conn, durability=durability)
    await conversations.acreate_session(Session(id="s"))
    message = Message(role="user", content="hello")
    await conversations.abatch([AppendMessages("default", "s", (message,), utcnow())])
    log = AsyncPostgresEventLog(conn, durability=durability)
    await log.aappend("default", "stream", [Event.thought("plan")])
    checkpointer = AsyncPostgresCheckpointer(conn, durability=durability)
    await checkpointer.aput("default", "thread", {"step": 1})
    await checkpointer.aput("default", "thread", {"step": 2})
    memories = AsyncPostgresMemoryStore(conn, durability=durability)
    await memories.aput_memories("default", [Memory("Ana is vegetarian", user_id="ana")])


def session_setting(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SHOW synchronous_commit").fetchone()
    assert row is not None
    return str(row[0])


def set_session(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"SET synchronous_commit = {SESSION}")
    if not conn.autocommit:
        conn.commit()


@contextmanager
def lent_connection(url: str) -> Iterator[tuple[Any, Callable[[], str]]]:
    with psycopg.connect(url, autocommit=True) as conn:
        set_session(conn)
        yield conn, lambda: session_setting(conn)


@contextmanager
def lent_pool(url: str, autocommit: bool) -> Iterator[tuple[Any, Callable[[], str]]]:
    kwargs = {"autocommit": True} if autocommit else {}
    with ConnectionPool(url, min_size=1, max_size=1, kwargs=kwargs, configure=set_session) as pool:

        def setting() -> str:
            with pool.connection() as conn:
                return session_setting(conn)

        yield pool, setting


LENDERS: dict[str, Callable[[str], AbstractContextManager[tuple[Any, Callable[[], str]]]]] = {
    "connection": lent_connection,
    "pool": lambda url: lent_pool(url, autocommit=True),
    "pool-not-autocommit": lambda url: lent_pool(url, autocommit=False),
}


@pytest.mark.parametrize("lender", LENDERS)
@pytest.mark.parametrize("durability", ["normal", "full"])
def test_sync_stores_commit_with_their_durability_and_leave_the_session_alone(
    probed: psycopg.Connection[Any], lender: str, durability: str
) -> None:
    url = probed.info.dsn
    with LENDERS[lender](url) as (conn, session):
        write_everything(conn, durability)
        assert session() == SESSION
    assert seen(probed) == {table: {EXPECTED[durability]} for table in TABLES}


@pytest.mark.parametrize("pooled", [False, True], ids=["connection", "pool"])
@pytest.mark.parametrize("durability", ["normal", "full"])
def test_async_stores_commit_with_their_durability_and_leave_the_session_alone(
    probed: psycopg.Connection[Any], pooled: bool, durability: str
) -> None:
    url = probed.info.dsn

    async def aset_session(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(f"SET synchronous_commit = {SESSION}")

    async def scenario() -> str:
        if pooled:
            kwargs = {"autocommit": True}
            async with AsyncConnectionPool(
                url, min_size=1, max_size=1, kwargs=kwargs, configure=aset_session
            ) as pool:
                await awrite_everything(pool, durability)
                async with pool.connection() as conn:
                    row = await (await conn.execute("SHOW synchronous_commit")).fetchone()
        else:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await aset_session(conn)
                await awrite_everything(conn, durability)
                row = await (await conn.execute("SHOW synchronous_commit")).fetchone()
        assert row is not None
        return str(row[0])

    assert asyncio.run(scenario()) == SESSION
    assert seen(probed) == {table: {EXPECTED[durability]} for table in TABLES}


@pytest.mark.parametrize("durability", ["normal", "full"])
def test_from_conn_string_commits_with_the_durability_asked(
    probed: psycopg.Connection[Any], durability: Any
) -> None:
    # The server's setting, as Engram's own connection sees it: `local` (libpq options).
    url = make_conninfo(probed.info.dsn, options=f"-c synchronous_commit={SESSION}")
    with PostgresConversationStore.from_conn_string(url, durability=durability) as store:
        store.create_session(Session(id="s"))
        message = Message(role="user", content="hello")
        store.batch([AppendMessages("default", "s", (message,), utcnow())])  # one statement
        assert session_setting(store.conn) == EXPECTED[durability]
    with PostgresEventLog.from_conn_string(url, durability=durability) as log:
        log.append("default", "stream", [Event.thought("plan")])
    with PostgresCheckpointer.from_conn_string(url, durability=durability) as checkpointer:
        checkpointer.put("default", "thread", {"step": 1})
        checkpointer.put("default", "thread", {"step": 2})
    with PostgresMemoryStore.from_conn_string(url, durability=durability) as memories:
        memories.put_memories("default", [Memory("Ana is vegetarian", user_id="ana")])
    assert seen(probed) == {table: {EXPECTED[durability]} for table in TABLES}


@pytest.mark.parametrize("durability", ["normal", "full"])
def test_async_from_conn_string_commits_with_the_durability_asked(
    probed: psycopg.Connection[Any], durability: Any
) -> None:
    url = make_conninfo(probed.info.dsn, options=f"-c synchronous_commit={SESSION}")

    async def scenario() -> None:
        async with AsyncPostgresConversationStore.from_conn_string(url, durability=durability) as s:
            await s.acreate_session(Session(id="s"))
            message = Message(role="user", content="hello")
            await s.abatch([AppendMessages("default", "s", (message,), utcnow())])

    asyncio.run(scenario())
    assert seen(probed) == {"engram_messages": {EXPECTED[durability]}}


def test_inside_the_applications_transaction_its_own_setting_applies(
    probed: psycopg.Connection[Any],
) -> None:
    with psycopg.connect(probed.info.dsn, autocommit=True) as conn:
        set_session(conn)
        with conn.transaction():
            log = PostgresEventLog(conn, migrate=False)  # durability "normal"
            log.append("default", "stream", [Event.thought("plan")])
            assert session_setting(conn) == SESSION
    assert seen(probed) == {"engram_events": {SESSION}}


STORES = (
    PostgresConversationStore,
    PostgresEventLog,
    PostgresCheckpointer,
    PostgresMemoryStore,
    AsyncPostgresConversationStore,
    AsyncPostgresEventLog,
    AsyncPostgresCheckpointer,
    AsyncPostgresMemoryStore,
)


@pytest.mark.parametrize("durability", ["", "NORMAL", "off", None])
def test_an_unknown_durability_is_rejected_before_any_io(durability: Any) -> None:
    no_connection: Any = object()  # the value is checked before the connection is used
    for store in STORES:
        with pytest.raises(ConfigError, match="durability must be 'normal' or 'full'"):
            store(no_connection, durability=durability)
    with pytest.raises(ConfigError, match="durability"):
        with PostgresEventLog.from_conn_string("postgresql://unused", durability=durability):
            pass

    async def open_async() -> None:
        url = "postgresql://unused"
        async with AsyncPostgresCheckpointer.from_conn_string(url, durability=durability):
            pass

    with pytest.raises(ConfigError, match="durability"):
        asyncio.run(open_async())
