"""Connections, transactions, durability and error translation shared by Engram's PostgreSQL
stores.

A store takes what the application already has: a psycopg `Connection` or a psycopg_pool
`ConnectionPool` (async: `AsyncConnection` / `AsyncConnectionPool`). Each batch borrows one
connection (a pool's, or the single one under a lock, so threads never interleave their
transactions) and runs in one transaction; a batch that only reads may instead send its
statements alone where that reads the same (`Target.run_reads`), saving `BEGIN` and `COMMIT`.

Connections should be in autocommit mode, as `from_conn_string` makes them: a store opens its
own transaction per batch, and a connection left inside a transaction by the application
would turn the store's transaction into a savepoint of the application's.

Durability (the `durability` argument of every PostgreSQL store), as SQLite's:
    - `"normal"` (the default): Engram's own transactions commit asynchronously (`SET LOCAL
      synchronous_commit = off`; PostgreSQL's "Asynchronous Commit",
      https://www.postgresql.org/docs/current/wal-async-commit.html). A write that returned
      survives the client process dying at any moment: it is committed and visible. A crash
      of the database server or of its OS may lose the writes acknowledged in the last few
      hundred milliseconds (at most three times `wal_writer_delay`, 3 x 200 ms by default):
      in the documentation's words, "the risk that is taken by using asynchronous commit is
      of data loss, not data corruption", and since recovery replays the WAL in commit order
      no later transaction survives an earlier one it relied on. Only commit waits change:
      every transaction is as atomic and isolated as with `"full"`.
    - `"full"`: the server's own setting (`synchronous_commit`, `on` unless configured):
      each commit waits until its WAL is flushed to disk, so it also survives a server crash
      or a power loss. Costs one WAL flush (an fsync) per write.
The setting is `SET LOCAL`, so it lasts for one Engram transaction only: the session state of
a connection or pool the application lent is never changed, and inside a transaction the
application opened (a savepoint of its) the application's own setting applies. It costs no
round trip: on an autocommit connection the `SET LOCAL` travels with the `BEGIN` (one simple
query), and a write that is one statement committed on its own (an append, a checkpoint put)
is sent in its `async_sql` form, the same statement calling `set_config('synchronous_commit',
'off', true)` (`SET LOCAL`'s function form) itself. On a connection that is not in autocommit
mode it takes one more round trip per transaction.
A connection Engram opens itself (`from_conn_string`, through `connect` / `aconnect`) is its
own, so under `"normal"` it commits asynchronously for its whole session instead (`SET
synchronous_commit = off` once, at connect), and a one-statement write goes alone.

Store logic is written once, as generators that yield `Statement`s (see `base.py`); `drive`
and `adrive` run such a generator with a statement executor that `Target` / `AsyncTarget`
lend for one transaction.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
    suppress,
)
from typing import Any, Literal, TypeAlias, TypeVar

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
    from psycopg import IsolationLevel
    from psycopg import errors as pg_errors
    from psycopg.pq import TransactionStatus
    from psycopg.rows import DictRow, dict_row, tuple_row
    from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the PostgreSQL backend needs psycopg 3 and psycopg-pool: pip install 'engramdb[postgres]'"
    ) from exc

__all__ = [
    "DURABILITIES",
    "AsyncConn",
    "AsyncExecute",
    "AsyncTarget",
    "BatchMode",
    "Conn",
    "Durability",
    "Execute",
    "Target",
    "aconnect",
    "adrive",
    "call_on_loop",
    "check_durability",
    "connect",
    "drive",
    "map_backend_errors",
    "open_pool",
    "running_loop",
]

Conn: TypeAlias = "psycopg.Connection[Any] | ConnectionPool[Any]"
"""What a sync store accepts: one connection, or a pool."""
AsyncConn: TypeAlias = "psycopg.AsyncConnection[Any] | AsyncConnectionPool[Any]"
"""What an async store accepts: one async connection, or an async pool."""

Durability = Literal["normal", "full"]
BatchMode: TypeAlias = Literal["read", "write", "reads", "touch", "transaction"]
"""How a store's batch runs (`Target.run_batch`), atomically and reading what one
transaction would: `"read"`, one statement reading (one snapshot) on its own, no
`BEGIN`/`COMMIT`; `"write"`, one statement writing, committed on its own with the store's
durability; `"reads"`, reads only (`Target.run_reads`); `"touch"`, reads whose last
statement may write (`run_reads` with `writes`); `"transaction"`, in one transaction."""
"""How Engram's transactions commit: see the module docstring."""
DURABILITIES: tuple[Durability, ...] = ("normal", "full")

