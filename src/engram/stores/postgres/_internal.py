"""Connections, transactions and error translation shared by Engram's PostgreSQL stores.

A store takes what the application already has: a psycopg `Connection` or a psycopg_pool
`ConnectionPool` (async: `AsyncConnection` / `AsyncConnectionPool`). Each batch borrows one
connection (a pool's, or the single one under a lock, so threads never interleave their
transactions) and runs in one transaction.

Connections should be in autocommit mode, as `from_conn_string` makes them: a store opens its
own transaction per batch, and a connection left inside a transaction by the application
would turn the store's transaction into a savepoint of the application's.

Store logic is written once, as generators that yield `Statement`s (see `base.py`); `drive`
and `adrive` run such a generator on a sync or an async cursor.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Generator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeAlias, TypeVar

from engram._exceptions import (
    BackendError,
    BackendUnavailable,
    ConfigError,
    ConflictError,
    EngramError,
    InvalidInputError,
    MigrationRequired,
)
from engram.stores.postgres.base import Statement

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.rows import DictRow, dict_row
    from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the PostgreSQL backend needs psycopg 3 and psycopg-pool: pip install 'engramdb[postgres]'"
    ) from exc

__all__ = [
    "AsyncConn",
    "AsyncTarget",
    "Conn",
    "Target",
    "aconnect",
    "adrive",
    "call_on_loop",
    "connect",
    "drive",
    "map_backend_errors",
    "running_loop",
]

Conn: TypeAlias = "psycopg.Connection[Any] | ConnectionPool[Any]"
"""What a sync store accepts: one connection, or a pool."""
AsyncConn: TypeAlias = "psycopg.AsyncConnection[Any] | AsyncConnectionPool[Any]"
"""What an async store accepts: one async connection, or an async pool."""

T = TypeVar("T")
Cursor: TypeAlias = "psycopg.Cursor[DictRow]"
AsyncCursor: TypeAlias = "psycopg.AsyncCursor[DictRow]"


@contextmanager
def map_backend_errors() -> Iterator[None]:
    """Re-raise psycopg and pool errors as Engram errors (`raise ... from exc`)."""
    try:
        yield
    except EngramError:
        raise
    except PoolTimeout as exc:
        raise BackendUnavailable(f"postgres: no connection available: {exc}") from exc
    except (pg_errors.UniqueViolation, pg_errors.ExclusionViolation) as exc:
        raise ConflictError(f"postgres: {_describe(exc)}") from exc
    except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected) as exc:
        raise ConflictError(f"postgres: a concurrent transaction won: {_describe(exc)}") from exc
    except (pg_errors.UndefinedTable, pg_errors.UndefinedColumn) as exc:
        raise MigrationRequired(
            f"postgres: {_describe(exc)}; run `engram db migrate` (or the store's migrate())"
        ) from exc
    except psycopg.DataError as exc:
        raise InvalidInputError(f"postgres rejected a value: {_describe(exc)}") from exc
    except UnicodeEncodeError as exc:
        # Text the driver cannot encode (lone surrogates) is bad input, not a backend fault.
        raise InvalidInputError(f"text not encodable as UTF-8: {exc}") from exc
    except psycopg.OperationalError as exc:
        raise BackendUnavailable(f"postgres: {_describe(exc)}") from exc
    except psycopg.Error as exc:
        raise BackendError(f"postgres: {_describe(exc)}") from exc


def _describe(exc: psycopg.Error) -> str:
    primary = exc.diag.message_primary if exc.diag else None
    detail = exc.diag.message_detail if exc.diag else None
    text = primary or str(exc).strip()
    return f"{text} ({detail})" if detail else text


def _execute(cursor: Cursor, statement: Statement) -> Any:
    if statement.many:
        cursor.executemany(statement.sql, statement.params)
        return None
    cursor.execute(statement.sql, statement.params)
    if statement.fetch == "one":
        return cursor.fetchone()
    if statement.fetch == "all":
        return cursor.fetchall()
    return cursor.rowcount if statement.fetch == "rowcount" else None


def drive(cursor: Cursor, work: Generator[Statement, Any, T]) -> T:
    """Run `work` on `cursor`: execute each statement it yields, send back its result."""
    try:
        statement = next(work)
        while True:
            statement = work.send(_execute(cursor, statement))
    except StopIteration as stop:
        value: T = stop.value
        return value


async def _aexecute(cursor: AsyncCursor, statement: Statement) -> Any:
    if statement.many:
        await cursor.executemany(statement.sql, statement.params)
        return None
    await cursor.execute(statement.sql, statement.params)
    if statement.fetch == "one":
        return await cursor.fetchone()
    if statement.fetch == "all":
        return await cursor.fetchall()
    return cursor.rowcount if statement.fetch == "rowcount" else None


async def adrive(cursor: AsyncCursor, work: Generator[Statement, Any, T]) -> T:
    """Async `drive`: the same generator, on an async cursor."""
    try:
        statement = next(work)
        while True:
            statement = work.send(await _aexecute(cursor, statement))
    except StopIteration as stop:
        value: T = stop.value
        return value


@contextmanager
def connect(conninfo: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to `conninfo`, closed when the block exits."""
    with map_backend_errors():
        conn = psycopg.connect(conninfo, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


@asynccontextmanager
async def aconnect(conninfo: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """Async `connect`."""
    with map_backend_errors():
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    try:
        yield conn
    finally:
        await conn.close()


class Target:
    """A sync connection or pool, normalised: `transaction()` yields a cursor in a transaction.

    A single connection is shared by threads under a lock (one batch at a time); a pool lends
    each batch its own connection.
    """

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One transaction on a borrowed connection; commits on success, rolls back on error."""
        with map_backend_errors():
            if isinstance(self.conn, ConnectionPool):
                with self.conn.connection() as conn:
                    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
                        yield cursor
                return
            with self._lock, self.conn.transaction():
                with self.conn.cursor(row_factory=dict_row) as cursor:
                    yield cursor

    def run(self, work: Generator[Statement, Any, T]) -> T:
        """Run one generator in its own transaction."""
        with self.transaction() as cursor:
            return drive(cursor, work)

    def run_autocommit(self, work: Generator[Statement, Any, T]) -> T:
        """Run one generator on an `autocommit()` cursor (outside any transaction when the
        connection is in autocommit mode, as maintenance like `CREATE INDEX CONCURRENTLY`
        needs)."""
        with self.autocommit() as cursor:
            return drive(cursor, work)

    @contextmanager
    def autocommit(self) -> Iterator[Cursor]:
        """A cursor whose statements each commit on their own: no `BEGIN`/`COMMIT` round
        trips, for work whose writes are one statement. On a connection that is not in
        autocommit mode, one transaction (as `transaction()`)."""
        with map_backend_errors():
            if isinstance(self.conn, ConnectionPool):
                with self.conn.connection() as conn:
                    with _statement_scope(conn), conn.cursor(row_factory=dict_row) as cursor:
                        yield cursor
                return
            with self._lock, _statement_scope(self.conn):
                with self.conn.cursor(row_factory=dict_row) as cursor:
                    yield cursor


@contextmanager
def _statement_scope(conn: psycopg.Connection[Any]) -> Iterator[None]:
    if conn.autocommit:
        yield
    else:
        with conn.transaction():
            yield


@asynccontextmanager
async def _astatement_scope(conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[None]:
    if conn.autocommit:
        yield
    else:
        async with conn.transaction():
            yield


class AsyncTarget:
    """Async `Target`: an async connection (under an asyncio lock) or an async pool."""

    def __init__(self, conn: AsyncConn) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncCursor]:
        """One transaction on a borrowed connection; commits on success, rolls back on error."""
        with map_backend_errors():
            if isinstance(self.conn, AsyncConnectionPool):
                async with self.conn.connection() as conn:
                    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
                        yield cursor
                return
            async with self._lock, self.conn.transaction():
                async with self.conn.cursor(row_factory=dict_row) as cursor:
                    yield cursor

    async def run(self, work: Generator[Statement, Any, T]) -> T:
        """Run one generator in its own transaction."""
        async with self.transaction() as cursor:
            return await adrive(cursor, work)

    async def run_autocommit(self, work: Generator[Statement, Any, T]) -> T:
        """Async `Target.run_autocommit`."""
        async with self.autocommit() as cursor:
            return await adrive(cursor, work)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncCursor]:
        """Async `Target.autocommit`."""
        with map_backend_errors():
            if isinstance(self.conn, AsyncConnectionPool):
                async with self.conn.connection() as conn:
                    async with _astatement_scope(conn), conn.cursor(row_factory=dict_row) as cur:
                        yield cur
                return
            async with self._lock, _astatement_scope(self.conn):
                async with self.conn.cursor(row_factory=dict_row) as cursor:
                    yield cursor


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def call_on_loop(
    loop: asyncio.AbstractEventLoop | None, coro: Coroutine[Any, Any, T], owner: str
) -> T:
    """Run `coro` on `loop` (the async store's own) from another thread, and wait for it.

    Lets an async store serve sync callers in other threads. Called on the loop's own thread
    it would deadlock, so it raises instead; so it does when that loop is not running.
    """
    if loop is None or not loop.is_running() or running_loop() is loop:
        coro.close()
        raise ConfigError(
            f"{owner} is async: await its a-methods (abatch, acreate_session, ...) on its event "
            "loop; its sync methods only work from another thread while that loop runs. "
            "Sync code should use the sync store class."
        )
    return asyncio.run_coroutine_threadsafe(coro, loop).result()
