"""Deleting checkpoints from SQLite safely: retention, run deletion, garbage collection.

Deleting checkpoints never breaks the ones kept: the channel versions they name, the delta
bases those rebuild from, and the list items all of these reference stay (a kept delta whose
base only deleted checkpoints named is stored as a snapshot first); every other value and
item of the thread goes in the same transaction (`engram.state.retention`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Sequence
from typing import NamedTuple

from engram.state.checkpoints import id_from_bytes, id_to_bytes
from engram.state.headers import Header, cleaned_dictionary, unpack_header
from engram.state.retention import (
    HistoryEntry,
    ValueKey,
    collect_garbage,
    doomed_checkpoints,
    inline_garbage,
    rebased_values,
    referenced_values,
    spare_ancestors,
)
from engram.state.values import ValueRow
from engram.stores.sqlite import checkpoints_base as sql
from engram.types._checkpoint import ChannelVersion, RetentionPolicy

__all__ = [
    "Stored",
    "clean_dictionaries",
    "clean_dictionary",
    "delete_runs",
    "prune_thread",
    "thread_history",
    "value_rows",
]


class Stored(NamedTuple):
    """What pruning needs of one stored checkpoint."""

    namespace: str
    id: str
    seq: int
    created_at_ms: int
    versions: dict[str, ChannelVersion]
    run_id: str | None
    parent_id: str | None
    needs_ancestors: bool
    inline: tuple[str, ...] = ()
    """The channels whose values its header holds inline."""

    def entry(self) -> HistoryEntry:
        return HistoryEntry(*self[:4], self.parent_id, self.needs_ancestors)


def clean_dictionary(db: sqlite3.Connection, key: int, zdict: bytes | None) -> bool:
    """Give a thread whose dictionary holds values (its first header, as written before
    `thread_dictionary`) a clean one, its headers re-packed; True if it had to.

    The thread moves to a new key: a writer caching the old key and dictionary (this
    process's or another's) finds the thread gone and looks it up again.
    """
    clean, repack = cleaned_dictionary(zdict)
    if clean == zdict:
        return False
    _move_thread(db, key, clean, repack)
    return True


def clean_dictionaries(db: sqlite3.Connection) -> None:
    """Migration 2 of the checkpoints schema: `clean_dictionary` for every thread, in one
    transaction (the migration's), so no dictionary keeps what an older Engram pruned.

    A thread cleaned moves to a new key, the highest: so that threads are still listed in
    the order they were created (by key), every thread after the first cleaned moves too, in
    key order (those whose dictionary holds no values keep it and their headers).
    """
    last, end = 0, db.execute(sql.LAST_THREAD_KEY).fetchone()[0]
    moving = False
    while rows := db.execute(sql.THREADS_AFTER, (last, end)).fetchall():
        for key, zdict in rows:
            clean, repack = cleaned_dictionary(zdict)
            if clean != zdict:
                moving = True
                _move_thread(db, key, clean, repack)
            elif moving:
                _move_thread(db, key, zdict, None)
        last = rows[-1][0]


def _move_thread(
    db: sqlite3.Connection, key: int, zdict: bytes | None, repack: Callable[[bytes], bytes] | None
) -> None:
    """Move a thread to a new key (the next one) with dictionary `zdict`, its headers re-packed
    by `repack` (None: kept as they are)."""
    thread = db.execute(sql.DROP_THREAD_ROW, (key,)).fetchone()
    new_key = db.execute(sql.INSERT_MOVED_THREAD, (*thread, zdict)).fetchone()[0]
    for statement in sql.MOVE_THREAD_ROWS:
        db.execute(statement, (new_key, key))
    if repack is not None:
        rows = db.execute(sql.THREAD_HEADERS, (new_key,)).fetchall()
        db.executemany(sql.SET_HEADER, [(repack(r[2]), new_key, r[0], r[1]) for r in rows])


def thread_history(db: sqlite3.Connection, key: int, zdict: bytes | None) -> list[Stored]:
    rows = db.execute(sql.THREAD_HISTORY, (key,)).fetchall()
    return [_stored(r, unpack_header(r[4], zdict)) for r in rows]


def _stored(row: sqlite3.Row, header: Header) -> Stored:
    parent_id = None if row[6] is None else id_from_bytes(row[6])
    return Stored(
        row[0],
        id_from_bytes(row[1]),
        row[2],
        row[3],
        header.versions,
        row[5],
        parent_id,
        _counting(row[7]),
        tuple(header.inline),
    )


def _counting(counters: object) -> bool:
    """`rebuilt_from_ancestors` of `counters_since_delta_snapshot` as `json_extract` reads it
    (objects and arrays as JSON text)."""
    return bool(counters) and counters not in ("{}", "[]")


def value_rows(db: sqlite3.Connection, key: int) -> dict[ValueKey, ValueRow]:
    """Every value row of a thread (list rows with their hashes, scalars without data)."""
    return {(r[0], r[1], r[2]): sql.value_row(r, 3) for r in db.execute(sql.THREAD_VALUES, (key,))}


def prune_thread(
    db: sqlite3.Connection,
    key: int,
    zdict: bytes | None,
    policy: RetentionPolicy,
    now_ms: int,
    dry_run: bool,
) -> tuple[int, int, int, int]:
    """Apply `policy` to one thread: `(deleted, kept, values deleted, blobs deleted)`."""
    history = thread_history(db, key, zdict)
    doomed = doomed_checkpoints([s.entry() for s in history], policy, now_ms)
    values, blobs = _delete(db, key, history, doomed, dry_run)
    return len(doomed), len(history) - len(doomed), values, blobs


def delete_runs(
    db: sqlite3.Connection, key: int, zdict: bytes | None, run_ids: Collection[str]
) -> int:
    """Delete a thread's checkpoints made by `run_ids`; return how many."""
    history = thread_history(db, key, zdict)
    doomed = [(s.namespace, s.id) for s in history if s.run_id in run_ids]
    doomed = spare_ancestors([s.entry() for s in history], doomed)
    _delete(db, key, history, doomed, dry_run=False)
    return len(doomed)


def _delete(
    db: sqlite3.Connection,
    key: int,
    history: Sequence[Stored],
    doomed: Sequence[tuple[str, str]],
    dry_run: bool,
) -> tuple[int, int]:
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
    blob_keys = [bytes(r[0]) for r in db.execute(sql.THREAD_BLOB_HASHES, (key,))]
    rows = value_rows(db, key)
    rebased = rebased_values(referenced, rows)
    values, blobs = collect_garbage(referenced, {**rows, **rebased}, blob_keys)
    dropped = [(s.namespace, s.versions, s.inline) for s in history if (s.namespace, s.id) in gone]
    inline = inline_garbage(dropped, referenced, rows)
    if not dry_run:
        db.executemany(
            sql.REBASE_VALUE,
            [(row.kind, bytearray(row.data), key, *vk) for vk, row in rebased.items()],
        )
        doomed_rows = [(key, ns, id_to_bytes(cid)) for ns, cid in doomed]
        db.executemany(sql.DELETE_CHECKPOINT, doomed_rows)
        db.executemany(sql.DELETE_CHECKPOINT_WRITES, doomed_rows)
        db.executemany(sql.DELETE_VALUE, [(key, *value_key) for value_key in values])
        db.executemany(sql.DELETE_BLOB, [(key, digest) for digest in blobs])
    return len(values) + len(inline), len(blobs)