T = TypeVar("T")
Cursor: TypeAlias = "psycopg.Cursor[DictRow]"
AsyncCursor: TypeAlias = "psycopg.AsyncCursor[DictRow]"
Execute: TypeAlias = Callable[[Statement], Any]
"""Runs one statement of a batch and returns what its `fetch` asks for."""
AsyncExecute: TypeAlias = Callable[[Statement], Awaitable[Any]]
"""Async `Execute`."""

_ASYNC_COMMIT = b"SET LOCAL synchronous_commit = off"
_ASYNC_COMMIT_SESSION = b"SET synchronous_commit = off"
_ASYNC_SESSIONS: weakref.WeakSet[psycopg.Connection[Any] | psycopg.AsyncConnection[Any]] = (
    weakref.WeakSet()
)
"""The connections `connect` / `aconnect` opened for `"normal"` durability: their whole
session commits asynchronously, so their one-statement writes need no `set_config` first."""
_IDLE = TransactionStatus.IDLE
_STATEMENT_SNAPSHOTS = (IsolationLevel.READ_UNCOMMITTED, IsolationLevel.READ_COMMITTED)
"""The isolation levels whose transactions take a snapshot per statement (PostgreSQL runs
READ UNCOMMITTED as READ COMMITTED)."""
_DEFAULT_ISOLATION = b"SELECT current_setting('default_transaction_isolation')"
_SNAPSHOT_PER_STATEMENT: weakref.WeakKeyDictionary[
    psycopg.Connection[Any] | psycopg.AsyncConnection[Any], bool
] = weakref.WeakKeyDictionary()
"""Whether a connection of no isolation level of its own begins READ COMMITTED transactions
(the server's `default_transaction_isolation`, asked once per connection)."""


def check_durability(durability: object) -> Durability:
    """`durability` if it is `"normal"` or `"full"`; else `ConfigError`."""
    if durability not in DURABILITIES:
        raise ConfigError(f"durability must be 'normal' or 'full', not {durability!r}")
    return durability


