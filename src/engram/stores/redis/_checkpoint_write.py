"""Writing checkpoints to Redis: puts, pending writes, rollbacks, forks, copies, thread settings.

A put reads what it needs in one script (`PREFETCH_SCRIPT`: the thread record, the head, the
parent's header, which of its channel versions are stored) and queues its writes: the header,
the new channel versions (a grown list as a delta of the parent's version, whose resolved
hashes usually come from the in-process cache) and the list items not stored yet.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram.state.checkpoints import dumps_json, from_ms, next_checkpoint_id, rollback_id, to_ms
from engram.state.retention import needed_values, referenced_values
from engram.state.values import DELTA, blob_hashes, plan_value_row
from engram.stores import checkpoints as ops
from engram.stores.redis import _checkpoint_codec as codec
from engram.stores.redis._checkpoint_batch import READ, WRITE, CheckpointBatch, ThreadView
from engram.stores.redis._internal import Work
from engram.types._checkpoint import ChannelWrite, CheckpointInfo, EncodedList
from engram.types._conversation import utcnow

__all__ = [
    "SetThreadTtl",
    "copy_thread",
    "delete_thread",
    "fork",
    "header_of",
    "put",
    "put_writes",
    "rollback",
    "set_retention",
    "set_ttl",
]


class SetThreadTtl(NamedTuple):
    """Set (or with None, clear) a thread's own TTL, in seconds: its keys expire that long
    after the thread was last used. Result: None. (Redis only.)"""

    tenant: str
    thread_id: str
    ttl_seconds: float | None


def header_of(batch: CheckpointBatch, view: ThreadView, item: str) -> Work[codec.Header | None]:
    """The decoded header of checkpoint member `item`, if stored."""
    raw = (yield from batch.get(view, "c", [item])).get(item)
    return None if raw is None else codec.decode_header(raw)


def _live(batch: CheckpointBatch, view: ThreadView) -> codec.ThreadRecord:
    """The thread's record, creating the thread if absent; the thread counts as written."""
    batch.use(view, WRITE)
    return view.record if view.record is not None else batch.create(view)


def put(batch: CheckpointBatch, op: ops.PutCheckpoint, snapshot_every: int) -> Work[CheckpointInfo]:
    namespace = op.namespace
    metadata_json = dumps_json(op.metadata or {})
    fields = {w.channel: codec.value_field(namespace, w.channel, str(w.version)) for w in op.writes}
    need_head = op.parent_is_head or op.checkpoint_id is None
    parent_arg: str | None = None  # the head's
    if not op.parent_is_head:
        parent_arg = "" if op.parent_id is None else codec.member(namespace, op.parent_id)
    view = yield from batch.prefetch(
        op.tenant, op.thread_id, namespace, need_head, parent_arg, list(fields.values())
    )
    record = _live(batch, view)
    head_id = None
    if need_head:
        head = yield from batch.head(view, namespace)
        head_id = None if head is None else codec.member_id(head)
    parent_id = head_id if op.parent_is_head else op.parent_id
    checkpoint_id = op.checkpoint_id or next_checkpoint_id(head_id)
    parent = None
    if parent_id is not None:
        parent = yield from header_of(batch, view, codec.member(namespace, parent_id))
    rows: dict[str, bytes] = {}
    blobs: dict[bytes, bytes] = {}
    for write in op.writes:
        field = fields[write.channel]
        if field in rows or (yield from batch.value_exists(view, field)):
            continue
        yield from _plan(batch, view, record, namespace, write, parent, snapshot_every, rows, blobs)
    batch.put(view, "v", rows)
    batch.put(view, "b", blobs)
    created_ms = to_ms(op.created_at or utcnow())
    seq = parent.seq + 1 if parent else 1
    header = codec.encode_header(parent_id, seq, created_ms, metadata_json, op.versions, op.extra)
    batch.put(view, "c", {codec.member(namespace, checkpoint_id): header})
    return CheckpointInfo(
        op.tenant, op.thread_id, namespace, checkpoint_id, parent_id, seq, from_ms(created_ms),
        json.loads(metadata_json), dict(op.versions),
    )  # fmt: skip


def _plan(
    batch: CheckpointBatch,
    view: ThreadView,
    record: codec.ThreadRecord,
    namespace: str,
    write: ChannelWrite,
    parent: codec.Header | None,
    snapshot_every: int,
    rows: dict[str, bytes],
    blobs: dict[bytes, bytes],
) -> Work[None]:
    """Plan one new channel version (a list against its parent's version) into `rows`/`blobs`."""
    base = None
    if isinstance(write.value, EncodedList) and parent and write.channel in parent.versions:
        version = str(parent.versions[write.channel])
        base_field = codec.value_field(namespace, write.channel, version)
        base = yield from batch.list_state(view, base_field)
    field = codec.value_field(namespace, write.channel, str(write.version))
    row, items, state = plan_value_row(str(write.version), write.value, base, snapshot_every)
    rows[field] = codec.encode_row(row)
    blobs.update((digest, codec.encode_blob(item)) for digest, item in items.items())
    if state is not None:
        batch.lists.put((record.uid, field), state)


def put_writes(batch: CheckpointBatch, op: ops.PutWrites) -> Work[None]:
    view = yield from batch.view(op.tenant, op.thread_id)
    _live(batch, view)
    item = codec.member(op.namespace, op.checkpoint_id)
    stored = (yield from batch.get(view, "w", [item])).get(item)
    writes = {(w.task_id, w.idx): w for w in codec.decode_writes(stored)}
    changed = False
    for write in op.writes:
        key = (write.task_id, write.idx)
        if op.replace or key not in writes:
            writes[key], changed = write, True
    if changed:
        batch.put(view, "w", {item: codec.encode_writes(writes.values())})


