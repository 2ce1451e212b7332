"""Writing checkpoints to PostgreSQL: puts, pending writes, rollbacks, forks and copies.

A put is one write statement (`checkpoints_base.PUT`: the checkpoint row, the value rows and
list items it introduces, guarded by the thread's generation). What it needs to know first
comes from in-process caches when this process wrote the parent (a LangGraph step): the
thread's key, dictionary and generation, the parent's `seq` and header (small values are
carried in it, as in SQLite), the resolved list the new list is a delta of. Then the put is
that one statement, one round trip, committed on its own. Otherwise the missing parts are
read first. Cached heads and lists are keyed by the thread's generation, so nothing cached
before a prune or a run deletion is used after it, and they are recorded only once the
batch that wrote them committed (`after`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from engram._exceptions import BackendError, ConflictError, NotFoundError
from engram.state.checkpoints import from_ms, next_checkpoint_id, rollback_id, to_ms
from engram.state.headers import (
    Header,
    cleaned_dictionary,
    header_packer,
    metadata_json,
    pack_header,
    plain_header,
    split_inline,
    thread_dictionary,
    unpack_header,
)
from engram.state.retention import needed_values, referenced_values
from engram.state.values import ListState, ValueRow, blob_hashes, plan_value_row
from engram.stores import checkpoints as ops
from engram.stores._cache import BoundedCache
from engram.stores.postgres import _checkpoint_read as read
from engram.stores.postgres import checkpoints_base as sql
from engram.stores.postgres.base import Statement, Work
from engram.types._checkpoint import (
    ChannelVersion,
    ChannelWrite,
    CheckpointInfo,
    EncodedList,
    EncodedValue,
)
from engram.types._conversation import utcnow

__all__ = ["AfterCommit", "CheckpointWriter", "StaleCacheError", "ThreadRef"]

AfterCommit = list[Callable[[], None]]
"""What a batch does once it committed (record what it wrote in the caches)."""


Plan = tuple[list[tuple[str, str, ValueRow]], dict[bytes, EncodedValue], dict[Any, ListState]]
"""A put's value rows `(channel, version, row)`, list items by hash, and resolved lists."""


class StaleCacheError(BackendError):
    """A put found its thread deleted or pruned since its caches were read; retry the batch."""


class ThreadRef(NamedTuple):
    """What a writer knows of a thread row."""

    key: int
    zdict: bytes | None
    generation: int