class _BackendErrors:
    """The context manager `map_backend_errors` returns (stateless, shared; a class, as it
    wraps every statement: a generator-based one cost ~2 us per use)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        if exc is not None and not isinstance(exc, EngramError):
            translated = _translate(exc)
            if translated is not None:
                raise translated from exc


_BACKEND_ERRORS = _BackendErrors()


def map_backend_errors() -> _BackendErrors:
    """A context manager that re-raises psycopg and pool errors as Engram errors (`raise ...
    from exc`)."""
    return _BACKEND_ERRORS


def _translate(exc: BaseException) -> EngramError | None:
    """The Engram error for a psycopg or pool error; None for any other exception."""
    if isinstance(exc, PoolTimeout):
        return BackendUnavailable(f"postgres: no connection available: {exc}")
    if isinstance(exc, pg_errors.UniqueViolation | pg_errors.ExclusionViolation):
        return ConflictError(f"postgres: {_describe(exc)}")
    if isinstance(exc, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
        return ConflictError(f"postgres: a concurrent transaction won: {_describe(exc)}")
    if isinstance(exc, pg_errors.UndefinedTable | pg_errors.UndefinedColumn):
        return MigrationRequired(
            f"postgres: {_describe(exc)}; run `engram db migrate` (or the store's migrate())"
        )
    if isinstance(exc, psycopg.DataError):
        return InvalidInputError(f"postgres rejected a value: {_describe(exc)}")
    if isinstance(exc, pg_errors.FeatureNotSupported) and 'extension "vector"' in str(exc):
        return ConfigError(
            f"postgres: {_describe(exc)}; long-term memories need pgvector >= 0.8 on the"
            " server, or a memory store elsewhere (memory_store=, ENGRAM_MEMORY_DB)"
        )
    if isinstance(exc, UnicodeEncodeError):
        # Text the driver cannot encode (lone surrogates) is bad input, not a backend fault.
        return InvalidInputError(f"text not encodable as UTF-8: {exc}")
    if isinstance(exc, psycopg.OperationalError):
        return BackendUnavailable(f"postgres: {_describe(exc)}")
    if isinstance(exc, psycopg.Error):
        return BackendError(f"postgres: {_describe(exc)}")
    return None


def _describe(exc: psycopg.Error) -> str:
    primary = exc.diag.message_primary if exc.diag else None
    detail = exc.diag.message_detail if exc.diag else None
    text = primary or str(exc).strip()
    return f"{text} ({detail})" if detail else text


def _send(cursor: Cursor, statement: Statement) -> None:
    if statement.many:
        cursor.executemany(statement.sql, statement.params)
    else:
        cursor.execute(
            statement.sql, statement.params, prepare=statement.prepare, binary=statement.binary
        )


def _result(cursor: Cursor, statement: Statement) -> Any:
    if statement.many or statement.fetch == "none":
        return None
    if statement.fetch == "one":
        return cursor.fetchone()
    if statement.fetch == "all":
        return cursor.fetchall()
    return cursor.rowcount


def _execute(cursor: Cursor, statement: Statement) -> Any:
    _send(cursor, statement)
    return _result(cursor, statement)


def _execute_committed(cursor: Cursor, statement: Statement) -> Any:
    """`statement` committed on its own, asynchronously, in one round trip: sent in its
    `async_sql` form, which turns `synchronous_commit` off for its own implicit transaction.
    Every one-statement write of Engram's stores has that form; a statement without one
    commits with the server's setting."""
    if statement.async_sql is None:
        return _execute(cursor, statement)
    cursor.execute(statement.async_sql, statement.params)
    return _result(cursor, statement)


def drive(execute: Execute, work: Generator[Statement, Any, T]) -> T:
    """Run `work`: execute each statement it yields, send back its result."""
    try:
        statement = next(work)
        while True:
            statement = work.send(execute(statement))
    except StopIteration as stop:
        value: T = stop.value
        return value


async def _asend(cursor: AsyncCursor, statement: Statement) -> None:
    if statement.many:
        await cursor.executemany(statement.sql, statement.params)
    else:
        await cursor.execute(
            statement.sql, statement.params, prepare=statement.prepare, binary=statement.binary
        )


async def _aresult(cursor: AsyncCursor, statement: Statement) -> Any:
    if statement.many or statement.fetch == "none":
        return None
    if statement.fetch == "one":
        return await cursor.fetchone()
    if statement.fetch == "all":
        return await cursor.fetchall()
    return cursor.rowcount


async def _aexecute(cursor: AsyncCursor, statement: Statement) -> Any:
    await _asend(cursor, statement)
    return await _aresult(cursor, statement)


async def _aexecute_committed(cursor: AsyncCursor, statement: Statement) -> Any:
    """Async `_execute_committed`."""
    if statement.async_sql is None:
        return await _aexecute(cursor, statement)
    await cursor.execute(statement.async_sql, statement.params)
    return await _aresult(cursor, statement)


async def adrive(execute: AsyncExecute, work: Generator[Statement, Any, T]) -> T:
    """Async `drive`: the same generator, with an async executor."""
    try:
        statement = next(work)
        while True:
            statement = work.send(await execute(statement))
    except StopIteration as stop:
        value: T = stop.value
        return value


