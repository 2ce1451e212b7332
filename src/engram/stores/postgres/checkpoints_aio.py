"""The async PostgreSQL checkpointer: psycopg `AsyncConnection` / `AsyncConnectionPool`.

Real async I/O (no worker threads), over the statement generators of `PostgresCheckpointer`
(`checkpoint_work`), so both APIs run the same SQL under the same rules. It belongs to the
event loop it was created on; its sync methods (`batch`, `put`, ...) work from other threads
while that loop runs, and raise `ConfigError` on the loop's own thread instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from engram.serde import SerializerProtocol
from engram.stores import checkpoints as checkpoint_contract
from engram.stores.postgres import base
from engram.stores.postgres import checkpoints_base as checkpoint_sql
from engram.stores.postgres._checkpoint_write import AfterCommit
from engram.stores.postgres._internal import (
    AsyncConn,
    AsyncTarget,
    Durability,
    aconnect,
    call_on_loop,
    running_loop,
)
from engram.stores.postgres.checkpoints import (
    ATTEMPTS,
    RETRY,
    CheckpointerCore,
    batch_scope,
    gave_up,
)
from engram.types._checkpoint import RetentionPolicy

__all__ = ["AsyncPostgresCheckpointer"]


class AsyncPostgresCheckpointer(CheckpointerCore):
    """Checkpoints in PostgreSQL, with async I/O (see `PostgresCheckpointer`).

    The constructor does no I/O: `await checkpointer.amigrate()` once (or run `engram db
    migrate`); `from_conn_string` does it for you. It never closes an injected connection or
    pool.

    Args:
        conn: A psycopg `AsyncConnection` (autocommit) or a psycopg_pool `AsyncConnectionPool`.
        serde: Serializer of the convenience API's values (default JSON).
        default_retention: The policy `prune` applies to threads without their own.
        snapshot_every: The longest list delta chain before a full snapshot.
        cache_size: Entries of each in-process cache (threads, heads, resolved lists).
        durability: `"normal"` (default: asynchronous commit, may lose the last writes on a
            server crash) or `"full"` (the server's synchronous commit); see
            `engram.stores.postgres._internal`.

    Raises:
        ConfigError: `durability` is neither `"normal"` nor `"full"`.

    Example:
        ```python
        async with AsyncPostgresCheckpointer.from_conn_string(url) as checkpointer:
            await checkpointer.aput("default", "thread-1", {"messages": ["hi"]})
        ```
    """

    def __init__(
        self,
        conn: AsyncConn,
        *,
        serde: SerializerProtocol | None = None,
        default_retention: RetentionPolicy | None = None,
        snapshot_every: int = 16,
        cache_size: int = 4096,
        durability: Durability = "normal",
    ) -> None:
        super().__init__(
            serde=serde,
            default_retention=default_retention,
            snapshot_every=snapshot_every,
            cache_size=cache_size,
        )
        self.conn = conn
        self._target = AsyncTarget(conn, durability)
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conninfo: str, *, durability: Durability = "normal", **kwargs: Any
    ) -> AsyncIterator[AsyncPostgresCheckpointer]:
        """Open a migrated checkpointer on its own connection, closed when the block exits.

        Args:
            conninfo: A libpq connection string or URL.
            durability: `"normal"` or `"full"`; see `engram.stores.postgres._internal`.
            **kwargs: The constructor's other keyword arguments.
        """
        async with aconnect(conninfo, durability) as conn:
            checkpointer = cls(conn, durability=durability, **kwargs)
            await checkpointer.amigrate()
            yield checkpointer

    async def amigrate(self) -> int:
        """Create or upgrade the checkpoint tables (idempotent); return the schema version."""
        work = base.migrate(checkpoint_sql.COMPONENT, checkpoint_sql.MIGRATIONS)
        return await self._target.run(work)

    async def abatch(self, ops: Sequence[checkpoint_contract.CheckpointOp]) -> list[Any]:
        """Run `ops` in order, atomically; return their results in order."""
        for op in ops:
            checkpoint_contract.check_op(op)
        if not ops:
            return []
        for attempt in range(ATTEMPTS):
            after: AfterCommit = []
            try:
                results = await self._run_batch(ops, after)
            except RETRY as exc:
                self._retrying(exc)
                if attempt + 1 == ATTEMPTS:
                    raise gave_up(exc) from exc
                continue
            for remember in after:
                remember()
            return results
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run_batch(
        self, ops: Sequence[checkpoint_contract.CheckpointOp], after: AfterCommit
    ) -> list[Any]:
        """One attempt at the batch, in its `batch_scope` (see the sync `_run_batch`)."""
        work, scope = self._work(ops, after), batch_scope(ops, self._writer)
        if scope == "transaction":
            return await self._target.run(work)
        return await self._target.run_autocommit(work, writes=scope == "write")

    def batch(self, ops: Sequence[checkpoint_contract.CheckpointOp]) -> list[Any]:
        """Sync `abatch`, from a thread other than the checkpointer's event loop."""
        return call_on_loop(self.loop, self.abatch(ops), type(self).__name__)