class CheckpointWriter:
    """The write operations of the PostgreSQL checkpointers, with the caches they rely on."""

    def __init__(self, snapshot_every: int, cache_size: int) -> None:
        self.snapshot_every = snapshot_every
        self.threads: BoundedCache[tuple[str, str], ThreadRef] = BoundedCache(cache_size)
        self.heads: BoundedCache[tuple[int, int, str], tuple[str, int, Header]]
        self.heads = BoundedCache(cache_size)
        self.lists: BoundedCache[tuple[int, int, str, str, str], ListState]
        self.lists = BoundedCache(cache_size)
        self.packers: BoundedCache[bytes, Any] = BoundedCache(cache_size)

    def forget_threads(self) -> None:
        """Drop every cached thread row (after a `StaleCacheError`)."""
        self.threads.clear()

    def knows_thread(self, tenant: str, thread_id: str) -> bool:
        """True if the thread's row is cached (a put to it creates nothing)."""
        return (tenant, thread_id) in self.threads

    def thread(self, tenant: str, thread_id: str, zdict: bytes | None = None) -> Work[ThreadRef]:
        """The thread's row, creating it (with `zdict`) if needed; cached once it has a
        dictionary."""
        cached = self.threads.get((tenant, thread_id))
        if cached is not None:
            return cached
        row = yield Statement(sql.THREAD, (tenant, thread_id), "one")
        if row is None:
            params = (tenant, thread_id, utcnow(), zdict)
            row = yield Statement(sql.INSERT_THREAD, params, "one")
            if row is None:  # created meanwhile by another writer
                row = yield Statement(sql.THREAD, (tenant, thread_id), "one")
        thread = _thread_ref(row)
        if thread.zdict is not None:
            self.threads.put((tenant, thread_id), thread)
        return thread

    # Puts

    def put(self, op: ops.PutCheckpoint, after: AfterCommit) -> Work[CheckpointInfo]:
        metadata = op.metadata or {}
        metadata_text = metadata_json(metadata)  # rejects bad metadata before any write
        thread = self.threads.get((op.tenant, op.thread_id))
        if thread is None:  # a new thread's dictionary is made from its first header
            inline = split_inline(op.writes, op.versions, None)[0]
            first = thread_dictionary(plain_header(op.versions, op.extra, inline))
            thread = yield from self.thread(op.tenant, op.thread_id, first)
        if op.parent_is_head or op.checkpoint_id is None:
            parent_id, checkpoint_id = yield from self._ids(thread, op)
        else:
            parent_id, checkpoint_id = op.parent_id, op.checkpoint_id
        # The parent (a LangGraph step's: the thread's head this process wrote) is cached.
        head_key = (thread.key, thread.generation, op.namespace)
        head = self.heads.get(head_key)
        if parent_id is None:
            seq, parent = 0, None
        elif head is not None and head[0] == parent_id:
            seq, parent = head[1], head[2]
        else:
            seq, parent = yield from self._read_parent(thread, op.namespace, parent_id)
        inline, stored = split_inline(op.writes, op.versions, parent)
        plain = plain_header(op.versions, op.extra, inline)
        if thread.zdict is None:
            thread = yield from self._set_zdict(op, thread.key, plain)
        plan: Plan = ([], {}, {})
        if stored:  # lists and large values: value rows (and list items)
            parent_versions = parent.versions if parent else {}
            plan = yield from self._plan(thread, op.namespace, stored, parent_versions)
        rows, blobs, lists = plan
        now = op.created_at is None
        created_at = from_ms(time.time_ns() // 1_000_000) if now else _ms(op.created_at)
        header = pack_header(plain, self._packer(thread))
        row = (op.namespace, checkpoint_id, parent_id, seq + 1, created_at, metadata_text, header)
        written = yield _put_statement(thread, row, op.versions, inline, rows, blobs)
        if not written:
            raise StaleCacheError(f"thread {op.thread_id} was pruned or deleted meanwhile")
        versions = dict(op.versions)
        head_entry = (checkpoint_id, seq + 1, Header(versions, None, inline))
        after.append(functools.partial(self.heads.put, head_key, head_entry))
        if lists:
            after += [functools.partial(self.lists.put, key, state) for key, state in lists.items()]
        return CheckpointInfo(
            op.tenant, op.thread_id, op.namespace, checkpoint_id, parent_id, seq + 1,
            created_at, metadata, versions,
        )  # fmt: skip

    def _ids(self, thread: ThreadRef, op: ops.PutCheckpoint) -> Work[tuple[str | None, str]]:
        """The put's parent id and checkpoint id, by the thread's head (`parent_is_head`, or a
        put without an id), read holding the thread's row (`LOCK_HEAD`): two processes
        putting onto one head at once would both read it, and branch the thread."""
        locked = yield Statement(sql.LOCK_HEAD, (thread.key,), "one")
        if locked is None:
            raise StaleCacheError(f"thread {op.thread_id} was deleted meanwhile")
        head = yield Statement(sql.HEAD, (thread.key, op.namespace), "one")
        head_id = head["checkpoint_id"] if head else None
        parent_id = head_id if op.parent_is_head else op.parent_id
        return parent_id, op.checkpoint_id or next_checkpoint_id(head_id)

    def _set_zdict(self, op: ops.PutCheckpoint, key: int, plain: bytes) -> Work[ThreadRef]:
        """Give a thread made without a dictionary (by a retention setting) the one of this
        header."""
        row = yield Statement(sql.SET_ZDICT, (thread_dictionary(plain), key), "one")
        if row is None:
            raise StaleCacheError(f"thread {op.thread_id} vanished while writing to it")
        thread = _thread_ref(row)
        self.threads.put((op.tenant, op.thread_id), thread)
        return thread

    def _read_parent(
        self, thread: ThreadRef, namespace: str, parent_id: str
    ) -> Work[tuple[int, Header | None]]:
        """The parent's `seq` and header (versions, inline values), read (0 and None if it is
        not stored): a put whose parent this process did not just write."""
        params = (thread.key, namespace, parent_id)
        found = yield Statement(sql.PARENT, params, "one")
        if found is None:
            return 0, None
        return found["seq"], unpack_header(bytes(found["header"]), thread.zdict)

    def _packer(self, thread: ThreadRef) -> Any:
        """The packer of the thread's dictionary (cached by the dictionary: a prune may give
        the thread another)."""
        zdict = thread.zdict or b""
        packer = self.packers.get(zdict)
        if packer is None:
            packer = header_packer(zdict)
            self.packers.put(zdict, packer)
        return packer

    def _plan(
        self,
        thread: ThreadRef,
        namespace: str,
        writes: Sequence[ChannelWrite],
        parent_versions: Mapping[str, ChannelVersion],
    ) -> Work[Plan]:
        """The value rows, list items and resolved lists of the writes stored as rows."""
        rows: list[tuple[str, str, ValueRow]] = []
        blobs: dict[bytes, EncodedValue] = {}
        lists: dict[Any, ListState] = {}
        for write in writes:
            version = str(write.version)
            base = None
            if isinstance(write.value, EncodedList):
                base = yield from self._base(thread, namespace, write.channel, parent_versions)
            row, items, state = plan_value_row(version, write.value, base, self.snapshot_every)
            rows.append((write.channel, version, row))
            blobs |= items
            if state is not None:
                key = (thread.key, thread.generation, namespace, write.channel, version)
                lists[key] = state
        return rows, blobs, lists

    def _base(
        self,
        thread: ThreadRef,
        namespace: str,
        channel: str,
        parent_versions: Mapping[str, ChannelVersion],
    ) -> Work[ListState | None]:
        """The parent's version of a list channel, resolved, to diff the new version against."""
        if channel not in parent_versions:
            return None
        version = str(parent_versions[channel])
        cached = self.lists.get((thread.key, thread.generation, namespace, channel, version))
        if cached is not None:
            return cached
        return (yield from read.resolve_list(thread.key, namespace, channel, version))

    def put_writes(self, op: ops.PutWrites) -> Work[None]:
        if not op.writes:
            return None
        thread = yield from self.thread(op.tenant, op.thread_id)
        writes = op.writes
        columns = (
            sql.text_array([w.task_id for w in writes]),
            sql.int_array([w.idx for w in writes]),
            sql.text_array([w.channel for w in writes]),
            sql.text_array([w.value[0] for w in writes]),
            sql.bytea_array([w.value[1] for w in writes]),
            sql.text_array([w.task_path for w in writes]),
        )
        params = (thread.key, op.namespace, op.checkpoint_id, *columns)
        forms = sql.WRITES[(op.replace, False)], sql.WRITES[(op.replace, True)]
        row = yield Statement(forms[0], params, "one", async_sql=forms[1])
        if not row["threads"]:
            raise StaleCacheError(f"thread {op.thread_id} was deleted meanwhile")
        return None

    # Rollback, fork, copy: in a transaction, holding the thread row (prunes wait).

    def rollback(self, op: ops.Rollback) -> Work[CheckpointInfo]:
        ids = (op.tenant, op.thread_id, op.namespace, op.checkpoint_id)
        target = yield from read.select_checkpoint(*ids)
        if target is None:
            raise NotFoundError(f"no checkpoint {op.checkpoint_id} in thread {op.thread_id}")
        key = target["thread_key"]
        locked = yield Statement(sql.LOCK_THREAD, (key,), "one")
        if locked is None or locked["zdict"] != target["zdict"]:  # pruned meanwhile
            raise StaleCacheError(f"thread {op.thread_id} was pruned or deleted meanwhile")
        old = read.info_of(target)
        head = yield Statement(sql.HEAD, (key, op.namespace), "one")
        head_id, head_seq = (head["checkpoint_id"], head["seq"]) if head else (None, 0)
        info = old._replace(
            id=rollback_id(op.new_checkpoint_id, head_id),
            parent_id=head_id,
            seq=head_seq + 1,
            created_at=_ms(utcnow()),
            metadata={**old.metadata, "rollback_to": old.id, **(op.metadata or {})},
        )
        yield _insert_checkpoint(key, info, target, bytes(target["header"]))
        return info

    def fork(self, op: ops.ForkThread) -> Work[CheckpointInfo]:
        ids = (op.tenant, op.thread_id, op.namespace, op.checkpoint_id)
        source = yield from read.select_checkpoint(*ids)
        if source is None:
            raise NotFoundError(f"no checkpoint to fork in thread {op.thread_id}")
        exists = yield Statement(sql.THREAD, (op.tenant, op.new_thread_id), "one")
        if exists is not None:
            raise ConflictError(f"thread {op.new_thread_id} exists already")
        key = source["thread_key"]
        yield Statement(sql.LOCK_THREAD, (key,), "one")
        zdict, repack = cleaned_dictionary(_bytes(source["zdict"]))
        params = (op.tenant, op.new_thread_id, utcnow(), zdict)
        created = yield Statement(sql.INSERT_THREAD, params, "one")
        if created is None:
            raise ConflictError(f"thread {op.new_thread_id} exists already")
        old = read.info_of(source)
        yield from self._copy_values(key, created["key"], old)
        if op.copy_writes:
            yield Statement(sql.COPY_WRITES, (created["key"], key, old.namespace, old.id))
        forked = {"thread_id": op.thread_id, "checkpoint_id": old.id}
        info = old._replace(
            thread_id=op.new_thread_id,
            parent_id=None,
            seq=1,
            created_at=_ms(utcnow()),
            metadata={**old.metadata, "forked_from": forked, **(op.metadata or {})},
        )
        yield _insert_checkpoint(created["key"], info, source, repack(bytes(source["header"])))
        return info

    def _copy_values(self, source: int, target: int, info: CheckpointInfo) -> Work[None]:
        rows = yield from read.value_rows(source)
        bases = {value_key: row.base for value_key, row in rows.items()}
        needed = sorted(needed_values(referenced_values(info.namespace, info.versions), bases))
        columns = [list(part) for part in zip(*needed, strict=True)] if needed else [[], [], []]
        yield Statement(sql.COPY_VALUES, (target, source, *columns))
        digests = sorted(set(blob_hashes(rows[value_key] for value_key in needed)))
        yield Statement(sql.COPY_BLOBS, (target, source, digests))

    def copy_thread(self, op: ops.CopyThread) -> Work[int]:
        found = yield Statement(sql.THREAD, (op.tenant, op.source_thread_id), "one")
        if found is None:
            return 0
        source = _thread_ref(found)
        locked = yield Statement(sql.LOCK_THREAD, (source.key,), "one")
        if locked is None:
            return 0
        # The dictionary read again, holding the row: a prune may have replaced it.
        source = source._replace(zdict=_bytes(locked["zdict"]))
        rows = yield Statement(sql.COPY_CHECKPOINTS, (source.key,), "all")
        if not rows:
            return 0
        exists = yield Statement(sql.THREAD, (op.tenant, op.target_thread_id), "one")
        clean, repack = cleaned_dictionary(source.zdict)
        params = (op.tenant, op.target_thread_id, utcnow(), clean)
        created = None if exists else (yield Statement(sql.INSERT_THREAD, params, "one"))
        if created is None:  # None: created meanwhile
            raise ConflictError(f"thread {op.target_thread_id} exists already")
        target = created["key"]
        for statement in sql.COPY_THREAD:
            yield Statement(statement, {"target": target, "source": source.key})
        copies = [(target, *_copy_row(row, repack(bytes(row["header"])))) for row in rows]
        yield Statement(sql.INSERT_CHECKPOINT, copies, many=True)
        return len(rows)


def _thread_ref(row: Mapping[str, Any]) -> ThreadRef:
    return ThreadRef(row["key"], _bytes(row["zdict"]), row["generation"])


def _bytes(value: Any) -> bytes | None:
    """A `bytea` column's value as bytes (None for NULL)."""
    return None if value is None else bytes(value)


def _ms(moment: Any) -> Any:
    return from_ms(to_ms(moment))


_PUT_FORMS = {
    (values, blobs): (sql.PUT[values, blobs, False], sql.PUT[values, blobs, True])
    for values in (0, 1, 2)
    for blobs in (0, 1, 2)
}
"""`PUT`'s plain and asynchronous-commit forms, by how many value rows and list items (0, 1,
2: several): one lookup per put."""


def _put_statement(
    thread: ThreadRef,
    row: tuple[Any, ...],
    versions: Mapping[str, ChannelVersion],
    inline: Mapping[str, EncodedValue],
    rows: Sequence[tuple[str, str, ValueRow]],
    blobs: Mapping[bytes, EncodedValue],
) -> Statement:
    """`PUT` for a checkpoint row `(namespace, id, parent, seq, created, metadata, header)`
    of `versions`, naming the value rows of those not `inline`."""
    namespace, checkpoint_id, parent_id, seq, created_at, metadata, header = row
    refs = [channel for channel in versions if channel not in inline]
    params: dict[str, Any] = {
        "key": thread.key,
        "generation": thread.generation,
        "namespace": namespace,
        "id": checkpoint_id,
        "parent": parent_id,
        "seq": seq,
        "created": created_at,
        "metadata": metadata,
        "header": header,
        "ref_channels": sql.text_array(refs),
        "ref_versions": sql.text_array([str(versions[channel]) for channel in refs]),
    }
    if rows:
        params |= _value_params(rows)
    if blobs:
        params |= _blob_params(blobs)
    forms = _PUT_FORMS[min(len(rows), 2), min(len(blobs), 2)]
    return Statement(forms[0], params, "rowcount", async_sql=forms[1])


def _value_params(rows: Sequence[tuple[str, str, ValueRow]]) -> dict[str, Any]:
    """The value rows' parameters: one row's values, or arrays of several rows' (`PUT`)."""
    if len(rows) == 1:
        ((channel, version, row),) = rows
        return {
            "channels": channel, "versions": version, "kinds": row.kind, "types": row.type,
            "datas": row.data, "bases": row.base, "starts": row.start, "stops": row.stop,
            "depths": row.depth,
        }  # fmt: skip
    return {
        "channels": sql.text_array([channel for channel, _, _ in rows]),
        "versions": sql.text_array([version for _, version, _ in rows]),
        "kinds": sql.int_array([row.kind for _, _, row in rows]),
        "types": sql.text_array([row.type for _, _, row in rows]),
        "datas": sql.bytea_array([row.data for _, _, row in rows]),
        "bases": sql.text_array([row.base for _, _, row in rows]),
        "starts": sql.int_array([row.start for _, _, row in rows]),
        "stops": sql.int_array([row.stop for _, _, row in rows]),
        "depths": sql.int_array([row.depth for _, _, row in rows]),
    }


def _blob_params(blobs: Mapping[bytes, EncodedValue]) -> dict[str, Any]:
    """The list items' parameters: one item's values, or arrays of several items' (`PUT`)."""
    if len(blobs) == 1:
        ((digest, (tag, data)),) = blobs.items()
        return {"hashes": digest, "blob_types": tag, "blob_datas": data}
    return {
        "hashes": sql.bytea_array(list(blobs)),
        "blob_types": sql.text_array([tag for tag, _ in blobs.values()]),
        "blob_datas": sql.bytea_array([data for _, data in blobs.values()]),
    }


def _insert_checkpoint(
    key: int, info: CheckpointInfo, source: Mapping[str, Any], header: bytes
) -> Statement:
    """Insert `info` as a checkpoint of thread `key` with the value references of the
    checkpoint row `source` (a rollback or a fork: same values) and `header` (`source`'s,
    re-packed if the thread's dictionary differs)."""
    params = (
        key, info.namespace, info.id, info.parent_id, info.seq, info.created_at,
        metadata_json(info.metadata), header, source["ref_channels"], source["ref_versions"],
    )  # fmt: skip
    return Statement(sql.INSERT_CHECKPOINT, params)


def _copy_row(row: Mapping[str, Any], header: bytes) -> tuple[Any, ...]:
    names = ("namespace", "checkpoint_id", "parent_id", "seq", "created_at", "metadata")
    return (*(row[name] for name in names), header, row["ref_channels"], row["ref_versions"])
