"""The async PostgreSQL stores: psycopg `AsyncConnection` / `AsyncConnectionPool`.

Real async I/O (no worker threads), over the very statement generators of the sync classes
(`conversation_work`, `event_work`, `memory_work`), so both APIs run the same SQL under the
same rules.

An async store belongs to the event loop it was created on. Its sync methods (`batch`,
`create_session`, ...) work from other threads while that loop runs (they hand the batch to
the loop and wait); called on the loop's own thread they raise `ConfigError` instead of
deadlocking.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from engram._exceptions import ConflictError
from engram.stores import _event_rules as event_rules
from engram.stores import conversation as conversation_contract
from engram.stores import events as event_contract
from engram.stores import memories as memory_contract
from engram.stores.conversation import BaseConversationStore
from engram.stores.events import BaseEventLog
from engram.stores.memories import BaseMemoryStore
from engram.stores.postgres import base, memories_base
from engram.stores.postgres._internal import (
    AsyncConn,
    AsyncTarget,
    Durability,
    aconnect,
    call_on_loop,
    running_loop,
)
from engram.stores.postgres._scope_locks import AdvisoryLocks
from engram.stores.postgres.conversation import conversation_mode, conversation_work, plain_conflict
from engram.stores.postgres.events import duplicate_ids_named, event_mode, event_work
from engram.stores.postgres.memories import (
    DEFAULT_INDEX_MIN_VECTORS,
    SearchSettings,
    VectorIndexReport,
    batch_mode,
    index_work,
    memory_work,
)
from engram.stores.scope_locks import ScopeHold

__all__ = ["AsyncPostgresConversationStore", "AsyncPostgresEventLog", "AsyncPostgresMemoryStore"]


class AsyncPostgresConversationStore(BaseConversationStore):
    """Conversations in PostgreSQL, with async I/O.

    The constructor does no I/O: `await store.amigrate()` once (or run `engram db migrate`);
    `from_conn_string` does it for you. It never closes an injected connection or pool.

    Args:
        conn: A psycopg `AsyncConnection` (autocommit) or a psycopg_pool `AsyncConnectionPool`.
        durability: `"normal"` (default: asynchronous commit, may lose the last writes on a
            server crash) or `"full"` (the server's synchronous commit); see
            `engram.stores.postgres._internal`.

    Raises:
        ConfigError: `durability` is neither `"normal"` nor `"full"`.

    Example:
        ```python
        async with AsyncPostgresConversationStore.from_conn_string(url) as store:
            await store.acreate_session(Session(id="s1"))
        ```
    """

    def __init__(self, conn: AsyncConn, *, durability: Durability = "normal") -> None:
        self.conn = conn
        self._target = AsyncTarget(conn, durability)
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conninfo: str, *, durability: Durability = "normal"
    ) -> AsyncIterator[AsyncPostgresConversationStore]:
        """Open a migrated store on its own connection, closed when the block exits.

        Args:
            conninfo: A libpq connection string or URL.
            durability: `"normal"` or `"full"`; see `engram.stores.postgres._internal`.
        """
        async with aconnect(conninfo, durability) as conn:
            store = cls(conn, durability=durability)
            await store.amigrate()
            yield store

    async def amigrate(self) -> int:
        """Create or upgrade the conversation tables (idempotent); return the schema version."""
        work = base.migrate(base.CONVERSATION, base.CONVERSATION_MIGRATIONS)
        return await self._target.run(work)

    async def abatch(self, ops: Sequence[conversation_contract.Op]) -> list[Any]:
        """Run `ops` in order, atomically (see `conversation_mode`); return their results in
        order."""
        if not ops:
            return []
        mode = conversation_mode(ops)
        work = conversation_work(ops)
        try:
            return await self._target.run_batch(mode, work)
        except ConflictError as exc:
            raise plain_conflict(exc, ops) from exc.__cause__

    def batch(self, ops: Sequence[conversation_contract.Op]) -> list[Any]:
        """Sync `abatch`, from a thread other than the store's event loop."""
        return call_on_loop(self.loop, self.abatch(ops), type(self).__name__)


class AsyncPostgresEventLog(BaseEventLog):
    """Event streams in PostgreSQL, with async I/O.

    The constructor does no I/O: `await log.amigrate()` once (or run `engram db migrate`);
    `from_conn_string` does it for you. It never closes an injected connection or pool.

    Args:
        conn: A psycopg `AsyncConnection` (autocommit) or a psycopg_pool `AsyncConnectionPool`.
        durability: `"normal"` (default: asynchronous commit, may lose the last writes on a
            server crash) or `"full"` (the server's synchronous commit); see
            `engram.stores.postgres._internal`.

    Raises:
        ConfigError: `durability` is neither `"normal"` nor `"full"`.
    """

    def __init__(self, conn: AsyncConn, *, durability: Durability = "normal") -> None:
        self.conn = conn
        self._target = AsyncTarget(conn, durability)
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conninfo: str, *, durability: Durability = "normal"
    ) -> AsyncIterator[AsyncPostgresEventLog]:
        """Open a migrated log on its own connection, closed when the block exits.

        Args:
            conninfo: A libpq connection string or URL.
            durability: `"normal"` or `"full"`; see `engram.stores.postgres._internal`.
        """
        async with aconnect(conninfo, durability) as conn:
            log = cls(conn, durability=durability)
            await log.amigrate()
            yield log

    async def amigrate(self) -> int:
        """Create or upgrade the event-log tables (idempotent); return the schema version."""
        return await self._target.run(base.migrate(base.EVENTS, base.EVENT_MIGRATIONS))

    async def abatch(self, ops: Sequence[event_contract.Op]) -> list[Any]:
        """Run `ops` in order, atomically (see `event_mode`); return their results in order."""
        for op in ops:
            event_rules.check_op(op)
        if not ops:
            return []
        running: list[event_contract.Op] = []
        mode, work = event_mode(ops), event_work(ops, running)
        with duplicate_ids_named(running):
            return await self._target.run_batch(mode, work)

    def batch(self, ops: Sequence[event_contract.Op]) -> list[Any]:
        """Sync `abatch`, from a thread other than the log's event loop."""
        return call_on_loop(self.loop, self.abatch(ops), type(self).__name__)


