"""Deleting checkpoints from PostgreSQL safely: retention, run deletion, thread deletion.

Deleting checkpoints never breaks the ones kept: the channel versions they name, the delta
bases those rebuild from, and the list items all of these reference stay; every other value
and item of the thread goes in the same transaction (`engram.state.retention`). A deletion
first bumps the thread's generation, which waits for the puts in flight on the thread and
turns away the later ones until it commits (see `checkpoints_base`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from engram.state.checkpoints import rebuilt_from_ancestors, to_ms
from engram.state.headers import Header, cleaned_dictionary, unpack_header
from engram.state.retention import (
    HistoryEntry,
    collect_garbage,
    doomed_checkpoints,
    inline_garbage,
    rebased_values,
    referenced_values,
    spare_ancestors,
)
from engram.stores import checkpoints as ops
from engram.stores.postgres import _checkpoint_read as read
from engram.stores.postgres import checkpoints_base as sql
from engram.stores.postgres.base import Statement, Work
from engram.types._checkpoint import ChannelVersion, PruneReport, RetentionPolicy

__all__ = ["clean_dictionaries", "delete_runs", "delete_thread", "prune"]


class Stored(NamedTuple):
    """What pruning needs of one stored checkpoint."""

    namespace: str
    id: str
    seq: int
    created_at_ms: int
    versions: dict[str, ChannelVersion]
    metadata: dict[str, Any]
    parent_id: str | None
    inline: tuple[str, ...] = ()
    """The channels whose values its header holds inline."""

    def entry(self) -> HistoryEntry:
        needs = rebuilt_from_ancestors(self.metadata)
        return HistoryEntry(*self[:4], self.parent_id, needs)


def _history(key: int, zdict: bytes | None) -> Work[list[Stored]]:
    rows = yield Statement(sql.THREAD_HISTORY, (key,), "all")
    return [_stored(r, unpack_header(bytes(r["header"]), zdict)) for r in rows]


def _stored(row: Any, header: Header) -> Stored:
    return Stored(
        row["namespace"],
        row["checkpoint_id"],
        row["seq"],
        to_ms(row["created_at"]),
        header.versions,
        json.loads(row["metadata"]),
        row["parent_id"],
        tuple(header.inline),
    )


def prune(op: ops.Prune, default: RetentionPolicy | None) -> Work[PruneReport]:
    totals = [0, 0, 0, 0, 0]
    for thread in (yield Statement(sql.TENANT_THREADS, (op.tenant,), "all")):
        if op.thread_ids is not None and thread["thread_id"] not in op.thread_ids:
            continue
        policy = op.policy or sql.retention_from_row(thread["retention"]) or default
        if policy is None:  # nothing to prune: all its checkpoints are left
            row = yield Statement(sql.THREAD_CHECKPOINTS, (thread["key"],), "one")
            counts: tuple[int, ...] = (0, row["checkpoints"], 0, 0)
        else:
            counts = yield from _prune_thread(thread, policy, to_ms(op.now), op.dry_run)
        totals = [a + b for a, b in zip(totals, (1, *counts), strict=True)]
    return PruneReport(*totals)


def _prune_thread(
    thread: Any, policy: RetentionPolicy, now_ms: int, dry_run: bool
) -> Work[tuple[int, int, int, int]]:
    """Apply `policy` to one thread: `(deleted, kept, values deleted, blobs deleted)`."""
    key, zdict = thread["key"], _zdict(thread["zdict"])
    if not dry_run:
        yield Statement(sql.BUMP_GENERATION, (key,), "one")
    history = yield from _history(key, zdict)
    doomed = doomed_checkpoints([s.entry() for s in history], policy, now_ms)
    values, blobs = yield from _delete(key, history, doomed, dry_run)
    if not dry_run:
        yield from _clean_dictionary(key, zdict)
    return len(doomed), len(history) - len(doomed), values, blobs


def _clean_dictionary(key: int, zdict: bytes | None) -> Work[None]:
    """After a deletion (or in migration 2): give a thread whose dictionary holds values (its
    first header, as written before `thread_dictionary`) a clean one, its headers re-packed.
    The deletion (the migration) bumped the generation first: a writer caching the old
    dictionary has its put turned away and reads the thread row again."""
    clean, repack = cleaned_dictionary(zdict)
    if clean == zdict:
        return
    rows = yield Statement(sql.THREAD_HEADERS, (key,), "all")
    namespaces = [row["namespace"] for row in rows]
    ids = [row["checkpoint_id"] for row in rows]
    packed = [repack(bytes(row["header"])) for row in rows]
    yield Statement(sql.SET_HEADERS, (namespaces, ids, packed, key))
    yield Statement(sql.REPLACE_ZDICT, (clean, key))


def clean_dictionaries() -> Work[None]:
    """Migration 2 of the checkpoints schema: `_clean_dictionary` for every thread whose
    dictionary holds values, in the migration's transaction, so no dictionary keeps what an
    older Engram pruned. Each such thread's generation is bumped first, as a prune does, and
    its dictionary read again holding the row: a put in flight is waited for, one racing the
    migration turned away, a prune that cleaned the thread meanwhile seen."""
    last = 0
    while rows := (yield Statement(sql.DICTIONARIES_AFTER, (last,), "all")):
        for row in rows:
            zdict = bytes(row["zdict"])
            if cleaned_dictionary(zdict)[0] != zdict:
                bumped = yield Statement(sql.BUMP_GENERATION_ZDICT, (row["key"],), "one")
                if bumped is not None:  # None: the thread was deleted meanwhile
                    yield from _clean_dictionary(row["key"], _zdict(bumped["zdict"]))
        last = rows[-1]["key"]


def delete_runs(op: ops.DeleteRuns) -> Work[int]:
    """Delete the tenant's checkpoints made by `op.run_ids`; return how many."""
    run_ids = set(op.run_ids)
    threads = yield Statement(sql.RUN_THREADS, (op.tenant, list(op.run_ids)), "all")
    deleted = 0
    for thread in threads:
        key = thread["thread_key"]
        yield Statement(sql.BUMP_GENERATION, (key,), "one")
        history = yield from _history(key, _zdict(thread["zdict"]))
        doomed = [(s.namespace, s.id) for s in history if _is_run(s.metadata, run_ids)]
        doomed = spare_ancestors([s.entry() for s in history], doomed)
        yield from _delete(key, history, doomed, dry_run=False)
        yield from _clean_dictionary(key, _zdict(thread["zdict"]))
        deleted += len(doomed)
    return deleted


