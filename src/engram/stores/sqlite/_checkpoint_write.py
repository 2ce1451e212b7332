"""Writing checkpoints to SQLite: puts, pending writes, rollbacks, forks and copies.

A LangGraph put is one statement when only small values changed: the checkpoint row, whose
compressed header carries the small scalars inline, run as its own transaction (no `BEGIN`
or `COMMIT` round trips). When a list channel grew it is a transaction of three: the row,
the list delta and the delta's new items. The thread's key, the parent's header and the
resolved lists come from in-process caches that cannot mislead: thread keys are never reused
(a checkpoint row is only inserted while its thread row exists; if not, the put looks the
thread up again), rows never change, and a delta is stored only if its base still is.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any

from engram._exceptions import BackendError, ConflictError, NotFoundError
from engram.state import headers
from engram.state.checkpoints import (
    from_ms,
    id_from_bytes,
    id_to_bytes,
    next_checkpoint_id,
    rollback_id,
    to_ms,
)
from engram.state.retention import needed_values, referenced_values
from engram.state.values import DELTA, SCALAR, ListState, ValueRow, blob_hashes, plan_value_row
from engram.stores import checkpoints as ops
from engram.stores._cache import BoundedCache
from engram.stores.sqlite import _checkpoint_load as load
from engram.stores.sqlite import _checkpoint_prune as prune
from engram.stores.sqlite import checkpoints_base as sql
from engram.stores.sqlite._internal import SqliteConnection, map_backend_errors
from engram.types._checkpoint import (
    ChannelVersion,
    ChannelWrite,
    CheckpointInfo,
    EncodedList,
    EncodedValue,
)
from engram.types._conversation import utcnow

__all__ = ["CheckpointWriter"]

# BLOB parameters of the statements every put runs are passed as `bytearray`s: sqlite3 looks
# for an adapter for each `bytes` parameter (never for a `bytearray`, bound as the same BLOB).

Thread = tuple[int, bytes | None]
"""A thread's key and header dictionary."""


