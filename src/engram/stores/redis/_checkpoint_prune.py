"""Deleting checkpoints from Redis safely: retention and run deletion, with garbage collection.

Deleting checkpoints never breaks the ones kept: the channel versions they name, the delta
bases those rebuild from and the list items all of these reference stay; every other value
and item of the thread goes in the same transaction (`engram.state.retention`).
"""

from __future__ import annotations

from collections.abc import Collection

from engram.state.checkpoints import rebuilt_from_ancestors, to_ms
from engram.state.retention import (
    HistoryEntry,
    collect_garbage,
    doomed_checkpoints,
    rebased_values,
    referenced_values,
    spare_ancestors,
)
from engram.stores import checkpoints as ops
from engram.stores.redis import _checkpoint_codec as codec
from engram.stores.redis._checkpoint_batch import CheckpointBatch, ThreadView
from engram.stores.redis._checkpoint_load import live_threads
from engram.stores.redis._internal import Work
from engram.types._checkpoint import PruneReport, RetentionPolicy

__all__ = ["delete_runs", "prune"]


def prune(
    batch: CheckpointBatch, op: ops.Prune, default: RetentionPolicy | None
) -> Work[PruneReport]:
    totals = [0, 0, 0, 0, 0]
    for view in (yield from live_threads(batch, op.tenant, op.thread_ids)):
        assert view.record is not None
        policy = op.policy or view.record.retention or default
        if policy is None:
            kept = len((yield from batch.members(view, None)))
            counts = (0, kept, 0, 0)
        else:
            counts = yield from _prune_thread(batch, view, policy, to_ms(op.now), op.dry_run)
        totals = [a + b for a, b in zip(totals, (1, *counts), strict=True)]
    return PruneReport(*totals)


def _prune_thread(
    batch: CheckpointBatch, view: ThreadView, policy: RetentionPolicy, now_ms: int, dry_run: bool
) -> Work[tuple[int, int, int, int]]:
    """Apply `policy` to one thread: `(deleted, kept, values deleted, blobs deleted)`."""
    headers = yield from _headers(batch, view)
    entries = _entries(headers)
    doomed = {codec.member(ns, cid) for ns, cid in doomed_checkpoints(entries, policy, now_ms)}
    values, blobs = yield from _delete(batch, view, headers, doomed, dry_run)
    return len(doomed), len(headers) - len(doomed), values, blobs


def delete_runs(batch: CheckpointBatch, op: ops.DeleteRuns) -> Work[int]:
    """Delete the tenant's checkpoints made by `op.run_ids`; return how many."""
    run_ids: Collection[str] = set(op.run_ids)
    deleted = 0
    for view in (yield from live_threads(batch, op.tenant, None)):
        headers = yield from _headers(batch, view)
        runs = [
            (codec.member_namespace(item), codec.member_id(item))
            for item, h in headers.items()
            if h.metadata.get("run_id") in run_ids
        ]
        doomed = {codec.member(*key) for key in spare_ancestors(_entries(headers), runs)}
        yield from _delete(batch, view, headers, doomed, dry_run=False)
        deleted += len(doomed)
    return deleted


def _entries(headers: dict[str, codec.Header]) -> list[HistoryEntry]:
    return [
        HistoryEntry(
            codec.member_namespace(item),
            codec.member_id(item),
            h.seq,
            h.created_ms,
            h.parent_id,
            rebuilt_from_ancestors(h.metadata),
        )
        for item, h in headers.items()
    ]


def _headers(batch: CheckpointBatch, view: ThreadView) -> Work[dict[str, codec.Header]]:
    raw = yield from batch.get_all(view, "c")
    return {item: codec.decode_header(data) for item, data in raw.items()}


def _delete(
    batch: CheckpointBatch,
    view: ThreadView,
    headers: dict[str, codec.Header],
    doomed: set[str],
    dry_run: bool,
) -> Work[tuple[int, int]]:
    """Delete `doomed` checkpoints, their writes, and the values and items now unneeded."""
    if not doomed:
        return 0, 0
    referenced = [
        key
        for item, header in headers.items()
        if item not in doomed
        for key in referenced_values(codec.member_namespace(item), header.versions)
    ]
    raw = yield from batch.get_all(view, "v")
    rows = {codec.value_key(field): codec.decode_row(data) for field, data in raw.items()}
    digests = yield from batch.field_names(view, "b")
    rebased = rebased_values(referenced, rows)
    values, blobs = collect_garbage(referenced, {**rows, **rebased}, digests)
    if not dry_run and rebased:
        fields = {codec.value_field(*k): codec.encode_row(row) for k, row in rebased.items()}
        batch.put(view, "v", fields)
    if not dry_run:
        batch.delete(view, "c", sorted(doomed))
        batch.delete(view, "w", sorted(doomed))
        batch.delete(view, "v", sorted(codec.value_field(*key) for key in values))
        batch.delete(view, "b", sorted(blobs))
    return len(values), len(blobs)
