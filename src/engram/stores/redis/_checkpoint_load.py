"""Reading checkpoints back from Redis: one checkpoint, listings, thread summaries.

The values of checkpoints read together are loaded together: one script for the channel
versions they name and every delta base those rebuild from (`CHAINS_SCRIPT`), one `HMGET`
for the list items, one for the pending writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from engram.state.checkpoints import from_ms, metadata_matches, sort_writes
from engram.state.values import (
    DELTA,
    SCALAR,
    ListState,
    ValueRow,
    assemble,
    resolve_hashes,
    unpack_hashes,
)
from engram.stores import checkpoints as ops
from engram.stores.redis import _checkpoint_codec as codec
from engram.stores.redis._checkpoint_batch import READ, CheckpointBatch, ThreadView
from engram.stores.redis._checkpoint_write import header_of
from engram.stores.redis._internal import Work
from engram.types._checkpoint import (
    CheckpointInfo,
    PendingWrite,
    StoredCheckpoint,
    StoredValue,
    ThreadInfo,
)

__all__ = [
    "get_checkpoint",
    "get_thread",
    "info_of",
    "list_checkpoints",
    "list_threads",
    "live_threads",
    "load",
    "thread_info",
]

_PAGE = 64
"""Headers read per round trip while a listing looks for matches of its metadata filter."""


def info_of(view: ThreadView, item: str, header: codec.Header) -> CheckpointInfo:
    return CheckpointInfo(
        tenant=view.tenant,
        thread_id=view.thread_id,
        namespace=codec.member_namespace(item),
        id=codec.member_id(item),
        parent_id=header.parent_id,
        seq=header.seq,
        created_at=from_ms(header.created_ms),
        metadata=header.metadata,
        versions=header.versions,
    )


def get_checkpoint(batch: CheckpointBatch, op: ops.GetCheckpoint) -> Work[StoredCheckpoint | None]:
    wanted = None if op.checkpoint_id is None else codec.member(op.namespace, op.checkpoint_id)
    latest = op.checkpoint_id is None
    view = yield from batch.prefetch(op.tenant, op.thread_id, op.namespace, latest, wanted)
    batch.use(view, READ)
    if view.record is None:
        return None
    item = wanted if wanted is not None else (yield from batch.head(view, op.namespace))
    header = None if item is None else (yield from header_of(batch, view, item))
    if item is None or header is None:
        return None
    (stored,) = yield from load(batch, view, [(item, header)], op.with_values, op.with_writes)
    return stored


def load(
    batch: CheckpointBatch,
    view: ThreadView,
    found: Sequence[tuple[str, codec.Header]],
    with_values: bool,
    with_writes: bool,
) -> Work[list[StoredCheckpoint]]:
    """The checkpoints of one thread, with their values and pending writes if asked for."""
    values: list[dict[str, StoredValue] | None] = [None] * len(found)
    if with_values:
        values = yield from _values(batch, view, found)
    writes: list[tuple[PendingWrite, ...] | None] = [None] * len(found)
    if with_writes:
        raw = yield from batch.get(view, "w", (item for item, _ in found))
        writes = [sort_writes(codec.decode_writes(raw.get(item))) for item, _ in found]
    return [
        StoredCheckpoint(info_of(view, item, header), value, header.extra, pending)
        for (item, header), value, pending in zip(found, values, writes, strict=True)
    ]


def _values(
    batch: CheckpointBatch, view: ThreadView, found: Sequence[tuple[str, codec.Header]]
) -> Work[list[dict[str, StoredValue] | None]]:
    fields = [
        {
            channel: codec.value_field(codec.member_namespace(item), channel, str(version))
            for channel, version in header.versions.items()
        }
        for item, header in found
    ]
    rows = yield from batch.rows(view, (field for each in fields for field in each.values()))
    hashes = {field: _hashes(batch, view, field, rows) for field, row in rows.items()
              if row.kind != SCALAR}  # fmt: skip
    digests = {digest for each in hashes.values() for digest in each}
    raw = yield from batch.get(view, "b", digests)
    items = {digest: codec.decode_blob(data) for digest, data in raw.items()}
    return [
        {
            channel: assemble(rows[field], hashes.get(field), items)
            for channel, field in each.items()
            if field in rows
        }
        for each in fields
    ]


def _hashes(
    batch: CheckpointBatch, view: ThreadView, field: str, rows: dict[str, ValueRow]
) -> tuple[bytes, ...]:
    """A list version's item hashes, resolved from `rows` (and kept for later puts)."""
    namespace, channel, version = codec.value_key(field)
    row = rows[field]
    if row.kind != DELTA:
        return unpack_hashes(row.data)
    resolved = resolve_hashes(
        version, lambda other: rows.get(codec.value_field(namespace, channel, other))
    )
    if view.record is not None:
        batch.lists.put((view.record.uid, field), ListState(version, resolved, row.depth))
    return resolved