def _is_run(metadata: dict[str, Any], run_ids: Collection[str]) -> bool:
    run_id = metadata.get("run_id")
    return isinstance(run_id, str) and run_id in run_ids


def delete_thread(op: ops.DeleteThread) -> Work[bool]:
    """Delete the thread row first (puts in flight finish, later ones find it gone), then
    every row keyed by it."""
    row = yield Statement(sql.DELETE_THREAD, (op.tenant, op.thread_id), "one")
    if row is None:
        return False
    for statement in sql.DELETE_THREAD_ROWS:
        yield Statement(statement, (row["key"],))
    return True


def _delete(
    key: int, history: Sequence[Stored], doomed: Sequence[tuple[str, str]], dry_run: bool
) -> Work[tuple[int, int]]:
    """Delete `doomed` checkpoints, their writes, and the values and items now unneeded."""
    if not doomed:
        return 0, 0
    gone = set(doomed)
    referenced = [
        value_key
        for s in history
        if (s.namespace, s.id) not in gone
        for value_key in referenced_values(s.namespace, s.versions)
    ]
    rows = yield from read.value_rows(key)
    blob_rows = yield Statement(sql.THREAD_BLOB_HASHES, (key,), "all")
    blob_keys = [bytes(r["hash"]) for r in blob_rows]
    rebased = rebased_values(referenced, rows)
    values, blobs = collect_garbage(referenced, {**rows, **rebased}, blob_keys)
    dropped = [(s.namespace, s.versions, s.inline) for s in history if (s.namespace, s.id) in gone]
    inline = inline_garbage(dropped, referenced, rows)
    if not dry_run and rebased:
        keys, new_rows = zip(*sorted(rebased.items()), strict=True)
        columns = [list(part) for part in zip(*keys, strict=True)]
        kinds, datas = [row.kind for row in new_rows], [row.data for row in new_rows]
        yield Statement(sql.REBASE_VALUES, (*columns, kinds, datas, key))
    if not dry_run:
        namespaces, ids = [ns for ns, _ in doomed], [cid for _, cid in doomed]
        for table in ("engram_checkpoints", "engram_checkpoint_writes"):
            yield Statement(sql.DELETE_CHECKPOINTS.format(table=table), (key, namespaces, ids))
        if values:
            columns = [list(part) for part in zip(*sorted(values), strict=True)]
            yield Statement(sql.DELETE_VALUES, (key, *columns))
        if blobs:
            yield Statement(sql.DELETE_BLOBS, (key, sorted(blobs)))
    return len(values) + len(inline), len(blobs)


def _zdict(value: Any) -> bytes | None:
    return None if value is None else bytes(value)