class CheckpointWriter:
    """The write operations of `SqliteCheckpointer`, with the caches they rely on."""

    def __init__(
        self, conn: SqliteConnection, lists: load.ListCache, snapshot_every: int, cache_size: int
    ) -> None:
        self.conn = conn
        self.lists = lists
        self.snapshot_every = snapshot_every
        self.threads: BoundedCache[tuple[str, str], Thread] = BoundedCache(cache_size)
        self.heads: BoundedCache[tuple[int, str], tuple[str, int, headers.Header]]
        self.heads = BoundedCache(cache_size)
        self.packers: BoundedCache[int, Any] = BoundedCache(cache_size)

    def thread(
        self, db: sqlite3.Connection, tenant: str, thread_id: str, *, fresh: bool = False
    ) -> Thread:
        """The thread's key and header dictionary, creating the thread if needed."""
        cached = None if fresh else self.threads.get((tenant, thread_id))
        if cached is not None:
            return cached
        row = db.execute(sql.THREAD, (tenant, thread_id)).fetchone()
        if row is None:
            params = (tenant, thread_id, to_ms(utcnow()), None)
            row = (db.execute(sql.INSERT_THREAD, params).fetchone()[0], None)
        thread: Thread = (int(row[0]), row[1])
        if thread[1] is not None:  # only a complete entry is cached (a key's zdict is final)
            self.threads.put((tenant, thread_id), thread)
        return thread

    def put(self, db: sqlite3.Connection, op: ops.PutCheckpoint) -> CheckpointInfo:
        if op.checkpoint_id is not None:
            id_to_bytes(op.checkpoint_id)  # reject a bad id before writing anything
        for fresh in (False, True):
            key, zdict = thread = self.thread(db, op.tenant, op.thread_id, fresh=fresh)
            head = None
            if op.parent_is_head or op.checkpoint_id is None:
                head = self._head(db, key, op.namespace)
            parent_id = (head and head[0]) if op.parent_is_head else op.parent_id
            checkpoint_id = op.checkpoint_id or next_checkpoint_id(head and head[0])
            seq, parent = self._parent(db, key, op.namespace, parent_id, zdict)
            inline, stored = headers.split_inline(op.writes, op.versions, parent)
            info = self._write(db, op, thread, checkpoint_id, parent_id, seq + 1, inline)
            if info is not None:
                self._store_values(db, key, op.namespace, stored, parent.versions if parent else {})
                return info
            # Not inserted: the cached thread was deleted by another process; look again.
        raise BackendError(f"thread {op.thread_id} vanished while writing to it")

    def fast_put(self, op: ops.PutCheckpoint) -> CheckpointInfo | None:
        """A lone put whose thread and parent header are cached (a LangGraph step).

        When only small values changed it is one INSERT, run without `BEGIN`/`COMMIT` (it is
        its own transaction); otherwise one transaction: the row, then the value rows. Returns
        None, having written nothing, when something is not cached or the thread is gone.
        """
        thread = self.threads.get((op.tenant, op.thread_id))
        if thread is None or op.checkpoint_id is None or op.parent_is_head:
            return None
        parent = None
        if op.parent_id is not None:
            parent = self.heads.get((thread[0], op.namespace))
            if parent is None or parent[0] != op.parent_id:
                return None
        header = parent[2] if parent else None
        inline, stored = headers.split_inline(op.writes, op.versions, header)
        seq = parent[1] + 1 if parent else 1
        if stored:
            with self.conn.transaction() as db:
                info = self._write(db, op, thread, op.checkpoint_id, op.parent_id, seq, inline)
                if info is not None:
                    versions = header.versions if header else {}
                    self._store_values(db, thread[0], op.namespace, stored, versions)
                return info
        with self.conn.lock:
            try:
                db = self.conn.conn
                return self._write(db, op, thread, op.checkpoint_id, op.parent_id, seq, inline)
            except sqlite3.Error as exc:
                with map_backend_errors():  # entered on failure only: it costs what an INSERT does
                    raise exc

    def _write(
        self,
        db: sqlite3.Connection,
        op: ops.PutCheckpoint,
        thread: Thread,
        checkpoint_id: str,
        parent_id: str | None,
        seq: int,
        inline: dict[str, EncodedValue],
    ) -> CheckpointInfo | None:
        """Insert the checkpoint row (None if its thread is gone) and remember it as a head."""
        key, namespace = thread[0], op.namespace
        header = self._pack(db, thread, headers.plain_header(op.versions, op.extra, inline))
        metadata = op.metadata or {}
        if op.created_at is None:
            created_ms = time.time_ns() // 1_000_000
            created_at = from_ms(created_ms)  # what a read returns (milliseconds)
        else:
            created_at, created_ms = op.created_at, to_ms(op.created_at)
        row = (key, namespace, checkpoint_id, parent_id, seq, created_ms)
        if not self._insert(db, *row, headers.metadata_json(metadata), header):
            return None
        versions = dict(op.versions)
        head = (checkpoint_id, seq, headers.Header(versions, None, inline))
        self.heads.put((key, namespace), head)
        return CheckpointInfo(
            op.tenant, op.thread_id, namespace, checkpoint_id, parent_id, seq, created_at,
            metadata, versions,
        )  # fmt: skip

    def _parent(
        self,
        db: sqlite3.Connection,
        key: int,
        namespace: str,
        parent_id: str | None,
        zdict: bytes | None,
    ) -> tuple[int, headers.Header | None]:
        """The parent's `seq` (0 if none) and header (versions, inline values): cached or read."""
        if parent_id is None:
            return 0, None
        cached = self.heads.get((key, namespace))
        if cached is not None and cached[0] == parent_id:
            return cached[1], cached[2]
        params = (key, namespace, id_to_bytes(parent_id))
        found = db.execute(sql.PARENT, params).fetchone()
        return (found[0], headers.unpack_header(found[1], zdict)) if found else (0, None)

    def _pack(self, db: sqlite3.Connection, thread: Thread, plain: bytes) -> bytes:
        """A header as stored, compressed against the thread's dictionary (made from its
        first header's, values left out)."""
        key, zdict = thread
        if zdict is None:
            zdict = headers.thread_dictionary(plain)
            db.execute(sql.SET_ZDICT, (zdict, key))
            return headers.pack_header(plain, headers.header_packer(zdict))
        packer = self.packers.get(key)
        if packer is None:
            packer = headers.header_packer(zdict)
            self.packers.put(key, packer)
        return headers.pack_header(plain, packer)

    def _head(self, db: sqlite3.Connection, key: int, namespace: str) -> tuple[str, int] | None:
        """The id and `seq` of the newest checkpoint of a thread namespace."""
        row = db.execute(sql.HEAD, (key, namespace)).fetchone()
        return None if row is None else (id_from_bytes(row[0]), row[1])

    def _insert(
        self,
        db: sqlite3.Connection,
        key: int,
        namespace: str,
        checkpoint_id: str,
        parent_id: str | None,
        seq: int,
        created_ms: int,
        metadata: str,
        header: bytes,
    ) -> bool:
        """Insert a checkpoint row (`metadata` as JSON text), if its thread still exists."""
        parent = None if parent_id is None else bytearray(id_to_bytes(parent_id))
        checkpoint = bytearray(id_to_bytes(checkpoint_id))
        row = (key, namespace, checkpoint, parent, seq, created_ms, metadata, bytearray(header))
        return db.execute(sql.INSERT_CHECKPOINT, row).rowcount > 0

    def _store_values(
        self,
        db: sqlite3.Connection,
        key: int,
        namespace: str,
        writes: Sequence[ChannelWrite],
        parent_versions: Mapping[str, ChannelVersion],
    ) -> None:
        """Store the versions too big to keep inline, and lists (as deltas of the parent's)."""
        scalars: list[tuple[Any, ...]] = []
        for write in writes:
            if isinstance(write.value, EncodedList):
                base = self._base(db, key, namespace, write.channel, parent_versions)
                self._store_list(db, key, namespace, write, base)
            else:
                tag, data = write.value
                row = (key, namespace, write.channel, str(write.version), SCALAR, tag, data)
                scalars.append((*row, None, 0, 0, 0))
        if scalars:
            db.executemany(sql.INSERT_VALUE, scalars)

    def _store_list(
        self,
        db: sqlite3.Connection,
        key: int,
        namespace: str,
        write: ChannelWrite,
        base: ListState | None,
    ) -> None:
        version = str(write.version)
        prefix = (key, namespace, write.channel, version)
        row, items, state = plan_value_row(version, write.value, base, self.snapshot_every)
        statement = sql.INSERT_DELTA if row.kind == DELTA else sql.INSERT_VALUE
        inserted = db.execute(statement, _value_params(prefix, row)).rowcount
        if not inserted and row.kind == DELTA and not _exists(db, prefix):
            # The base was pruned meanwhile: store a full snapshot instead.
            row, items, state = plan_value_row(version, write.value, None, self.snapshot_every)
            inserted = db.execute(sql.INSERT_VALUE, _value_params(prefix, row)).rowcount
        if inserted:
            blobs = [(key, bytearray(d), tag, bytearray(data)) for d, (tag, data) in items.items()]
            if len(blobs) == 1:  # one appended message
                db.execute(sql.INSERT_BLOB, blobs[0])
            else:
                db.executemany(sql.INSERT_BLOB, blobs)
            if state is not None:
                self.lists.put(prefix, state)

    def _base(
        self,
        db: sqlite3.Connection,
        key: int,
        namespace: str,
        channel: str,
        parent_versions: Mapping[str, ChannelVersion],
    ) -> ListState | None:
        """The parent's version of a list channel, resolved, to diff the new version against."""
        if channel not in parent_versions:
            return None
        version = str(parent_versions[channel])
        cached = self.lists.get((key, namespace, channel, version))
        return cached or load.resolve_list(db, self.lists, key, namespace, channel, version)

    def put_writes(self, db: sqlite3.Connection, op: ops.PutWrites) -> None:
        checkpoint = id_to_bytes(op.checkpoint_id)
        statement = sql.INSERT_WRITE.format(conflict="REPLACE" if op.replace else "IGNORE")
        for fresh in (False, True):
            key, _ = self.thread(db, op.tenant, op.thread_id, fresh=fresh)
            rows = [
                (key, op.namespace, checkpoint, w.task_id, w.idx, w.channel, *w.value, w.task_path)
                for w in op.writes
            ]
            if not rows or db.executemany(statement, rows).rowcount or self._exists_thread(db, key):
                return

    def _exists_thread(self, db: sqlite3.Connection, key: int) -> bool:
        return db.execute(sql.THREAD_EXISTS, (key,)).fetchone() is not None

    def rollback(self, db: sqlite3.Connection, op: ops.Rollback) -> CheckpointInfo:
        target = load.select_checkpoint(db, op.tenant, op.thread_id, op.namespace, op.checkpoint_id)
        if target is None:
            raise NotFoundError(f"no checkpoint {op.checkpoint_id} in thread {op.thread_id}")
        old = load.info_of(target)
        head_id, head_seq = self._head(db, target["thread_key"], op.namespace) or (None, 0)
        info = old._replace(
            id=rollback_id(op.new_checkpoint_id, head_id),
            parent_id=head_id,
            seq=head_seq + 1,
            created_at=utcnow(),
            metadata={**old.metadata, "rollback_to": old.id, **(op.metadata or {})},
        )
        return self._insert_copy(db, target["thread_key"], info, target["header"])

    def fork(self, db: sqlite3.Connection, op: ops.ForkThread) -> CheckpointInfo:
        source = load.select_checkpoint(db, op.tenant, op.thread_id, op.namespace, op.checkpoint_id)
        if source is None:
            raise NotFoundError(f"no checkpoint to fork in thread {op.thread_id}")
        if db.execute(sql.THREAD, (op.tenant, op.new_thread_id)).fetchone() is not None:
            raise ConflictError(f"thread {op.new_thread_id} exists already")
        old = load.info_of(source)
        zdict, repack = headers.cleaned_dictionary(source["zdict"])
        params = (op.tenant, op.new_thread_id, to_ms(utcnow()), zdict)
        key = db.execute(sql.INSERT_THREAD, params).fetchone()[0]
        self._copy_values(db, source["thread_key"], key, old)
        if op.copy_writes:
            checkpoint = bytearray(id_to_bytes(old.id))
            db.execute(sql.COPY_WRITES, (key, source["thread_key"], old.namespace, checkpoint))
        forked = {"thread_id": op.thread_id, "checkpoint_id": old.id}
        metadata = {**old.metadata, "forked_from": forked, **(op.metadata or {})}
        info = old._replace(
            thread_id=op.new_thread_id,
            parent_id=None,
            seq=1,
            created_at=utcnow(),
            metadata=metadata,
        )
        return self._insert_copy(db, key, info, repack(source["header"]))

    def _insert_copy(
        self, db: sqlite3.Connection, key: int, info: CheckpointInfo, header: bytes
    ) -> CheckpointInfo:
        """Insert `info` as a new checkpoint with this stored `header`."""
        row = (key, info.namespace, info.id, info.parent_id, info.seq, to_ms(info.created_at))
        self._insert(db, *row, headers.metadata_json(info.metadata), header)
        return info

    def _copy_values(
        self, db: sqlite3.Connection, source: int, target: int, info: CheckpointInfo
    ) -> None:
        rows = prune.value_rows(db, source)
        bases = {k: row.base for k, row in rows.items()}
        needed = needed_values(referenced_values(info.namespace, info.versions), bases)
        db.executemany(sql.COPY_VALUE, [(target, source, *value_key) for value_key in needed])
        digests = set(blob_hashes(rows[value_key] for value_key in needed))
        db.executemany(sql.COPY_BLOB, [(target, source, digest) for digest in digests])

    def copy_thread(self, db: sqlite3.Connection, op: ops.CopyThread) -> int:
        found = db.execute(sql.THREAD, (op.tenant, op.source_thread_id)).fetchone()
        rows = db.execute(sql.COPY_CHECKPOINTS, (found[0],)).fetchall() if found else []
        if not rows:
            return 0
        if db.execute(sql.THREAD, (op.tenant, op.target_thread_id)).fetchone() is not None:
            raise ConflictError(f"thread {op.target_thread_id} exists already")
        source = found[0]
        zdict, repack = headers.cleaned_dictionary(found[1])
        params = (op.tenant, op.target_thread_id, to_ms(utcnow()), zdict)
        target = db.execute(sql.INSERT_THREAD, params).fetchone()[0]
        for statement in sql.COPY_THREAD:
            db.execute(statement, (target, source))
        copies = [(target, *tuple(row)[:6], repack(row[6])) for row in rows]
        db.executemany(sql.INSERT_COPY, copies)
        return len(rows)


def _value_params(prefix: tuple[Any, ...], row: ValueRow) -> tuple[Any, ...]:
    """The parameters of `INSERT_VALUE` / `INSERT_DELTA` for a row (its data as a bytearray)."""
    kind, type_, data, base, start, stop, depth = row
    return (*prefix, kind, type_, bytearray(data), base, start, stop, depth)


def _exists(db: sqlite3.Connection, value_key: tuple[Any, ...]) -> bool:
    return db.execute(sql.VALUE_EXISTS, value_key).fetchone() is not None
