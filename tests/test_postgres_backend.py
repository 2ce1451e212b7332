"""PostgreSQL backend specifics: migrations, error translation, connection handling."""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from engram._exceptions import (
    BackendUnavailable,
    ConfigError,
    ConflictError,
    InvalidInputError,
    MigrationRequired,
)
from engram.stores.conversation import (
    AppendMessages,
    FindToolCalls,
    GetSession,
    ListMessages,
    ListSessions,
    PutSummary,
)
from engram.stores.postgres import (
    AsyncPostgresConversationStore,
    AsyncPostgresEventLog,
    PostgresConversationStore,
    PostgresEventLog,
    base,
)
from engram.stores.postgres._internal import Target
from engram.types import Event, Message, Session, Summary, ToolCall
from servers import PostgresServer

pytest_plugins = ["servers"]

NOW = datetime(2025, 1, 1, tzinfo=UTC)


LATEST = {
    "conversation": len(base.CONVERSATION_MIGRATIONS),
    "events": len(base.EVENT_MIGRATIONS),
}


def _versions(conn: psycopg.Connection[Any]) -> dict[str, int]:
    rows = conn.execute("SELECT component, version FROM engram_migrations").fetchall()
    return {component: version for component, version in rows}


def test_stores_migrate_their_schema_once(postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        store, log = PostgresConversationStore(conn), PostgresEventLog(conn)
        assert _versions(conn) == LATEST
        assert (store.migrate(), log.migrate()) == tuple(LATEST.values())  # idempotent
        assert _versions(conn) == LATEST
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'engram_%'"
        ).fetchone()
        assert tables == (9,)


def test_concurrent_migrations_do_not_collide(postgres_database: str) -> None:
    barrier, errors = threading.Barrier(4, timeout=30), []

    def migrate() -> None:
        try:
            with psycopg.connect(postgres_database, autocommit=True) as conn:
                barrier.wait()
                PostgresConversationStore(conn)
                PostgresEventLog(conn)
        except BaseException as exc:  # surfaced below: a thread cannot fail the test
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with psycopg.connect(postgres_database) as conn:
        assert _versions(conn) == LATEST


