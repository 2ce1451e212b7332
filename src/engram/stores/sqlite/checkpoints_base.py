"""SQL, migrations and row encoding of the SQLite checkpointer (pure, no I/O).

Tables (component `checkpoints`):

- `checkpoint_threads`: one row per `(tenant, thread_id)` with an integer `key` the other
  tables use (AUTOINCREMENT: a key is never reused, so an in-process cache keyed by it never
  describes another thread), the thread's own retention policy (JSON) and `zdict`: the
  dictionary its headers are compressed with (`engram.state.headers.thread_dictionary`). A
  key's dictionary never changes: a thread given a new one (an old dictionary holding values,
  cleaned by a prune or by migration 2) moves to a new key, so writers caching the old one
  look again.
- `checkpoints`: one row per checkpoint: ids as their 16 UUID bytes, `seq` (the parent's + 1),
  metadata as JSON text (filters use `json_extract`), and `header` (`engram.state.headers`):
  the channel version map, the writer's opaque `extra` and the small values kept inline,
  compressed against `zdict`.
- `checkpoint_values`: one row per stored channel version (`engram.state.values.ValueRow`).
- `checkpoint_blobs`: list items, once per thread, keyed by their 16-byte content hash.
- `checkpoint_writes`: pending writes (LangGraph), keyed like LangGraph's.

Times are Unix milliseconds. There are no foreign keys (each would cost a lookup per row
written): deleting a thread deletes its rows table by table, and a writer holding a cached
thread key inserts a checkpoint only if the thread row still exists (`INSERT ... WHERE EXISTS`);
every other row of a put is written after that, in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from engram.state.checkpoints import from_ms, id_from_bytes
from engram.state.values import ValueRow
from engram.stores.sqlite._internal import Migration
from engram.types._checkpoint import (
    ChannelVersion,
    CheckpointInfo,
    PendingWrite,
    RetentionPolicy,
    ThreadInfo,
)

__all__ = ["COMPONENT", "MIGRATIONS"]

COMPONENT = "checkpoints"


def _clean_dictionaries(db: sqlite3.Connection) -> None:
    """Migration 2: `_checkpoint_prune.clean_dictionaries` (imported here: it uses this
    module's SQL)."""
    from engram.stores.sqlite._checkpoint_prune import clean_dictionaries

    clean_dictionaries(db)


MIGRATIONS: list[Migration] = [
    """
CREATE TABLE checkpoint_threads (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retention TEXT,
    zdict BLOB,
    UNIQUE (tenant, thread_id)
);
CREATE TABLE checkpoints (
    thread_key INTEGER NOT NULL,
    namespace TEXT NOT NULL,
    checkpoint_id BLOB NOT NULL,
    parent_id BLOB,
    seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    header BLOB NOT NULL,
    PRIMARY KEY (thread_key, namespace, checkpoint_id)
) WITHOUT ROWID;
CREATE TABLE checkpoint_values (
    thread_key INTEGER NOT NULL,
    namespace TEXT NOT NULL,
    channel TEXT NOT NULL,
    version TEXT NOT NULL,
    kind INTEGER NOT NULL,
    type TEXT,
    data BLOB NOT NULL,
    base TEXT,
    start INTEGER NOT NULL DEFAULT 0,
    stop INTEGER NOT NULL DEFAULT 0,
    depth INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (thread_key, namespace, channel, version)
) WITHOUT ROWID;
CREATE TABLE checkpoint_blobs (
    thread_key INTEGER NOT NULL,
    hash BLOB NOT NULL,
    type TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (thread_key, hash)
) WITHOUT ROWID;
CREATE TABLE checkpoint_writes (
    thread_key INTEGER NOT NULL,
    namespace TEXT NOT NULL,
    checkpoint_id BLOB NOT NULL,
    task_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    channel TEXT NOT NULL,
    type TEXT NOT NULL,
    data BLOB NOT NULL,
    task_path TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (thread_key, namespace, checkpoint_id, task_id, idx)
) WITHOUT ROWID
""",
    # 2: no thread keeps a dictionary written before `thread_dictionary` (a first header
    # whole, values included: values an older Engram pruned or deleted stayed readable there).
    _clean_dictionaries,
]

# Threads

THREAD = "SELECT key, zdict FROM checkpoint_threads WHERE tenant = ? AND thread_id = ?"
INSERT_THREAD = """
INSERT INTO checkpoint_threads (tenant, thread_id, created_at, zdict) VALUES (?, ?, ?, ?)
RETURNING key
"""
THREAD_EXISTS = "SELECT 1 FROM checkpoint_threads WHERE key = ?"
SET_ZDICT = "UPDATE checkpoint_threads SET zdict = ? WHERE key = ?"
SET_RETENTION = "UPDATE checkpoint_threads SET retention = ? WHERE key = ?"
DELETE_THREAD = [
    f"DELETE FROM {table} WHERE thread_key = ?"
    for table in ("checkpoints", "checkpoint_values", "checkpoint_blobs", "checkpoint_writes")
] + ["DELETE FROM checkpoint_threads WHERE key = ?"]
_THREAD_COLUMNS = """
SELECT t.key, t.tenant, t.thread_id, t.created_at, t.retention,
    (SELECT count(*) FROM checkpoints c WHERE c.thread_key = t.key) AS checkpoints,
    (SELECT max(checkpoint_id) FROM checkpoints c
     WHERE c.thread_key = t.key AND c.namespace = '') AS head_id,
    (SELECT created_at FROM checkpoints c WHERE c.thread_key = t.key AND c.namespace = ''
     ORDER BY checkpoint_id DESC LIMIT 1) AS updated_at,
    (SELECT group_concat(namespace, char(10)) FROM
        (SELECT DISTINCT namespace FROM checkpoints c WHERE c.thread_key = t.key)) AS namespaces
FROM checkpoint_threads t
"""
GET_THREAD = _THREAD_COLUMNS + "WHERE t.tenant = ? AND t.thread_id = ?"
LIST_THREADS = _THREAD_COLUMNS + "WHERE t.tenant = ? ORDER BY t.key DESC LIMIT ? OFFSET ?"
TENANT_THREADS = """
SELECT key, thread_id, retention, zdict FROM checkpoint_threads WHERE tenant = ?
"""
THREAD_CHECKPOINTS = "SELECT count(*) FROM checkpoints WHERE thread_key = ?"
# A thread moved to a new key with a new dictionary (its rows follow; headers re-packed).
DROP_THREAD_ROW = """
DELETE FROM checkpoint_threads WHERE key = ? RETURNING tenant, thread_id, created_at, retention
"""
INSERT_MOVED_THREAD = """
INSERT INTO checkpoint_threads (tenant, thread_id, created_at, retention, zdict)
VALUES (?, ?, ?, ?, ?) RETURNING key
"""
MOVE_THREAD_ROWS = [
    f"UPDATE {table} SET thread_key = ?1 WHERE thread_key = ?2"
    for table in ("checkpoints", "checkpoint_values", "checkpoint_blobs", "checkpoint_writes")
]
THREAD_HEADERS = "SELECT namespace, checkpoint_id, header FROM checkpoints WHERE thread_key = ?"
LAST_THREAD_KEY = "SELECT coalesce(max(key), 0) FROM checkpoint_threads"
THREADS_AFTER = """
SELECT key, zdict FROM checkpoint_threads WHERE key > ? AND key <= ? ORDER BY key LIMIT 500
"""
SET_HEADER = """
UPDATE checkpoints SET header = ? WHERE thread_key = ? AND namespace = ? AND checkpoint_id = ?
"""

# Checkpoints

CHECKPOINT_COLUMNS = """
SELECT t.tenant, t.thread_id, t.zdict, c.thread_key, c.namespace, c.checkpoint_id,
    c.parent_id, c.seq, c.created_at, c.metadata, c.header
FROM checkpoint_threads t JOIN checkpoints c ON c.thread_key = t.key
"""
GET_HEAD = (
    CHECKPOINT_COLUMNS
    + "WHERE t.tenant = ? AND t.thread_id = ? AND c.namespace = ?"
    + " ORDER BY c.checkpoint_id DESC LIMIT 1"
)
GET_CHECKPOINT = (
    CHECKPOINT_COLUMNS
    + "WHERE t.tenant = ? AND t.thread_id = ? AND c.namespace = ? AND c.checkpoint_id = ?"
)
HEAD = """
SELECT checkpoint_id, seq FROM checkpoints WHERE thread_key = ? AND namespace = ?
ORDER BY checkpoint_id DESC LIMIT 1
"""
PARENT = """
SELECT seq, header FROM checkpoints WHERE thread_key = ? AND namespace = ? AND checkpoint_id = ?
"""
INSERT_CHECKPOINT = """
INSERT OR REPLACE INTO checkpoints (thread_key, namespace, checkpoint_id, parent_id, seq,
    created_at, metadata, header)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
WHERE EXISTS (SELECT 1 FROM checkpoint_threads WHERE key = ?1)
"""
THREAD_HISTORY = """
SELECT namespace, checkpoint_id, seq, created_at, header, json_extract(metadata, '$.run_id'),
    parent_id, json_extract(metadata, '$.counters_since_delta_snapshot')
FROM checkpoints WHERE thread_key = ?
"""
DELETE_CHECKPOINT = """
DELETE FROM checkpoints WHERE thread_key = ? AND namespace = ? AND checkpoint_id = ?
"""
DELETE_CHECKPOINT_WRITES = """
DELETE FROM checkpoint_writes WHERE thread_key = ? AND namespace = ? AND checkpoint_id = ?
"""

# Values and blobs

VALUE_EXISTS = """
SELECT 1 FROM checkpoint_values
WHERE thread_key = ? AND namespace = ? AND channel = ? AND version = ?
"""
INSERT_VALUE = """
INSERT OR IGNORE INTO checkpoint_values (thread_key, namespace, channel, version, kind, type,
    data, base, start, stop, depth)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
# A delta is only stored if its base still is (another process may have pruned it).
INSERT_DELTA = """
INSERT OR IGNORE INTO checkpoint_values (thread_key, namespace, channel, version, kind, type,
    data, base, start, stop, depth)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 WHERE EXISTS (SELECT 1 FROM
    checkpoint_values WHERE thread_key = ?1 AND namespace = ?2 AND channel = ?3 AND version = ?8)
"""
INSERT_BLOB = """
INSERT OR IGNORE INTO checkpoint_blobs (thread_key, hash, type, data) VALUES (?, ?, ?, ?)
"""
VALUE_CHAIN = """
WITH RECURSIVE chain(version, depth) AS (
    SELECT ?4, 0
    UNION ALL
    SELECT v.base, chain.depth + 1 FROM checkpoint_values v JOIN chain
    ON v.thread_key = ?1 AND v.namespace = ?2 AND v.channel = ?3 AND v.version = chain.version
    WHERE v.base IS NOT NULL AND chain.depth < 10000
)
SELECT v.version, v.kind, v.type, v.data, v.base, v.start, v.stop, v.depth
FROM chain JOIN checkpoint_values v
ON v.thread_key = ?1 AND v.namespace = ?2 AND v.channel = ?3 AND v.version = chain.version
"""
SELECT_VALUES = """
WITH wanted(channel, version) AS (VALUES {pairs})
SELECT w.channel, w.version, v.kind, v.type, v.data, v.base, v.start, v.stop, v.depth
FROM wanted w JOIN checkpoint_values v ON v.thread_key = ? AND v.namespace = ?
    AND v.channel = w.channel AND v.version = w.version
"""
SCAN_BLOBS = "SELECT hash, type, data FROM checkpoint_blobs WHERE thread_key = ? LIMIT ?"
SELECT_BLOBS = (
    "SELECT hash, type, data FROM checkpoint_blobs WHERE thread_key = ? AND hash IN ({marks})"
)
THREAD_VALUES = """
SELECT namespace, channel, version, kind, type, CASE WHEN kind = 0 THEN x'' ELSE data END,
    base, start, stop, depth
FROM checkpoint_values WHERE thread_key = ?
"""
THREAD_BLOB_HASHES = "SELECT hash FROM checkpoint_blobs WHERE thread_key = ?"
DELETE_VALUE = """
DELETE FROM checkpoint_values
WHERE thread_key = ? AND namespace = ? AND channel = ? AND version = ?
"""
DELETE_BLOB = "DELETE FROM checkpoint_blobs WHERE thread_key = ? AND hash = ?"
# A delta stored as the snapshot of its items (`engram.state.retention.rebased_values`).
REBASE_VALUE = """
UPDATE checkpoint_values SET kind = ?, data = ?, base = NULL, start = 0, stop = 0, depth = 0
WHERE thread_key = ? AND namespace = ? AND channel = ? AND version = ?
"""
COPY_VALUE = """
INSERT OR IGNORE INTO checkpoint_values
SELECT ?, namespace, channel, version, kind, type, data, base, start, stop, depth
FROM checkpoint_values WHERE thread_key = ? AND namespace = ? AND channel = ? AND version = ?
"""
COPY_BLOB = """
INSERT OR IGNORE INTO checkpoint_blobs
SELECT ?, hash, type, data FROM checkpoint_blobs WHERE thread_key = ? AND hash = ?
"""
COPY_THREAD = [
    """INSERT OR IGNORE INTO checkpoint_values SELECT ?1, namespace, channel, version, kind,
    type, data, base, start, stop, depth FROM checkpoint_values WHERE thread_key = ?2""",
    """INSERT OR IGNORE INTO checkpoint_blobs SELECT ?1, hash, type, data
    FROM checkpoint_blobs WHERE thread_key = ?2""",
    """INSERT OR IGNORE INTO checkpoint_writes SELECT ?1, namespace, checkpoint_id, task_id,
    idx, channel, type, data, task_path FROM checkpoint_writes WHERE thread_key = ?2""",
]
COPY_WRITES = """
INSERT OR IGNORE INTO checkpoint_writes SELECT ?1, namespace, checkpoint_id, task_id, idx,
    channel, type, data, task_path
FROM checkpoint_writes WHERE thread_key = ?2 AND namespace = ?3 AND checkpoint_id = ?4
"""
"""Copy one checkpoint's pending writes to another thread (a fork)."""
COPY_CHECKPOINTS = """
SELECT namespace, checkpoint_id, parent_id, seq, created_at, metadata, header
FROM checkpoints WHERE thread_key = ?
"""
INSERT_COPY = """
INSERT OR IGNORE INTO checkpoints (thread_key, namespace, checkpoint_id, parent_id, seq,
    created_at, metadata, header) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""

# Pending writes

INSERT_WRITE = """
INSERT OR {conflict} INTO checkpoint_writes (thread_key, namespace, checkpoint_id, task_id,
    idx, channel, type, data, task_path)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
WHERE EXISTS (SELECT 1 FROM checkpoint_threads WHERE key = ?1)
"""
SELECT_WRITES = """
SELECT checkpoint_id, task_id, channel, type, data, idx, task_path FROM checkpoint_writes
WHERE thread_key = ? AND namespace = ? AND checkpoint_id IN ({marks})
"""

# Row encoding


def info_from_row(row: sqlite3.Row, versions: Mapping[str, ChannelVersion]) -> CheckpointInfo:
    """A `CheckpointInfo` from a `CHECKPOINT_COLUMNS` row and its unpacked versions."""
    parent = row["parent_id"]
    return CheckpointInfo(
        tenant=row["tenant"],
        thread_id=row["thread_id"],
        namespace=row["namespace"],
        id=id_from_bytes(row["checkpoint_id"]),
        parent_id=None if parent is None else id_from_bytes(parent),
        seq=row["seq"],
        created_at=from_ms(row["created_at"]),
        metadata=json.loads(row["metadata"]),
        versions=versions,
    )


def value_row(row: sqlite3.Row | tuple[Any, ...], offset: int = 0) -> ValueRow:
    """A `ValueRow` from the `kind, type, data, base, start, stop, depth` columns at `offset`."""
    kind, type_, data, base, start, stop, depth = tuple(row)[offset : offset + 7]
    return ValueRow(kind, type_, bytes(data), base, start, stop, depth)


def pending_write(row: sqlite3.Row) -> PendingWrite:
    return PendingWrite(
        task_id=row["task_id"],
        channel=row["channel"],
        value=(row["type"], bytes(row["data"])),
        idx=row["idx"],
        task_path=row["task_path"],
    )


def thread_from_row(row: sqlite3.Row) -> ThreadInfo:
    head, retention, namespaces = row["head_id"], row["retention"], row["namespaces"]
    return ThreadInfo(
        tenant=row["tenant"],
        thread_id=row["thread_id"],
        checkpoint_count=row["checkpoints"],
        head_id=None if head is None else id_from_bytes(head),
        created_at=from_ms(row["created_at"]),
        updated_at=from_ms(row["updated_at"] or row["created_at"]),
        namespaces=tuple(sorted(namespaces.split("\n"))) if namespaces is not None else (),
        retention=None if retention is None else RetentionPolicy.from_dict(json.loads(retention)),
    )


def retention_from_row(text: str | None) -> RetentionPolicy | None:
    return None if text is None else RetentionPolicy.from_dict(json.loads(text))


def padded(keys: list[Any], size: int) -> list[Any]:
    """`keys` padded to `size` by repeating the last (fewer distinct statements to cache)."""
    return keys + [keys[-1]] * (size - len(keys))


def in_clause_size(count: int, limit: int = 256) -> int:
    """The power of two >= count (capped at `limit`) an IN list is padded to."""
    size = 1
    while size < count and size < limit:
        size *= 2
    return size