def rollback(batch: CheckpointBatch, op: ops.Rollback) -> Work[CheckpointInfo]:
    view = batch.use((yield from batch.view(op.tenant, op.thread_id)), WRITE)
    target = None
    if view.record is not None:
        target = yield from header_of(batch, view, codec.member(op.namespace, op.checkpoint_id))
    if target is None:
        raise NotFoundError(f"no checkpoint {op.checkpoint_id} in thread {op.thread_id}")
    head_member = yield from batch.head(view, op.namespace)
    assert head_member is not None  # the target is in the namespace
    head = yield from header_of(batch, view, head_member)
    assert head is not None
    head_id = codec.member_id(head_member)
    metadata = {**target.metadata, "rollback_to": op.checkpoint_id, **(op.metadata or {})}
    new_id = rollback_id(op.new_checkpoint_id, head_id)
    return _insert_copy(batch, view, op.namespace, new_id, head_id, head.seq + 1, metadata, target)


def _insert_copy(
    batch: CheckpointBatch,
    view: ThreadView,
    namespace: str,
    checkpoint_id: str,
    parent_id: str | None,
    seq: int,
    metadata: dict[str, object],
    source: codec.Header,
) -> CheckpointInfo:
    """Queue a new checkpoint holding `source`'s values and extra."""
    created_ms = to_ms(utcnow())
    metadata_json = dumps_json(metadata)
    header = codec.encode_header(
        parent_id, seq, created_ms, metadata_json, source.versions, source.extra
    )
    batch.put(view, "c", {codec.member(namespace, checkpoint_id): header})
    return CheckpointInfo(
        view.tenant, view.thread_id, namespace, checkpoint_id, parent_id, seq,
        from_ms(created_ms), json.loads(metadata_json), source.versions,
    )  # fmt: skip


def fork(batch: CheckpointBatch, op: ops.ForkThread) -> Work[CheckpointInfo]:
    source = batch.use((yield from batch.view(op.tenant, op.thread_id)), READ)
    item, found = None, None
    if source.record is not None:
        if op.checkpoint_id is not None:
            item = codec.member(op.namespace, op.checkpoint_id)
        else:
            item = yield from batch.head(source, op.namespace)
        found = None if item is None else (yield from header_of(batch, source, item))
    if found is None or item is None:
        raise NotFoundError(f"no checkpoint to fork in thread {op.thread_id}")
    target = yield from batch.view(op.tenant, op.new_thread_id)
    if target.record is not None:
        raise ConflictError(f"thread {op.new_thread_id} exists already")
    _live(batch, target)
    yield from _copy_values(batch, source, target, op.namespace, found)
    if op.copy_writes:
        batch.put(target, "w", (yield from batch.get(source, "w", [item])))  # the same member
    checkpoint_id = codec.member_id(item)
    forked = {"thread_id": op.thread_id, "checkpoint_id": checkpoint_id}
    metadata = {**found.metadata, "forked_from": forked, **(op.metadata or {})}
    return _insert_copy(batch, target, op.namespace, checkpoint_id, None, 1, metadata, found)


def _copy_values(
    batch: CheckpointBatch,
    source: ThreadView,
    target: ThreadView,
    namespace: str,
    header: codec.Header,
) -> Work[None]:
    """Copy the values one checkpoint needs (with their delta bases and list items)."""
    raw = yield from batch.get_all(source, "v")
    rows = {codec.value_key(field): codec.decode_row(data) for field, data in raw.items()}
    bases = {key: row.base if row.kind == DELTA else None for key, row in rows.items()}
    needed = needed_values(referenced_values(namespace, header.versions), bases)
    fields = [codec.value_field(*key) for key in needed]
    batch.put(target, "v", {field: raw[field] for field in fields})
    items = yield from batch.get(source, "b", set(blob_hashes(rows[key] for key in needed)))
    batch.put(target, "b", items)


def copy_thread(batch: CheckpointBatch, op: ops.CopyThread) -> Work[int]:
    source = batch.use((yield from batch.view(op.tenant, op.source_thread_id)), READ)
    if source.record is None:
        return 0
    members = yield from batch.members(source, None)
    if not members:
        return 0
    target = yield from batch.view(op.tenant, op.target_thread_id)
    if target.record is not None:
        raise ConflictError(f"thread {op.target_thread_id} exists already")
    _live(batch, target)
    for name in ("v", "b", "w", "c"):
        batch.put(target, name, (yield from batch.get_all(source, name)))
    return len(members)


def delete_thread(batch: CheckpointBatch, op: ops.DeleteThread) -> Work[bool]:
    view = yield from batch.view(op.tenant, op.thread_id)
    existed = view.record is not None
    batch.wipe(view)
    return existed


def set_retention(batch: CheckpointBatch, op: ops.SetRetention) -> Work[None]:
    view = yield from batch.view(op.tenant, op.thread_id)
    batch.save_record(view, _live(batch, view).with_retention(op.policy))


def set_ttl(batch: CheckpointBatch, op: SetThreadTtl) -> Work[None]:
    if op.ttl_seconds is not None and not op.ttl_seconds > 0:
        raise InvalidInputError("ttl_seconds must be positive (or None)")
    view = yield from batch.view(op.tenant, op.thread_id)
    ttl_ms = None if op.ttl_seconds is None else max(1, int(op.ttl_seconds * 1000))
    batch.save_record(view, _live(batch, view).with_ttl(ttl_ms))
    view.persist = ttl_ms is None