@contextmanager
def connect(conninfo: str, durability: Durability = "full") -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to `conninfo` for `durability`, closed when the block exits.

    Under `"normal"` its session commits asynchronously (`SET synchronous_commit = off`, once):
    it is Engram's own connection, so a write that is one statement is then sent in its plain
    form, without `set_config`.

    Raises:
        ConfigError: `durability` is neither `"normal"` nor `"full"` (before connecting).
    """
    check_durability(durability)
    with map_backend_errors():
        conn = psycopg.connect(conninfo, autocommit=True)
        _own_session(conn, durability)
    try:
        yield conn
    finally:
        conn.close()


def _own_session(conn: psycopg.Connection[Any], durability: Durability) -> None:
    """Set up a connection Engram opened for `durability`: under `"normal"` its whole session
    commits asynchronously, once, instead of each transaction."""
    if durability == "normal":
        conn.execute(_ASYNC_COMMIT_SESSION)
        _ASYNC_SESSIONS.add(conn)


@contextmanager
def open_pool(
    conninfo: str, durability: Durability = "full", *, max_size: int = 8
) -> Iterator[ConnectionPool[Any]]:
    """A pool of autocommit connections to `conninfo`, each set up as `connect` sets its one
    for `durability`, closed when the block exits. It opens with one connection and grows to
    `max_size` under concurrent use.

    Raises:
        ConfigError: `durability` is neither `"normal"` nor `"full"` (before connecting).
        BackendUnavailable: The server cannot be reached.
    """
    with connect(conninfo, durability):  # fails at once where the pool would retry for 10 s
        pass
    pool: ConnectionPool[Any] = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True},
        configure=functools.partial(_own_session, durability=durability),
        open=False,
    )
    with map_backend_errors():
        pool.open(wait=True, timeout=10.0)
    try:
        yield pool
    finally:
        pool.close()


@asynccontextmanager
async def aconnect(
    conninfo: str, durability: Durability = "full"
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """Async `connect`."""
    check_durability(durability)
    with map_backend_errors():
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        if durability == "normal":
            await conn.execute(_ASYNC_COMMIT_SESSION)
            _ASYNC_SESSIONS.add(conn)
    try:
        yield conn
    finally:
        await conn.close()


# Transactions. Under "normal" durability an autocommit connection runs Engram's own
# `BEGIN; SET LOCAL ...` (one simple query: one round trip, as psycopg's BEGIN alone) and
# COMMIT; otherwise psycopg's `transaction()` does, as before.


def _begin_command(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bytes:
    """The `BEGIN` psycopg's `transaction()` would send (the connection's isolation level,
    read-only and deferrable attributes)."""
    parts = [b"BEGIN"]
    if conn.isolation_level is not None:
        parts.append(b"ISOLATION LEVEL " + conn.isolation_level.name.replace("_", " ").encode())
    if conn.read_only is not None:
        parts.append(b"READ ONLY" if conn.read_only else b"READ WRITE")
    if conn.deferrable is not None:
        parts.append(b"DEFERRABLE" if conn.deferrable else b"NOT DEFERRABLE")
    return b" ".join(parts)


def _owns_transaction(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """True if Engram's transaction on `conn` is a top-level one it begins and commits in
    autocommit mode (not a savepoint of the application's transaction)."""
    return conn.autocommit and conn.pgconn.transaction_status == _IDLE


def _needs_local_async_commit(
    conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any],
) -> bool:
    """True if a one-statement write on `conn` must carry its own asynchronous commit: it is
    a top-level transaction (see `_owns_transaction`) on a connection the application lent
    (Engram's own already commit asynchronously for the whole session)."""
    return _owns_transaction(conn) and conn not in _ASYNC_SESSIONS


def _reads_alone(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool | None:
    """True if statements that only read may run on `conn` each on its own, outside any
    transaction, and see what they would in one: Engram would own the transaction (see
    `_owns_transaction`) and it would be READ COMMITTED, where each statement of a
    transaction reads a snapshot of its own anyway. None: the server's default isolation
    is not known yet (`_DEFAULT_ISOLATION`)."""
    if not _owns_transaction(conn):
        return False
    if conn.isolation_level is not None:
        return conn.isolation_level in _STATEMENT_SNAPSHOTS
    return _SNAPSHOT_PER_STATEMENT.get(conn)


def _remember_isolation(
    conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], default: str
) -> bool:
    alone = default in ("read committed", "read uncommitted")
    _SNAPSHOT_PER_STATEMENT[conn] = alone
    return alone