def test_a_version_1_conversation_schema_upgrades_with_its_data(postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        Target(conn).run(base.migrate(base.CONVERSATION, base.CONVERSATION_MIGRATIONS[:1]))
        conn.execute(
            "INSERT INTO engram_sessions VALUES ('t', 's1', 'u1', NULL, '{}', '{}', now(), now(),"
            " NULL, NULL, 1, 3, 'o200k_base', 1)"
        )
        conn.execute(
            "INSERT INTO engram_messages VALUES ('t', 's1', 1, 'm1', 'system', '\"Be brief\"',"
            " NULL, NULL, NULL, '{}', now(), 3, 'o200k_base')"
        )
        store = PostgresConversationStore(conn)  # migrates to the latest version
        assert _versions(conn)["conversation"] == LATEST["conversation"]
        message = Message(role="user", content="hi")
        store.batch([AppendMessages("t", "s1", (message,), NOW)])
        [system] = store.batch([ListMessages("t", "s1", roles=("system",))])
        assert [(m.seq, m.text) for m in system] == [(1, "Be brief")]
        assert [s.id for s in store.list_sessions(ListSessions("t", NOW, user_id="u1"))] == ["s1"]
        assert store.delete_session("t", "s1")
        assert conn.execute("SELECT count(*) FROM engram_messages").fetchone() == (0,)


def test_newer_schema_requires_a_newer_engram(postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        PostgresConversationStore(conn)
        conn.execute("UPDATE engram_migrations SET version = 99")
        with pytest.raises(MigrationRequired, match="upgrade engramdb"):
            PostgresConversationStore(conn)


def test_missing_schema_requires_migration(postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        store = PostgresConversationStore(conn, migrate=False)
        with pytest.raises(MigrationRequired, match="migrate"):
            store.get_session("t", "s1", now=NOW)


def test_unreachable_server_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable):
        with PostgresEventLog.from_conn_string("host=127.0.0.1 port=1 connect_timeout=2"):
            pass


def test_text_postgres_cannot_hold_is_invalid_input(postgres_clean_database: str) -> None:
    with PostgresConversationStore.from_conn_string(postgres_clean_database) as store:
        store.create_session(Session(id="s1", tenant="t"))
        with pytest.raises(InvalidInputError):
            store.batch([PutSummary("t", Summary("s1", "nul \x00 byte", 1), None)])
        assert store.get_summary("t", "s1") is None


def test_an_append_longer_than_one_statement_is_still_one_ordered_transaction(
    postgres_clean_database: str,
) -> None:
    size = 2 * base.APPEND_CHUNK + 5  # three statements
    call = ToolCall(id="call-1", name="lookup", arguments="{}")
    messages = [Message(role="user", content=f"m{i}") for i in range(size)]
    messages[base.APPEND_CHUNK + 1] = Message(role="assistant", tool_calls=(call,))
    with PostgresConversationStore.from_conn_string(postgres_clean_database) as store:
        store.create_session(Session(id="s1", tenant="t"))
        [stored] = store.batch([AppendMessages("t", "s1", tuple(messages), NOW)])
        assert [m.seq for m in stored] == list(range(1, size + 1))
        [read] = store.batch([ListMessages("t", "s1")])
        assert [(m.id, m.seq) for m in read] == [(m.id, m.seq) for m in stored]
        assert store.batch([FindToolCalls("t", "s1", ("call-1",))]) == [{"call-1"}]
        # A repeated id in the last statement's chunk undoes the whole append.
        again = [Message(role="user", content=f"n{i}") for i in range(size)]
        again[-1] = messages[0]
        with pytest.raises(ConflictError):
            store.batch([AppendMessages("t", "s1", tuple(again), NOW)])
        session = store.get_session("t", "s1", now=NOW)
        assert session is not None and session.message_count == size
        assert len(store.batch([ListMessages("t", "s1")])[0]) == size


def test_a_statement_addressing_one_session_uses_the_primary_key(
    postgres_database: str,
) -> None:
    """Even while the table is small: a connection's cached generic plan keeps the index it
    chose then, and any other index would scan all of a tenant's sessions once it grows.

    On a new database, as a deployment starts: a pooled one keeps the statistics of the
    tests before (a few rows, then none), with which a sequential scan of one page is
    cheapest, and the plan would depend on the order the tests ran in."""
    with PostgresConversationStore.from_conn_string(postgres_database) as store:
        store.create_session(Session(id="s1", tenant="t", user_id="u", agent_id="a"))
    append = base.append_statement("t", "s1", [Message(role="user", content="hi")], NOW)
    state = {"state": "{}", "updated_at": NOW, "expires_at": None, "tenant": "t", "id": "s1"}
    newest = base.SELECT_MESSAGES + base.NEWEST_FIRST + base.LIMIT
    statements = [
        (append.sql, append.params),
        (base.SELECT_SESSION, ("t", "s1")),
        (base.if_live(newest, base.NEWEST_FIRST), ("t", "s1", NOW, "t", "s1", 20)),
        (base.if_live(base.SELECT_SUMMARY), ("t", "s1", NOW, "t", "s1")),
        (base.TOUCH_SESSION, (NOW, "t", "s1")),
        (base.UPDATE_STATE, state),
        (base.DELETE_SESSION, ("t", "s1")),
    ]
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        for sql, params in statements:
            plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {sql}", params))
            scans = re.findall(r"(Seq Scan|using \w+) on engram_sessions\b", plan)
            assert scans == ["using engram_sessions_pkey"], plan


def test_from_conn_string_closes_only_what_it_opened(postgres_clean_database: str) -> None:
    with PostgresConversationStore.from_conn_string(postgres_clean_database) as owned:
        pass
    assert owned.conn.closed
    with psycopg.connect(postgres_clean_database, autocommit=True) as conn:
        with PostgresConversationStore.from_conn_string(postgres_clean_database):
            PostgresConversationStore(conn).create_session(Session(id="s1"))
        assert not conn.closed


def test_a_pool_serves_threads(postgres_clean_database: str) -> None:
    kwargs = {"autocommit": True}
    with ConnectionPool(
        postgres_clean_database, min_size=1, max_size=3, kwargs=kwargs, open=False
    ) as pool:
        log = PostgresEventLog(pool)
        threads = [
            threading.Thread(target=log.append, args=("t", f"s{n}", [Event.thought("x")]))
            for n in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(log.list_streams("t")) == 6


async def test_async_store_refuses_sync_calls_on_its_own_loop(postgres_clean_database: str) -> None:
    async with AsyncPostgresConversationStore.from_conn_string(postgres_clean_database) as store:
        await store.acreate_session(Session(id="s1", tenant="t"))
        with pytest.raises(ConfigError, match="await its a-methods"):
            store.get_session("t", "s1", now=NOW)
        # From another thread, the sync API hands the batch to the store's loop.
        session = await asyncio.to_thread(store.get_session, "t", "s1", now=NOW)
        assert session is not None and session.id == "s1"
    assert store.conn.closed


def test_async_store_created_outside_a_loop_has_no_sync_api() -> None:
    log = AsyncPostgresEventLog(None)  # type: ignore[arg-type]  # no I/O happens
    with pytest.raises(ConfigError):
        log.batch([])
    store = AsyncPostgresConversationStore(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        store.batch([GetSession("t", "s1", NOW)])


_DATA_STATEMENT = re.compile(
    r"^\s*(WITH|SELECT|INSERT|UPDATE|DELETE)\b.*\bengram_(?!migrations)", re.S
)


def _statements() -> list[str]:
    found = []
    for name, value in vars(base).items():
        values = value if isinstance(value, list) else [value]
        if name.isupper() and not name.endswith("MIGRATIONS"):
            found += [item for item in values if isinstance(item, str)]
    found += [base.append_messages_sql(2, 1, async_commit) for async_commit in (False, True)]
    return [item for item in found if _DATA_STATEMENT.match(item)]


def test_every_query_is_scoped_by_tenant() -> None:
    statements = _statements()
    assert len(statements) > 20
    assert [sql for sql in statements if "tenant" not in sql] == []


def test_the_test_server_has_pgvector(
    postgres_server: PostgresServer, postgres_database: str
) -> None:
    if not postgres_server.started_here:
        pytest.skip("the server named by the environment may not have pgvector")
    with psycopg.connect(postgres_database) as conn:
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert row.fetchone() is not None
