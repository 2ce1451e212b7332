"""The SQLite checkpointer.

Each batch is one transaction on the shared `SqliteConnection`: `BEGIN IMMEDIATE` if it
writes, a snapshot `BEGIN` if it only reads; a lone put that is a single statement runs as
its own transaction. SQL and row encoding live in `checkpoints_base.py`, writes in
`_checkpoint_write.py`, reads in `_checkpoint_load.py`, deletion in `_checkpoint_prune.py`;
value encoding, deltas, retention and garbage collection in `engram.state`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from engram._exceptions import InvalidInputError
from engram.serde import SerializerProtocol
from engram.state.checkpoints import (
    id_to_bytes,
    is_checkpoint_id,
    metadata_matches,
    split_filter,
    to_ms,
)
from engram.stores import checkpoints as ops
from engram.stores._cache import BoundedCache
from engram.stores.sqlite import _checkpoint_load as load
from engram.stores.sqlite import _checkpoint_prune as prune
from engram.stores.sqlite import checkpoints_base as sql
from engram.stores.sqlite._checkpoint_write import CheckpointWriter
from engram.stores.sqlite._internal import Durability, SqliteConnection
from engram.types._checkpoint import PruneReport, RetentionPolicy, StoredCheckpoint, ThreadInfo

__all__ = ["SqliteCheckpointer"]

_READ_OPS = (ops.GetCheckpoint, ops.ListCheckpoints, ops.GetThread, ops.ListThreads)
_Handler = Callable[[sqlite3.Connection, Any], Any]


class SqliteCheckpointer(ops.BaseCheckpointer):
    """Checkpoints in a SQLite database (a file, or `":memory:"`).

    The constructor applies the `checkpoints` migrations (idempotent) on the injected
    connection, which it never closes; `from_path` opens and closes its own. Thread-safe:
    batches hold the connection's lock. `abatch` runs the batch on a worker thread (sqlite3
    has no async I/O), so it never blocks the event loop.

    Args:
        conn: The connection; may be shared with Engram's other SQLite stores.
        serde: Serializer of the convenience API's values (default JSON).
        default_retention: The policy `prune` applies to threads without their own.
        snapshot_every: The longest list delta chain before a full snapshot.
        cache_size: Entries of each in-process cache (threads, heads, resolved lists).

    Example:
        ```python
        with SqliteCheckpointer.from_path("engram.db") as checkpointer:
            checkpointer.put("default", "thread-1", {"messages": ["hi"]})
        ```
    """

    def __init__(
        self,
        conn: SqliteConnection,
        *,
        serde: SerializerProtocol | None = None,
        default_retention: RetentionPolicy | None = None,
        snapshot_every: int = 16,
        cache_size: int = 4096,
    ) -> None:
        if serde is not None:
            self.serde = serde
        self.conn = conn
        self.default_retention = default_retention
        self._lists: load.ListCache = BoundedCache(cache_size)
        self._writer = CheckpointWriter(conn, self._lists, snapshot_every, cache_size)
        self._handlers: dict[type, _Handler] = {
            ops.PutCheckpoint: self._writer.put,
            ops.PutWrites: self._writer.put_writes,
            ops.Rollback: self._writer.rollback,
            ops.ForkThread: self._writer.fork,
            ops.CopyThread: self._writer.copy_thread,
            ops.GetCheckpoint: self._get,
            ops.ListCheckpoints: self._list,
            ops.GetThread: self._get_thread,
            ops.ListThreads: self._list_threads,
            ops.SetRetention: self._set_retention,
            ops.DeleteThread: self._delete_thread,
            ops.DeleteRuns: self._delete_runs,
            ops.Prune: self._prune,
        }
        conn.migrate(sql.COMPONENT, sql.MIGRATIONS)

    @classmethod
    @contextmanager
    def from_path(
        cls, path: str | Path, *, durability: Durability = "normal", **kwargs: Any
    ) -> Iterator[SqliteCheckpointer]:
        """Open a checkpointer on its own connection to `path`, closed when the block exits."""
        conn = SqliteConnection(path, durability=durability)
        try:
            yield cls(conn, **kwargs)
        finally:
            conn.close()

    def batch(self, ops_: Sequence[ops.CheckpointOp]) -> list[Any]:
        """Run `ops_` in order in one transaction; return their results in order."""
        for op in ops_:
            ops.check_op(op)
        try:
            if len(ops_) == 1 and type(ops_[0]) is ops.PutCheckpoint:
                fast = self._writer.fast_put(ops_[0])
                if fast is not None:
                    return [fast]
            read_only = all(_reads_only(op) for op in ops_)
            scope: AbstractContextManager[sqlite3.Connection] = (
                self.conn.snapshot() if read_only else self.conn.transaction()
            )
            with scope as db:
                results = [self._apply(db, op) for op in ops_]
        except UnicodeEncodeError as exc:  # lone surrogates: bad input, not a backend fault
            raise InvalidInputError(f"text not encodable as UTF-8: {exc}") from exc
        if any(map(_erases, ops_)):
            self.conn.wipe_log()  # erased text leaves the -wal file too
        return results

    async def abatch(self, ops_: Sequence[ops.CheckpointOp]) -> list[Any]:
        """Async `batch`: the one place sqlite3 work leaves the event loop for a thread."""
        return await asyncio.to_thread(self.batch, ops_)

    def _apply(self, db: sqlite3.Connection, op: ops.CheckpointOp) -> Any:
        handler = self._handlers.get(type(op))
        if handler is None:
            raise InvalidInputError(f"unsupported checkpoint operation {type(op).__name__}")
        return handler(db, op)

    # Threads

    def _get_thread(self, db: sqlite3.Connection, op: ops.GetThread) -> ThreadInfo | None:
        row = db.execute(sql.GET_THREAD, (op.tenant, op.thread_id)).fetchone()
        return None if row is None else sql.thread_from_row(row)

    def _list_threads(self, db: sqlite3.Connection, op: ops.ListThreads) -> list[ThreadInfo]:
        rows = db.execute(sql.LIST_THREADS, (op.tenant, op.limit, op.offset)).fetchall()
        return [sql.thread_from_row(row) for row in rows]

    def _set_retention(self, db: sqlite3.Connection, op: ops.SetRetention) -> None:
        key, _ = self._writer.thread(db, op.tenant, op.thread_id, fresh=True)
        policy = None if op.policy is None else json.dumps(op.policy.to_dict())
        db.execute(sql.SET_RETENTION, (policy, key))

    def _delete_thread(self, db: sqlite3.Connection, op: ops.DeleteThread) -> bool:
        self._writer.threads.discard((op.tenant, op.thread_id))
        found = db.execute(sql.THREAD, (op.tenant, op.thread_id)).fetchone()
        for statement in sql.DELETE_THREAD if found else ():
            db.execute(statement, (found[0],))
        return found is not None

    # Reading checkpoints

    def _get(self, db: sqlite3.Connection, op: ops.GetCheckpoint) -> StoredCheckpoint | None:
        row = load.select_checkpoint(db, op.tenant, op.thread_id, op.namespace, op.checkpoint_id)
        if row is None:
            return None
        return load.load_checkpoints(db, self._lists, [row], op.with_values, op.with_writes)[0]

    def _list(self, db: sqlite3.Connection, op: ops.ListCheckpoints) -> list[StoredCheckpoint]:
        if op.checkpoint_id is not None and not is_checkpoint_id(op.checkpoint_id):
            return []
        statement, params, rest = _list_query(op, limited=True)
        rows = db.execute(statement, params).fetchall()
        if op.filter:
            # SQL's match is not Python's for numbers beyond 64 bits, which SQLite reads back
            # as floats: every row it kept is matched again, exactly.
            kept = [r for r in rows if metadata_matches(json.loads(r["metadata"]), op.filter)]
            if len(kept) < len(rows) and op.limit is not None and not rest:
                statement, params, _ = _list_query(op, limited=False)
                rows = db.execute(statement, params).fetchall()
                kept = [r for r in rows if metadata_matches(json.loads(r["metadata"]), op.filter)]
            rows = kept[: op.limit] if op.limit is not None else kept
        return load.load_checkpoints(db, self._lists, rows, op.with_values, op.with_writes)

    # Deleting checkpoints

    def _delete_runs(self, db: sqlite3.Connection, op: ops.DeleteRuns) -> int:
        threads = db.execute(sql.TENANT_THREADS, (op.tenant,)).fetchall()
        run_ids = set(op.run_ids)
        deleted = 0
        for thread in threads:
            count = prune.delete_runs(db, thread["key"], thread["zdict"], run_ids)
            if count:
                self._clean_dictionary(db, op.tenant, thread)
            deleted += count
        return deleted

    def _prune(self, db: sqlite3.Connection, op: ops.Prune) -> PruneReport:
        totals = [0, 0, 0, 0, 0]
        for thread in db.execute(sql.TENANT_THREADS, (op.tenant,)).fetchall():
            if op.thread_ids is not None and thread["thread_id"] not in op.thread_ids:
                continue
            policy = op.policy or sql.retention_from_row(thread["retention"])
            policy = policy or self.default_retention
            if policy is None:  # nothing to prune: all its checkpoints are left
                [left] = db.execute(sql.THREAD_CHECKPOINTS, (thread["key"],)).fetchone()
                counts = (0, left, 0, 0)
            else:
                counts = prune.prune_thread(
                    db, thread["key"], thread["zdict"], policy, to_ms(op.now), op.dry_run
                )
            if not op.dry_run:
                self._clean_dictionary(db, op.tenant, thread)
            totals = [a + b for a, b in zip(totals, (1, *counts), strict=True)]
        return PruneReport(*totals)

    def _clean_dictionary(self, db: sqlite3.Connection, tenant: str, thread: sqlite3.Row) -> None:
        """After a deletion: a dictionary written before `thread_dictionary` holds the first
        checkpoint's values; it is replaced (the thread moves to a new key)."""
        if prune.clean_dictionary(db, thread["key"], thread["zdict"]):
            self._writer.threads.discard((tenant, thread["thread_id"]))