def _rollback(conn: psycopg.Connection[Any]) -> None:
    """Roll back after an error; a failure here must not hide the error (a pool discards a
    connection left in a transaction)."""
    with suppress(psycopg.Error):
        if not conn.closed and conn.info.transaction_status != _IDLE:
            conn.rollback()


async def _arollback(conn: psycopg.AsyncConnection[Any]) -> None:
    with suppress(psycopg.Error):
        if not conn.closed and conn.info.transaction_status != _IDLE:
            await conn.rollback()


@contextmanager
def _transaction(conn: psycopg.Connection[Any], durability: Durability) -> Iterator[None]:
    if durability == "normal" and _owns_transaction(conn):
        conn.execute(_begin_command(conn) + b"; " + _ASYNC_COMMIT, prepare=False)
        try:
            yield
        except BaseException:
            _rollback(conn)
            raise
        conn.commit()
        return
    top_level = conn.info.transaction_status == _IDLE  # else a savepoint: the app's setting
    with conn.transaction():
        if durability == "normal" and top_level:
            conn.execute(_ASYNC_COMMIT)  # not in autocommit mode: one more round trip
        yield


@asynccontextmanager
async def _atransaction(
    conn: psycopg.AsyncConnection[Any], durability: Durability
) -> AsyncIterator[None]:
    if durability == "normal" and _owns_transaction(conn):
        await conn.execute(_begin_command(conn) + b"; " + _ASYNC_COMMIT, prepare=False)
        try:
            yield
        except BaseException:
            await _arollback(conn)
            raise
        await conn.commit()
        return
    top_level = conn.info.transaction_status == _IDLE
    async with conn.transaction():
        if durability == "normal" and top_level:
            await conn.execute(_ASYNC_COMMIT)
        yield


class _Locked:
    """The single connection of a `Target`, lent under its lock (a class, not a generator:
    it wraps every batch)."""

    def __init__(self, conn: psycopg.Connection[Any], lock: threading.Lock) -> None:
        self.conn = conn
        self.lock = lock

    def __enter__(self) -> psycopg.Connection[Any]:
        self.lock.acquire()
        return self.conn

    def __exit__(self, *_: object) -> None:
        self.lock.release()


@contextmanager
def _executor_in_transaction(
    conn: psycopg.Connection[Any], durability: Durability
) -> Iterator[Execute]:
    with _transaction(conn, durability), conn.cursor(row_factory=dict_row) as cur:
        yield functools.partial(_execute, cur)


@contextmanager
def _executor_on_cursor(
    conn: psycopg.Connection[Any], execute: Callable[[Cursor, Statement], Any]
) -> Iterator[Execute]:
    with conn.cursor(row_factory=dict_row) as cur:
        yield functools.partial(execute, cur)