def list_checkpoints(
    batch: CheckpointBatch, op: ops.ListCheckpoints
) -> Work[list[StoredCheckpoint]]:
    """Checkpoints newest first: candidates by id, headers read a page at a time."""
    if op.limit == 0:
        return []
    thread_ids = [op.thread_id] if op.thread_id is not None else (
        yield from batch.thread_ids(op.tenant)
    )  # fmt: skip
    candidates: list[tuple[str, ThreadView, str]] = []
    for thread_id in thread_ids:
        view = yield from batch.view(op.tenant, thread_id)
        if op.thread_id is not None:  # a scan of every thread is not a use of each
            batch.use(view, READ)
        if view.record is None:
            if op.thread_id is None and not view.wiped:
                batch.untrack(op.tenant, thread_id)  # expired by Redis
            continue
        members = yield from batch.members(view, op.namespace)
        candidates += [
            (codec.member_id(item), view, item)
            for item in members
            if (op.before is None or codec.member_id(item) < op.before)
            and op.checkpoint_id in (None, codec.member_id(item))
        ]
    candidates.sort(key=lambda candidate: candidate[0], reverse=True)
    selected = yield from _select(batch, candidates, op)
    by_thread: dict[str, list[tuple[str, codec.Header]]] = {}
    views: dict[str, ThreadView] = {}
    for view, item, header in selected:
        by_thread.setdefault(view.thread_id, []).append((item, header))
        views[view.thread_id] = view
    loaded: dict[tuple[str, str], StoredCheckpoint] = {}
    for thread_id, found in by_thread.items():
        view = views[thread_id]
        stored = yield from load(batch, view, found, op.with_values, op.with_writes)
        loaded.update(((thread_id, item), s) for (item, _), s in zip(found, stored, strict=True))
    return [loaded[(view.thread_id, item)] for view, item, _ in selected]


def _select(
    batch: CheckpointBatch,
    candidates: Sequence[tuple[str, ThreadView, str]],
    op: ops.ListCheckpoints,
) -> Work[list[tuple[ThreadView, str, codec.Header]]]:
    """The first `op.limit` candidates whose metadata matches `op.filter`, with headers."""
    selected: list[tuple[ThreadView, str, codec.Header]] = []
    page = _PAGE if op.filter or op.limit is None else op.limit
    for start in range(0, len(candidates), page):
        chunk = candidates[start : start + page]
        headers: dict[tuple[str, str], bytes] = {}
        for view in {id(v): v for _, v, _ in chunk}.values():
            items = [item for _, v, item in chunk if v is view]
            raw = yield from batch.get(view, "c", items)
            headers.update(((view.thread_id, item), data) for item, data in raw.items())
        for _, view, item in chunk:
            data = headers.get((view.thread_id, item))
            if data is None:
                continue
            header = codec.decode_header(data)
            if metadata_matches(header.metadata, op.filter):
                selected.append((view, item, header))
                if op.limit is not None and len(selected) >= op.limit:
                    return selected
    return selected


def get_thread(batch: CheckpointBatch, op: ops.GetThread) -> Work[ThreadInfo | None]:
    view = yield from batch.view(op.tenant, op.thread_id)
    if view.record is None:
        return None
    return (yield from thread_info(batch, view))


def thread_info(batch: CheckpointBatch, view: ThreadView) -> Work[ThreadInfo]:
    record = view.record
    assert record is not None
    members = yield from batch.members(view, None)
    root = [item for item in members if codec.member_namespace(item) == ""]
    head = root[-1] if root else None
    header = None if head is None else (yield from header_of(batch, view, head))
    return ThreadInfo(
        tenant=view.tenant,
        thread_id=view.thread_id,
        checkpoint_count=len(members),
        head_id=None if head is None else codec.member_id(head),
        created_at=from_ms(record.created_ms),
        updated_at=from_ms(header.created_ms if header else record.created_ms),
        namespaces=tuple(sorted({codec.member_namespace(item) for item in members})),
        retention=record.retention,
    )


def list_threads(batch: CheckpointBatch, op: ops.ListThreads) -> Work[list[ThreadInfo]]:
    found: list[ThreadInfo] = []
    skipped = 0
    for thread_id in (yield from batch.thread_ids(op.tenant)):
        if len(found) >= op.limit:
            break
        view = yield from batch.view(op.tenant, thread_id)
        if view.record is None:
            if not view.wiped:
                batch.untrack(op.tenant, thread_id)  # expired by Redis
            continue
        if skipped < op.offset:
            skipped += 1
            continue
        found.append((yield from thread_info(batch, view)))
    return found


def live_threads(
    batch: CheckpointBatch, tenant: str, thread_ids: Iterable[str] | None
) -> Work[list[ThreadView]]:
    """The views of the tenant's existing threads (of `thread_ids`, else all of them)."""
    ids = list(thread_ids) if thread_ids is not None else (yield from batch.thread_ids(tenant))
    views = []
    for thread_id in dict.fromkeys(ids):
        view = yield from batch.view(tenant, thread_id)
        if view.record is not None:
            views.append(view)
        elif thread_ids is None and not view.wiped:
            batch.untrack(tenant, thread_id)
    return views
