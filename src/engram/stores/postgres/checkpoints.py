"""The PostgreSQL checkpointer (sync); the async twin is in `checkpoints_aio.py`.

The SQLite checkpointer's storage (headers with small values inline, channel versions stored
once, lists as deltas of content-addressed items) in PostgreSQL. Every op is a generator over
statements (`checkpoint_work`), shared by `PostgresCheckpointer` and
`AsyncPostgresCheckpointer`; SQL and migrations live in `checkpoints_base.py`, writes in
`_checkpoint_write.py`, reads in `_checkpoint_read.py`, deletion in `_checkpoint_prune.py`.

Round trips: a batch that only reads, or that is one put (or `put_writes`) to a thread this
process knows, runs without a transaction of its own (on an autocommit connection): a put
writes with one statement (see `_checkpoint_write`), atomic on its own, and reads need no
transaction (a read that finds rows deleted under it reads again). Under the default
`"normal"` durability that statement turns `synchronous_commit` off for itself (its
`async_sql` form calls `set_config`; see `engram.stores.postgres._internal`): still one
statement, one round trip. Other batches run in one transaction. A put that finds
its cached view of the thread out of date, or a read that finds rows gone, runs the batch
again (at most 3 times).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from engram._exceptions import BackendError, InvalidInputError
from engram.serde import SerializerProtocol
from engram.stores import checkpoints as ops
from engram.stores.postgres import _checkpoint_prune as prune
from engram.stores.postgres import _checkpoint_read as read
from engram.stores.postgres import base
from engram.stores.postgres import checkpoints_base as sql
from engram.stores.postgres._checkpoint_write import AfterCommit, CheckpointWriter, StaleCacheError
from engram.stores.postgres._internal import (
    Conn,
    Durability,
    Target,
    connect,
)
from engram.stores.postgres.base import Statement, Work
from engram.types._checkpoint import RetentionPolicy

__all__ = ["PostgresCheckpointer", "checkpoint_work"]

ATTEMPTS = 3
"""How many times a batch runs before a stale cache or a vanished row is an error."""
RETRY = (StaleCacheError, read.VanishedError)
_READS = (ops.GetCheckpoint, ops.ListCheckpoints, ops.GetThread, ops.ListThreads)
_SINGLE_STATEMENT_WRITES = (ops.PutCheckpoint, ops.PutWrites)
Scope = Literal["transaction", "write", "read"]
"""How a batch runs: in a transaction; as one write statement committed on its own; as reads."""


class CheckpointerCore(ops.BaseCheckpointer):
    """What the sync and the async PostgreSQL checkpointers share: settings, caches, ops."""

    def __init__(
        self,
        *,
        serde: SerializerProtocol | None,
        default_retention: RetentionPolicy | None,
        snapshot_every: int,
        cache_size: int,
    ) -> None:
        if serde is not None:
            self.serde = serde
        self.default_retention = default_retention
        self._writer = CheckpointWriter(snapshot_every, cache_size)

    def _work(self, ops_: Sequence[ops.CheckpointOp], after: AfterCommit) -> Work[list[Any]]:
        return checkpoint_work(ops_, self._writer, after, self.default_retention)

    def _retrying(self, exc: BaseException) -> None:
        if isinstance(exc, StaleCacheError):
            self._writer.forget_threads()


def batch_scope(ops_: Sequence[ops.CheckpointOp], writer: CheckpointWriter) -> Scope:
    """`"read"` when the batch reads only; `"write"` when it is one single-statement write (a
    put or `put_writes` to a thread whose row is cached: else it may create the thread
    first; and not a put onto the thread's head, which reads the head holding the thread:
    `CheckpointWriter._ids`); else `"transaction"`."""
    if len(ops_) == 1 and isinstance(ops_[0], _SINGLE_STATEMENT_WRITES):
        op = ops_[0]
        onto_head = isinstance(op, ops.PutCheckpoint) and (
            op.parent_is_head or op.checkpoint_id is None
        )
        known = writer.knows_thread(op.tenant, op.thread_id)
        return "write" if known and not onto_head else "transaction"
    return "read" if all(_reads_only(op) for op in ops_) else "transaction"


def _reads_only(op: ops.CheckpointOp) -> bool:
    return isinstance(op, _READS) or (isinstance(op, ops.Prune) and op.dry_run)


def gave_up(exc: BaseException) -> BackendError:
    return BackendError(f"checkpoint batch failed {ATTEMPTS} times: {exc}")


def checkpoint_work(
    ops_: Sequence[ops.CheckpointOp],
    writer: CheckpointWriter,
    after: AfterCommit,
    default_retention: RetentionPolicy | None,
) -> Work[list[Any]]:
    """The statements of a batch of validated ops, in order; returns their results."""
    results: list[Any] = []
    for op in ops_:
        results.append((yield from _run(op, writer, after, default_retention)))
    return results


def _run(
    op: ops.CheckpointOp,
    writer: CheckpointWriter,
    after: AfterCommit,
    default_retention: RetentionPolicy | None,
) -> Work[Any]:
    match op:
        case ops.PutCheckpoint():
            return (yield from writer.put(op, after))
        case ops.GetCheckpoint():
            return (yield from read.get(op))
        case ops.ListCheckpoints():
            return (yield from read.list_checkpoints(op))
        case ops.PutWrites():
            return (yield from writer.put_writes(op))
        case ops.Rollback():
            return (yield from writer.rollback(op))
        case ops.ForkThread():
            return (yield from writer.fork(op))
        case ops.CopyThread():
            return (yield from writer.copy_thread(op))
        case ops.DeleteThread():
            return (yield from prune.delete_thread(op))
        case ops.DeleteRuns():
            return (yield from prune.delete_runs(op))
        case ops.Prune():
            return (yield from prune.prune(op, default_retention))
        case ops.SetRetention():
            return (yield from _set_retention(op, writer))
        case ops.GetThread():
            return (yield from read.get_thread(op))
        case ops.ListThreads():
            return (yield from read.list_threads(op))
    raise InvalidInputError(f"unsupported checkpoint operation {type(op).__name__}")


def _set_retention(op: ops.SetRetention, writer: CheckpointWriter) -> Work[None]:
    thread = yield from writer.thread(op.tenant, op.thread_id)
    yield Statement(sql.SET_RETENTION, (sql.retention_text(op.policy), thread.key))
    return None


class PostgresCheckpointer(CheckpointerCore):
    """Checkpoints in PostgreSQL, over a psycopg connection or connection pool.

    The constructor applies the `checkpoints` migrations (idempotent; `migrate=False` skips
    them). It never closes an injected connection or pool; `from_conn_string` opens and
    closes its own. Thread-safe: with a pool each batch borrows a connection; a single
    connection runs one batch at a time. `abatch` runs the batch on a worker thread; for
    real async I/O use `AsyncPostgresCheckpointer`.

    Args:
        conn: A psycopg `Connection` (autocommit) or a psycopg_pool `ConnectionPool`.
        serde: Serializer of the convenience API's values (default JSON).
        default_retention: The policy `prune` applies to threads without their own.
        snapshot_every: The longest list delta chain before a full snapshot.
        cache_size: Entries of each in-process cache (threads, heads, resolved lists).
        migrate: Apply the schema migrations now.
        durability: `"normal"` (default: asynchronous commit, may lose the last writes on a
            server crash) or `"full"` (the server's synchronous commit); see
            `engram.stores.postgres._internal`.

    Raises:
        MigrationRequired: The database holds a newer checkpoint schema than this code.
        ConfigError: `durability` is neither `"normal"` nor `"full"`.

    Example:
        ```python
        with PostgresCheckpointer.from_conn_string("postgresql://localhost/app") as cp:
            cp.put("default", "thread-1", {"messages": ["hi"]})
        ```
    """

    def __init__(
        self,
        conn: Conn,
        *,
        serde: SerializerProtocol | None = None,
        default_retention: RetentionPolicy | None = None,
        snapshot_every: int = 16,
        cache_size: int = 4096,
        migrate: bool = True,
        durability: Durability = "normal",
    ) -> None:
        super().__init__(
            serde=serde,
            default_retention=default_retention,
            snapshot_every=snapshot_every,
            cache_size=cache_size,
        )
        self.conn = conn
        self._target = Target(conn, durability)
        if migrate:
            self.migrate()

    @classmethod
    @contextmanager
    def from_conn_string(
        cls, conninfo: str, *, durability: Durability = "normal", **kwargs: Any
    ) -> Iterator[PostgresCheckpointer]:
        """Open a checkpointer on its own connection (autocommit), closed when the block exits.

        Args:
            conninfo: A libpq connection string or URL.
            durability: `"normal"` or `"full"`; see `engram.stores.postgres._internal`.
            **kwargs: The constructor's other keyword arguments.
        """
        with connect(conninfo, durability) as conn:
            yield cls(conn, durability=durability, **kwargs)

    def migrate(self) -> int:
        """Create or upgrade the checkpoint tables (idempotent); return the schema version."""
        return self._target.run(base.migrate(sql.COMPONENT, sql.MIGRATIONS))

    def batch(self, ops_: Sequence[ops.CheckpointOp]) -> list[Any]:
        """Run `ops_` in order, atomically; return their results in order."""
        for op in ops_:
            ops.check_op(op)
        if not ops_:
            return []
        for attempt in range(ATTEMPTS):
            after: AfterCommit = []
            try:
                results = self._run_batch(ops_, after)
            except RETRY as exc:
                self._retrying(exc)
                if attempt + 1 == ATTEMPTS:
                    raise gave_up(exc) from exc
                continue
            for remember in after:
                remember()
            return results
        raise AssertionError("unreachable")  # pragma: no cover

    def _run_batch(self, ops_: Sequence[ops.CheckpointOp], after: AfterCommit) -> list[Any]:
        """One attempt at the batch, in its `batch_scope`."""
        work, scope = self._work(ops_, after), batch_scope(ops_, self._writer)
        if scope == "transaction":
            return self._target.run(work)
        return self._target.run_autocommit(work, writes=scope == "write")

    async def abatch(self, ops_: Sequence[ops.CheckpointOp]) -> list[Any]:
        """Async `batch` on a worker thread (this class's I/O is blocking)."""
        return await asyncio.to_thread(self.batch, ops_)