def _reads_only(op: ops.CheckpointOp) -> bool:
    return isinstance(op, _READ_OPS) or (isinstance(op, ops.Prune) and op.dry_run)


def _erases(op: ops.CheckpointOp) -> bool:
    """True for the ops that delete checkpoints (after which the log is wiped)."""
    return isinstance(op, ops.DeleteThread | ops.DeleteRuns) or (
        isinstance(op, ops.Prune) and not op.dry_run
    )


def _list_query(op: ops.ListCheckpoints, limited: bool) -> tuple[str, list[Any], dict[str, Any]]:
    """The SQL of a listing, its parameters, and the filter keys left for Python."""
    clauses: list[str] = ["t.tenant = ?"]
    params: list[Any] = [op.tenant]
    if op.thread_id is not None:
        clauses.append("t.thread_id = ?")
        params.append(op.thread_id)
    if op.namespace is not None:
        clauses.append("c.namespace = ?")
        params.append(op.namespace)
    if op.checkpoint_id is not None:
        clauses.append("c.checkpoint_id = ?")
        params.append(id_to_bytes(op.checkpoint_id))
    if op.before is not None:
        clauses.append("c.checkpoint_id < ?")
        params.append(id_to_bytes(op.before))
    in_sql, rest = split_filter(op.filter)
    for name, value in in_sql.items():
        path = f'$."{name}"'
        if value is None:
            clauses.append("json_type(c.metadata, ?) = 'null'")
            params.append(path)
        else:
            clauses.append("json_extract(c.metadata, ?) = ?")
            params += [path, value]
    statement = f"{sql.CHECKPOINT_COLUMNS} WHERE {' AND '.join(clauses)}"
    statement += " ORDER BY c.checkpoint_id DESC"
    if op.limit is not None and not rest and limited:
        statement += " LIMIT ?"
        params.append(op.limit)
    return statement, params, rest