class Target:
    """A sync connection or pool, normalised: lends a statement executor per transaction.

    A single connection is shared by threads under a lock (one batch at a time); a pool lends
    each batch its own connection.

    Args:
        conn: A psycopg `Connection` (autocommit, ideally) or a psycopg_pool `ConnectionPool`.
        durability: `"normal"` or `"full"`; see the module docstring.

    Raises:
        ConfigError: `durability` is neither.
    """

    def __init__(self, conn: Conn, durability: Durability = "normal") -> None:
        self.conn = conn
        self.durability = check_durability(durability)
        self._lock = threading.Lock()
        self._kept: Cursor | None = None
        self._single = None if isinstance(conn, ConnectionPool) else _Locked(conn, self._lock)

    def _borrow(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        """The connection of one batch: a pool's, or the single one under the lock."""
        if self._single is None:
            assert isinstance(self.conn, ConnectionPool)
            return self.conn.connection()
        return self._single

    def run(self, work: Generator[Statement, Any, T]) -> T:
        """Run one generator in its own transaction on a borrowed connection, committed with
        the store's durability on success, rolled back on error."""
        with map_backend_errors(), self._borrow() as conn:
            with _executor_in_transaction(conn, self.durability) as execute:
                return drive(execute, work)

    def run_batch(self, mode: BatchMode, work: Generator[Statement, Any, T]) -> T:
        """Run a store's batch as its `mode` says (`BatchMode`)."""
        if mode == "read" or mode == "write":
            return self.run_autocommit(work, writes=mode == "write")
        if mode == "reads" or mode == "touch":
            return self.run_reads(work, writes=mode == "touch")
        return self.run(work)

    def run_reads(self, work: Generator[Statement, Any, T], *, writes: bool = False) -> T:
        """Run one generator that only reads (and sets nothing a later statement relies
        on): where that reads the same (`_reads_alone`), each statement on its own, with no
        `BEGIN`/`COMMIT` round trips; else in one transaction (committed with the server's
        setting: a transaction that wrote nothing has no commit to wait for). With `writes`,
        its last statement may write, then committed with the store's durability (alone: as
        `run_autocommit`'s): one statement writing after reads commits alone what the
        transaction would."""
        with map_backend_errors(), self._borrow() as conn:
            alone = _reads_alone(conn)
            if alone is None:
                with conn.cursor(row_factory=tuple_row) as cursor:
                    row = cursor.execute(_DEFAULT_ISOLATION, prepare=False).fetchone()
                alone = _remember_isolation(conn, str(row[0]) if row else "")
            durability = self.durability if writes else "full"
            if not alone:
                with _executor_in_transaction(conn, durability) as execute:
                    return drive(execute, work)
            committed = durability == "normal" and _needs_local_async_commit(conn)
            with self._executor(conn, _execute_committed if committed else _execute) as execute:
                return drive(execute, work)

    def run_autocommit(self, work: Generator[Statement, Any, T], *, writes: bool = False) -> T:
        """Run one generator with each statement committed on its own: outside any
        transaction, no `BEGIN`/`COMMIT` round trips, as maintenance like `CREATE INDEX
        CONCURRENTLY` needs, and as reads and work whose writes are one statement can. With
        `writes` under `"normal"` durability each statement commits asynchronously (sent in
        its `async_sql` form: still one round trip). On a connection that is not in
        autocommit mode, one transaction (as `run`)."""
        with map_backend_errors(), self._borrow() as conn, self._autocommit(conn, writes) as run:
            return drive(run, work)

    def _autocommit(
        self, conn: psycopg.Connection[Any], writes: bool
    ) -> AbstractContextManager[Execute]:
        """`run_autocommit`'s executor on the borrowed `conn`. Every layer of the single
        connection's path (the hot one: one append, one checkpoint put) is a plain object,
        not a generator-based context manager."""
        durability = self.durability if writes else "full"
        if not conn.autocommit:
            return _executor_in_transaction(conn, durability)
        committed = durability == "normal" and _needs_local_async_commit(conn)
        return self._executor(conn, _execute_committed if committed else _execute)

    def _executor(
        self, conn: psycopg.Connection[Any], execute: Callable[[Cursor, Statement], Any]
    ) -> AbstractContextManager[Execute]:
        """`execute` on a cursor of `conn` (autocommit: each statement on its own)."""
        if conn is self.conn:  # the single connection: its cursor serves batch after batch
            return nullcontext(functools.partial(execute, self._cursor(conn)))
        return _executor_on_cursor(conn, execute)

    def _cursor(self, conn: psycopg.Connection[Any]) -> Cursor:
        """The single connection's autocommit cursor, kept from batch to batch (it is used
        under the lock only): making one per batch cost a checkpoint put ~15% of its Python
        time. It holds its last result until the next batch."""
        if self._kept is None or self._kept.closed:
            self._kept = conn.cursor(row_factory=dict_row)
        return self._kept


class _AsyncLocked:
    """Async `_Locked`: the single connection of an `AsyncTarget`, under its asyncio lock."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], lock: asyncio.Lock) -> None:
        self.conn = conn
        self.lock = lock

    async def __aenter__(self) -> psycopg.AsyncConnection[Any]:
        await self.lock.acquire()
        return self.conn

    async def __aexit__(self, *_: object) -> None:
        self.lock.release()


@asynccontextmanager
async def _aexecutor_in_transaction(
    conn: psycopg.AsyncConnection[Any], durability: Durability
) -> AsyncIterator[AsyncExecute]:
    async with _atransaction(conn, durability), conn.cursor(row_factory=dict_row) as cur:
        yield functools.partial(_aexecute, cur)


@asynccontextmanager
async def _aexecutor_on_cursor(
    conn: psycopg.AsyncConnection[Any], execute: Callable[[AsyncCursor, Statement], Awaitable[Any]]
) -> AsyncIterator[AsyncExecute]:
    async with conn.cursor(row_factory=dict_row) as cur:
        yield functools.partial(execute, cur)


class AsyncTarget:
    """Async `Target`: an async connection (under an asyncio lock) or an async pool."""

    def __init__(self, conn: AsyncConn, durability: Durability = "normal") -> None:
        self.conn = conn
        self.durability = check_durability(durability)
        self._lock = asyncio.Lock()
        self._kept: AsyncCursor | None = None
        self._single = (
            None if isinstance(conn, AsyncConnectionPool) else _AsyncLocked(conn, self._lock)
        )

    def _borrow(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        """Async `Target._borrow`."""
        if self._single is None:
            assert isinstance(self.conn, AsyncConnectionPool)
            return self.conn.connection()
        return self._single

    async def run(self, work: Generator[Statement, Any, T]) -> T:
        """Async `Target.run`."""
        with map_backend_errors():
            async with self._borrow() as conn:
                async with _aexecutor_in_transaction(conn, self.durability) as execute:
                    return await adrive(execute, work)

    async def run_batch(self, mode: BatchMode, work: Generator[Statement, Any, T]) -> T:
        """Async `Target.run_batch`."""
        if mode == "read" or mode == "write":
            return await self.run_autocommit(work, writes=mode == "write")
        if mode == "reads" or mode == "touch":
            return await self.run_reads(work, writes=mode == "touch")
        return await self.run(work)

    async def run_reads(self, work: Generator[Statement, Any, T], *, writes: bool = False) -> T:
        """Async `Target.run_reads`."""
        with map_backend_errors():
            async with self._borrow() as conn:
                alone = _reads_alone(conn)
                if alone is None:
                    async with conn.cursor(row_factory=tuple_row) as cursor:
                        await cursor.execute(_DEFAULT_ISOLATION, prepare=False)
                        row = await cursor.fetchone()
                    alone = _remember_isolation(conn, str(row[0]) if row else "")
                durability = self.durability if writes else "full"
                if not alone:
                    async with _aexecutor_in_transaction(conn, durability) as execute:
                        return await adrive(execute, work)
                committed = durability == "normal" and _needs_local_async_commit(conn)
                execute_one = _aexecute_committed if committed else _aexecute
                async with self._executor(conn, execute_one) as execute:
                    return await adrive(execute, work)

    async def run_autocommit(
        self, work: Generator[Statement, Any, T], *, writes: bool = False
    ) -> T:
        """Async `Target.run_autocommit`."""
        with map_backend_errors():
            async with self._borrow() as conn, self._autocommit(conn, writes) as execute:
                return await adrive(execute, work)

    def _autocommit(
        self, conn: psycopg.AsyncConnection[Any], writes: bool
    ) -> AbstractAsyncContextManager[AsyncExecute]:
        """Async `Target._autocommit`."""
        durability = self.durability if writes else "full"
        if not conn.autocommit:
            return _aexecutor_in_transaction(conn, durability)
        committed = durability == "normal" and _needs_local_async_commit(conn)
        return self._executor(conn, _aexecute_committed if committed else _aexecute)

    def _executor(
        self,
        conn: psycopg.AsyncConnection[Any],
        execute: Callable[[AsyncCursor, Statement], Awaitable[Any]],
    ) -> AbstractAsyncContextManager[AsyncExecute]:
        """Async `Target._executor`."""
        if conn is self.conn:  # the single connection: as `Target._cursor`
            return nullcontext(functools.partial(execute, self._cursor(conn)))
        return _aexecutor_on_cursor(conn, execute)

    def _cursor(self, conn: psycopg.AsyncConnection[Any]) -> AsyncCursor:
        """The single connection's autocommit cursor, kept from batch to batch (see
        `Target._cursor`)."""
        if self._kept is None or self._kept.closed:
            self._kept = conn.cursor(row_factory=dict_row)
        return self._kept


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