class AsyncPostgresMemoryStore(BaseMemoryStore):
    """Long-term memories in PostgreSQL with pgvector, with async I/O (see
    `PostgresMemoryStore` for the schema and how vector searches use HNSW indexes).

    The constructor does no I/O: `await store.amigrate()` once (or run `engram db migrate`);
    `from_conn_string` does it for you. It never closes an injected connection or pool.

    Args:
        conn: A psycopg `AsyncConnection` (autocommit) or a psycopg_pool `AsyncConnectionPool`.
        index_min_vectors: The partition size from which `aindex_vectors` builds an index.
        search: How searches use the indexes (`SearchSettings`).
        durability: `"normal"` (default: asynchronous commit, may lose the last writes on a
            server crash) or `"full"` (the server's synchronous commit); see
            `engram.stores.postgres._internal`.

    Raises:
        ConfigError: `durability` is neither `"normal"` nor `"full"`.
    """

    def __init__(
        self,
        conn: AsyncConn,
        *,
        index_min_vectors: int = DEFAULT_INDEX_MIN_VECTORS,
        search: SearchSettings | None = None,
        durability: Durability = "normal",
    ) -> None:
        self.conn = conn
        self.index_min_vectors = index_min_vectors
        self.search_settings = search or SearchSettings()
        self._target = AsyncTarget(conn, durability)
        self._locks = AdvisoryLocks(conn, owner=self)
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conninfo: str, *, durability: Durability = "normal", **options: Any
    ) -> AsyncIterator[AsyncPostgresMemoryStore]:
        """Open a migrated store on its own connection, closed when the block exits.

        Args:
            conninfo: A libpq connection string or URL.
            durability: `"normal"` or `"full"`; see `engram.stores.postgres._internal`.
            **options: The constructor's other keyword arguments.
        """
        async with aconnect(conninfo, durability) as conn:
            store = cls(conn, durability=durability, **options)
            await store.amigrate()
            yield store

    async def amigrate(self) -> int:
        """Create or upgrade the memory tables (idempotent); return the schema version."""
        work = base.migrate(memories_base.COMPONENT, memories_base.MIGRATIONS)
        return await self._target.run(work)

    async def abatch(self, ops: Sequence[memory_contract.Op]) -> list[Any]:
        """Run `ops` in order, atomically (see `batch_mode`); return their results in order."""
        if not ops:
            return []
        work = memory_work(ops, self.search_settings)
        return await self._target.run_batch(batch_mode(ops), work)

    def batch(self, ops: Sequence[memory_contract.Op]) -> list[Any]:
        """Sync `abatch`, from a thread other than the store's event loop."""
        return call_on_loop(self.loop, self.abatch(ops), type(self).__name__)

    def hold(self) -> ScopeHold:
        """A flow's scope locks (`PostgresMemoryStore.hold`): advisory locks on lock
        connections of their own, which wait on threads, never on the event loop."""
        return self._locks.hold()

    def close(self) -> None:
        """Close the idle connections the store opened for scope locks."""
        self._locks.close()

    async def aindex_vectors(
        self, *, min_vectors: int | None = None, maintenance_work_mem: str = "512MB"
    ) -> VectorIndexReport:
        """Async `PostgresMemoryStore.index_vectors`."""
        threshold = self.index_min_vectors if min_vectors is None else min_vectors
        return await self._target.run_autocommit(index_work(threshold, maintenance_work_mem))
